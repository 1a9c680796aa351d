"""The test-text guard decides by what a file is (real path, content), whatever data folder is in play."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from biotune.config import DataConfig
from biotune.corpora import leak_guard as guard_module
from biotune.corpora.leak_guard import leak_guard
from biotune.errors import BiotuneError
from tests.conftest import _sentences, write_tsv
from tests.corpora.data_tree import make_data_tree, pubtator_test, pubtator_train

PUBTATOR_OWNERS = "is the test split of corpus 'bc5cdr_cid' and of corpus 'bc5cdr_documents'"


pytestmark = pytest.mark.usefixtures("isolated_data_env")  # no test sees the user's data or cache


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_data_tree(tmp_path / "data")


@pytest.mark.parametrize("data_dir", [None, "", "corpora", "documents"], ids=["none", "root", "corpora", "documents"])
def test_a_test_file_named_by_path_is_refused_whatever_the_data_dir(root: Path, data_dir: str | None) -> None:
    """Issue 19: the PubTator test release passed unless data_dir was exactly documents/."""
    data_dirs = [None if data_dir is None else root / data_dir]
    test = pubtator_test(root)
    guard = leak_guard(data_dirs, [test, pubtator_train(root)])
    with pytest.raises(BiotuneError) as error:
        guard.refuse(test)
    assert str(error.value) == (f"{test}: {PUBTATOR_OWNERS} ({test}); test text is never training or pretraining "
                                "text")
    guard.refuse(pubtator_train(root))  # the training release passes


@pytest.mark.parametrize("data_dir", ["", "corpora"], ids=["root", "corpora"])
def test_a_renamed_copy_is_found_by_its_content(root: Path, tmp_path: Path, data_dir: str) -> None:
    copy = tmp_path / "elsewhere" / "genes.tsv"
    copy.parent.mkdir()
    shutil.copy(root / "corpora" / "bc2gm" / "test.tsv", copy)
    leak = leak_guard([root / data_dir], [copy]).check(copy)
    assert leak is not None and leak.same_content and leak.owners == ("corpus 'bc2gm'",)
    with pytest.raises(BiotuneError, match=r"genes.tsv \(source 'x'\): is the test split of corpus 'bc2gm' "
                                           r"\(.*bc2gm/test.tsv, same content\)"):
        leak_guard([root / data_dir], [copy]).refuse(copy, "source 'x'")


def test_a_copy_is_found_only_when_its_original_is_in_a_data_folder_in_play(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "genes.tsv"
    shutil.copy(root / "corpora" / "bc2gm" / "test.tsv", copy)
    assert leak_guard([None], [copy]).check(copy) is None  # nothing says where bc2gm lives
    monkeypatch.setenv("BIOTUNE_DATA_DIR", str(root))
    assert leak_guard([None], [copy]).check(copy) is not None


def test_a_link_is_found_by_its_real_path(root: Path, tmp_path: Path) -> None:
    link = tmp_path / "notes.tsv"
    link.symlink_to(root / "corpora" / "bc2gm" / "test.tsv")
    leak = leak_guard([None], [link]).check(link)  # the real path lies in a registered corpus's folder
    assert leak is not None and not leak.same_content and leak.owners == ("corpus 'bc2gm'",)
    folder_link = tmp_path / "mirror"
    folder_link.symlink_to(root / "documents")
    linked_test = folder_link / "bc5cdr_pubtator" / "CDR_TestSet.PubTator.txt"
    with pytest.raises(BiotuneError, match=PUBTATOR_OWNERS):
        leak_guard([None], [linked_test]).refuse(linked_test)


def test_an_unrelated_file_passes_and_only_a_file_of_a_test_files_size_is_hashed(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[int] = []
    sha256 = hashlib.sha256

    def counting_sha256() -> object:
        hashed.append(1)
        return sha256()

    monkeypatch.setattr(guard_module.hashlib, "sha256", counting_sha256)
    test = root / "corpora" / "bc2gm" / "test.tsv"
    other = write_tsv(tmp_path / "mine.tsv", _sentences(9, seed=99))
    guard = leak_guard([root], [other])
    assert other.stat().st_size != test.stat().st_size
    assert guard.check(other) is None and hashed == []
    same_size = tmp_path / "same_size.tsv"
    same_size.write_bytes(b"x" * test.stat().st_size)
    assert guard.check(same_size) is None and len(hashed) == 2  # the file and the one test file of its size
    assert guard.check(same_size) is None and len(hashed) == 2  # digests are kept


def test_an_empty_test_file_does_not_make_every_empty_file_test_text(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    write_tsv(folder / "train.tsv", _sentences(2, seed=1))
    (folder / "test.tsv").write_text("", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    guard = leak_guard([None], [folder / "train.tsv", empty])
    assert guard.check(empty) is None
    assert guard.check(folder / "test.tsv") is not None  # the file itself still is


def test_the_test_file_of_an_unregistered_corpus_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    for name, seed in (("train", 1), ("devel", 2), ("test", 3)):
        write_tsv(folder / f"{name}.tsv", _sentences(3, seed=seed))
    with pytest.raises(BiotuneError, match=rf"is the test split of the corpus folder {folder} "):
        leak_guard([None], [folder / "test.tsv"]).refuse(folder / "test.tsv")
    leak_guard([None], [folder / "devel.tsv"]).refuse(folder / "devel.tsv")


def test_the_test_splits_of_a_named_config_are_test_text(root: Path, tmp_path: Path) -> None:
    held_out = write_tsv(tmp_path / "private" / "held_out.tsv", _sentences(5, seed=21))
    copy = tmp_path / "copy.tsv"
    shutil.copy(held_out, copy)
    data = DataConfig(corpus="bc2gm", data_dir=str(root / "corpora"), test=["test", str(held_out)])
    guard = leak_guard([None], [copy, held_out], [("configs/mine.yaml", data)])
    with pytest.raises(BiotuneError, match=rf"is the test split of configs/mine.yaml \(data.test '{held_out}'\) "
                                           r"\(.*held_out.tsv, same content\)"):
        guard.refuse(copy)
    bc2gm_test = root / "corpora" / "bc2gm" / "test.tsv"
    assert guard.check(bc2gm_test).owners == ("configs/mine.yaml (data.test 'test')",)  # type: ignore[union-attr]
    missing = DataConfig(corpus="bc2gm", data_dir=str(root / "corpora"), test=[str(tmp_path / "nowhere.tsv")])
    with pytest.raises(BiotuneError, match=r"^configs/mine.yaml: data.test '.*nowhere.tsv': split"):
        leak_guard([None], [copy], [("configs/mine.yaml", missing)])
