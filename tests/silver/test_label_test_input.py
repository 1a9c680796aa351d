"""A silver corpus built from a test split is test text too: such an input is refused before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.silver.label import label_corpus
from biotune.silver.spec import DictionarySpec
from tests.conftest import _sentences, write_tsv
from tests.corpora.data_tree import make_data_tree


pytestmark = pytest.mark.usefixtures("isolated_data_env")  # no test sees the user's data or cache


@pytest.fixture()
def chemicals(tmp_path: Path) -> DictionarySpec:
    path = tmp_path / "chemicals.txt"
    path.write_text("aspirin\nheparin\n", encoding="utf-8")
    return DictionarySpec(path=path, type="Chemical")


def test_a_test_split_input_is_refused_and_nothing_is_written(tmp_path: Path, chemicals: DictionarySpec) -> None:
    root = make_data_tree(tmp_path / "data")
    test = root / "corpora" / "bc2gm" / "test.tsv"
    out = tmp_path / "out" / "silver.jsonl"
    with pytest.raises(BiotuneError, match=rf"^{test} \(silver input\): is the test split of corpus 'bc2gm' .*"
                                           "a silver corpus built from it is test text too"):
        label_corpus(test, out, [chemicals])
    assert not out.parent.exists()
    scored = label_corpus(test, out, [chemicals], drop_tags=True, allow_test=True)  # scoring the dictionary only
    assert scored.report.sentences == 4
    label_corpus(root / "corpora" / "bc2gm" / "train.tsv", tmp_path / "train_silver.jsonl", [chemicals])


def test_a_renamed_copy_of_a_test_split_is_refused_by_content(tmp_path: Path, chemicals: DictionarySpec,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_data_tree(tmp_path / "data")
    copy = shutil.copy(root / "corpora" / "bc2gm" / "test.tsv", tmp_path / "sentences.tsv")
    monkeypatch.setenv("BIOTUNE_DATA_DIR", str(root / "corpora"))
    with pytest.raises(BiotuneError, match=r"sentences.tsv \(silver input\): is the test split of corpus 'bc2gm' "
                                           r"\(.*, same content\)"):
        label_corpus(copy, tmp_path / "silver.jsonl", [chemicals])
    unrelated = write_tsv(tmp_path / "abstracts.tsv", _sentences(4, seed=77))
    assert label_corpus(unrelated, tmp_path / "silver.jsonl", [chemicals]).output.is_file()


def test_the_cli_refuses_a_test_split_with_exit_2_unless_allow_test(tmp_path: Path, chemicals: DictionarySpec) -> None:
    folder = tmp_path / "toy"
    for name, seed in (("train", 1), ("test", 3)):
        write_tsv(folder / f"{name}.tsv", _sentences(3, seed=seed))
    args = ["silver", str(folder / "test.tsv"), "--output", str(tmp_path / "silver.jsonl"), "--dict",
            f"{chemicals.path}:type=Chemical"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "is the test split of the corpus folder" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "silver.jsonl").exists()
    assert CliRunner().invoke(app, [*args, "--allow-test"]).exit_code == 0
