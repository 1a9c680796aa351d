"""Writers: every registered format reads back to the same documents, CoNLL and brat included."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from biotune.formats.bioc_io import read_bioc_json, read_bioc_xml
from biotune.formats.documents import Annotation, Document, Passage, document_sentences, iter_jsonl_documents
from biotune.formats.pubtator import iter_pubtator
from biotune.formats.readers import iter_tsv
from biotune.formats.schemes import tags_to_spans
from biotune.formats.text import tokenize
from biotune.errors import BiotuneError
from biotune.formats.writers import WRITERS, write_brat, write_conll
from tests.awkward import AWKWARD_TEXTS

READERS = {"jsonl": iter_jsonl_documents, "pubtator": iter_pubtator, "bioc-xml": read_bioc_xml,
           "bioc-json": read_bioc_json}


def unscored(doc: Document) -> Document:
    """`doc` as PubTator keeps it: title + abstract, no scores."""
    passages = [dataclasses.replace(p, annotations=[dataclasses.replace(a, score=None) for a in p.annotations])
                for p in doc.passages]
    return dataclasses.replace(doc, passages=passages)


def test_formats_registry_names_every_format() -> None:
    assert sorted(WRITERS) == ["bioc-json", "bioc-xml", "brat", "conll", "jsonl", "pubtator"]


@pytest.mark.parametrize("name", sorted(READERS))
def test_formats_writer_output_reads_back(tmp_path: Path, documents: list[Document], name: str) -> None:
    expected = documents[:1] if name == "pubtator" else documents
    assert WRITERS[name](expected, tmp_path / "out") == len(expected)
    back = list(READERS[name](tmp_path / "out"))
    assert back == ([unscored(d) for d in expected] if name == "pubtator" else expected)
    for doc in back:
        assert all(doc.text[a.start_char : a.end_char] == a.text for a in doc.annotations)


def test_formats_conll_re_reads_with_iter_tsv_to_the_same_spans(tmp_path: Path, documents: list[Document]) -> None:
    assert write_conll(documents, tmp_path / "out.conll") == 2
    read = list(iter_tsv(tmp_path / "out.conll"))
    sentences = [s for doc in documents for s in document_sentences(doc)]
    assert [s.tokens for s in read] == [s.tokens for s in sentences]
    found = []
    for sentence, doc_sentence in zip(read, sentences):
        assert doc_sentence.offsets is not None and doc_sentence.text is not None
        for span in tags_to_spans(sentence.tags or []):
            start, end = doc_sentence.offsets[span.start][0], doc_sentence.offsets[span.end - 1][1]
            found.append((doc_sentence.meta["document"], start, end, span.type, doc_sentence.text[start:end]))
    expected = [(d.id, a.start_char, a.end_char, a.type, a.text) for d in documents for a in d.annotations]
    assert found == expected
    assert read[0].tags[:4] == ["B-Gene", "I-Gene", "I-Gene", "O"]


def test_formats_conll_keeps_the_outer_of_nested_annotations(tmp_path: Path) -> None:
    text = "IL-2 receptor alpha"
    doc = Document("n", [Passage("abstract", text, 0, [
        Annotation(0, 4, "Gene", "IL-2"), Annotation(0, 13, "Gene", "IL-2 receptor"), Annotation(5, 19, "X", text[5:]),
    ])])
    write_conll([doc], tmp_path / "n.conll")
    (sentence,) = iter_tsv(tmp_path / "n.conll")
    assert sentence.tags == ["B-Gene", "I-Gene", "I-Gene", "I-Gene", "O"]


def test_formats_brat_offsets_slice_the_txt(tmp_path: Path, documents: list[Document]) -> None:
    assert write_brat(documents, tmp_path / "brat") == 2
    assert sorted(p.name for p in (tmp_path / "brat").iterdir()) == ["12345.ann", "12345.txt", "doc-2.ann", "doc-2.txt"]
    for doc in documents:
        text = (tmp_path / "brat" / f"{doc.id}.txt").read_text(encoding="utf-8")
        assert text == doc.text
        lines = (tmp_path / "brat" / f"{doc.id}.ann").read_text(encoding="utf-8").splitlines()
        entities = []
        for line in lines:
            if line.startswith("T"):
                _, what, mention = line.split("\t")
                type_, start, end = what.split(" ")
                assert text[int(start) : int(end)] == mention
                entities.append((int(start), int(end), type_, mention))
        assert entities == [(a.start_char, a.end_char, a.type, a.text) for a in doc.annotations]
    notes = (tmp_path / "brat" / "doc-2.ann").read_text(encoding="utf-8")
    assert "#1\tAnnotatorNotes T1\tscore=0.75\n" in notes
    assert "N1\tReference T1 7124\tTNF-α\n" in (tmp_path / "brat" / "12345.ann").read_text()  # concept ids: N lines


def test_formats_failed_write_leaves_no_file(tmp_path: Path, documents: list[Document]) -> None:
    with pytest.raises(BiotuneError, match="not a safe brat file name"):
        write_brat([documents[0], Document("../escape", [])], tmp_path / "brat")
    assert sorted(p.name for p in (tmp_path / "brat").iterdir()) == ["12345.ann", "12345.txt"]
    with pytest.raises(BiotuneError, match="PubTator"):
        WRITERS["pubtator"]([documents[0], Document("", [])], tmp_path / "p.txt")
    assert not (tmp_path / "p.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def awkward_document(index: int, text: str) -> Document:
    """One passage of `text`, its first token annotated when it has one."""
    tokens = tokenize(text)
    annotations = [Annotation(tokens[0][1], tokens[0][2], "Thing", tokens[0][0])] if tokens else []
    return Document(f"awk{index}", [Passage("abstract", text, 0, annotations)])


XML_SAFE = [(i, t) for i, t in enumerate(AWKWARD_TEXTS) if "\x00" not in t and "\x07" not in t]


@pytest.mark.parametrize(("index", "text"), XML_SAFE)
def test_formats_awkward_texts_round_trip_through_lossless_formats(tmp_path: Path, index: int, text: str) -> None:
    doc = awkward_document(index, text)
    for name in ("jsonl", "bioc-xml", "bioc-json"):
        WRITERS[name]([doc], tmp_path / name)
        assert list(READERS[name](tmp_path / name)) == [doc], name
    WRITERS["brat"]([doc], tmp_path / "brat")
    assert (tmp_path / "brat" / f"awk{index}.txt").read_bytes().decode("utf-8") == text


@pytest.mark.parametrize(("index", "text"), list(enumerate(AWKWARD_TEXTS)))
def test_formats_awkward_texts_survive_pubtator_and_conll(tmp_path: Path, index: int, text: str) -> None:
    doc = awkward_document(index, text)
    WRITERS["pubtator"]([doc], tmp_path / "p.txt")
    (back,) = iter_pubtator(tmp_path / "p.txt")
    assert len(back.text) == len(text) + 1
    assert [a.text for a in back.annotations] == [a.text for a in doc.annotations]
    assert all(back.text[a.start_char : a.end_char] == a.text for a in back.annotations)
    WRITERS["conll"]([doc], tmp_path / "c.conll")
    tokens = [t for s in iter_tsv(tmp_path / "c.conll") for t in s.tokens] if tokenize(text) else []
    assert tokens == [t for t, _, _ in tokenize(text)]


def test_formats_bioc_xml_refuses_characters_xml_cannot_hold(tmp_path: Path) -> None:
    doc = awkward_document(0, "control\x00char")
    with pytest.raises(BiotuneError, match="cannot write BioC"):
        WRITERS["bioc-xml"]([doc], tmp_path / "x.xml")
    assert list(tmp_path.iterdir()) == []
