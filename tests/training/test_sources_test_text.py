"""Fine-tuning never trains or selects on test text: sources and dev are checked by what their files are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biotune.config import validate
from biotune.errors import BiotuneError
from biotune.training.sources import refuse_test_text
from biotune.experiments.run import train
from tests.conftest import _sentences, write_tsv
from tests.corpora.data_tree import make_data_tree


pytestmark = pytest.mark.usefixtures("isolated_data_env")  # no test sees the user's data or cache


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    for name, seed in (("train", 1), ("devel", 2), ("test", 3)):
        write_tsv(folder / f"{name}.tsv", _sentences(4, seed=seed))
    return folder


def config(tmp_path: Path, data: dict, sources: list[dict] | None = None, backbone: str = "no_backbone"):
    return validate({"output_dir": str(tmp_path / "out"), "model": {"backbone": backbone}, "data": data,
                     "training": {"strategy": "joint" if sources else "single"}, "sources": sources or []}, "test")


def test_a_source_that_is_a_copy_of_the_configs_test_split_is_refused(corpus: Path, tmp_path: Path) -> None:
    copy = shutil.copy(corpus / "test.tsv", tmp_path / "extra.tsv")
    sources = [{"name": "gold", "split": "train"}, {"name": "extra", "split": str(copy)}]
    with pytest.raises(BiotuneError) as error:
        refuse_test_text(config(tmp_path, {"corpus": str(corpus)}, sources))
    assert str(error.value).startswith(f"{copy} (source 'extra'): is the test split of this config (data.test 'test') "
                                       f"({corpus / 'test.tsv'}, same content); test text is never training or "
                                       "pretraining text; set data.allow_test_as_train: true")
    refuse_test_text(config(tmp_path, {"corpus": str(corpus), "allow_test_as_train": True}, sources))  # on purpose
    refuse_test_text(config(tmp_path, {"corpus": str(corpus)}, sources[:1] + [{"name": "dev", "split": "dev"}]))


def test_a_source_that_is_a_registered_corpus_test_split_is_refused(tmp_path: Path) -> None:
    root = make_data_tree(tmp_path / "data")
    held_out = write_tsv(tmp_path / "mine" / "test.tsv", _sentences(3, seed=30))
    data = {"corpus": "bc2gm", "data_dir": str(root / "corpora"), "test": [str(held_out)]}
    with pytest.raises(BiotuneError, match=r"test.tsv \(source 'other'\): is the test split of corpus 'bc2gm' "):
        refuse_test_text(config(tmp_path, data, [{"name": "gold", "split": "train"},
                                                 {"name": "other", "split": "bc2gm:test"}]))
    link = tmp_path / "genes.tsv"
    link.symlink_to(root / "corpora" / "bc2gm" / "test.tsv")
    with pytest.raises(BiotuneError, match=r"genes.tsv \(source 'train'\): is the test split of corpus 'bc2gm' "):
        refuse_test_text(config(tmp_path, {**data, "train": str(link)}))


def test_a_dev_split_that_is_test_text_is_refused_unless_asked(corpus: Path, tmp_path: Path) -> None:
    link = tmp_path / "dev.tsv"
    link.symlink_to(corpus / "test.tsv")
    with pytest.raises(BiotuneError, match=rf"dev.tsv \(data.dev '{link}'\): is the test split of this config "
                                           r"\(data.test 'test'\) .*allow_test_as_dev: true"):
        refuse_test_text(config(tmp_path, {"corpus": str(corpus), "dev": str(link)}))
    refuse_test_text(config(tmp_path, {"corpus": str(corpus), "dev": str(link), "allow_test_as_dev": True}))


def test_train_refuses_before_reading_the_backbone_or_making_the_run_folder(corpus: Path, tmp_path: Path) -> None:
    bad = config(tmp_path, {"corpus": str(corpus), "train": "test"})
    with pytest.raises(BiotuneError, match=r"\(source 'train'\): is the test split of this config"):
        train(bad)  # the backbone does not exist: the guard spoke first
    assert not (tmp_path / "out").exists()
