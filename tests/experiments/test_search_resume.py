"""A search killed with kill -9 and rerun (issue 19): a real `biotune search` process is paused inside a
trial, a second search onto its folder is refused, the process is SIGKILLed, the same command is
rerun at once, and the study ends with exactly the trials asked for, the killed one resumed from its
checkpoint and counted once, and no Trainer checkpoint left behind."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from transformers import TrainerCallback

import biotune.experiments.run as train_module
from biotune.config import load_config
from biotune.errors import BiotuneError
from biotune.experiments.search import SearchSettings, search
from biotune.experiments.search_space import load_space
from tests.conftest import _sentences, write_tsv

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"params": {"training.learning_rate": {"type": "log", "low": 1e-3, "high": 1e-2},
                    "training.batch_size": {"type": "categorical", "choices": [4, 8]}}}

# Runs the real CLI in this process; the first time the Trainer of run `victim` saves a checkpoint,
# it touches `marker` and sleeps, so that the test can SIGKILL it in the middle of that trial.
PAUSER = """
import sys, time
from pathlib import Path
from transformers import TrainerCallback
import biotune.training.trainer as trainer

victim, marker = sys.argv.pop(1), Path(sys.argv.pop(1))

class PauseAfterFirstCheckpoint(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if f"/{victim}/" in args.output_dir:
            marker.write_text(str(state.global_step))
            time.sleep(600)

init = trainer.TaskTrainer.__init__
def patched(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.add_callback(PauseAfterFirstCheckpoint())
trainer.TaskTrainer.__init__ = patched

from biotune.cli import main
sys.argv = ["biotune", *sys.argv[1:]]
sys.exit(main())
"""


@pytest.fixture
def files(tmp_path: Path, word_backbone: Path) -> tuple[Path, Path]:
    """A config of 3 epochs on a corpus small enough that a trial trains in a second or two, and the space."""
    corpus = tmp_path / "corpus"
    write_tsv(corpus / "train.tsv", _sentences(24, seed=1))
    write_tsv(corpus / "devel.tsv", _sentences(8, seed=2))
    write_tsv(corpus / "test.tsv", _sentences(8, seed=3))
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump({
        "name": "toy", "output_dir": str(tmp_path / "out"),
        "model": {"backbone": str(word_backbone), "max_length": 32, "dropout": 0.1},
        "data": {"corpus": str(corpus)},
        "training": {"epochs": 3, "learning_rate": 5.0e-3, "batch_size": 8, "warmup": 0.0, "bf16": False,
                     "logging_steps": 1000}}))
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    return config, space


def _study(out: Path):
    import optuna

    return optuna.load_study(study_name="toy", storage=f"sqlite:///{out / 'results' / 'toy__search' / 'study.db'}")


def test_a_killed_search_resumes_its_trial_and_ends_with_the_trials_asked(files: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    config, space = files
    out = tmp_path / "out"
    args = ["search", str(config), "--space", str(space), "--trials", "3", "--sampler-seed", "0",
            "--final-seeds", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    script, marker = tmp_path / "pauser.py", tmp_path / "paused"
    script.write_text(PAUSER)
    process = subprocess.Popen([sys.executable, str(script), "toy__trial_1", str(marker), *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not marker.is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.is_file(), process.stderr.read()[-3000:] if process.poll() is not None else "timed out"
        step = int(marker.read_text())

        # while it runs, a second search of the same folder is refused and touches nothing
        with pytest.raises(BiotuneError, match=rf"another `biotune search` is running on this search folder "
                                               rf"\(process {process.pid} on "):
            search(load_config(config), load_space(space), SearchSettings(trials=3, sampler_seed=0, final_seeds=0))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    killed = _study(out).trials
    assert [t.state.name for t in killed] == ["COMPLETE", "RUNNING"]
    params = killed[1].params
    checkpoints = out / "checkpoints"
    assert (checkpoints / "toy__trial_1" / "seed_42" / "trainer" / f"checkpoint-{step}" / "optimizer.pt").is_file()
    first_run = out / "results" / "toy__trial_0" / "seed_42" / "train_summary.json"
    first_written = first_run.stat().st_mtime_ns

    rerun = subprocess.run([sys.executable, "-m", "biotune.cli", *args], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=300)  # at once: long before any heartbeat could go stale
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = " ".join(rerun.stderr.split())
    assert "trial 1 was running when its search process died" in log and f"checkpoint-{step}" in log, log[-3000:]

    trials = _study(out).trials
    assert [t.number for t in trials] == [0, 1, 2], "exactly the 3 trials asked for, none beside the killed one"
    assert all(t.state.name == "COMPLETE" for t in trials), [t.state.name for t in trials]
    assert trials[1].params == params and [t.params for t in trials].count(params) == 1, "evaluated once"
    summary = json.loads((out / "results" / "toy__trial_1" / "seed_42" / "train_summary.json").read_text())
    assert summary["resumed_from_step"] == step > 0, "resumed from its checkpoint, not trained again"
    assert trials[1].value == summary["best_dev_score"]
    assert len(summary["dev_history"]) == 3
    assert trials[1].intermediate_values == {k: e["dev_score"] for k, e in enumerate(summary["dev_history"], 1)}, \
        "the pruner saw each of its epochs once, at its own step"
    assert first_run.stat().st_mtime_ns == first_written, "the finished trial was not touched"
    assert not list(checkpoints.rglob("trainer")), "no Trainer checkpoint is left once every trial ended"
    assert [row["state"] for row in json.loads((out / "results" / "toy__search" / "trials.json").read_text())] == \
        ["COMPLETE"] * 3


class Died(BaseException):
    """What a process dying inside a trial looks like to the code around it: optuna records nothing."""


class DieAtFirstStep(TrainerCallback):
    def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
        raise Died


def test_a_trial_killed_before_its_first_checkpoint_trains_again_from_the_start(
        files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    config, space = files
    cfg, settings = load_config(config), SearchSettings(trials=2, sampler_seed=0, final_seeds=0)
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", lambda config, overwrite=False, callbacks=(): real_train(
        config, overwrite, [*callbacks, *([DieAtFirstStep()] if config.name == "toy__trial_1" else [])]))
    with pytest.raises(Died):
        search(cfg, load_space(space), settings)
    out = Path(cfg.output_dir)
    params = _study(out).trials[1].params
    assert [t.state.name for t in _study(out).trials] == ["COMPLETE", "RUNNING"]

    monkeypatch.setattr(train_module, "train", real_train)
    caplog.set_level(logging.INFO, logger="biotune")
    result = search(cfg, load_space(space), settings)
    run = out / "results" / "toy__trial_1" / "seed_42"
    assert (f"trial 1 was running when its search process died: it runs again first, training its run {run} "
            "again from the start (no complete checkpoint)") in caplog.text
    assert [(t["number"], t["state"]) for t in result.trials] == [(0, "COMPLETE"), (1, "COMPLETE")]
    assert result.trials[1]["params"] == params and result.ok
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["resumed_from_step"] == 0 and len(summary["dev_history"]) == 3
    assert _study(out).trials[1].intermediate_values == {
        k: e["dev_score"] for k, e in enumerate(summary["dev_history"], 1)}


class FailAfterFirstCheckpoint(TrainerCallback):
    """A trial that raises once its first checkpoint is on disk (out of memory in epoch 2, say)."""

    def on_save(self, args: object, state: object, control: object, **kwargs: object) -> None:
        raise RuntimeError("simulated out of memory")


def test_a_failed_trial_leaves_no_checkpoints(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    config, space = files
    real_train = train_module.train

    def failing_second(config, overwrite=False, callbacks=()):
        extra = [FailAfterFirstCheckpoint()] if config.name == "toy__trial_1" else []
        return real_train(config, overwrite, [*callbacks, *extra])

    monkeypatch.setattr(train_module, "train", failing_second)
    cfg = load_config(config)
    result = search(cfg, load_space(space), SearchSettings(trials=2, sampler_seed=0, final_seeds=0))
    assert [t["state"] for t in result.trials] == ["COMPLETE", "FAIL"]
    assert result.trials[1]["error"] == "RuntimeError: simulated out of memory"
    out = Path(cfg.output_dir)
    assert not list((out / "checkpoints").rglob("trainer")), "a failed trial's checkpoints are removed"
    assert "simulated out of memory" in (out / "logs" / "toy__trial_1" / "seed_42" / "train.log").read_text(), \
        "its log stays"
