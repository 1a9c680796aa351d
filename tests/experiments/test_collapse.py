"""Predictions collapsed to one class are named by the task's result (`Result.collapse`), and a run says so
in its summary and model card, and aggregation in its table; predictions of several classes are not flagged."""

from __future__ import annotations

import json
from pathlib import Path

from biotune.experiments.aggregate import aggregate
from biotune.experiments.run import train
from biotune.tasks.multilabel.metrics import score_sets
from biotune.tasks.ner.metrics import evaluate_tags
from biotune.tasks.qa.metrics import score_decisions
from biotune.tasks.re.metrics import score_relations
from biotune.tasks.similarity.metrics import score_similarity
from tests.tasks.qa.test_task import qa_config

GOLD = ["yes", "no", "yes", "maybe"]


def test_one_answer_for_every_question_is_a_collapse() -> None:
    assert score_decisions(GOLD, ["yes"] * 4, ["yes", "no", "maybe"]).collapse == "all 4 questions predicted 'yes'"
    assert score_decisions(GOLD, ["yes", "no", "yes", "yes"], ["yes", "no", "maybe"]).collapse is None
    assert score_decisions(["yes", "yes"], ["yes", "yes"], ["yes", "no"]).collapse is None  # gold of one class


def test_all_negative_relations_are_a_collapse() -> None:
    labels = ["0", "CPR:3", "CPR:4"]
    assert score_relations(["0", "CPR:3", "CPR:4"], ["0"] * 3, labels, "0").collapse == "all 3 pairs predicted '0'"
    assert score_relations(["0", "CPR:3", "CPR:4"], ["0", "CPR:3", "0"], labels, "0").collapse is None


def test_all_o_is_a_collapse_for_ner() -> None:
    gold = [["B-Chemical", "O"], ["O", "O", "B-Disease"]]
    assert evaluate_tags(gold, [["O", "O"], ["O", "O", "O"]]).collapse == "no entity predicted in 2 sentences (all O)"
    assert evaluate_tags(gold, [["B-Chemical", "O"], ["O", "O", "O"]]).collapse is None


def test_one_score_for_every_pair_is_a_collapse_for_similarity() -> None:
    gold = [0.0, 1.5, 3.0, 4.0]
    assert score_similarity(gold, [2.1, 2.1, 2.1, 2.1]).collapse.startswith("one score for all 4 pairs")
    assert score_similarity(gold, [2.1, 2.1, 2.1, 2.101]).collapse is not None  # under 1% of the gold's spread
    assert score_similarity(gold, [0.5, 1.0, 2.0, 3.0]).collapse is None


def test_one_label_set_for_every_sentence_is_a_collapse_for_multilabel() -> None:
    documents, labels = ["d1", "d1", "d2"], ["a", "b"]
    gold = [{"a"}, set(), {"b"}]
    collapsed = score_sets(documents, gold, [{"a"}, {"a"}, {"a"}], labels, 0.5, "the model's")
    assert collapsed.collapse == "the same labels for all 3 sentences (a)"
    assert score_sets(documents, gold, [set(), set(), set()], labels, 0.5, "the model's").collapse.endswith("(none)")
    assert score_sets(documents, gold, [{"a"}, set(), {"a"}], labels, 0.5, "the model's").collapse is None


def _tsv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """BLURB yes/no rows from (question, context, label)."""
    path.write_text("".join(f"question: {q} context: {c}\t{label}\n" for q, c, label in rows), encoding="utf-8")
    return path


def test_a_yesno_run_that_answers_one_way_says_so_everywhere(tmp_path: Path, word_backbone: Path) -> None:
    """Every training question reads the same text, so the model can learn only the prior (mostly yes):
    it answers yes to every test question, though the test split holds both answers."""
    same = ("patient developed tremor", "the patient was given treatment .")
    train_file = _tsv(tmp_path / "train.tsv", [(*same, "yes")] * 7 + [(*same, "no")])
    dev_file = _tsv(tmp_path / "dev.tsv", [(*same, "no"), (*same, "yes"), (*same, "no"), (*same, "yes")])
    test_file = _tsv(tmp_path / "test.tsv", [(*same, "yes"), (*same, "no"), (*same, "no")])
    config = qa_config(word_backbone, tmp_path / "out", train_file, [test_file], dev=dev_file, task="yesno",
                       epochs=3, learning_rate=1e-2, qa={"class_weights": "none"})
    result = train(config)
    message = "all 3 questions predicted 'yes'"
    assert result.summary["collapsed"] == {"dev": "all 4 questions predicted 'yes'", "test": message}
    assert result.summary["best_dev_score"] == 0.5  # every epoch collapsed: the best of them is still selected
    assert json.loads((result.paths.results / "eval_test.json").read_text())["test"]["collapse"] == message
    card = (result.paths.best_model / "README.md").read_text(encoding="utf-8")
    assert "## Warning: collapsed predictions" in card and f"- test: {message}" in card
    aggregated = aggregate(result.paths.results.parent)
    assert aggregated["test_sets"]["test"]["collapsed"] == {"7": message}
    assert aggregated["dev_collapsed"] == {"7": "all 4 questions predicted 'yes'"}
    table = (result.paths.results.parent / "aggregated_results.md").read_text(encoding="utf-8")
    assert f"**Warning: collapsed** (seed 7, test): {message}" in table


def test_a_yesno_run_that_learns_is_not_flagged(tmp_path: Path, word_backbone: Path) -> None:
    rows = [("patient developed tremor", f"the patient developed acute {d} after aspirin .",
             "yes" if d == "tremor" else "no") for d in ["tremor", "asthma"] * 6]
    path = _tsv(tmp_path / "train.tsv", rows)
    result = train(qa_config(word_backbone, tmp_path / "out", path, [path], task="yesno", epochs=20))
    assert result.results["train"].accuracy == 1.0
    assert result.summary["collapsed"] == {}
    assert "Warning: collapsed" not in (result.paths.best_model / "README.md").read_text(encoding="utf-8")
