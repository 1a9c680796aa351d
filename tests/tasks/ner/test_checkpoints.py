"""Checkpoint folders that are not usable biotune models: one `BiotuneError` naming the folder and the problem.

Every command that loads a checkpoint goes through `Tagger.from_checkpoint` -> `load_model`, so
the library calls and one CLI command cover them all.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.tasks.ner.tagger import Tagger


def _copy(best: Path, target: Path) -> Path:
    shutil.copytree(best, target)
    return target


def _no_tokenizer(best: Path, target: Path) -> Path:
    folder = _copy(best, target)
    for path in folder.iterdir():
        if path.name.startswith(("tokenizer", "vocab", "special_tokens")):
            path.unlink()
    return folder


def _truncated(best: Path, target: Path) -> Path:
    folder = _copy(best, target)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder


def _short_data(best: Path, target: Path) -> Path:
    folder = _copy(best, target)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])  # header intact, last tensor cut short
    return folder


def _generic_labels(best: Path, target: Path) -> Path:
    folder = _copy(best, target)
    config = json.loads((folder / "config.json").read_text())
    n = len(config["id2label"])
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(n)}
    config["label2id"] = {f"LABEL_{i}": i for i in range(n)}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _backbone_with_labels(backbone: Path, target: Path) -> Path:
    """A plain encoder whose config names BIO labels: no trained classifier in its weights."""
    folder = _copy(backbone, target)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-Chemical", "2": "I-Chemical"}
    config["label2id"] = {"O": 0, "B-Chemical": 1, "I-Chemical": 2}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _no_weights(best: Path, target: Path) -> Path:
    folder = _copy(best, target)
    (folder / "model.safetensors").unlink()
    return folder


def _no_config(best: Path, target: Path) -> Path:
    folder = _copy(best, target)
    (folder / "config.json").unlink()
    return folder


CASES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "no_tokenizer": (_no_tokenizer, "has no tokenizer"),
    "truncated": (_truncated, "weights or config are damaged"),
    "short_data": (_short_data, "weights or config are damaged"),
    "generic_labels": (_generic_labels, r"not a biotune NER model: its labels \(LABEL_0, LABEL_1, LABEL_2"),
    "no_weights": (_no_weights, "has no weights file"),
    "no_config": (_no_config, "has no config.json"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_checkpoint_is_a_one_line_error_naming_the_folder(trained_run, tmp_path: Path, case: str) -> None:
    make, message = CASES[case]
    folder = make(trained_run.paths.best_model, tmp_path / case)
    with pytest.raises(BiotuneError, match=message) as error:
        Tagger.from_checkpoint(folder, precision="fp32")
    assert str(folder) in str(error.value) and "\n" not in str(error.value)


def test_backbone_without_a_classifier_is_refused(word_backbone: Path, tmp_path: Path) -> None:
    folder = _backbone_with_labels(word_backbone, tmp_path / "backbone")
    with pytest.raises(BiotuneError, match=r"lack 2 tensor\(s\).*classifier"):
        Tagger.from_checkpoint(folder, precision="fp32")


@pytest.mark.parametrize(("target", "message"), [("missing", "does not exist"), ("file.txt", "is a file")])
def test_checkpoint_path_that_is_no_folder(tmp_path: Path, target: str, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BiotuneError, match=message):
        Tagger.from_checkpoint(tmp_path / target)


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_cli_prints_the_checkpoint_problem_and_exits_2(trained_run, toy_corpus: Path, tmp_path: Path,
                                                      command: str) -> None:
    folder = _no_tokenizer(trained_run.paths.best_model, tmp_path / "model")
    text = tmp_path / "in.txt"
    text.write_text("Aspirin.\n")
    args = {"predict": ["--input", str(text), "--output", str(tmp_path / "out.jsonl")],
            "evaluate": ["--test", str(toy_corpus / "test.tsv")]}[command]
    result = CliRunner().invoke(app, [command, "--checkpoint", str(folder), *args])
    assert result.exit_code == 2, result.output
    assert "has no tokenizer" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.jsonl").exists()
