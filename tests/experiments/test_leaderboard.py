"""Leaderboard arithmetic on synthetic run folders (no training): means, stds, family averages, the BLURB macro
average, and what failed or missing runs do to each."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.experiments.leaderboard import Entry, build_leaderboard, render_markdown, write_leaderboard
from biotune.experiments.run_folder import RunPaths


def _run(out: Path, name: str, seed: int, results: dict[str, dict]) -> None:
    """A finished run folder whose eval files hold `results` ({test set: metrics}) and whose summary lists them."""
    paths = RunPaths(out, name, seed)
    paths.results.mkdir(parents=True)
    for test, metrics in results.items():
        (paths.results / f"eval_{test}.json").write_text(json.dumps({test: metrics}))
    (paths.results / "train_summary.json").write_text(json.dumps({"test": {t: 0.0 for t in results}}))


def _ner(f1: float) -> dict:
    return {"micro": {"precision": 0.5, "recall": 0.5, "f1": f1}, "headline_key": "micro.f1"}


def _accuracy(value: float) -> dict:
    return {"accuracy": value, "macro": {"f1": value / 2}, "headline_key": "accuracy"}


@pytest.fixture
def board_inputs(tmp_path: Path) -> tuple[Path, list[Entry]]:
    """Backbone `a`: NER n1 (0.80, 0.90), n2 (0.70, 0.60), QA q1 (0.50, 0.60); backbone `b`: n1 (0.90, 0.92), n2 seed 2
    failed, q1 seed 2 never ran."""
    for seed, (n1, n2, q1) in zip((1, 2), ((0.80, 0.70, 0.50), (0.90, 0.60, 0.60))):
        _run(tmp_path, "a_n1", seed, {"test": _ner(n1)})
        _run(tmp_path, "a_n2", seed, {"test": _ner(n2)})
        _run(tmp_path, "a_q1", seed, {"test": _accuracy(q1)})
    _run(tmp_path, "b_n1", 1, {"test": _ner(0.90)})
    _run(tmp_path, "b_n1", 2, {"test": _ner(0.92)})
    _run(tmp_path, "b_n2", 1, {"test": _ner(0.65)})
    _run(tmp_path, "b_q1", 1, {"test": _accuracy(0.70)})
    entries = [Entry(backbone, dataset, family, tmp_path, f"{backbone}_{dataset}", (1, 2),
                     errors={2: "RuntimeError: out of memory"} if (backbone, dataset) == ("b", "n2") else {})
               for backbone in ("a", "b") for dataset, family in (("n1", "NER"), ("n2", "NER"), ("q1", "QA"))]
    return tmp_path, entries


def test_means_stds_family_averages_and_the_blurb_macro_average(board_inputs) -> None:
    _, entries = board_inputs
    board = build_leaderboard("s", entries)
    a = board["backbones"]["a"]
    assert a["datasets"]["n1"]["values"] == {"1": 0.80, "2": 0.90}
    assert a["datasets"]["n1"]["mean"] == pytest.approx(0.85)
    assert a["datasets"]["n1"]["std"] == pytest.approx(0.0707107, abs=1e-6)  # sample std: |0.8 - 0.9| / sqrt(2)
    assert a["datasets"]["n2"]["mean"] == pytest.approx(0.65)
    assert a["datasets"]["q1"]["metric"] == "accuracy" and a["datasets"]["q1"]["mean"] == pytest.approx(0.55)
    assert a["families"]["NER"]["mean"] == pytest.approx(0.75) and a["families"]["NER"]["complete"]
    # BLURB: families weigh the same: (0.75 + 0.55) / 2, not the mean of the three datasets (0.6833)
    assert a["blurb"] == {"score": pytest.approx(0.65), "families": ["NER", "QA"], "complete": True}


def test_failed_and_missing_seeds_are_marked_and_never_averaged(board_inputs) -> None:
    _, entries = board_inputs
    b = build_leaderboard("s", entries)["backbones"]["b"]
    n2, q1 = b["datasets"]["n2"], b["datasets"]["q1"]
    assert (n2["status"], n2["n"], n2["planned"], n2["errors"]) == ("failed", 1, 2, {"2": "RuntimeError: out of memory"})
    assert n2["mean"] == pytest.approx(0.65), "the finished seed is reported, not averaged into the family"
    assert (q1["status"], q1["missing_seeds"]) == ("missing", [2])
    assert b["families"]["NER"] == {"mean": pytest.approx(0.91), "datasets": ["n1"], "planned": ["n1", "n2"],
                                    "complete": False}
    assert b["families"]["QA"] == {"mean": None, "datasets": [], "planned": ["q1"], "complete": False}
    assert b["blurb"] == {"score": pytest.approx(0.91), "families": ["NER"], "complete": False}


def test_the_markdown_table_marks_what_is_incomplete(board_inputs) -> None:
    _, entries = board_inputs
    text = render_markdown(build_leaderboard("s", entries))
    rows = {cells[0]: cells[1:] for line in text.splitlines() if line.startswith("|")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert rows["dataset"] == ["family", "metric", "a", "b"]
    assert rows["n1"] == ["NER", "micro.f1", "85.00 ± 7.07", "91.00 ± 1.41"]
    assert rows["n2"] == ["NER", "micro.f1", "65.00 ± 7.07", "failed (1/2 seeds)"]
    assert rows["q1"] == ["QA", "accuracy", "55.00 ± 7.07", "missing (1/2 seeds)"]
    assert rows["**NER** (family average)"][2:] == ["75.00", "91.00 (incomplete: 1/2 datasets)"]
    assert rows["**QA** (family average)"][2:] == ["55.00", "incomplete (0/1 datasets)"]
    assert rows["**BLURB score**"][2:] == ["65.00", "91.00 (incomplete)"]
    assert "- b / n2 / seed 2: RuntimeError: out of memory" in text
    assert re.search(r"\|:-+\|:-+\|:-+\|-+:\|-+:\|", text), "numbers right-aligned"


def test_a_named_metric_and_test_set_are_read_and_a_wrong_one_is_named(tmp_path: Path) -> None:
    _run(tmp_path, "r", 1, {"first": _accuracy(0.4), "second": _accuracy(0.8)})
    entry = Entry("a", "d", "QA", tmp_path, "r", (1,))
    cell = build_leaderboard("s", [entry])["backbones"]["a"]["datasets"]["d"]
    assert (cell["test_set"], cell["mean"], cell["std"]) == ("first", 0.4, None), "default: the run's first test set"
    named = Entry("a", "d", "QA", tmp_path, "r", (1,), metric="macro.f1", test_set="second")
    cell = build_leaderboard("s", [named])["backbones"]["a"]["datasets"]["d"]
    assert (cell["metric"], cell["mean"]) == ("macro.f1", 0.4)
    assert "| d | QA | macro.f1 | 40.00 |" in re.sub(r" +", " ", render_markdown(build_leaderboard("s", [named])))
    with pytest.raises(BiotuneError, match=r"metric 'macro.f' is not a number in .*eval_first.json "
                                           r"\(did you mean 'macro.f1'\?\)"):
        build_leaderboard("s", [Entry("a", "d", "QA", tmp_path, "r", (1,), metric="macro.f")])
    with pytest.raises(BiotuneError, match=r"no eval_secnd.json \(test sets of the run: first, second\) "
                                           r"\(did you mean 'second'\?\)"):
        build_leaderboard("s", [Entry("a", "d", "QA", tmp_path, "r", (1,), test_set="secnd")])


def test_the_three_files_are_written(board_inputs, tmp_path: Path) -> None:
    from matplotlib.image import imread

    _, entries = board_inputs
    board = build_leaderboard("s", entries)
    files = write_leaderboard(board, tmp_path / "results" / "s")
    assert json.loads(files["json"].read_text()) == json.loads(json.dumps(board))
    assert files["md"].read_text() == render_markdown(board)
    image = imread(files["png"])
    assert image.ndim == 3 and image.shape[1] > 300 and image.std() > 0
    assert sorted(p.name for p in files["png"].parent.iterdir()) == ["leaderboard.json", "leaderboard.md",
                                                                     "leaderboard.png"], "no temporaries left"


def _rows(text: str) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for line in text.splitlines() if line.startswith("|")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}


def test_a_declared_family_without_datasets_makes_the_blurb_score_incomplete(board_inputs) -> None:
    """BLURB by hand for backbone `a`: NER (0.85 + 0.65) / 2 = 0.75, QA 0.55, PICO absent: (0.75 + 0.55) / 2 = 0.65,
    the mean of the families that have a value, never a zero for the absent one ((0.75 + 0.55 + 0) / 3 = 0.4333)."""
    _, entries = board_inputs
    board = build_leaderboard("s", entries, families=["NER", "PICO", "QA"])
    a = board["backbones"]["a"]
    assert board["families"] == ["NER", "PICO", "QA"]
    assert a["families"]["PICO"] == {"mean": None, "datasets": [], "planned": [], "complete": False}
    assert a["blurb"] == {"score": pytest.approx(0.65), "families": ["NER", "QA"], "complete": False}
    rows = _rows(render_markdown(board))
    assert rows["**PICO** (family average)"][2:] == ["absent (no dataset in this suite)"] * 2
    assert rows["**BLURB score**"][2:] == ["65.00 (incomplete)", "91.00 (incomplete)"]


def test_published_rows_are_rendered_beside_and_averaged_apart(board_inputs) -> None:
    """Published numbers (percent) sit in their own labelled columns: families are the means of their published
    datasets in the suite, the BLURB score the mean of those families; the paper's own score has its own row."""
    from biotune.experiments.leaderboard import Published, PublishedRow

    _, entries = board_inputs
    published = Published("Gu et al. (2021), Table 4", "GPU, base-size encoders.", (
        PublishedRow("PaperBERT", "a base encoder", {"n1": 90.0, "n2": 80.0, "q1": 60.0, "elsewhere": 1.0}, 77.7),
        PublishedRow("Partial", "another", {"n1": 88.0})))
    board = build_leaderboard("s", entries, families=["NER", "QA"], published=published)
    paper = board["published"]["rows"]["PaperBERT"]
    assert paper["scores"] == {"n1": 90.0, "n2": 80.0, "q1": 60.0}, "only the suite's datasets"
    assert paper["families"]["NER"]["mean"] == pytest.approx(85.0) and paper["blurb"] == pytest.approx(72.5)
    assert board["published"]["rows"]["Partial"]["blurb"] is None, "a family without a published number: no score"
    assert board["backbones"]["a"]["blurb"]["score"] == pytest.approx(0.65), "biotune's averages are untouched"
    text = render_markdown(board)
    rows = _rows(text)
    assert rows["dataset"] == ["family", "metric", "a", "b", "PaperBERT (published)", "Partial (published)"]
    assert rows["n1"][-2:] == ["90.00", "88.00"] and rows["q1"][-2:] == ["60.00", "–"]
    assert rows["**NER** (family average)"][-2:] == ["85.00", "88.00 (1/2 datasets)"]
    assert rows["**BLURB score**"][-2:] == ["72.50", "–"]
    assert rows["**BLURB score as published**"] == ["", "over all of the paper's families", "–", "–", "77.70", "–"]
    assert "Source: Gu et al. (2021), Table 4" in text and "PaperBERT: a base encoder" in text


def test_a_run_of_another_config_is_not_reported(tmp_path: Path) -> None:
    """Seed 1 finished under the old config (stale), seed 2 under the planned one: only seed 2's value counts,
    the dataset is not complete (so no family mean takes it) and the stale seed says which keys changed."""
    _run(tmp_path, "r", 1, {"test": _ner(0.30)})
    _run(tmp_path, "r", 2, {"test": _ner(0.80)})
    entry = Entry("a", "d", "NER", tmp_path, "r", (1, 2), stale={1: "training.learning_rate"})
    board = build_leaderboard("s", [entry], families=["NER"])
    cell = board["backbones"]["a"]["datasets"]["d"]
    assert (cell["status"], cell["values"], cell["mean"]) == ("stale", {"2": 0.80}, 0.80)
    assert cell["stale"] == {"1": "run of another config (differs in training.learning_rate): retrain it with --overwrite"}
    assert "stale (1/2 seeds)" in render_markdown(board)
    assert board["backbones"]["a"]["families"]["NER"]["mean"] is None
