"""The CLI end to end on the tiny backbone: train, evaluate, predict, check-data, friendly errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app

runner = CliRunner()


def config_file(tmp_path: Path, backbone: Path, corpus: Path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(
        f"output_dir: {tmp_path / 'outputs'}\n"
        f"model: {{backbone: {backbone}, max_length: 32, dropout: 0.1}}\n"
        f"data: {{corpus: {corpus}}}\n"
        "training: {epochs: 2, learning_rate: 5.0e-3, batch_size: 8, warmup: 0.0, bf16: false}\n"
    )
    return path


def test_train_evaluate_predict(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    cfg = config_file(tmp_path, word_backbone, toy_corpus)
    result = runner.invoke(app, ["train", str(cfg), "--seed", "3", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    best = tmp_path / "outputs" / "checkpoints" / "toy" / "seed_3" / "best_model"
    snapshot = (tmp_path / "outputs" / "results" / "toy" / "seed_3" / "config_snapshot.yaml").read_text()
    assert "seed: 3" in snapshot and "epochs: 1.0" in snapshot

    again = runner.invoke(app, ["train", str(cfg), "--seed", "3"])
    assert again.exit_code == 2 and "--overwrite" in again.output and "Traceback" not in again.output

    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(best), "--test", str(toy_corpus / "test.tsv"),
                                 "--test", str(toy_corpus / "devel.tsv"), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "eval_test.json").is_file() and (out / "eval_devel.json").is_file()
    assert "Chemical" in result.output

    text = tmp_path / "in.txt"
    text.write_text("The patient developed acute bleeding after heparin.\n")
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(text),
                                 "--output", str(tmp_path / "pred.jsonl")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "pred.jsonl").read_text())
    assert record["tokens"][-1] == "." and "predictions" in record


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "missing.yaml"], "not found"),
        (["predict", "--checkpoint", "nowhere", "--input", "missing.txt", "--output", "o.jsonl"], "missing.txt"),
        (["check-data", "no_such_corpus"], "no_such_corpus"),
    ],
)
def test_user_errors_exit_2_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BIOTUNE_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_check_data_reports_a_corpus(toy_corpus: Path, word_backbone: Path) -> None:
    result = runner.invoke(app, ["check-data", str(toy_corpus), "--backbone", str(word_backbone)])
    assert result.exit_code == 0, result.output
    assert "Chemical" in result.output and "Disease" in result.output


def test_corpora_lists_the_registry() -> None:
    result = runner.invoke(app, ["corpora"])
    assert result.exit_code == 0
    for name in ["bc5cdr", "ncbi_disease", "bc2gm", "jnlpba", "bc4chemd", "linnaeus", "species800"]:
        assert name in result.output
