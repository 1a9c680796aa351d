"""Documents: the offset contract, sentence splitting with document offsets, JSONL records."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.formats.documents import (
    Annotation,
    Document,
    Passage,
    assemble,
    document_sentences,
    iter_jsonl_documents,
    with_predictions,
)
from biotune.formats.sentence import Span
from biotune.errors import BiotuneError
from biotune.formats.writers import write_jsonl


def test_formats_annotations_slice_their_mention_from_document_text(documents: list[Document]) -> None:
    for doc in documents:
        assert doc.annotations
        for a in doc.annotations:
            assert doc.text[a.start_char : a.end_char] == a.text
    assert [a.text for a in documents[0].annotations] == ["TNF-α", "β-catenin", "Aspirin", "TNF-α", "IL-2"]


def test_formats_document_text_fills_gaps_with_spaces() -> None:
    doc = Document("d", [Passage("title", "Ab", 0), Passage("abstract", "cd", 4)])
    assert doc.text == "Ab  cd"


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (Annotation(0, 3, "Gene", "TNG"), "hold 'TNF', not the mention 'TNG'"),
        (Annotation(3, 9, "Gene", "F-α x"), "not inside one passage"),
        (Annotation(4, 4, "Gene", ""), "empty or negative"),
    ],
)
def test_formats_assemble_rejects_bad_annotations(annotation: Annotation, message: str) -> None:
    passages = [Passage("title", "TNF-α", 0), Passage("abstract", "x", 6)]
    with pytest.raises(BiotuneError, match=message) as error:
        assemble("d1", passages, [("corpus.txt:7", annotation)], "corpus.txt:1")
    assert str(error.value).startswith("corpus.txt:7: document 'd1'")


def test_formats_assemble_rejects_overlapping_passages() -> None:
    with pytest.raises(BiotuneError, match="overlaps"):
        assemble("d", [Passage("title", "abc", 0), Passage("abstract", "de", 2)], [], "f.xml")


def test_formats_document_sentences_have_document_offsets(documents: list[Document]) -> None:
    doc = documents[0]
    sentences = document_sentences(doc)
    assert [s.meta["passage"] for s in sentences] == [0, 1, 1]
    assert sentences[0].tokens[:3] == ["TNF", "-", "α"]
    assert "👩\u200d🔬" in sentences[1].tokens
    for sentence in sentences:
        assert sentence.offsets is not None and sentence.text == doc.text
        assert [sentence.text[s:e] for s, e in sentence.offsets] == sentence.tokens
    abstract = doc.passages[1]
    assert sentences[1].offsets[0] == (abstract.offset, abstract.offset + len("Aspirin"))


def test_formats_with_predictions_maps_token_spans_to_document_annotations(documents: list[Document]) -> None:
    doc = documents[0]
    sentences = document_sentences(doc)
    spans = [[Span(0, 3, "Gene", 0.9)], [Span(0, 1, "Chemical", 0.8)], [Span(0, 3, "Gene", 0.7)]]
    tagged = with_predictions(doc, sentences, spans)
    assert [(a.text, a.type, a.score) for a in tagged.annotations] == [
        ("TNF-α", "Gene", 0.9), ("Aspirin", "Chemical", 0.8), ("IL-2", "Gene", 0.7)
    ]
    gold = {(a.start_char, a.end_char) for a in doc.annotations}
    assert {(a.start_char, a.end_char) for a in tagged.annotations} <= gold
    assert tagged.passages[1].text == doc.passages[1].text


def test_formats_jsonl_round_trip(tmp_path: Path, documents: list[Document]) -> None:
    assert write_jsonl(documents, tmp_path / "a.jsonl") == 2
    again = list(iter_jsonl_documents(tmp_path / "a.jsonl"))
    assert again == documents
    write_jsonl(again, tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "passages": []', "invalid JSON"),
        ('{"passages": []}', "missing field 'id'"),
        ('{"id": "x"}', "needs 'passages', 'text' or 'title'/'abstract'"),
        ('{"id": "x", "text": 5}', "field 'text' must be a string"),
        ('{"id": "x", "passages": [{"type": "t", "offset": 0, "text": "ab"}], '
         '"entities": [{"start_char": 0, "end_char": 1, "type": "G", "text": "b"}]}', "not the mention 'b'"),
    ],
)
def test_formats_jsonl_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "ok", "passages": [], "entities": []}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=message) as error:
        list(iter_jsonl_documents(path))
    assert str(error.value).startswith(f"{path}:3:")


def test_formats_jsonl_plain_records_become_documents(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_text('{"id": "a", "text": "Aspirin helps."}\n'
                    '{"id": 7, "title": "Heparin", "abstract": "It bleeds."}\n', encoding="utf-8")
    first, second = iter_jsonl_documents(path)
    assert [(p.type, p.offset, p.text) for p in first.passages] == [("text", 0, "Aspirin helps.")]
    assert second.id == "7"
    assert [(p.type, p.offset) for p in second.passages] == [("title", 0), ("abstract", 8)]
    assert second.text == "Heparin It bleeds."
