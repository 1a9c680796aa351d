"""Pretraining text through biotune's readers; test text refused by what the file is, before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.pretraining.config import TextSource, validate_pretraining
from biotune.pretraining.run import pretrain
from biotune.pretraining.sources import refuse_test_text, source_texts
from tests.conftest import _sentences, write_tsv
from tests.corpora.data_tree import make_data_tree, pubtator_test, pubtator_train


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


def refuse(tmp_path: Path, sources: list[dict], data_dir: Path | None = None, **config: object) -> None:
    refuse_test_text(validate_pretraining({"output_dir": str(tmp_path / "out"), "data_dir": data_dir and str(data_dir),
                                           "sources": sources, **config}, "test"))


def test_a_corpus_test_split_is_refused(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"{corpus / 'test.tsv'} \(source '{corpus}:test'\): is the test split of "
                                           rf"the corpus folder {corpus} \(.*\); test text is never training or "
                                           "pretraining text"):
        refuse(tmp_path, [{"corpus": f"{corpus}:test"}])
    (tmp_path / "bc2gm").symlink_to(corpus)
    with pytest.raises(BiotuneError, match=r"\(source 'bc2gm:test'\): is the test split of corpus 'bc2gm'"):
        refuse(tmp_path, [{"corpus": "bc2gm:test"}], tmp_path)
    refuse(tmp_path, [{"corpus": "bc2gm:train"}, {"corpus": "bc2gm:dev"}], tmp_path)  # train and dev are fine


def test_a_file_that_is_a_corpus_test_file_is_refused_under_any_name(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"^{corpus / 'test.tsv'}: is the test split of the corpus folder {corpus}"):
        refuse(tmp_path, [{"path": str(corpus / "test.tsv"), "format": "text"}])
    (tmp_path / "bc2gm").symlink_to(corpus)
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    (copy / "notes.txt").symlink_to(corpus / "test.tsv")  # the same file under another name
    with pytest.raises(BiotuneError, match=r"notes.txt \(source 'mine'\): is the test split of corpus 'bc2gm'"):
        refuse(tmp_path, [{"path": str(copy), "name": "mine"}], tmp_path)
    (copy / "notes.txt").unlink()
    shutil.copy(corpus / "test.tsv", copy / "notes.txt")  # the same bytes under another name
    with pytest.raises(BiotuneError, match=r"is the test split of corpus 'bc2gm' \(.*test.tsv, same content\)"):
        refuse(tmp_path, [{"path": str(copy)}], tmp_path)
    refuse(tmp_path, [{"path": str(corpus / "train.tsv"), "format": "text"}], tmp_path)  # train is fine


@pytest.mark.parametrize("data_dir", [None, "", "corpora", "documents"], ids=["none", "root", "corpora", "documents"])
def test_the_bc5cdr_test_release_is_refused_whatever_the_data_dir(tmp_path: Path, data_dir: str | None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: named by path, CDR_TestSet.PubTator.txt trained unless data_dir was exactly documents/."""
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    root = make_data_tree(tmp_path / "data")
    where = None if data_dir is None else root / data_dir
    test, train = pubtator_test(root), pubtator_train(root)
    with pytest.raises(BiotuneError, match=rf"^{test}: is the test split of corpus 'bc5cdr_cid' and of corpus "
                                           "'bc5cdr_documents'"):
        refuse(tmp_path, [{"path": str(train), "format": "pubtator"}, {"path": str(test), "format": "pubtator"}],
               where)
    with pytest.raises(BiotuneError, match=r"\(source 'dev'\): is the test split of corpus 'bc5cdr_cid'"):
        refuse(tmp_path, [{"path": str(train)}], where, dev={"sources": [{"path": str(test), "name": "dev"}]})
    copy = shutil.copy(test, tmp_path / "abstracts.txt")  # found by content, beside the training release
    with pytest.raises(BiotuneError, match=r"abstracts.txt: is the test split .*, same content\)"):
        refuse(tmp_path, [{"path": str(train)}, {"path": str(copy), "format": "pubtator"}], where)
    refuse(tmp_path, [{"path": str(train), "format": "pubtator"}], where,
           dev={"sources": [{"path": str(root / "documents" / "bc5cdr_pubtator" / "CDR_DevelopmentSet.PubTator.txt")}]})


def test_the_test_splits_of_the_configs_in_exclude_test_of_are_refused(tmp_path: Path) -> None:
    held_out = write_tsv(tmp_path / "private" / "held_out.tsv", _sentences(4, seed=5))
    experiment = tmp_path / "mine.yaml"
    experiment.write_text(f"data: {{corpus: bc2gm, test: ['{held_out}']}}\n", encoding="utf-8")
    copy = shutil.copy(held_out, tmp_path / "copy.txt")
    refuse(tmp_path, [{"path": str(copy)}])  # nothing says it is test text
    with pytest.raises(BiotuneError, match=rf"copy.txt: is the test split of {experiment} \(data.test '{held_out}'\)"):
        refuse(tmp_path, [{"path": str(copy)}], exclude_test_of=[str(experiment)])
    with pytest.raises(BiotuneError, match=r"^exclude_test_of\[0\]: config file .*absent.yaml not found"):
        refuse(tmp_path, [{"path": str(copy)}], exclude_test_of=[str(tmp_path / "absent.yaml")])


def test_pretrain_refuses_test_text_before_its_run_folder_exists(corpus: Path, tmp_path: Path) -> None:
    config = validate_pretraining({"output_dir": str(tmp_path / "out"), "backbone": str(tmp_path / "no_backbone"),
                                   "sources": [{"path": str(corpus / "test.tsv"), "format": "text"}]}, "test")
    with pytest.raises(BiotuneError, match="is the test split of the corpus folder"):
        pretrain(config)
    assert not (tmp_path / "out").exists()


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


def test_a_corpus_of_any_task_gives_the_text_its_task_reads(tmp_path: Path) -> None:
    from tests.tasks.re.toy import TOY_ROWS, write_toy_split

    train, _ = write_toy_split(tmp_path / "chemprot")  # a registered RE corpus: its task's `Task.texts`
    shutil.copy(train, train.with_name("test.tsv"))
    texts = list(source_texts(TextSource(corpus="chemprot:train"), str(tmp_path)))
    assert texts == [text for text, _ in TOY_ROWS]  # sentences as written, entity masks included
