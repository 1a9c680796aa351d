from __future__ import annotations

from pathlib import Path

import pytest

from biotune.corpora import fetch
from biotune.corpora.registry import CORPORA, corpus_info, corpus_paths, default_cache_dir, resolve_corpus
from biotune.errors import BiotuneError


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the user's data or cache folders, and none can reach the network."""
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(fetch.pooch, "retrieve", no_network)


def make_corpus(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("a\tO\n", encoding="utf-8")
    return folder


def test_registry_lists_the_expected_corpora_and_types() -> None:
    assert set(CORPORA) >= {"bc5cdr", "ncbi_disease", "bc2gm", "jnlpba", "bc4chemd", "linnaeus", "species800"}
    assert CORPORA["bc5cdr"].entity_types == ("Chemical", "Disease")
    assert CORPORA["ncbi_disease"].entity_types == ("Disease",)
    assert CORPORA["bc2gm"].entity_types == ("GENE",)
    assert CORPORA["jnlpba"].entity_types == ("DNA", "RNA", "cell_line", "cell_type", "protein")
    assert CORPORA["bc5cdr"].url == (
        "https://raw.githubusercontent.com/cambridgeltl/MTL-Bioinformatics-2016/master/data/BC5CDR-IOB"
    )
    assert all(info.name == name and info.citation and info.description for name, info in CORPORA.items())


def test_corpus_info_forgives_case_and_hyphens_and_suggests() -> None:
    assert corpus_info("NCBI-Disease").name == "ncbi_disease"
    with pytest.raises(BiotuneError, match=r"^unknown corpus 'bc5cd' \(did you mean 'bc5cdr'\?\); choose one of: bc5cdr, ncbi_disease, "
                                          r".*species800, chemprot, ddi, gad, bc5cdr_cid, bc5cdr_documents, bioasq_factoid, bioasq_list, bioasq_yesno, pubmedqa, "
                                          r"blurb_bc5_chem, .*blurb_bioasq, or a folder with a train and a test file$"):
        corpus_info("bc5cd")


def test_corpus_paths_file_name_variants(tmp_path: Path) -> None:
    paths = corpus_paths(make_corpus(tmp_path / "c", "train.tsv", "dev.tsv", "test.tsv", "train_dev.tsv"))
    assert paths is not None
    assert (paths.name, paths.train.name, paths.dev.name, paths.test.name) == ("c", "train.tsv", "dev.tsv", "test.tsv")
    paths = corpus_paths(make_corpus(tmp_path / "d", "train_dev.tsv", "devel.tsv", "test.tsv"))
    assert paths is not None and (paths.train.name, paths.dev.name) == ("train_dev.tsv", "devel.tsv")
    paths = corpus_paths(make_corpus(tmp_path / "e", "train.tsv", "test.tsv"))
    assert paths is not None and paths.dev is None
    assert corpus_paths(make_corpus(tmp_path / "f", "train.tsv", "devel.tsv")) is None
    assert corpus_paths(tmp_path / "missing") is None


def test_resolve_corpus_folder_path_is_used_directly(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "my corpus", "train.tsv", "devel.tsv", "test.tsv")
    assert resolve_corpus(folder).train == folder / "train.tsv"
    assert resolve_corpus(str(folder)).folder == folder
    incomplete = make_corpus(tmp_path / "half", "train.tsv")
    with pytest.raises(BiotuneError, match=r"corpus folder .*half lacks a train file .*test\.tsv"):
        resolve_corpus(incomplete)


def test_resolve_corpus_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = ("train.tsv", "devel.tsv", "test.tsv")
    cached = make_corpus(tmp_path / "cache" / "corpora" / "bc5cdr", *files)
    assert resolve_corpus("bc5cdr").folder == cached
    env = make_corpus(tmp_path / "env" / "bc5cdr", *files)
    monkeypatch.setenv("BIOTUNE_DATA_DIR", str(tmp_path / "env"))
    assert resolve_corpus("bc5cdr").folder == env
    arg = make_corpus(tmp_path / "arg" / "bc5cdr", *files)
    found = resolve_corpus("BC5CDR", data_dir=tmp_path / "arg")
    assert (found.folder, found.name) == (arg, "bc5cdr")


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir() == tmp_path / "cache" / "corpora"
    monkeypatch.delenv("BIOTUNE_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "biotune" / "corpora"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "biotune" / "corpora"


def test_resolve_corpus_not_found_says_where_what_and_url(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError) as caught:
        resolve_corpus("bc4chemd", data_dir=tmp_path / "data")  # no pinned checksums: not fetched unasked
    message = str(caught.value)
    assert str(tmp_path / "data" / "bc4chemd") in message
    assert str(tmp_path / "cache" / "corpora" / "bc4chemd") in message
    assert "train.tsv" in message and "devel.tsv" in message and "test.tsv" in message
    assert "https://raw.githubusercontent.com/cambridgeltl/MTL-Bioinformatics-2016/master/data/BC4CHEMD" in message
    assert "download=True" in message


def test_resolve_corpus_unknown_name() -> None:
    with pytest.raises(BiotuneError, match=r"did you mean 'linnaeus'"):
        resolve_corpus("linaeus")


def test_species800_is_not_downloaded_automatically() -> None:
    with pytest.raises(BiotuneError, match=r"cannot be downloaded automatically.*species\.jensenlab\.org"):
        resolve_corpus("species800", download=True)


def test_qa_corpora_are_registered_with_their_tasks_and_files() -> None:
    assert {name: (CORPORA[name].task, CORPORA[name].folder) for name in
            ("bioasq_factoid", "bioasq_list", "bioasq_yesno", "pubmedqa")} == {
        "bioasq_factoid": ("qa", "bioasq"), "bioasq_list": ("qa", "bioasq/golden"),
        "bioasq_yesno": ("yesno", "bioasq/blurb_yesno"), "pubmedqa": ("yesno", "pubmedqa/blurb")}
    assert CORPORA["bioasq_factoid"].files == ("squad/BioASQ-train-factoid-7b.json", None,
                                               "squad/BioASQ-test-factoid-7b.json")
    assert CORPORA["pubmedqa"].entity_types == ("yes", "no", "maybe")


def test_a_files_entry_of_none_means_no_dev_split(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "bioasq" / "squad", "BioASQ-train-factoid-7b.json",
                         "BioASQ-test-factoid-7b.json").parent
    make_corpus(folder, "devel.tsv", "dev.tsv")  # not the corpus's files: still no dev split
    paths = resolve_corpus("bioasq_factoid", data_dir=tmp_path)
    assert (paths.folder, paths.train, paths.dev, paths.test) == (
        folder, folder / "squad" / "BioASQ-train-factoid-7b.json", None, folder / "squad" / "BioASQ-test-factoid-7b.json")


def test_a_glob_entry_is_present_when_it_matches_a_file_and_stays_a_pattern(tmp_path: Path) -> None:
    golden = make_corpus(tmp_path / "bioasq" / "golden", "4B1_golden.json", "6B4_golden.json", "7B_golden.json")
    paths = resolve_corpus("bioasq_list", data_dir=tmp_path)
    assert (paths.train, paths.test) == (golden / "[456]B[1-4]_golden.json", golden / "7B_golden.json")
    assert paths.dev is None  # no 5th batch: the dev pattern matches nothing
    (golden / "4B1_golden.json").unlink()
    (golden / "6B4_golden.json").unlink()
    make_corpus(golden, "4B5_golden.json")  # a dev file alone is no training split
    with pytest.raises(BiotuneError, match=r"corpus 'bioasq_list' not found; .*A corpus folder needs "
                                           r"\[456\]B\[1-4\]_golden\.json, \[456\]B5_golden\.json, 7B_golden\.json\. "
                                           r"Get .* from http://participants-area\.bioasq\.org/datasets/"):
        resolve_corpus("bioasq_list", data_dir=tmp_path)


def test_glob_characters_in_the_folder_name_are_taken_literally(tmp_path: Path) -> None:
    folder = make_corpus(tmp_path / "data [v2]" / "bioasq" / "golden", "4B1_golden.json", "7B_golden.json")
    paths = resolve_corpus("bioasq_list", data_dir=tmp_path / "data [v2]")
    assert paths.folder == folder and paths.train == folder / "[456]B[1-4]_golden.json"
