"""torchrun with two CPU processes (gloo): one complete, correct run folder, written once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun is not installed")
def test_torchrun_two_processes_write_one_run_folder(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "toy", "output_dir": str(tmp_path / "out"),
        "model": {"backbone": str(word_backbone), "max_length": 32, "dropout": 0.1},
        "data": {"corpus": str(toy_corpus)},
        "training": {"epochs": 2, "learning_rate": 5.0e-3, "batch_size": 8, "warmup": 0.0, "bf16": False}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node", "2", "-m", "biotune.cli", "train", str(cfg)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    output = done.stdout + done.stderr
    assert output.count("model: ") == 1, "only the main process reports"

    results = tmp_path / "out" / "results" / "toy" / "seed_42"
    assert sorted(p.name for p in results.iterdir()) == ["config_snapshot.yaml", "eval_test.json", "eval_test.md",
                                                        "train_summary.json"]
    metrics = json.loads((results / "eval_test.json").read_text())["test"]
    assert metrics["micro"]["support"] > 0 and 0.0 < metrics["micro"]["f1"] <= 1.0
    summary = json.loads((results / "train_summary.json").read_text())
    assert len(summary["dev_history"]) == 2 and summary["test"]["test"] == metrics["micro"]["f1"]
    assert summary["processes"] == 2
    checkpoint = tmp_path / "out" / "checkpoints" / "toy" / "seed_42"
    assert sorted(p.name for p in checkpoint.iterdir()) == ["best_model", "training.json"]
    assert (checkpoint / "best_model" / "model.safetensors").is_file()
    log = (tmp_path / "out" / "logs" / "toy" / "seed_42" / "train.log").read_text()
    assert log.count("phase train: ") == 1, "one process writes the run's log"
