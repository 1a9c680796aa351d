"""A key given twice in one mapping of any biotune YAML file is an error naming the file, the key and both lines.

Plain YAML keeps the last of two equal keys: a suite listing a dataset twice silently ran one of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from biotune.config import load_config, load_yaml
from biotune.errors import BiotuneError
from biotune.experiments.search_space import load_space
from biotune.experiments.suite import load_suite

REPO = Path(__file__).parents[1]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _message(path: Path, line: int, key: str, first: int) -> str:
    return f"{path.resolve()}:{line}: duplicate key {key!r} (first at line {first})"


CONFIG_TOP = "name: toy\ntraining:\n  epochs: 3\ndata: {corpus: bc5cdr}\ntraining:\n  epochs: 4\n"
CONFIG_NESTED = "name: toy\ntraining:\n  epochs: 3\n  learning_rate: 1.0e-4\n  epochs: 4\n"
CONFIG_IN_LIST = ("name: toy\nsources:\n  - {name: a, corpus: bc5cdr}\n  - name: b\n    corpus: ncbi_disease\n"
                  "    sample_ratio: 0.5\n    corpus: bc2gm\n")


@pytest.mark.parametrize(("text", "key", "line", "first"), [
    (CONFIG_TOP, "training", 5, 2),        # a second section would replace the first whole
    (CONFIG_NESTED, "epochs", 5, 3),       # inside a section
    (CONFIG_IN_LIST, "corpus", 7, 5),      # inside a mapping inside a list
    ("name: toy\nmodel: {backbone: minilm, dropout: 0.1, backbone: x}\n", "backbone", 2, 2),  # flow style
])
def test_a_duplicate_key_in_an_experiment_config_names_file_key_and_both_lines(tmp_path: Path, text: str, key: str,
                                                                              line: int, first: int) -> None:
    path = _write(tmp_path / "toy.yaml", text)
    with pytest.raises(BiotuneError) as error:
        load_config(path)
    assert str(error.value) == _message(path, line, key, first)


def test_a_duplicate_key_in_an_extended_parent_names_the_parent(tmp_path: Path) -> None:
    parent = _write(tmp_path / "base.yaml", "training:\n  seed: 1\n  seed: 2\n")
    child = _write(tmp_path / "child.yaml", "extends: base.yaml\nname: toy\n")
    with pytest.raises(BiotuneError) as error:
        load_config(child)
    assert str(error.value) == _message(parent, 3, "seed", 2)


def test_a_dataset_listed_twice_in_a_suite_is_an_error_not_a_dropped_run(tmp_path: Path) -> None:
    _write(tmp_path / "ner.yaml", "task: ner\ndata: {corpus: somewhere}\n")
    suite = _write(tmp_path / "suite.yaml", "seeds: [1]\ndatasets:\n  bc5cdr: {config: ner.yaml}\n"
                                            "  ncbi: {config: ner.yaml}\n  bc5cdr: {config: ner.yaml, data_dir: x}\n")
    with pytest.raises(BiotuneError) as error:
        load_suite(suite)
    assert str(error.value) == _message(suite, 5, "bc5cdr", 3)


def test_a_duplicate_parameter_in_a_search_space_names_file_key_and_both_lines(tmp_path: Path) -> None:
    space = _write(tmp_path / "space.yaml", "sampler: tpe\nparams:\n"
                                            "  training.learning_rate: {type: log, low: 1.0e-5, high: 1.0e-4}\n"
                                            "  model.dropout: {type: float, low: 0.1, high: 0.5}\n"
                                            "  training.learning_rate: {type: log, low: 1.0e-6, high: 1.0e-5}\n")
    with pytest.raises(BiotuneError) as error:
        load_space(space)
    assert str(error.value) == f"{space}:5: duplicate key 'training.learning_rate' (first at line 3)"


def test_keys_that_only_look_alike_and_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = _write(tmp_path / "ok.yaml", "base: &base {epochs: 3, seed: 1}\n"
                                        "training:\n  <<: *base\n  epochs: 5\n"  # a merge key's value is overridden
                                        "other: {epochs: 3}\n"                   # the same key in another mapping
                                        "labels: {1: a, '1': b}\n")             # an int and a string
    assert load_yaml(path) == {"base": {"epochs": 3, "seed": 1}, "training": {"epochs": 5, "seed": 1},
                               "other": {"epochs": 3}, "labels": {1: "a", "1": "b"}}


def test_every_shipped_yaml_file_has_no_duplicate_key() -> None:
    files = sorted((REPO / "configs").rglob("*.yaml"))
    assert files
    for path in files:
        load_yaml(path)


@pytest.mark.parametrize("command", ["train", "benchmark", "search"])
def test_the_cli_prints_a_duplicate_key_as_one_error_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      command: str) -> None:
    config = _write(tmp_path / "toy.yaml", "name: toy\ndata: {corpus: bc5cdr}\n")
    if command == "train":
        bad = _write(tmp_path / "dup.yaml", CONFIG_NESTED)
        argv, expected = ["train", str(bad)], _message(bad, 5, "epochs", 3)
    elif command == "benchmark":
        bad = _write(tmp_path / "suite.yaml", "datasets:\n  a: {config: toy.yaml}\n  a: {config: toy.yaml}\n")
        argv, expected = ["benchmark", str(bad)], _message(bad, 3, "a", 2)
    else:
        bad = _write(tmp_path / "space.yaml", "params:\n  model.dropout: {type: float, low: 0.1, high: 0.5}\n"
                                              "  model.dropout: {type: float, low: 0.2, high: 0.4}\n")
        argv = ["search", str(config), "--space", str(bad), "--output-dir", str(tmp_path / "out")]
        expected = f"{bad}:3: duplicate key 'model.dropout' (first at line 2)"
    from biotune.cli import main

    monkeypatch.setattr(sys, "argv", ["biotune", *argv])
    assert main() == 2
    captured = capsys.readouterr()
    assert [line for line in (captured.out + captured.err).splitlines() if line.strip()] == [f"error: {expected}"]
    assert not (tmp_path / "out").exists()
