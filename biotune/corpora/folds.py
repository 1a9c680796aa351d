"""Cross-validation folds on disk: BioBERT's layout, one sub-folder per fold holding `train.tsv` and `test.tsv`.

Any task's files can sit in it (GAD's 10 folds are relation rows); the folds are listed in
numeric order (fold 10 after fold 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from biotune.errors import BiotuneError


@dataclass(frozen=True, slots=True)
class Fold:
    """One cross-validation fold: its name (the folder name) and its train and test files."""

    name: str
    train: Path
    test: Path


def cv_folds(folder: str | Path) -> list[Fold]:
    """The folds of a BioBERT-style layout: sub-folders `k/` holding `train.tsv` and `test.tsv`, in numeric order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BiotuneError(f"cross-validation folder {folder} does not exist")
    subfolders = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))
    folds = []
    for sub in subfolders:
        missing = [name for name in ("train.tsv", "test.tsv") if not (sub / name).is_file()]
        if missing:
            raise BiotuneError(f"fold {sub} lacks {' and '.join(missing)}")
        folds.append(Fold(sub.name, sub / "train.tsv", sub / "test.tsv"))
    if len(folds) < 2:
        raise BiotuneError(f"{folder} holds {len(folds)} fold folder(s) (k/train.tsv + k/test.tsv); "
                           "cross-validation needs at least 2")
    return folds


def natural_key(name: str) -> tuple[bool, int, str]:
    """Numbers first and in numeric order (fold 10 after fold 9, label 10 after label 9), then names."""
    return (not name.isdigit(), int(name) if name.isdigit() else 0, name)
