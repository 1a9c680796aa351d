"""Multi-seed runs: every seed trained and aggregated, crashes isolated, finished seeds skipped; sweeps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import biotune.experiments.run as train_module
from biotune.config import apply_overrides
from biotune.errors import BiotuneError
from biotune.experiments.seeds import parse_value, run_seeds, sweep
from tests.conftest import tiny_experiment


def test_seeds_are_trained_then_aggregated_and_reruns_skip_finished(word_backbone: Path, toy_corpus: Path,
                                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    real_train = train_module.train
    calls: list[int] = []

    def flaky(config, overwrite=False):
        calls.append(config.training.seed)
        if config.training.seed == 2 and calls.count(2) == 1:
            raise RuntimeError("simulated crash")
        return real_train(config, overwrite)

    monkeypatch.setattr(train_module, "train", flaky)
    first = run_seeds(cfg, [1, 2, 3])
    assert first.trained == [1, 3] and list(first.failed) == [2]
    assert first.aggregated is not None and first.aggregated["seeds"] == [1, 3]
    second = run_seeds(cfg, [1, 2, 3])
    assert second.skipped == [1, 3] and second.trained == [2] and not second.failed
    saved = json.loads((second.results_dir / "aggregated_results.json").read_text())
    assert saved["seeds"] == [1, 2, 3]
    assert set(saved["test_sets"]["test"]["micro"]["f1"]["values"]) == {"1", "2", "3"}


def test_a_limited_debug_run_never_writes_into_the_real_run(word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    cfg = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    data = apply_overrides(cfg.model_dump(mode="json"), {"data.limit": 8})
    from biotune.config import validate

    smoke = validate(data, "smoke")
    outcome = run_seeds(smoke, [42])
    assert outcome.results_dir.name == "toy__limit8"
    assert not (tmp_path / "results" / "toy").exists()
    assert json.loads((outcome.results_dir / "seed_42" / "train_summary.json").read_text())["train_examples"] == 8


def test_sweep_writes_table_and_plot(word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    import statistics

    from matplotlib.image import imread

    cfg = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    result = sweep(cfg, "training.learning_rate", [1e-3, 2e-3], seeds=[1, 2])
    assert [p["label"] for p in result["points"]] == ["0.001", "0.002"]
    results = tmp_path / "results"
    points = [results / "toy__training.learning_rate=0.001", results / "toy__training.learning_rate=0.002"]
    assert [p["results_dir"] for p in result["points"]] == [str(p) for p in points]
    rows = []
    for point, folder in zip(result["points"], points):
        per_seed = []  # each seed's own test F1, from its eval files
        for seed in (1, 2):
            evals: dict = {}
            for path in sorted((folder / f"seed_{seed}").glob("eval_*.json")):
                evals.update(json.loads(path.read_text()))
            per_seed.append(evals["test"]["micro"]["f1"])
        aggregated = json.loads((folder / "aggregated_results.json").read_text())["test_sets"]["test"]["micro"]["f1"]
        expected = {"values": {"1": per_seed[0], "2": per_seed[1]}, "mean": statistics.fmean(per_seed),
                    "std": statistics.stdev(per_seed), "n": 2}
        assert point["test_sets"] == {"test": expected} and aggregated == expected
        rows.append(f"| {point['label']} | {100 * expected['mean']:.2f} ± {100 * expected['std']:.2f} |")
    out = results / "toy"
    assert json.loads((out / "sweep_training.learning_rate.json").read_text()) == json.loads(json.dumps(result))
    table = [re.sub(r" +", " ", line) for line in (out / "sweep_training.learning_rate.md").read_text().splitlines()]
    assert table[-2:] == rows  # cells, not padding
    assert table[2] == "| value | test |" and re.fullmatch(r"\|:-+\|-+:\|", table[3])
    image = imread(out / "sweep_training.learning_rate.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0  # drawn, not blank


def test_a_sweep_point_at_the_config_own_value_reuses_its_runs(word_backbone: Path, toy_corpus: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    run_seeds(cfg, [1])
    trained: list[str] = []
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", lambda config, overwrite=False: trained.append(config.name) or
                        real_train(config, overwrite))
    result = sweep(cfg, "training.learning_rate", [cfg.training.learning_rate, 1e-3], seeds=[1])
    assert trained == ["toy__training.learning_rate=0.001"], "the config's own run is reused, not retrained"
    assert result["points"][0]["results_dir"] == str(tmp_path / "results" / "toy")


def test_parse_value_and_list_overrides(tmp_path: Path) -> None:
    assert parse_value("all") is None and parse_value("2") == 2 and parse_value("0.5") == 0.5
    data = {"sources": [{"name": "a", "split": "x"}, {"name": "b", "split": "y"}]}
    assert apply_overrides(data, {"sources.1.sample_ratio": 2})["sources"][1]["sample_ratio"] == 2
    assert "sample_ratio" not in data["sources"][1], "overrides never mutate their input"
    with pytest.raises(BiotuneError, match="index"):
        apply_overrides(data, {"sources.5.weight": 1})


def test_cli_run_takes_several_seeds_after_one_flag(word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    cfg = tmp_path / "toy.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\nmodel: {{backbone: {word_backbone}, max_length: 32}}\n"
                   f"data: {{corpus: {toy_corpus}}}\n"
                   "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 8, warmup: 0.0, bf16: false}\n")
    result = CliRunner().invoke(app, ["run", str(cfg), "--seeds", "3", "4"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "results" / "toy" / "aggregated_results.json").read_text())
    assert saved["seeds"] == [3, 4]
    again = CliRunner().invoke(app, ["aggregate", str(cfg)])
    assert again.exit_code == 0 and "Seeds: 3, 4" in again.output
    bad = CliRunner().invoke(app, ["run", str(cfg), "--seeds", "3", "four"])
    assert bad.exit_code == 2 and "four" in bad.output


def test_a_finished_seed_of_another_config_is_refused_not_reused(word_backbone: Path, toy_corpus: Path,
                                                                 tmp_path: Path) -> None:
    from biotune.config import validate

    cfg = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    run_seeds(cfg, [1])
    before = (tmp_path / "results" / "toy" / "seed_1" / "eval_test.json").read_bytes()
    changed = validate(apply_overrides(cfg.model_dump(mode="json"), {"training.learning_rate": 1e-3}), "changed")
    with pytest.raises(BiotuneError, match=r"finished run of another config \(differs in training.learning_rate\)"
                                           r".*--overwrite"):
        run_seeds(changed, [1, 2])
    assert not (tmp_path / "results" / "toy" / "seed_2").exists(), "refused before any seed trains"
    with pytest.raises(BiotuneError, match="training.learning_rate"):
        sweep(changed, "training.epochs", [1, 2], seeds=[1])
    assert not (tmp_path / "results" / "toy__training.epochs=2").exists(), "every sweep point is checked first"
    moved = validate(apply_overrides(cfg.model_dump(mode="json"), {"data.data_dir": str(tmp_path), "data.download": True}),
                     "moved")
    assert run_seeds(moved, [1]).skipped == [1], "a path-only difference is the same run"
    assert (tmp_path / "results" / "toy" / "seed_1" / "eval_test.json").read_bytes() == before
    redone = run_seeds(changed, [1], overwrite=True)
    assert redone.trained == [1]


def test_a_failed_seed_logs_its_traceback_to_its_file_and_one_line_to_the_console(
        word_backbone: Path, toy_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    import biotune.tasks.ner.task as ner_task
    import biotune.training.fit as fit_module

    real_encode = ner_task.encode

    def encode(sentences, aligner, label2id, **kwargs):
        if seeds_seen[-1] == 2:
            raise ValueError("corrupt batch")
        return real_encode(sentences, aligner, label2id, **kwargs)

    seeds_seen: list[int] = []
    real_set_seed = fit_module.set_seed
    monkeypatch.setattr(fit_module, "set_seed", lambda seed: seeds_seen.append(seed) or real_set_seed(seed))
    monkeypatch.setattr(ner_task, "encode", encode)
    cfg = tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1)
    with caplog.at_level("ERROR", logger="biotune"):
        outcome = run_seeds(cfg, [1, 2])
    assert outcome.trained == [1] and outcome.failed == {2: "ValueError: corrupt batch"}
    log = (tmp_path / "logs" / "toy" / "seed_2" / "train.log").read_text()
    assert "Traceback (most recent call last)" in log and "ValueError: corrupt batch" in log
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is None
    message = errors[0].getMessage()
    assert "\n" not in message and message.startswith("seed 2 failed: ValueError: corrupt batch")
    assert "seed_2/train.log" in message
    monkeypatch.undo()
    again = run_seeds(cfg, [1, 2])
    assert again.skipped == [1] and again.trained == [2], "the failed seed's unfinished folder is resumed"
    assert "ValueError: corrupt batch" in (tmp_path / "logs" / "toy" / "seed_2" / "train.log").read_text()
