"""Tiny pretraining fixtures: a few documents written per test and a config that trains in seconds."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHEMICALS, DISEASES, FILLER


def write_documents(path: Path, n: int, seed: int = 0, words: int = 12) -> Path:
    """`n` one-line documents (plain text) of toy words, some out of the vocabulary (split into letters)."""
    rng = random.Random(seed)
    pool = CHEMICALS + DISEASES + FILLER + ["xyzzy", "qwerty", "zqx"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(rng.choice(pool) for _ in range(words)) for _ in range(n)) + "\n",
                    encoding="utf-8")
    return path


def tiny_config(backbone: Path, texts: Path, output_dir: Path, dev: Path | None = None, **training: Any):
    from biotune.pretraining.config import validate_pretraining

    settings = {"max_steps": 12, "batch_size": 8, "learning_rate": 5e-3, "warmup": 0.0, "bf16": False,
                "checkpoint_steps": 4, "logging_steps": 2, "seed": 7, "shuffle_buffer": 16, **training}
    return validate_pretraining({
        "name": "tiny", "output_dir": str(output_dir), "backbone": str(backbone), "max_length": 16,
        "sources": [{"path": str(texts)}],
        "dev": {"sources": [{"path": str(dev)}] if dev else [], "max_sequences": 16},
        "training": settings}, "test")


@pytest.fixture()
def texts(tmp_path: Path) -> Path:
    return write_documents(tmp_path / "texts.txt", 40, seed=1)
