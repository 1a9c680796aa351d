"""Fixtures for the relation-extraction tests: tiny pre-masked files and a marker-aware tokenizer.

Sentences use the words of the shared tiny BERT's vocabulary (`tests/conftest.py`), so each
word is one subword and the tests can count tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# Six pairs, two per class; each class has its own words (a tiny random BERT separates them in
# a few dozen steps), and E1 is the disease in one class, the chemical in the others.
TOY_ROWS = [
    ("the patient developed @DISEASE$ after @CHEMICAL$ .", "1"),
    ("the patient developed severe @DISEASE$ after @CHEMICAL$ .", "1"),
    ("@CHEMICAL$ treatment was given with @DISEASE$ .", "2"),
    ("@CHEMICAL$ treatment was given with acute @DISEASE$ .", "2"),
    ("@CHEMICAL$ and @DISEASE$ .", "0"),
    ("@CHEMICAL$ and severe @DISEASE$ .", "0"),
]
TOY_LABELS = ("0", "CID", "TREAT")  # label2id order: id 1 is CID, id 2 is TREAT


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
