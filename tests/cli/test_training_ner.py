"""The CLI end to end on the tiny backbone: train, evaluate, predict, check-data, friendly errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app

runner = CliRunner()


def tag_count(path: Path, tag: str) -> int:
    """Lines of a TSV file whose tag is `tag`; with `tag=""`, its sentences (blank-line separated)."""
    lines = path.read_text().splitlines()
    if not tag:
        return sum(1 for i, line in enumerate(lines) if line and (i + 1 == len(lines) or not lines[i + 1]))
    return sum(1 for line in lines if line.endswith(f"\t{tag}"))


def _squeezed(output: str) -> list[str]:
    """The output's lines with runs of spaces as one: table rows compared by their cells, not their padding."""
    return [re.sub(" +", " ", line) for line in output.splitlines()]


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
    chemical = json.loads((out / "eval_test.json").read_text())["test"]["per_type"]["Chemical"]
    assert chemical["support"] == tag_count(toy_corpus / "test.tsv", "B-Chemical")
    row = ("| Chemical | " + " | ".join(f"{100 * chemical[k]:.2f}" for k in ("precision", "recall", "f1"))
           + f" | {chemical['support']} | {chemical['predicted']} |")
    assert row in _squeezed(result.output)  # the printed table is the saved scores

    text = tmp_path / "in.txt"
    text.write_text("The patient developed acute bleeding after heparin.\n")
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(text),
                                 "--output", str(tmp_path / "pred.jsonl")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "pred.jsonl").read_text())
    assert record["tokens"] == ["The", "patient", "developed", "acute", "bleeding", "after", "heparin", "."]
    assert set(record) == {"sentence_id", "tokens", "predictions", "text"}


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
    files = [toy_corpus / name for name in ("train.tsv", "devel.tsv", "test.tsv")]
    lines = _squeezed(result.output)
    for label, tag in (("sentences", ""), ("spans: Chemical", "B-Chemical"), ("spans: Disease", "B-Disease")):
        counts = [str(tag_count(path, tag)) for path in files]
        assert f"| {label} | " + " | ".join(counts) + " |" in lines


def test_corpora_lists_the_registry() -> None:
    result = runner.invoke(app, ["corpora"])
    assert result.exit_code == 0
    for name in ["bc5cdr", "ncbi_disease", "bc2gm", "jnlpba", "bc4chemd", "linnaeus", "species800"]:
        assert name in result.output


def test_predict_refuses_its_input_as_output_and_an_existing_output(trained_run, tmp_path: Path) -> None:
    best = str(trained_run.paths.best_model)
    text = tmp_path / "in.txt"
    text.write_text("The patient developed acute bleeding after heparin.\n")
    same = runner.invoke(app, ["predict", "--checkpoint", best, "--input", str(text), "--output", str(text),
                               "--overwrite"], env={"COLUMNS": "1000"})
    assert same.exit_code == 2 and "would destroy the input" in same.output and "Traceback" not in same.output
    assert text.read_text() == "The patient developed acute bleeding after heparin.\n"
    out = tmp_path / "pred.jsonl"
    out.write_text("earlier\n")
    refused = runner.invoke(app, ["predict", "--checkpoint", best, "--input", str(text), "--output", str(out)],
                            env={"COLUMNS": "1000"})
    assert refused.exit_code == 2 and "--overwrite" in refused.output and out.read_text() == "earlier\n"
    for target, message in ((tmp_path, "is a folder"), (text / "out.jsonl", "is a file, not a folder")):
        bad = runner.invoke(app, ["predict", "--checkpoint", best, "--input", str(text), "--output", str(target)],
                            env={"COLUMNS": "1000"})
        assert bad.exit_code == 2 and message in bad.output and "Traceback" not in bad.output
    replaced = runner.invoke(app, ["predict", "--checkpoint", best, "--input", str(text), "--output", str(out),
                                   "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(out.read_text())["tokens"][-1] == "."


@pytest.mark.parametrize("port", ["70000", "0", "-5"])
def test_serve_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    result = runner.invoke(app, ["serve", "--checkpoint", str(tmp_path), "--port", port], env={"COLUMNS": "1000"})
    bound = "less than or equal to 65535" if port == "70000" else "greater than or equal to 1"
    assert result.exit_code == 2 and f"Invalid value for '--port': Input should be {bound}" in result.output


@pytest.mark.parametrize("length", ["0", "-1", "7"])
def test_check_data_refuses_a_window_below_the_minimum(toy_corpus: Path, word_backbone: Path, length: str) -> None:
    result = runner.invoke(app, ["check-data", str(toy_corpus), "--backbone", str(word_backbone),
                                 "--max-length", length], env={"COLUMNS": "1000"})
    assert result.exit_code == 2, result.output
    assert f"--max-length {length}: Input should be greater than or equal to 8" in result.output


def test_check_data_uses_the_given_window(toy_corpus: Path, word_backbone: Path) -> None:
    """The toy sentences are 7-8 subwords + 2 special tokens: all fit 10, the 8-word ones exceed 9."""
    fits = runner.invoke(app, ["check-data", str(toy_corpus), "--backbone", str(word_backbone), "--max-length", "10"])
    assert fits.exit_code == 0 and "| longer than 10 subwords | 0 | 0 | 0 |" in _squeezed(fits.output), fits.output
    tight = runner.invoke(app, ["check-data", str(toy_corpus), "--backbone", str(word_backbone), "--max-length", "9"])
    assert tight.exit_code == 0 and "| longer than 9 subwords | 0 | 0 | 0 |" not in _squeezed(tight.output), tight.output


def test_check_data_on_a_corpus_without_dev(toy_corpus: Path, word_backbone: Path, tmp_path: Path) -> None:
    folder = tmp_path / "no_dev"
    folder.mkdir()
    for name in ("train.tsv", "test.tsv"):
        (folder / name).write_text((toy_corpus / name).read_text())
    result = runner.invoke(app, ["check-data", str(folder), "--backbone", str(word_backbone)])
    assert result.exit_code == 0, result.output
    assert {"| | train | test |", "| sentences | 64 | 16 |"} <= set(_squeezed(result.output))


@pytest.mark.parametrize("argv, message", [
    (["predict", "--checkpoint", "x", "--input", "y", "--output", "z", "--batch-size", "0"],
     "error: Invalid value for '--batch-size': Input should be greater than or equal to 1"),
    (["serve", "--checkpoint", "x", "--port", "70000"],
     "error: Invalid value for '--port': Input should be less than or equal to 65535"),
    (["predict", "--bogus"], "error: No such option: --bogus"),
    (["train"], "error: Missing argument 'config'."),
])
def test_the_biotune_command_prints_usage_errors_as_one_error_line(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   argv: list[str], message: str) -> None:
    """`biotune` (the console script, `cli.main`) gives click's usage errors the one-line form of every error."""
    from biotune.cli import main

    monkeypatch.setattr(sys, "argv", ["biotune", *argv])
    assert main() == 2
    captured = capsys.readouterr()
    assert [line for line in (captured.out + captured.err).splitlines() if line.strip()] == [message]
