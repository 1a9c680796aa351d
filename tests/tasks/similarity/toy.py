"""Tiny sentence-pair files in the BIOSSES layout, from the word backbone's vocabulary (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CHEMICALS, DISEASES

SCORES = (0.0, 0.4, 1.2, 2.0, 2.6, 3.0, 3.6, 4.0)


def toy_pairs(n: int, offset: int = 0) -> list[tuple[str, str, float]]:
    """`n` distinct pairs of toy sentences with scores spread over 0-4 (cycling through `SCORES`)."""
    rows = []
    for k in range(offset, offset + n):
        disease, chemical = DISEASES[k % len(DISEASES)], CHEMICALS[(k // len(DISEASES)) % len(CHEMICALS)]
        rows.append((f"the patient developed acute {disease} after {chemical} .",
                     f"{CHEMICALS[k % len(CHEMICALS)]} and severe {DISEASES[(k + 1) % len(DISEASES)]} was given .",
                     SCORES[k % len(SCORES)]))
    return rows


def write_pairs(path: Path, rows: list[tuple[str, str, float]], header: bool = True) -> Path:
    """BLURB's BIOSSES TSV: a `sentence1<TAB>sentence2<TAB>score` header, then one pair a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (["sentence1\tsentence2\tscore"] if header else []) + [f"{a}\t{b}\t{s}" for a, b, s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_corpus(folder: Path, train: int = 8, dev: int = 4, test: int = 4) -> Path:
    """train.tsv, dev.tsv and test.tsv of distinct pairs."""
    write_pairs(folder / "train.tsv", toy_pairs(train))
    write_pairs(folder / "dev.tsv", toy_pairs(dev, offset=train))
    write_pairs(folder / "test.tsv", toy_pairs(test, offset=train + dev))
    return folder
