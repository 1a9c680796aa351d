"""NER splits read from documents (PubTator, BioC): documents -> sentences -> BIO, each sentence knowing its document."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from biotune.config import DataConfig
from biotune.errors import BiotuneError
from biotune.formats.pubtator import iter_pubtator
from biotune.formats.readers import read_corpus_file
from biotune.tasks.ner.reading import read_split

SHARED_DOCUMENTS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "documents"
SHARED_TSV = SHARED_DOCUMENTS.parent / "corpora" / "bc5cdr"

PUBTATOR = ("7|t|Lithium and tremor.\n7|a|The patient developed asthma. Heparin was given.\n"
            "7\t0\t7\tLithium\tChemical\tD1\n7\t12\t18\ttremor\tDisease\tD2\n7\t42\t48\tasthma\tDisease\tD3\n\n"
            "8|t|Naloxone.\n8|a|No bleeding.\n8\t0\t8\tNaloxone\tChemical\tD4\n8\t13\t21\tbleeding\tDisease\tD5\n\n")


def registry_folder(root: Path) -> Path:
    folder = root / "bc5cdr_pubtator"
    folder.mkdir(parents=True)
    for name in ("CDR_TrainingSet", "CDR_DevelopmentSet", "CDR_TestSet"):
        (folder / f"{name}.PubTator.txt").write_text(PUBTATOR, encoding="utf-8")
    return root


def test_the_registry_corpus_reads_pubtator_into_tagged_sentences(tmp_path: Path) -> None:
    data = DataConfig(corpus="bc5cdr_documents", data_dir=str(registry_folder(tmp_path)))
    split = read_split("dev", data)
    assert split.annotated_types == ("Chemical", "Disease")
    assert [(s.document, s.tokens, s.tags) for s in split.examples] == [
        ("7", ["Lithium", "and", "tremor", "."], ["B-Chemical", "O", "B-Disease", "O"]),
        ("7", ["The", "patient", "developed", "asthma", "."], ["O", "O", "O", "B-Disease", "O"]),
        ("7", ["Heparin", "was", "given", "."], ["O"] * 4),
        ("8", ["Naloxone", "."], ["B-Chemical", "O"]),
        ("8", ["No", "bleeding", "."], ["O", "B-Disease", "O"]),
    ]
    assert {s.source for s in split.examples} == {str(tmp_path / "bc5cdr_pubtator" / "CDR_DevelopmentSet.PubTator.txt")}
    assert len(read_split("train", data.model_copy(update={"limit": 2})).examples) == 2


def test_a_document_file_split_by_extension_or_format(tmp_path: Path) -> None:
    (tmp_path / "docs.pubtator").write_text(PUBTATOR, encoding="utf-8")
    (tmp_path / "docs.txt").write_text(PUBTATOR, encoding="utf-8")
    data = DataConfig(corpus=str(tmp_path))
    by_extension = read_split(str(tmp_path / "docs.pubtator"), data)
    by_format = read_split(str(tmp_path / "docs.txt"), data.model_copy(update={"format": "pubtator"}))
    assert [s.tags for s in by_extension.examples] == [s.tags for s in by_format.examples]
    assert by_extension.annotated_types == ("Chemical", "Disease")
    (tmp_path / "empty.pubtator").write_text("\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="empty.pubtator contains no sentences"):
        read_split(str(tmp_path / "empty.pubtator"), data)


@pytest.mark.skipif(not (SHARED_DOCUMENTS / "bc5cdr_pubtator").is_dir() or not SHARED_TSV.is_dir(),
                    reason="shared BC5CDR documents and TSV corpus not present")
@pytest.mark.parametrize(("split", "tsv", "released"), [("train", "train", "Training"), ("dev", "devel", "Development"),
                                                        ("test", "test", "Test")])
def test_bc5cdr_documents_match_the_tsv_corpus(split: str, tsv: str, released: str) -> None:
    """Same tokens and entities as the MTL TSV files; sentence boundaries are biotune's splitter's (within 0.5%)."""
    sentences = read_split(split, DataConfig(corpus="bc5cdr_documents", data_dir=str(SHARED_DOCUMENTS))).examples
    reference = read_corpus_file(SHARED_TSV / f"{tsv}.tsv")
    documents = list(iter_pubtator(SHARED_DOCUMENTS / "bc5cdr_pubtator" / f"CDR_{released}Set.PubTator.txt"))
    assert len({s.document for s in sentences}) == len(documents) == 500
    assert Counter(t for s in sentences for t in s.tokens) == Counter(t for s in reference for t in s.tokens)

    def entities(items: list) -> Counter:
        return Counter(tag[2:] for s in items for tag in s.tags or [] if tag.startswith("B-"))

    assert entities(sentences) == Counter(a.type for d in documents for a in d.annotations)  # every mention kept
    for entity_type, count in entities(reference).items():
        assert abs(entities(sentences)[entity_type] - count) <= 2, entity_type
    assert abs(len(sentences) - len(reference)) <= 0.005 * len(reference)
