"""A task whose headline is not NER's micro F1 (similarity: `pearson`) flows through aggregation,
the leaderboard, sweeps and search reports on its recorded `headline_key` alone: no `micro` key anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import biotune.experiments.seeds as seeds_module
from biotune.experiments.aggregate import aggregate, read_evals
from biotune.experiments.evaluate import headline_of
from biotune.experiments.leaderboard import seed_value
from biotune.experiments.run_folder import RunPaths
from biotune.experiments.search import _final_seeds, render_summary
from biotune.experiments.seeds import SeedsOutcome, render_sweep, sweep
from biotune.tasks.similarity.metrics import score_similarity
from tests.conftest import tiny_experiment

GOLD = [0.0, 1.0, 2.0, 3.0, 4.0]


def _similarity_run(results: Path, seed: int, predicted: list[float]) -> float:
    """A finished seed folder whose eval file is what `evaluate_splits` writes for a similarity result; its pearson."""
    result = score_similarity(GOLD, predicted)
    folder = results / f"seed_{seed}"
    folder.mkdir(parents=True)
    record = {**result.to_dict(), "headline_key": result.headline_key, "precision": "fp32"}
    (folder / "eval_test.json").write_text(json.dumps({"test": record}))
    (folder / "config_snapshot.yaml").write_text(yaml.safe_dump({"name": "sts", "task": "similarity", "data": {"corpus": "biosses"},
                                                                 "training": {"seed": seed}}))
    (folder / "train_summary.json").write_text(json.dumps({"test": {"test": result.pearson}}))
    return result.pearson


def _seeds(results: Path) -> list[float]:
    return [_similarity_run(results, 1, [0.1, 1.2, 1.9, 3.3, 3.8]), _similarity_run(results, 2, [0.5, 0.7, 2.4, 2.9, 4.4])]


def _micro_free(value: object) -> None:
    assert "micro" not in json.dumps(value, default=str)


def test_aggregation_reads_the_recorded_headline(tmp_path: Path) -> None:
    pearsons = _seeds(tmp_path)
    out = aggregate(tmp_path)
    test = out["test_sets"]["test"]
    assert test["headline_key"] == "pearson"
    assert headline_of(test)["mean"] == pytest.approx(sum(pearsons) / 2)
    _micro_free(out)
    md = (tmp_path / "aggregated_results.md").read_text()
    assert "Headline (pearson)" in md and "micro" not in md


def test_an_eval_file_from_before_the_key_was_recorded_reads_as_ner_micro_f1(tmp_path: Path) -> None:
    (tmp_path / "eval_test.json").write_text(json.dumps({"test": {"micro": {"f1": 0.5}}}))
    (tmp_path / "eval_sts.json").write_text(json.dumps({"sts": {"pearson": 0.9, "headline_key": "pearson"}}))
    evals = read_evals(tmp_path)
    assert [headline_of(evals[name]) for name in ("test", "sts")] == [0.5, 0.9]


def test_the_leaderboard_reads_the_recorded_headline(tmp_path: Path) -> None:
    pearsons = _seeds(RunPaths(tmp_path, "sts", 1).results.parent)
    assert seed_value(RunPaths(tmp_path, "sts", 2), None, None) == (pytest.approx(pearsons[1]), "pearson", "test")


def _fake_run_seeds(config, seeds: list[int], overwrite: bool = False) -> SeedsOutcome:
    """`run_seeds` without training: similarity seeds 1 and 2 finished under the config's results folder, aggregated."""
    results = seeds_module.results_dir(config)
    _seeds(results)
    return SeedsOutcome(results, trained=list(seeds), aggregated=aggregate(results))


def test_a_sweep_reports_the_recorded_headline(word_backbone: Path, toy_corpus: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seeds_module, "run_seeds", _fake_run_seeds)
    result = sweep(tiny_experiment(word_backbone, toy_corpus, tmp_path), "training.learning_rate", [1e-3, 2e-3], [1, 2])
    assert [p["headline_keys"] for p in result["points"]] == [{"test": "pearson"}] * 2
    _micro_free(result)
    table = render_sweep(result)
    assert table.startswith("# Sweep of `training.learning_rate` (pearson, ") and "micro" not in table
    assert (seeds_module.results_dir(tiny_experiment(word_backbone, toy_corpus, tmp_path))
            / "sweep_training.learning_rate.png").is_file()


def test_a_search_reports_the_recorded_headline(word_backbone: Path, toy_corpus: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seeds_module, "run_seeds", _fake_run_seeds)
    best = tmp_path / "best.yaml"
    best.write_text(yaml.safe_dump(tiny_experiment(word_backbone, toy_corpus, tmp_path).model_dump(mode="json")))
    final, failed = _final_seeds(best, SimpleNamespace(settings=SimpleNamespace(final_seeds=2, overwrite=False)))
    assert final is not None and failed == {} and final["test"]["test"]["headline_key"] == "pearson"
    _micro_free(final)
    summary = {"study": "s", "states": {"COMPLETE": 1}, "sampler": "tpe", "sampler_seed": 0, "search_seconds": 1.0,
               "best": None, "final": final, "failed_trials": 0, "failed_seeds": {}}
    assert re.search(r"test test \(pearson, seeds \[1, 2\]\): \d+\.\d\d ± \d+\.\d\d", render_summary(summary))
