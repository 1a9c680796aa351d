"""Fixtures for the relation-extraction tests: tiny pre-masked files written per test (data in `toy.py`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tasks.re.toy import write_toy_split


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
def toy_split(tmp_path: Path) -> tuple[Path, Path]:
    """A BLURB-style `train.tsv` (`sentence<TAB>label id`, no header) and its `label2id.tsv`."""
    return write_toy_split(tmp_path / "toy")
