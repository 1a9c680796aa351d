"""The CLI on relation extraction: train, evaluate, predict on a tiny BERT, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from tests.tasks.re.toy import TOY_LABELS, TOY_ROWS, write_toy_split

runner = CliRunner()
GOLD = [TOY_LABELS[int(label)] for _, label in TOY_ROWS]


def config_file(folder: Path, backbone: Path, corpus: Path) -> Path:
    path = folder / "toy_re.yaml"
    path.write_text(
        "task: re\n"
        f"output_dir: {folder / 'outputs'}\n"
        f"model: {{backbone: {backbone}, head: entity_start, max_length: 32, dropout: 0.0}}\n"
        f"data: {{corpus: {corpus}, dev: test, allow_test_as_dev: true, allow_test_as_train: true}}\n"  # overfitting
        "training: {epochs: 25, learning_rate: 5.0e-3, batch_size: 8, warmup: 0.0, bf16: false}\n"
        "re: {negative_label: '0'}\n", encoding="utf-8")
    return path


def corpus_folder(folder: Path) -> Path:
    """train.tsv = test.tsv = the toy rows (label ids), label2id.tsv beside them."""
    train_file, _ = write_toy_split(folder)
    (folder / "test.tsv").write_text(train_file.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path]:
    """(best_model, corpus folder) of one `biotune train` run that overfits the toy pairs."""
    root = tmp_path_factory.mktemp("re_cli")
    corpus = corpus_folder(root / "corpus")
    result = runner.invoke(app, ["train", str(config_file(root, word_backbone, corpus)), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "micro.f1 = 100.00" in result.output  # the printed summary is the test headline
    return root / "outputs" / "checkpoints" / "toy_re" / "seed_3" / "best_model", corpus


def test_evaluate_writes_the_runs_scores(trained: tuple[Path, Path], tmp_path: Path) -> None:
    best, corpus = trained
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(best), "--test", str(corpus / "test.tsv"),
                                 "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_eval = best.parents[3] / "results" / "toy_re" / "seed_3" / "eval_test.json"
    assert json.loads((tmp_path / "eval_test.json").read_text()) == json.loads(run_eval.read_text())
    assert json.loads(run_eval.read_text())["test"]["micro"]["f1"] == 1.0


def test_predict_writes_one_line_per_row(trained: tuple[Path, Path], tmp_path: Path) -> None:
    best, _ = trained
    plain = tmp_path / "rows.tsv"  # unlabelled rows, and a labelled one (its label is read past)
    plain.write_text("".join(f"{text}\n" for text, _ in TOY_ROWS[:-1]) + f"{TOY_ROWS[-1][0]}\t1\n", encoding="utf-8")
    output = tmp_path / "pred.jsonl"
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(plain), "--output", str(output)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"rows.tsv:{k}" for k in range(1, len(TOY_ROWS) + 1)]
    assert [r["text"] for r in records] == [text for text, _ in TOY_ROWS]
    assert [r["label"] for r in records] == GOLD  # the model overfit these pairs
    for record in records:
        assert set(record) == {"id", "text", "label", "scores"} and list(record["scores"]) == list(TOY_LABELS)
        assert max(record["scores"], key=record["scores"].get) == record["label"]
        assert sum(record["scores"].values()) == pytest.approx(1.0, abs=1e-5)

    indexed = tmp_path / "indexed.tsv"  # BioBERT's test layout: ids from the index column
    indexed.write_text("index\tsentence\tlabel\n" + "".join(f"p{k}\t{text}\t{label}\n"
                                                             for k, (text, label) in enumerate(TOY_ROWS)))
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(indexed), "--output", str(output)])
    assert result.exit_code == 2 and "--overwrite" in result.output  # an existing output is kept
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()][0] == "rows.tsv:1"
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(indexed), "--output", str(output),
                                 "--overwrite"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"p{k}" for k in range(len(TOY_ROWS))] and [r["label"] for r in records] == GOLD

    before = indexed.read_bytes()
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(indexed), "--output",
                                 str(indexed), "--overwrite"])
    assert result.exit_code == 2 and "destroy the input" in result.output and indexed.read_bytes() == before


# Each defect on line 3 of a file whose other rows are fine; what the error names besides file:line.
DEFECTS = {
    "no label": ("@CHEMICAL$ and @DISEASE$ .", "no label"),
    "unknown label": ("@CHEMICAL$ and @DISEASE$ .\tBOGUS", "unknown label 'BOGUS'"),
    "label id missing from label2id": ("@CHEMICAL$ and @DISEASE$ .\t7", "label id 7"),
    "no marker": ("aspirin and asthma .\t0", "no entity mask"),
    "one marker": ("@CHEMICAL$ and asthma .\t0", "masks for 1 entity"),
}


def bad_folder(folder: Path, defect: str) -> Path:
    """A corpus folder whose train.tsv and test.tsv have the defect on line 3."""
    corpus = corpus_folder(folder)
    lines = [f"{text}\t{label}" for text, label in TOY_ROWS]
    lines[2] = DEFECTS[defect][0]
    for name in ("train.tsv", "test.tsv"):
        (corpus / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus


def one_line_error(output: str, file: Path, what: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert f"{file}:3" in lines[0] and what in lines[0] and "Traceback" not in output


@pytest.mark.parametrize("defect", DEFECTS)
def test_bad_training_input_is_one_line_and_writes_nothing(tmp_path: Path, word_backbone: Path, defect: str) -> None:
    corpus = bad_folder(tmp_path / "corpus", defect)
    result = runner.invoke(app, ["train", str(config_file(tmp_path, word_backbone, corpus))])
    assert result.exit_code == 2
    one_line_error(result.output, corpus / "train.tsv", DEFECTS[defect][1])
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("defect", DEFECTS)
def test_bad_evaluation_input_is_one_line_and_writes_nothing(trained: tuple[Path, Path], tmp_path: Path,
                                                             defect: str) -> None:
    best, _ = trained
    corpus = bad_folder(tmp_path / "corpus", defect)
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(best), "--test", str(corpus / "test.tsv"),
                                 "--output-dir", str(tmp_path / "eval")])
    assert result.exit_code == 2
    one_line_error(result.output, corpus / "test.tsv", DEFECTS[defect][1])
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize("defect", ["no marker", "one marker"])
def test_bad_prediction_input_is_one_line_and_writes_nothing(trained: tuple[Path, Path], tmp_path: Path,
                                                             defect: str) -> None:
    best, _ = trained
    rows = tmp_path / "rows.tsv"
    lines = [text for text, _ in TOY_ROWS]
    lines[2] = DEFECTS[defect][0].split("\t")[0]
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(rows),
                                 "--output", str(tmp_path / "pred.jsonl")])
    assert result.exit_code == 2
    one_line_error(result.output, rows, DEFECTS[defect][1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.tsv"]  # no output, no temporary file


@pytest.mark.parametrize(("content", "options", "message"), [
    ("", [], "contains nothing to predict"),
    ("\t".join(["index", "sentence"]) + "\np1\n", [], "1 tab-separated columns, expected index<TAB>sentence[<TAB>label]"),
    ("@CHEMICAL$ and @DISEASE$ .\t0\textra\n", [], "3 tab-separated columns"),
    ("@CHEMICAL$ and @DISEASE$ .\n", ["--format", "text"], "--format 'text': a re model reads tsv and writes jsonl"),
])
def test_unreadable_prediction_input_is_refused(trained: tuple[Path, Path], tmp_path: Path, content: str,
                                                options: list[str], message: str) -> None:
    best, _ = trained
    rows = tmp_path / "rows.tsv"
    rows.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(rows),
                                 "--output", str(tmp_path / "pred.jsonl"), *options])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "pred.jsonl").exists()
