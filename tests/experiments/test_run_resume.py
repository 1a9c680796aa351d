"""Resume after kill -9: a real `biotune train` process is killed mid-epoch, the same command is
rerun, and the run ends with exactly the results of a run that never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from biotune.config import load_config
from biotune.errors import BiotuneError
from biotune.experiments.run_folder import RunPaths
from biotune.experiments.run import train

ROOT = Path(__file__).resolve().parents[2]

# Runs the real CLI in this process, with a callback that SIGKILLs it after optimizer step
# `kill_at` (after the step's checkpoint, if any, but before the next one): no clean-up code runs.
KILLER = """
import os, signal, sys
from transformers import TrainerCallback
import biotune.training.trainer as trainer

kill_at = int(sys.argv.pop(1))

class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

init = trainer.TaskTrainer.__init__
def patched(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.add_callback(Kill())
trainer.TaskTrainer.__init__ = patched

from biotune.cli import main
sys.argv = ["biotune", *sys.argv[1:]]
sys.exit(main())
"""


def write_config(path: Path, backbone: Path, corpus: Path, output_dir: Path, **training: object) -> Path:
    settings = {"epochs": 3, "learning_rate": 5.0e-3, "batch_size": 8, "warmup": 0.0, "bf16": False,
                "logging_steps": 1000, "early_stopping_patience": None, **training}
    path.write_text(yaml.safe_dump({"name": "toy", "output_dir": str(output_dir),
                                    "model": {"backbone": str(backbone), "max_length": 32, "dropout": 0.1},
                                    "data": {"corpus": str(corpus)}, "training": settings}))
    return path


def cli(*args: str, kill_at: int | None = None, script: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(script), str(kill_at)] if kill_at is not None else [sys.executable, "-m", "biotune.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.parametrize(("command", "checkpoint_steps", "kill_at", "resumed_from"), [
    ("train", 3, 11, 9),      # step checkpoints: resumed mid-epoch 2 (8 steps an epoch), 2 steps redone
    ("train", None, 13, 8),   # default, one checkpoint an epoch: resumed at the end of epoch 1
    ("run", 3, 5, 3),         # a multi-seed run resumes its unfinished seed instead of deleting it
])
def test_a_killed_run_resumes_to_the_same_results(tmp_path: Path, word_backbone: Path, toy_corpus: Path, command: str,
                                                  checkpoint_steps: int | None, kill_at: int, resumed_from: int) -> None:
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    cfg = write_config(tmp_path / "toy.yaml", word_backbone, toy_corpus, tmp_path / "out",
                       checkpoint_steps=checkpoint_steps, early_stopping_patience=2)
    killed = cli(command, str(cfg), kill_at=kill_at, script=script)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    paths = RunPaths(tmp_path / "out", "toy", 42)
    assert paths.status() == "unfinished" and not paths.summary.exists()
    assert (paths.trainer_dir / f"checkpoint-{resumed_from}" / "optimizer.pt").is_file()

    rerun = cli(command, str(cfg))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from step {resumed_from}" in " ".join(rerun.stderr.split())

    reference = train(load_config(cfg, {"output_dir": str(tmp_path / "reference")}))
    assert (paths.results / "eval_test.json").read_bytes() == (reference.paths.results / "eval_test.json").read_bytes()
    # the toy task saturates F1, so the weights are compared too: any change in data order,
    # dropout masks or optimizer state would move them
    weights = [load_file(str(p.best_model / "model.safetensors")) for p in (paths, reference.paths)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    resumed = json.loads(paths.summary.read_text())
    assert resumed["resumed_from_step"] == resumed_from and reference.summary["resumed_from_step"] == 0
    assert resumed["dev_history"] == reference.summary["dev_history"] and len(resumed["dev_history"]) >= 2
    assert resumed["best_dev_score"] == reference.summary["best_dev_score"]
    assert not paths.trainer_dir.exists(), "checkpoints are removed once the run finished"
    assert "run folder" not in rerun.stderr


def test_an_unfinished_run_of_another_config_is_refused(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    cfg = write_config(tmp_path / "toy.yaml", word_backbone, toy_corpus, tmp_path / "out", epochs=1)
    config = load_config(cfg)
    paths = RunPaths(tmp_path / "out", "toy", 42)
    paths.prepare(overwrite=False)
    paths.snapshot.write_text(config.to_yaml())
    (paths.trainer_dir / "checkpoint-3").mkdir(parents=True)  # what a kill leaves
    with pytest.raises(BiotuneError, match=r"unfinished run of another config \(differs in model.dropout, "
                                           r"training.learning_rate\).*--overwrite"):
        train(load_config(cfg, {"training.learning_rate": 1e-3, "model.dropout": 0.2}))
    assert (paths.trainer_dir / "checkpoint-3").is_dir(), "a refused rerun deletes nothing"


def test_a_path_only_difference_resumes_and_a_half_written_checkpoint_is_dropped(tmp_path: Path, word_backbone: Path,
                                                                                 toy_corpus: Path) -> None:
    cfg = write_config(tmp_path / "toy.yaml", word_backbone, toy_corpus, tmp_path / "out", epochs=1)
    paths = RunPaths(tmp_path / "out", "toy", 42)
    paths.prepare(overwrite=False)
    paths.snapshot.write_text(load_config(cfg, {"data.data_dir": "/elsewhere", "data.download": True}).to_yaml())
    half = paths.trainer_dir / "checkpoint-5"
    half.mkdir(parents=True)
    (half / "model.safetensors").write_bytes(b"truncated")
    result = train(load_config(cfg))
    assert result.summary["resumed_from_step"] == 0 and not half.exists()
    assert paths.status() == "finished"
