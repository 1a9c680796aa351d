"""BLURB's datasets and JNLPBA in brat, resolved from one data root laid out like ../shared/data (tiny hand-made files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.config import validate
from biotune.corpora.registry import CORPORA, resolve_corpus
from biotune.corpora.splits import corpus_task
from biotune.tasks import get_task

BLURB_NAMES = ("blurb_bc5_chem", "blurb_bc5_disease", "blurb_ncbi_disease", "blurb_bc2gm", "blurb_jnlpba",
               "blurb_chemprot", "blurb_ddi", "blurb_gad", "blurb_biosses", "blurb_hoc", "blurb_pubmedqa",
               "blurb_bioasq")
FOLDERS = {"blurb_bc5_chem": "blurb/bc5cdr_chem", "blurb_bc5_disease": "blurb/bc5cdr_disease",
           "blurb_ncbi_disease": "blurb/ncbi_disease", "blurb_bc2gm": "blurb/bc2gm", "blurb_jnlpba": "blurb/jnlpba",
           "blurb_chemprot": "re/chemprot", "blurb_ddi": "re/ddi", "blurb_gad": "re/gad/blurb",
           "blurb_biosses": "blurb/biosses", "blurb_hoc": "blurb/hoc", "blurb_pubmedqa": "qa/pubmedqa/blurb",
           "blurb_bioasq": "qa/bioasq/blurb_yesno"}
NER = "-DOCSTART- 1\n\nAspirin\tB\nhelps\tO\n\n"


@pytest.fixture()
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BLURB's twelve folders (train/dev/test.tsv) and JNLPBA's brat folders under one root."""
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "data"
    for name, folder in FOLDERS.items():
        (root / folder).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            (root / folder / f"{split}.tsv").write_text(NER if CORPORA[name].untyped else f"{split}\t0\n",
                                                        encoding="utf-8")
    brat = root / "documents" / "jnlpba_brat"
    for split, pmids in (("train", ("100", "101", "110", "123", "555")), ("test", ("555", "900"))):
        (brat / split).mkdir(parents=True)
        for pmid in pmids:
            (brat / split / f"{pmid}.txt").write_text(f"IL-2 in {pmid}.\nT cells.\n", encoding="utf-8")
            (brat / split / f"{pmid}.ann").write_text("T1\tprotein 0 4\tIL-2\nT2\tcell_type 13 20\tT cells\n",
                                                      encoding="utf-8")
    return root


def test_every_blurb_name_resolves_under_the_data_root(data_root: Path) -> None:
    assert set(BLURB_NAMES) <= set(CORPORA)
    for name in BLURB_NAMES:
        paths = resolve_corpus(name, data_dir=data_root)
        folder = data_root / FOLDERS[name]
        assert (paths.train, paths.dev, paths.test) == (folder / "train.tsv", folder / "dev.tsv", folder / "test.tsv")
    tasks = {name: corpus_task(name) for name in BLURB_NAMES}
    assert tasks == {**{n: "ner" for n in BLURB_NAMES[:5]}, **{n: "re" for n in BLURB_NAMES[5:8]},
                     "blurb_biosses": "similarity", "blurb_hoc": "multilabel", "blurb_pubmedqa": "yesno",
                     "blurb_bioasq": "yesno"}


@pytest.mark.parametrize(("name", "entity_type"), [("blurb_bc5_chem", "Chemical"), ("blurb_jnlpba", "Entity"),
                                                   ("blurb_bc2gm", "GENE")])
def test_blurb_ner_reads_untyped_tags_as_its_type(data_root: Path, name: str, entity_type: str) -> None:
    config = validate({"data": {"corpus": name, "data_dir": str(data_root)}}, "test")
    split = get_task("ner").read_split("train", config)
    assert [(s.tokens, s.tags) for s in split.examples] == [(["Aspirin", "helps"], [f"B-{entity_type}", "O"])]
    assert split.annotated_types == (entity_type,)
    assert list(get_task("ner").texts("test", config)) == ["Aspirin helps"]


def test_jnlpba_dev_is_the_pmids_ending_in_0_and_test_abstracts_are_never_trained_on(data_root: Path) -> None:
    """Train 101, 123 (not ending in 0); dev 100, 110 (ending in 0); 555 is also a test abstract: in neither."""
    paths = resolve_corpus("jnlpba", data_dir=data_root)
    config = validate({"data": {"corpus": "jnlpba", "data_dir": str(data_root)}}, "test")
    ner = get_task("ner")
    documents = {split: sorted({s.document for s in ner.read_split(split, config).examples})
                 for split in ("train", "dev", "test")}
    assert documents == {"train": ["101", "123"], "dev": ["100", "110"], "test": ["555", "900"]}
    train = ner.read_split("train", config)
    assert [s.tags for s in train.examples[:2]] == [["B-protein", "I-protein", "I-protein", "O", "O", "O"],
                                                  ["B-cell_type", "I-cell_type", "O"]]
    assert train.annotated_types == ("DNA", "RNA", "cell_line", "cell_type", "protein")
    assert paths.dev == data_root / "documents" / "jnlpba_brat" / "train" / "*0.ann except test"
