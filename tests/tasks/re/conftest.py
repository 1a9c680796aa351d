"""Fixtures for the relation-extraction tests: tiny pre-masked files written per test (data in `toy.py`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tasks.re.toy import TOY_LABELS, TOY_ROWS


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, list[str]], Path]:
    """Write `lines` (one per row, joined by newlines) to `tmp_path / name` and return the path."""

    def write(name: str, lines: list[str]) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def toy_split(write_file: Callable[[str, list[str]], Path]) -> tuple[Path, Path]:
    """A BLURB-style `train.tsv` (`sentence<TAB>label id`, no header) and its `label2id.tsv`."""
    train = write_file("toy/train.tsv", [f"{text}\t{label}" for text, label in TOY_ROWS])
    label2id = write_file("toy/label2id.tsv", [f"{name}\t{i}" for i, name in enumerate(TOY_LABELS)])
    return train, label2id
