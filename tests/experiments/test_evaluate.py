"""`biotune evaluate`: reproduces a run's own results, never replaces results unasked, names test sets apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.experiments.evaluate import result_names

runner = CliRunner()


def _split(path: str, name: str | None = None) -> Split:
    return Split(name or Path(path).stem, Path(path), [], ())


def test_result_names_keep_distinct_names_and_tell_clashing_ones_apart_by_folder() -> None:
    assert result_names([_split("/d/bc5cdr/test.tsv", "test"), _split("/d/x/devel.tsv")]) == ["test", "devel"]
    assert result_names([_split("/d/a/test.tsv"), _split("/d/b/test.tsv"), _split("/d/c/dev.tsv")]) == [
        "a_test", "b_test", "dev"]
    assert result_names([_split("/x/a/test.tsv"), _split("/y/a/test.tsv")]) == ["x_a_test", "y_a_test"]
    assert result_names([_split("/d/b/test.tsv"), _split("/d/a/test.tsv")]) == ["b_test", "a_test"]


def test_the_same_test_file_twice_is_refused() -> None:
    with pytest.raises(BiotuneError, match="given twice"):
        result_names([_split("/d/a/test.tsv"), _split("/d/a/test.tsv")])


def _evaluate(best: Path, tests: list[Path], out: Path, *extra: str):
    args = ["evaluate", "--checkpoint", str(best), "--output-dir", str(out), *extra]
    for test in tests:
        args += ["--test", str(test)]
    return runner.invoke(app, args)


def test_evaluate_reproduces_the_runs_eval_file_exactly(trained_run, toy_corpus: Path, tmp_path: Path) -> None:
    best = trained_run.paths.best_model
    config = json.loads((best / "config.json").read_text())
    assert config["biotune"]["precision"] == "fp32"  # the toy run trains with bf16: false
    result = _evaluate(best, [toy_corpus / "test.tsv"], tmp_path)
    assert result.exit_code == 0, result.output
    ours = json.loads((tmp_path / "eval_test.json").read_text())
    theirs = json.loads((trained_run.paths.results / "eval_test.json").read_text())
    assert ours == theirs and ours["test"]["precision"] == "fp32"
    assert (tmp_path / "eval_test.md").read_text() == (trained_run.paths.results / "eval_test.md").read_text()


def test_evaluate_records_an_explicit_precision(trained_run, toy_corpus: Path, tmp_path: Path) -> None:
    result = _evaluate(trained_run.paths.best_model, [toy_corpus / "test.tsv"], tmp_path, "--precision", "int8")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "eval_test.json").read_text())["test"]["precision"] == "int8"


def test_evaluate_replaces_results_only_with_overwrite(trained_run, toy_corpus: Path, tmp_path: Path) -> None:
    best = trained_run.paths.best_model
    (tmp_path / "eval_test.json").write_text("{}\n")
    refused = _evaluate(best, [toy_corpus / "test.tsv"], tmp_path)
    assert refused.exit_code == 2 and "eval_test.json already exists; pass --overwrite" in refused.output
    assert (tmp_path / "eval_test.json").read_text() == "{}\n" and not (tmp_path / "eval_test.md").exists()
    replaced = _evaluate(best, [toy_corpus / "test.tsv"], tmp_path, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((tmp_path / "eval_test.json").read_text())["test"]["n_sentences"] == 16


def test_two_test_sets_with_one_stem_keep_both_results(trained_run, toy_corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(toy_corpus / "test.tsv", tmp_path / "a" / "test.tsv")
    lines = (toy_corpus / "devel.tsv").read_text().split("\n\n")
    (tmp_path / "b" / "test.tsv").write_text("\n\n".join(lines[:5]) + "\n")
    out = tmp_path / "out"
    result = _evaluate(trained_run.paths.best_model, [tmp_path / "a" / "test.tsv", tmp_path / "b" / "test.tsv"], out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.json")) == ["eval_a_test.json", "eval_b_test.json"]
    assert json.loads((out / "eval_a_test.json").read_text())["a_test"]["n_sentences"] == 16
    assert json.loads((out / "eval_b_test.json").read_text())["b_test"]["n_sentences"] == 5


@pytest.mark.parametrize("command", ["evaluate", "predict", "tag"])
@pytest.mark.parametrize("size", ["0", "-1"])
def test_batch_size_below_one_is_refused(trained_run, toy_corpus: Path, tmp_path: Path, command: str,
                                        size: str) -> None:
    text = tmp_path / "in.txt"
    text.write_text("Aspirin.\n")
    args = {"evaluate": ["--test", str(toy_corpus / "test.tsv")],
            "predict": ["--input", str(text), "--output", str(tmp_path / "out.jsonl")],
            "tag": ["--input", str(text), "--output-dir", str(tmp_path / "job")]}[command]
    result = runner.invoke(app, [command, "--checkpoint", str(trained_run.paths.best_model), "--batch-size", size,
                                 *args])
    assert result.exit_code == 2, result.output
    assert "--batch-size" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "job").exists()


def test_training_precision_is_read_from_the_checkpoint_config() -> None:
    from transformers import BertConfig

    from biotune.models.precision import training_precision

    assert training_precision(BertConfig(biotune={"precision": "fp32"})) == "fp32"
    assert training_precision(BertConfig(biotune={"precision": "autocast"})) == "autocast"
    assert training_precision(BertConfig()) == "autocast"  # older checkpoints: the default bf16: auto


@pytest.mark.parametrize("size", [0, -1])
def test_tagger_refuses_a_batch_size_below_one(trained_run, size: int) -> None:
    from biotune.tasks.ner.tagger import Tagger

    with pytest.raises(BiotuneError, match=f"batch size must be at least 1, got {size}"):
        Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32", batch_size=size)
