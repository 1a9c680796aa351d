"""Multi-seed aggregation: raw values, mean and sample std, N/A for thin types, refusal to mix configs."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
import yaml

from biotune.errors import BiotuneError
from biotune.experiments.aggregate import aggregate, config_differences
from biotune.tasks.ner.metrics import evaluate_tags


def fake_run(root: Path, seed: int, pred_disease: list[str], lr: float = 5e-5, finished: bool = True) -> None:
    folder = root / f"seed_{seed}"
    folder.mkdir(parents=True)
    gold = [["B-Chemical", "O", "B-Disease"]] * 12 + [["B-Gene", "O", "O"]]
    pred = [["B-Chemical", "O", tag] for tag in pred_disease] + [["B-Gene", "O", "O"]]
    result = evaluate_tags(gold, pred, annotated_types=["Chemical", "Disease", "Gene"])
    (folder / "eval_test.json").write_text(json.dumps({"test": result.to_dict()}))
    snapshot = {"name": "toy", "data": {"corpus": "bc5cdr"}, "training": {"seed": seed, "learning_rate": lr}}
    (folder / "config_snapshot.yaml").write_text(yaml.safe_dump(snapshot))
    if finished:
        (folder / "train_summary.json").write_text(json.dumps({"best_dev_f1": 0.5 + seed / 100}))


def test_mean_std_raw_values_and_na(tmp_path: Path) -> None:
    fake_run(tmp_path, 1, ["B-Disease"] * 12)
    fake_run(tmp_path, 2, ["B-Disease"] * 6 + ["O"] * 6)
    fake_run(tmp_path, 3, ["O"] * 12, finished=False)  # crashed: ignored
    out = aggregate(tmp_path)
    assert out["seeds"] == [1, 2]
    disease = out["test_sets"]["test"]["per_type"]["Disease"]["f1"]
    assert disease["values"] == {"1": 1.0, "2": pytest.approx(2 / 3)}
    assert disease["mean"] == pytest.approx((1 + 2 / 3) / 2)
    assert disease["std"] == pytest.approx(statistics.stdev([1.0, 2 / 3]))
    saved = json.loads((tmp_path / "aggregated_results.json").read_text())
    assert saved["test_sets"]["test"]["per_type"]["Gene"]["f1"]["values"] == {"1": 1.0, "2": 1.0}
    md = re.sub(r" +", " ", (tmp_path / "aggregated_results.md").read_text())  # cells, not padding
    gene_row = next(line for line in md.splitlines() if line.startswith("| Gene"))
    assert "N/A" in gene_row and "| 1 |" in gene_row  # 1 gold span < 10
    disease_row = next(line for line in md.splitlines() if line.startswith("| Disease"))
    assert "83.33 ± 23.57" in disease_row


def test_runs_with_different_configs_are_refused(tmp_path: Path) -> None:
    fake_run(tmp_path, 1, ["B-Disease"] * 12)
    fake_run(tmp_path, 2, ["B-Disease"] * 12, lr=1e-4)
    with pytest.raises(BiotuneError, match="training.learning_rate"):
        aggregate(tmp_path)
    assert not (tmp_path / "aggregated_results.json").exists()


def test_a_key_added_since_an_older_run_counts_at_its_default(tmp_path: Path) -> None:
    fake_run(tmp_path, 1, ["B-Disease"] * 12)
    fake_run(tmp_path, 2, ["B-Disease"] * 12)
    newer = yaml.safe_load((tmp_path / "seed_2" / "config_snapshot.yaml").read_text())
    newer["ner"] = {"context": 0}  # written out by a newer biotune, at its default
    (tmp_path / "seed_2" / "config_snapshot.yaml").write_text(yaml.safe_dump(newer))
    assert aggregate(tmp_path)["seeds"] == [1, 2]
    newer["ner"] = {"context": 64}
    (tmp_path / "seed_2" / "config_snapshot.yaml").write_text(yaml.safe_dump(newer))
    with pytest.raises(BiotuneError, match="ner.context"):
        aggregate(tmp_path)


def test_config_differences_ignores_the_seed() -> None:
    a = {"training": {"seed": 1, "epochs": 3}, "model": {"backbone": "x"}}
    b = {"training": {"seed": 2, "epochs": 3}, "model": {"backbone": "y"}}
    assert config_differences({1: a, 2: b}) == ["model.backbone"]


def test_nothing_finished_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match="no finished run"):
        aggregate(tmp_path)


def test_path_only_differences_are_the_same_experiment(tmp_path: Path) -> None:
    fake_run(tmp_path, 1, ["B-Disease"] * 12)
    fake_run(tmp_path, 2, ["B-Disease"] * 12)
    moved = yaml.safe_load((tmp_path / "seed_2" / "config_snapshot.yaml").read_text())
    moved["output_dir"] = "/elsewhere"
    moved["data"] = {**moved["data"], "data_dir": "/mnt/corpora", "download": True}
    (tmp_path / "seed_2" / "config_snapshot.yaml").write_text(yaml.safe_dump(moved))
    assert aggregate(tmp_path)["seeds"] == [1, 2]
    moved["data"]["corpus"] = "ncbi_disease"
    (tmp_path / "seed_2" / "config_snapshot.yaml").write_text(yaml.safe_dump(moved))
    with pytest.raises(BiotuneError, match="keys: data.corpus$"):
        aggregate(tmp_path)
