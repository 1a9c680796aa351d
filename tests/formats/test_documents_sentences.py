"""Sentences keep their document: -DOCSTART- blocks, JSONL `document`, PubTator/BioC documents, and the CoNLL round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.bioc_io import iter_bioc_xml, write_bioc_xml
from biotune.formats.documents import Annotation, Document, Passage, document_sentences, tagged_sentences
from biotune.formats.pubtator import iter_pubtator, write_pubtator
from biotune.formats.readers import iter_jsonl, iter_tsv
from biotune.formats.writers import write_conll


def test_docstart_lines_start_documents(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text("alone\tO\n\n-DOCSTART-\tO\n\naspirin\tB-Chemical\n.\tO\n\ntremor\tB-Disease\n\n"
                    "-DOCSTART- -X- -X- O\nheparin\tB-Chemical\n\n", encoding="utf-8")
    sentences = list(iter_tsv(path))
    assert [(s.tokens, s.document) for s in sentences] == [
        (["alone"], None), (["aspirin", "."], "c.tsv:3"), (["tremor"], "c.tsv:3"), (["heparin"], "c.tsv:10")]


def test_jsonl_document_field(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"tokens": ["a"], "tags": ["O"], "document": "PMID1"}\n'
                    '{"tokens": ["b"], "tags": ["O"], "document": 7}\n{"tokens": ["c"], "tags": ["O"]}\n'
                    '{"tokens": ["d"], "document": "PMID1"}\n', encoding="utf-8")
    assert [s.document for s in iter_jsonl(path, tag_field=None)] == ["PMID1", "7", None, "PMID1"]
    path.write_text('{"tokens": ["a"], "tags": ["O"], "document": ["x"]}\n', encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"s.jsonl:1: field 'document' must be a string or an integer, not list"):
        list(iter_jsonl(path))


def documents() -> list[Document]:
    title, abstract = "Lithium and tremor.", "The patient developed asthma. Heparin was given."
    first = Document("101", [Passage("title", title, 0, [Annotation(0, 7, "Chemical", "Lithium", concept_id="D1"),
                                                          Annotation(12, 18, "Disease", "tremor", concept_id="D2")]),
                             Passage("abstract", abstract, len(title) + 1,
                                     [Annotation(len(title) + 23, len(title) + 29, "Disease", "asthma", concept_id="D3")])])
    second = Document("102", [Passage("title", "Naloxone.", 0, [Annotation(0, 8, "Chemical", "Naloxone", concept_id="D4")]),
                              Passage("abstract", "No bleeding.", 10)])
    return [first, second]


@pytest.mark.parametrize("fmt", ["pubtator", "bioc-xml"])
def test_document_files_give_tagged_sentences_in_document_order(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "docs"
    write, read = (write_pubtator, iter_pubtator) if fmt == "pubtator" else (write_bioc_xml, iter_bioc_xml)
    write(documents(), path)
    sentences = [s for doc in read(path) for s in tagged_sentences(doc)]
    assert [(s.document, s.tokens, s.tags) for s in sentences] == [
        ("101", ["Lithium", "and", "tremor", "."], ["B-Chemical", "O", "B-Disease", "O"]),
        ("101", ["The", "patient", "developed", "asthma", "."], ["O", "O", "O", "B-Disease", "O"]),
        ("101", ["Heparin", "was", "given", "."], ["O", "O", "O", "O"]),
        ("102", ["Naloxone", "."], ["B-Chemical", "O"]),
        ("102", ["No", "bleeding", "."], ["O", "O", "O"]),
    ]
    assert all(s.document == s.meta["document"] for s in sentences)


def test_conll_round_trip_keeps_documents(tmp_path: Path) -> None:
    docs = documents()
    write_conll(docs, tmp_path / "out.conll")
    assert (tmp_path / "out.conll").read_text(encoding="utf-8").startswith("-DOCSTART-\tO\n\nLithium\tB-Chemical\n")
    read = list(iter_tsv(tmp_path / "out.conll"))
    expected = [s for doc in docs for s in tagged_sentences(doc)]
    assert [(s.tokens, s.tags) for s in read] == [(s.tokens, s.tags) for s in expected]
    groups = [s.document for s in read]
    assert groups[:3] == [groups[0]] * 3 and groups[3:] == [groups[3]] * 2 and groups[0] != groups[3]
    assert [len(document_sentences(doc)) for doc in docs] == [3, 2]
