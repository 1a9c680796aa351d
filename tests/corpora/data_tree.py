"""A tiny data root laid out like the shared data: registered corpora grouped by kind.

    <root>/corpora/bc2gm/{train,devel,test}.tsv                         (registered NER corpus bc2gm)
    <root>/documents/bc5cdr_pubtator/CDR_{Training,Development,Test}Set.PubTator.txt
                                                        (registered bc5cdr_cid and bc5cdr_documents)

Every file's bytes differ from every other's, so a content match is a real copy.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import _sentences, write_tsv

PUBTATOR = {"Training": 1, "Development": 2, "Test": 3}


def make_data_tree(root: Path) -> Path:
    """Write the tree under `root` and return `root`."""
    for name, seed in (("train", 11), ("devel", 12), ("test", 13)):
        write_tsv(root / "corpora" / "bc2gm" / f"{name}.tsv", _sentences(4, seed=seed))
    folder = root / "documents" / "bc5cdr_pubtator"
    folder.mkdir(parents=True)
    for split, pmid in PUBTATOR.items():
        (folder / f"CDR_{split}Set.PubTator.txt").write_text(
            f"{pmid}|t|Aspirin and bleeding in {split.lower()}.\n{pmid}|a|Case report.\n"
            f"{pmid}\t0\t7\tAspirin\tChemical\tD001241\n\n", encoding="utf-8")
    return root


def pubtator_test(root: Path) -> Path:
    return root / "documents" / "bc5cdr_pubtator" / "CDR_TestSet.PubTator.txt"


def pubtator_train(root: Path) -> Path:
    return root / "documents" / "bc5cdr_pubtator" / "CDR_TrainingSet.PubTator.txt"
