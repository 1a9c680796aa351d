"""Cross-validation over a tiny 3-fold BioBERT layout (k/train.tsv, k/test.tsv with an index header) on a tiny BERT."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import ExperimentConfig, validate
from biotune.errors import BiotuneError
from biotune.experiments.cross_validation import cross_validate, render_markdown

# Nine binary pairs (GAD-like 0/1); fold k tests on rows 3(k-1)..3k-1 and trains on the other six.
ROWS = [
    ("the patient developed @DISEASE$ after @CHEMICAL$ .", "1"),
    ("@CHEMICAL$ and @DISEASE$ .", "0"),
    ("the patient developed severe @DISEASE$ after @CHEMICAL$ .", "1"),
    ("@CHEMICAL$ and severe @DISEASE$ .", "0"),
    ("the patient developed acute @DISEASE$ after @CHEMICAL$ .", "1"),
    ("@CHEMICAL$ was given and @DISEASE$ .", "0"),
    ("@CHEMICAL$ treatment was given with @DISEASE$ .", "1"),
    ("@CHEMICAL$ and acute @DISEASE$ .", "0"),
    ("@DISEASE$ developed after @CHEMICAL$ treatment .", "1"),
]
SEED = 42


def write_folds(folder: Path) -> Path:
    for k in (1, 2, 3):
        test = ROWS[3 * (k - 1):3 * k]
        train = [row for row in ROWS if row not in test]
        (folder / str(k)).mkdir(parents=True)
        (folder / str(k) / "train.tsv").write_text("".join(f"{t}\t{label}\n" for t, label in train), encoding="utf-8")
        (folder / str(k) / "test.tsv").write_text("index\tsentence\tlabel\n" + "".join(
            f"{i}\t{t}\t{label}\n" for i, (t, label) in enumerate(test)), encoding="utf-8")
    return folder


def cv_config(backbone: Path, folds: Path, output_dir: Path, **training: Any) -> ExperimentConfig:
    settings = {"epochs": 2, "learning_rate": 5e-3, "batch_size": 4, "warmup": 0.0, "seed": SEED, "bf16": False,
                "logging_steps": 1000, **training}
    return validate({"task": "re", "name": "cvtoy", "output_dir": str(output_dir),
                     "model": {"backbone": str(backbone), "max_length": 32, "dropout": 0.0},
                     "data": {"corpus": str(folds)}, "training": settings}, "test")


def fold_eval(output_dir: Path, fold: str, seed: int = SEED) -> dict[str, Any]:
    path = output_dir / "results" / f"cvtoy__fold{fold}" / f"seed_{seed}" / "eval_test.json"
    return json.loads(path.read_text(encoding="utf-8"))["test"]


@pytest.fixture(scope="module")
def folds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folds(tmp_path_factory.mktemp("cv") / "folds")


def test_every_fold_is_a_run_and_the_summary_is_their_mean_and_std(folds: Path, word_backbone: Path,
                                                                   tmp_path: Path) -> None:
    config = cv_config(word_backbone, folds, tmp_path)
    result = cross_validate(config, [SEED])
    assert {fold: outcome.trained for fold, outcome in result.folds.items()} == {"1": [SEED], "2": [SEED], "3": [SEED]}
    evals = {fold: fold_eval(tmp_path, fold) for fold in ("1", "2", "3")}
    assert all(e["headline_key"] == "binary.f1" and e["n_examples"] == 3 for e in evals.values())
    summary = result.summary["test_sets"]["test"]
    assert summary["headline_key"] == "binary.f1" and summary["block"] == "binary"
    for metric, key in (("headline", "f1"), ("precision", "precision"), ("recall", "recall"), ("f1", "f1")):
        values = [evals[fold]["binary"][key] for fold in ("1", "2", "3")]
        assert summary[metric]["folds"] == dict(zip(("1", "2", "3"), values))
        assert summary[metric]["mean"] == pytest.approx(statistics.fmean(values))
        assert summary[metric]["std"] == pytest.approx(statistics.stdev(values))
    assert len(set(summary["headline"]["folds"].values())) > 1  # the folds differ: the std is not trivially 0

    saved = json.loads((tmp_path / "results" / "cvtoy" / "cv_results.json").read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(result.summary))
    markdown = (tmp_path / "results" / "cvtoy" / "cv_results.md").read_text(encoding="utf-8")
    assert markdown == render_markdown(result.summary, title="cvtoy")
    mean_row = " | ".join(f"{100 * summary[m]['mean']:.2f} ± {100 * summary[m]['std']:.2f}"
                          for m in ("precision", "recall", "f1"))
    assert mean_row in " ".join(markdown.split())  # cells as in the JSON, padding aside
    assert f"{100 * summary['headline']['mean']:.2f} ± {100 * summary['headline']['std']:.2f} (n = 3 folds)" in markdown

    summaries = {fold: (tmp_path / "results" / f"cvtoy__fold{fold}" / f"seed_{SEED}" / "train_summary.json").stat().st_mtime_ns
                 for fold in ("1", "2", "3")}
    again = cross_validate(config, [SEED])  # finished folds are reused, not retrained
    assert {fold: (o.trained, o.skipped) for fold, o in again.folds.items()} == {f: ([], [SEED]) for f in ("1", "2", "3")}
    assert again.summary == result.summary
    assert {fold: (tmp_path / "results" / f"cvtoy__fold{fold}" / f"seed_{SEED}" / "train_summary.json").stat().st_mtime_ns
            for fold in ("1", "2", "3")} == summaries

    changed = cv_config(word_backbone, folds, tmp_path, epochs=3)
    with pytest.raises(BiotuneError, match="training.epochs"):  # a fold of another config is refused before training
        cross_validate(changed, [SEED])
    assert not (tmp_path / "results" / "cvtoy__fold1" / "seed_7").exists()


def test_cli_with_two_seeds_averages_each_fold_over_its_seeds(folds: Path, word_backbone: Path, tmp_path: Path) -> None:
    config = tmp_path / "cvtoy.yaml"
    config.write_text(f"task: re\noutput_dir: {tmp_path}\nmodel: {{backbone: {word_backbone}, max_length: 32}}\n"
                      f"data: {{corpus: {folds.name}}}\n"
                      "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 4, warmup: 0.0, bf16: false}\n",
                      encoding="utf-8")
    result = CliRunner().invoke(app, ["cv", str(config), "--data-dir", str(folds.parent), "--seeds", "1", "2"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "results" / "cvtoy" / "cv_results.json").read_text(encoding="utf-8"))
    assert saved["seeds"] == [1, 2] and saved["folds"] == ["1", "2", "3"]
    fold_means = {fold: statistics.fmean(fold_eval(tmp_path, fold, seed)["binary"]["f1"] for seed in (1, 2))
                  for fold in ("1", "2", "3")}
    headline = saved["test_sets"]["test"]["headline"]
    assert headline["folds"] == pytest.approx(fold_means)
    assert headline["mean"] == pytest.approx(statistics.fmean(fold_means.values()))
    assert headline["std"] == pytest.approx(statistics.stdev(fold_means.values()))
    assert "mean ± std" in result.output


@pytest.mark.parametrize(("layout", "data", "message"), [
    ("one fold", {}, "needs at least 2"),
    ("folds", {"dev": "test"}, "data.dev 'test'"),
    ("folds", {"dev": "dev"}, "data.dev 'dev': cross-validation folds have no dev split"),  # explicit, not the default
    ("missing", {}, "cross-validation needs a folder of folds"),
    ("gap", {}, r"folds 1, 3 found, fold\(s\) 2 missing; restore them, or pass --allow-fold-gaps"),
])
def test_bad_layouts_are_refused_before_training(tmp_path: Path, word_backbone: Path, layout: str,
                                                 data: dict[str, Any], message: str) -> None:
    folder = tmp_path / "folds"
    if layout == "one fold":
        write_folds(folder)
        for k in ("2", "3"):
            for file in (folder / k).iterdir():
                file.unlink()
            (folder / k).rmdir()
    elif layout == "folds":
        write_folds(folder)
    elif layout == "gap":
        write_folds(folder)
        (folder / "2").rename(folder / "x")
        for file in (folder / "x").iterdir():
            file.unlink()
        (folder / "x").rmdir()
    config = cv_config(word_backbone, folder, tmp_path / "out")
    if data:
        config = validate({**config.model_dump(mode="json", exclude_unset=True),
                           "data": {**config.data.model_dump(mode="json", exclude_unset=True), **data}}, "test")
    with pytest.raises(BiotuneError, match=message):
        cross_validate(config, [SEED])
    assert not (tmp_path / "out").exists()


def test_a_gap_in_the_folds_runs_only_when_asked(tmp_path: Path, word_backbone: Path) -> None:
    folds = write_folds(tmp_path / "folds")
    (folds / "2").rename(tmp_path / "fold2_elsewhere")
    config = tmp_path / "cvtoy.yaml"
    config.write_text(f"task: re\noutput_dir: {tmp_path / 'out'}\nmodel: {{backbone: {word_backbone}, max_length: 32}}\n"
                      f"data: {{corpus: {folds}}}\n"
                      "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 4, warmup: 0.0, bf16: false}\n",
                      encoding="utf-8")
    refused = CliRunner().invoke(app, ["cv", str(config)])
    assert refused.exit_code == 2 and "fold(s) 2 missing" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["cv", str(config), "--allow-fold-gaps"])
    assert result.exit_code == 0, result.output
    assert "folds: 1, 3" in result.output
    saved = json.loads((tmp_path / "out" / "results" / "cvtoy" / "cv_results.json").read_text(encoding="utf-8"))
    assert saved["folds"] == ["1", "3"] and saved["test_sets"]["test"]["headline"]["n"] == 2


def test_a_failed_fold_writes_no_summary_and_a_rerun_trains_only_it(tmp_path: Path, word_backbone: Path) -> None:
    folds = write_folds(tmp_path / "folds")
    bad = folds / "3" / "train.tsv"
    good = bad.read_text(encoding="utf-8")
    bad.write_text(good + "@CHEMICAL$ and asthma .\t0\n", encoding="utf-8")  # one marker: fold 3 cannot train
    config = cv_config(word_backbone, folds, tmp_path / "out", epochs=1)
    result = cross_validate(config, [SEED])
    assert {fold: o.trained for fold, o in result.folds.items()} == {"1": [SEED], "2": [SEED], "3": []}
    assert list(result.failed) == ["3"] and f"{bad}:7" in result.failed["3"][SEED]
    assert result.summary is None and not (tmp_path / "out" / "results" / "cvtoy" / "cv_results.json").exists()

    bad.write_text(good, encoding="utf-8")
    again = cross_validate(config, [SEED])
    assert {fold: (o.trained, o.skipped) for fold, o in again.folds.items()} == {
        "1": ([], [SEED]), "2": ([], [SEED]), "3": ([SEED], [])}
    assert again.summary is not None and again.summary["test_sets"]["test"]["headline"]["n"] == 3
