"""Bad settings fail before anything is written; --overwrite deletes nothing until everything is
checked; a failed start blocks no rerun; dev may not be a test split; CRF scores carry over only
between identical label lists."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import apply_overrides, validate
from biotune.errors import BiotuneError
from biotune.tasks.ner.factory import build_model, save_model
from biotune.experiments.run_folder import RunPaths
from biotune.experiments.run import train
from tests.conftest import tiny_experiment

runner = CliRunner()


def config_file(tmp_path: Path, backbone: Path, corpus: Path, max_length: int = 32) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\nmodel: {{backbone: {backbone}, max_length: {max_length}}}\n"
                    f"data: {{corpus: {corpus}}}\n"
                    "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 8, warmup: 0.0, bf16: false}\n")
    return path


@pytest.mark.parametrize(("option", "value", "key"), [
    ("--epochs", "inf", "training.epochs"),
    ("--epochs", "nan", "training.epochs"),
    ("--epochs", "0", "training.epochs"),
    ("--batch-size", "0", "training.batch_size"),
    ("--batch-size", "-4", "training.batch_size"),
    ("--learning-rate", "0", "training.learning_rate"),
    ("--learning-rate", "-1e-3", "training.learning_rate"),
])
def test_bad_training_numbers_are_one_error_before_any_output(tmp_path: Path, word_backbone: Path, toy_corpus: Path,
                                                             option: str, value: str, key: str) -> None:
    result = runner.invoke(app, ["train", str(config_file(tmp_path, word_backbone, toy_corpus)), option, value])
    assert result.exit_code == 2, result.output
    assert key in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_window_above_the_backbone_positions_is_refused(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    result = runner.invoke(app, ["train", str(config_file(tmp_path, word_backbone, toy_corpus, max_length=512))])
    assert result.exit_code == 2
    assert "model.max_length 512" in result.output and "128" in result.output
    assert not (tmp_path / "out").exists()


def test_overwrite_checks_everything_before_deleting(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    finished = train(tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1))
    before = (finished.paths.best_model / "model.safetensors").read_bytes()
    bad = tiny_experiment(tmp_path / "no_such_backbone", toy_corpus, tmp_path, epochs=1)
    with pytest.raises(BiotuneError, match="no_such_backbone"):
        train(bad, overwrite=True)
    assert finished.paths.summary.is_file() and (finished.paths.results / "eval_test.json").is_file()
    assert (finished.paths.best_model / "model.safetensors").read_bytes() == before


def test_a_failed_start_leaves_nothing_and_the_corrected_rerun_works(tmp_path: Path, word_backbone: Path,
                                                                    toy_corpus: Path) -> None:
    with pytest.raises(BiotuneError, match="cannot load backbone"):
        train(tiny_experiment(tmp_path / "typo", toy_corpus, tmp_path / "out", epochs=1))
    assert not (tmp_path / "out").exists()
    result = train(tiny_experiment(word_backbone, toy_corpus, tmp_path / "out", epochs=1))
    assert result.paths.summary.is_file()


def test_a_crash_in_training_leaves_a_resumable_run(tmp_path: Path, word_backbone: Path, toy_corpus: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the folder exists: the run is unfinished (not 'already exists'), its log holds the traceback."""
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("biotune.tasks.ner.task.build_model", broken)
    config = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    with pytest.raises(RuntimeError):
        train(config)
    paths = RunPaths(tmp_path, "toy", 42)
    assert paths.status() == "unfinished"
    log = (paths.logs / "train.log").read_text()
    assert "Traceback" in log and "RuntimeError: disk on fire" in log
    monkeypatch.undo()
    assert train(config).paths.summary.is_file()


def test_dev_on_a_test_split_is_refused_unless_asked(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    base = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1).model_dump(mode="json")
    same_file = validate(apply_overrides(base, {"data.dev": str(toy_corpus / "test.tsv")}), "x")
    for config in (validate(apply_overrides(base, {"data.dev": "test"}), "x"), same_file):
        with pytest.raises(BiotuneError, match=r"data.dev .* is the test split .*allow_test_as_dev"):
            train(config)
    assert not (tmp_path / "results").exists()
    allowed = validate(apply_overrides(base, {"data.dev": "test", "data.allow_test_as_dev": True}), "x")
    assert train(allowed).summary["best_dev_score"] is not None


def test_crf_scores_carry_over_only_with_identical_labels(tmp_path: Path, word_backbone: Path) -> None:
    labels = ["O", "B-Chemical", "I-Chemical"]
    first = build_model(str(word_backbone), labels, head="crf")
    with torch.no_grad():
        first.crf.transitions.copy_(torch.arange(9, dtype=torch.float32).reshape(3, 3))
    save_model(first, tmp_path / "phase1")
    same = build_model(str(tmp_path / "phase1"), labels, head="crf")
    assert torch.equal(same.crf.transitions, first.crf.transitions)
    renamed = build_model(str(tmp_path / "phase1"), ["O", "B-Disease", "I-Disease"], head="crf")
    assert torch.equal(renamed.crf.transitions, torch.zeros(3, 3)), "same count, other labels: start at zero"
