"""Tiny pre-masked relation data shared by the RE tests.

Sentences use the words of the shared tiny BERT's vocabulary (`tests/conftest.py`), so each
word is one subword and the tests can count tokens.
"""

from __future__ import annotations

from pathlib import Path

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


def write_toy_split(folder: Path) -> tuple[Path, Path]:
    """Write the toy rows as a BLURB-style `train.tsv` (label ids, no header) and its `label2id.tsv` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    train, label2id = folder / "train.tsv", folder / "label2id.tsv"
    train.write_text("".join(f"{text}\t{label}\n" for text, label in TOY_ROWS), encoding="utf-8")
    label2id.write_text("".join(f"{name}\t{i}\n" for i, name in enumerate(TOY_LABELS)), encoding="utf-8")
    return train, label2id
