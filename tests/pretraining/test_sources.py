"""Pretraining text through biotune's readers; test splits refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.pretraining.config import TextSource
from biotune.pretraining.sources import refuse_test, source_texts
from tests.conftest import _sentences, write_tsv


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    write_tsv(folder / "train.tsv", _sentences(5, seed=1))
    write_tsv(folder / "devel.tsv", _sentences(3, seed=2))
    write_tsv(folder / "test.tsv", _sentences(4, seed=3))
    return folder


def test_a_corpus_split_gives_its_sentences_as_text(corpus: Path) -> None:
    texts = list(source_texts(TextSource(corpus=f"{corpus}:train"), None))
    assert texts == [" ".join(tokens) for tokens, _ in _sentences(5, seed=1)]


def test_a_registered_corpus_split_is_found_under_data_dir(corpus: Path) -> None:
    (corpus.parent / "ncbi_disease").symlink_to(corpus)
    texts = list(source_texts(TextSource(corpus="ncbi_disease:dev"), str(corpus.parent)))
    assert len(texts) == 3


def test_a_corpus_test_split_is_refused_by_name(corpus: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"source '{corpus}:test': 'test' is a test split"):
        refuse_test(TextSource(corpus=f"{corpus}:test"), None)


def test_a_file_that_is_a_corpus_test_file_is_refused(corpus: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"{corpus / 'test.tsv'} is the test split of the corpus folder {corpus}"):
        refuse_test(TextSource(path=str(corpus / "test.tsv"), format="text"), None)
    (corpus.parent / "bc2gm").symlink_to(corpus)
    copy = corpus.parent / "elsewhere"
    copy.mkdir()
    (copy / "notes.txt").symlink_to(corpus / "test.tsv")  # the same file under another name
    with pytest.raises(BiotuneError, match="is the test split of corpus 'bc2gm'"):
        refuse_test(TextSource(path=str(copy)), str(corpus.parent))
    refuse_test(TextSource(path=str(corpus / "train.tsv"), format="text"), str(corpus.parent))  # train is fine


def test_document_formats_give_one_text_per_document(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("first document\n\nsecond one\n", encoding="utf-8")
    assert list(source_texts(TextSource(path=str(text)), None)) == ["first document", "second one"]
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text(json.dumps({"id": "1", "title": "A title.", "abstract": "The abstract."}) + "\n", encoding="utf-8")
    assert list(source_texts(TextSource(path=str(jsonl)), None)) == ["A title. The abstract."]
    plain = tmp_path / "c.jsonl"
    plain.write_text(json.dumps({"body": "free text"}) + "\n" + json.dumps({"other": 1}) + "\n", encoding="utf-8")
    reader = source_texts(TextSource(path=str(plain), text_field="body"), None)
    assert next(reader) == "free text"
    with pytest.raises(BiotuneError, match=rf"{plain}:2: no string field 'body'"):
        next(reader)
    pubtator = tmp_path / "d.pubtator"
    pubtator.write_text("1|t|Aspirin and bleeding.\n1|a|Case report.\n1\t0\t7\tAspirin\tChemical\tD001241\n\n",
                        encoding="utf-8")
    assert list(source_texts(TextSource(path=str(pubtator)), None)) == ["Aspirin and bleeding. Case report."]


def test_bioc_files_are_read_by_their_extension(tmp_path: Path) -> None:
    from biotune.formats.bioc_io import write_bioc_json, write_bioc_xml
    from biotune.formats.documents import Document, Passage

    documents = [Document("7", [Passage("title", "Heparin and bleeding."), Passage("abstract", "A case.", 22)])]
    write_bioc_xml(documents, tmp_path / "a.xml")
    write_bioc_json(documents, tmp_path / "b.json")
    for name in ("a.xml", "b.json"):
        assert list(source_texts(TextSource(path=str(tmp_path / name), format="bioc"), None)) == [
            "Heparin and bleeding. A case."]
    (tmp_path / "c.txt").write_text("plain\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="format bioc reads"):
        list(source_texts(TextSource(path=str(tmp_path / "c.txt"), format="bioc"), None))
