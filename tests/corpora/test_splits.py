"""`biotune.corpora.splits`: split specs read with the options their format takes; the dev file is optional."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.config import DataConfig
from biotune.corpora.splits import corpus_splits
from biotune.tasks.ner.reading import read_split
from biotune.errors import BiotuneError


def test_read_split_of_a_text_file_ignores_the_tag_options(tmp_path: Path) -> None:
    text = tmp_path / "abstracts.txt"
    text.write_text("Aspirin caused bleeding.\nLithium-induced tremor.\n", encoding="utf-8")
    split = read_split(str(text), DataConfig(corpus=str(tmp_path), scheme="iobes", tag_field="decoded"))
    assert [s.tokens for s in split.examples] == [["Aspirin", "caused", "bleeding", "."],
                                                  ["Lithium", "-", "induced", "tremor", "."]]
    assert split.examples[0].text == "Aspirin caused bleeding." and split.examples[0].tags is None
    assert (split.name, split.annotated_types) == ("abstracts", ())


def test_read_split_applies_the_scheme_to_tagged_formats(tmp_path: Path) -> None:
    tsv = tmp_path / "iobes.tsv"
    tsv.write_text("IL\tB-Gene\n-\tI-Gene\n2\tE-Gene\nx\tO\n", encoding="utf-8")
    jsonl = tmp_path / "iobes.jsonl"
    jsonl.write_text('{"tokens": ["IL", "-", "2"], "decoded": ["B-Gene", "I-Gene", "E-Gene"]}\n', encoding="utf-8")
    data = DataConfig(corpus=str(tmp_path), scheme="iobes", tag_field="decoded")
    assert read_split(str(tsv), data).examples[0].tags == ["B-Gene", "I-Gene", "I-Gene", "O"]
    assert read_split(str(jsonl), data).examples[0].tags == ["B-Gene", "I-Gene", "I-Gene"]
    with pytest.raises(BiotuneError, match=r"unknown tag 'E-Gene'"):
        read_split(str(tsv), DataConfig(corpus=str(tmp_path), scheme="bio"))


def _corpus(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_text("aspirin\tB-Chemical\n.\tO\n", encoding="utf-8")
    return folder


def test_corpus_splits_list_dev_only_when_the_folder_has_one(tmp_path: Path) -> None:
    with_dev = _corpus(tmp_path / "a", "train.tsv", "devel.tsv", "test.tsv")
    without = _corpus(tmp_path / "b", "train.tsv", "test.tsv")
    assert corpus_splits(DataConfig(corpus=str(with_dev))) == ["train", "dev", "test"]
    assert corpus_splits(DataConfig(corpus=str(without))) == ["train", "test"]
    with pytest.raises(BiotuneError, match=r"has no 'dev' split .*set data.dev: null"):
        read_split("dev", DataConfig(corpus=str(without)))


def test_a_corpus_read_without_a_config_gets_its_task_and_registry_settings(tmp_path: Path) -> None:
    from biotune.corpora.splits import corpus_config

    listed = corpus_config("bioasq_list", tmp_path)
    assert (listed.task, listed.settings.type, listed.data.corpus, listed.data.data_dir) == (
        "qa", "list", "bioasq_list", str(tmp_path))
    assert corpus_config("bioasq_factoid").settings.type == "factoid"  # the same files, factoid questions
    assert corpus_config("blurb_chemprot").task == "re"
    assert corpus_config(str(tmp_path)).task == "ner"  # a folder names no task
