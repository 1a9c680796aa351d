"""Cross-validation folds on disk: BioBERT's layout, one sub-folder per fold holding `train.tsv` and `test.tsv`.

Any task's files can sit in it (GAD's 10 folds are relation rows); the folds are listed in
numeric order (fold 10 after fold 9). Numbered folds must run without a gap from the first
(1, 2, 3 or 0, 1, 2): a missing fold (1, 2, 4) most often is a copy that failed, and a mean over
the folds found would be reported as if it were the whole cross-validation. `allow_gaps`
accepts such a layout knowingly.
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


def cv_folds(folder: str | Path, allow_gaps: bool = False) -> list[Fold]:
    """The folds of a BioBERT-style layout: sub-folders `k/` holding `train.tsv` and `test.tsv`, in numeric order.

    A gap in the numbered folds is a `BiotuneError` naming the folds found and those missing,
    unless `allow_gaps`.
    """
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
    numbers = [int(fold.name) for fold in folds if fold.name.isdigit()]
    missing_numbers = sorted(set(range(min(numbers), max(numbers) + 1)) - set(numbers)) if numbers else []
    if missing_numbers and not allow_gaps:
        raise BiotuneError(f"{folder}: folds {', '.join(f.name for f in folds)} found, fold(s) "
                           f"{', '.join(map(str, missing_numbers))} missing; restore them, or pass --allow-fold-gaps "
                           "to cross-validate over the folds found")
    return folds


def natural_key(name: str) -> tuple[bool, int, str]:
    """Numbers first and in numeric order (fold 10 after fold 9, label 10 after label 9), then names."""
    return (not name.isdigit(), int(name) if name.isdigit() else 0, name)
