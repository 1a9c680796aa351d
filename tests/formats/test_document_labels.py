"""A document's labels (`Document.labels`: a classifier's labels of the whole text) survive JSONL and BioC,
are read from gold label lists, survive the rebuilds of later pipeline stages, and are refused by the
formats that have no place for them (PubTator, brat, CoNLL) rather than dropped."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.bioc_io import read_bioc_json, read_bioc_xml
from biotune.formats.documents import Document, document_record, iter_jsonl_documents, with_predictions
from biotune.formats.documents import document_sentences
from biotune.formats.sentence import Span
from biotune.formats.writers import WRITERS
from tests.formats.conftest import make_document

LABELS = {"inducing angiogenesis": 0.9375, "resisting cell death": 0.5, "given, unscored": None}
READERS = {"jsonl": iter_jsonl_documents, "bioc-xml": read_bioc_xml, "bioc-json": read_bioc_json}


def labelled() -> Document:
    return dataclasses.replace(make_document(), labels=dict(LABELS))


@pytest.mark.parametrize("name", sorted(READERS))
def test_jsonl_and_bioc_read_back_the_labels_and_everything_else(tmp_path: Path, name: str) -> None:
    WRITERS[name]([labelled(), make_document("unlabelled")], tmp_path / "out")
    back, plain = READERS[name](tmp_path / "out")
    assert back == labelled() and back.labels == LABELS and list(back.labels) == list(LABELS)
    assert plain.labels == {}


def test_jsonl_writes_labels_only_where_a_document_has_some() -> None:
    assert document_record(labelled())["labels"] == LABELS
    assert "labels" not in document_record(make_document())


def test_bioc_holds_each_label_in_a_document_infon(tmp_path: Path) -> None:
    WRITERS["bioc-json"]([labelled()], tmp_path / "out.json")
    [doc] = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["documents"]
    assert doc["infons"] == {"label:inducing angiogenesis": "0.9375", "label:resisting cell death": "0.5",
                             "label:given, unscored": ""}


def test_a_jsonl_list_of_labels_is_gold_labels_without_scores(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "s1", "text": "VEGF drives angiogenesis.", "labels": ["b", "a"]}) + "\n")
    [doc] = iter_jsonl_documents(path)
    assert doc.labels == {"b": None, "a": None}


@pytest.mark.parametrize(("labels", "message"), [
    ('{"a": "high"}', "label 'a' has the score 'high', which is not a number"),
    ('{"a": true}', "label 'a' has the score True, which is not a number"),
    ('{"": 0.5}', "a label must be a non-empty string, not ''"),
    ('"a"', "'labels' must be an object of label -> score or a list of labels, not str"),
])
def test_bad_jsonl_labels_name_file_and_line(tmp_path: Path, labels: str, message: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "1", "text": "x"}\n{"id": "2", "text": "y", "labels": ' + labels + "}\n")
    with pytest.raises(BiotuneError, match=rf"^{path}:2: not a document record \({message}\)$"):
        list(iter_jsonl_documents(path))


def test_a_bioc_label_score_that_is_no_number_names_the_document(tmp_path: Path) -> None:
    WRITERS["bioc-xml"]([labelled()], tmp_path / "out.xml")
    path = tmp_path / "out.xml"
    path.write_text(path.read_text(encoding="utf-8").replace(">0.9375<", ">high<"), encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"document '12345': label:inducing angiogenesis infon 'high' is not a"):
        read_bioc_xml(path)


@pytest.mark.parametrize(("name", "format_name"), [("pubtator", "PubTator"), ("brat", "brat"), ("conll", "CoNLL")])
def test_formats_without_a_place_for_labels_refuse_them_and_write_nothing(tmp_path: Path, name: str,
                                                                          format_name: str) -> None:
    WRITERS[name]([make_document()], tmp_path / "plain")  # unlabelled documents are written as before
    with pytest.raises(BiotuneError, match=rf"^document '12345' has document labels, which {format_name} has no "
                                           "place for; write jsonl, bioc-xml or bioc-json$"):
        WRITERS[name]([labelled()], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_entities_predicted_on_a_labelled_document_keep_its_labels() -> None:
    """The entity stage rebuilds documents (`with_predictions`): labels a stage before it gave must stay."""
    doc = labelled()
    sentences = document_sentences(doc)
    spans = [[Span(0, 3, "Gene", 0.9)]] + [[] for _ in sentences[1:]]
    tagged = with_predictions(doc, sentences, spans)
    assert tagged.labels == LABELS and [a.text for a in tagged.annotations] == ["TNF-α"]
