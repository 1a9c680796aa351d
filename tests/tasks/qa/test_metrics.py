"""BioASQ's QA measures against hand-computed examples: synonyms, lowercasing only, top 5, gold
entries used up once, means over every gold question, the list threshold search, yes/no and
PubMedQA accuracy and macro-F1 (against scikit-learn where it is installed)."""

from __future__ import annotations

import json
import random

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.qa.examples import QaQuestion
from biotune.tasks.qa.metrics import (
    best_list_threshold,
    cut_list,
    normalise_answer,
    render_markdown,
    score_decisions,
    score_factoid,
    score_list,
)


def factoid(qid: str, *entries: tuple[str, ...]) -> QaQuestion:
    return QaQuestion(qid, "factoid", f"question {qid}?", tuple(entries))


def listq(qid: str, *entries: tuple[str, ...]) -> QaQuestion:
    return QaQuestion(qid, "list", f"question {qid}?", tuple(entries))


def headline_from_dict(result_dict: dict, key: str) -> float:
    node = result_dict
    for part in key.split("."):
        node = node[part]
    return node


def test_normalisation_is_lowercasing_only() -> None:
    assert normalise_answer("PD-L1") == "pd-l1"
    # the official evaluator neither trims nor strips punctuation
    assert normalise_answer("  Programmed Death-Ligand 1. ") == "  programmed death-ligand 1. "


# ---- factoid ------------------------------------------------------------------------------

FACTOID_GOLD = [
    factoid("q1", ("PD-L1", "programmed death ligand 1")),
    factoid("q2", ("BRCA1",), ("breast cancer 1",)),  # two entries: every string is a synonym of the one answer
    factoid("q3", ("TP53",)),
    factoid("q4", ("insulin",)),
]


def test_factoid_synonym_at_rank_three_is_lenient_not_strict() -> None:
    result = score_factoid(FACTOID_GOLD[:1], {"q1": ["PD-1", "CTLA-4", "Programmed Death Ligand 1", "LAG3", "TIM3"]})
    assert (result.strict, result.lenient, result.mrr) == pytest.approx((0.0, 1.0, 1 / 3))


def test_factoid_means_over_every_gold_question_with_top_five() -> None:
    ranked = {
        "q1": ["PD-1", "CTLA-4", "programmed DEATH ligand 1"],  # synonym at rank 3: RR 1/3
        "q2": ["breast cancer 1", "BRCA2"],  # the second entry's synonym, case-matched, first: strict
        # q3: no prediction at all -> 0
        "q4": ["a", "b", "c", "d", "e", "Insulin"],  # right only at rank 6: outside the top 5
    }
    result = score_factoid(FACTOID_GOLD, ranked)
    assert (result.questions, result.answered, result.top_k) == (4, 3, 5)
    assert result.strict == pytest.approx(1 / 4)
    assert result.lenient == pytest.approx(2 / 4)
    assert result.mrr == pytest.approx((1 / 3 + 1) / 4)
    wider = score_factoid(FACTOID_GOLD, ranked, top_k=6)  # rank 6 counts once the cut allows it
    assert wider.lenient == pytest.approx(3 / 4) and wider.mrr == pytest.approx((1 / 3 + 1 + 1 / 6) / 4)


def test_factoid_duplicates_keep_their_ranks_and_whitespace_is_not_trimmed() -> None:
    gold = [factoid("q1", ("KRAS",))]
    # "egfr" repeats "EGFR" but still takes rank 2, as submitted: KRAS is at rank 3
    assert score_factoid(gold, {"q1": ["EGFR", "egfr", "kras"]}).mrr == pytest.approx(1 / 3)
    assert score_factoid(gold, {"q1": [" KRAS"]}).lenient == 0.0


def test_factoid_result_json_and_markdown() -> None:
    result = score_factoid(FACTOID_GOLD, {"q2": ["BRCA1"]})
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"kind", "n_questions", "strict", "lenient", "mrr", "top_k", "answered"}
    assert data["kind"] == "factoid" and data["answered"] == 1
    assert (result.headline_key, headline_from_dict(data, result.headline_key)) == ("mrr", pytest.approx(1 / 4))
    text = render_markdown(data, title="BioASQ 7b factoid")
    assert text.startswith("# BioASQ 7b factoid\n") and "headline mrr = 25.00" in text
    assert "| strict accuracy  |" in text and "25.00 |" in text
    assert render_markdown(result) == render_markdown(data)


# ---- list ---------------------------------------------------------------------------------

LIST_GOLD = [
    listq("qa", ("EGFR", "HER1"), ("KRAS",), ("BRAF",)),
    listq("qb", ("insulin",)),
    listq("qc", ("a",), ("b",)),
    listq("qd", ("x",)),
]


def test_list_each_gold_entry_counts_once_and_duplicates_are_false_positives() -> None:
    # qa: egfr TP (uses up EGFR/HER1), HER1 FP (entry used), EGFR FP (duplicate), braf TP, MYC FP
    #     -> TP 2 of 5 submitted, 2 of 3 gold entries: P 2/5, R 2/3, F1 2*2/(5+3) = 1/2
    result = score_list(LIST_GOLD[:1], {"qa": ["egfr", "HER1", "EGFR", "braf", "MYC"]})
    assert (result.precision, result.recall, result.f1) == pytest.approx((2 / 5, 2 / 3, 1 / 2))


def test_list_means_are_of_per_question_scores_over_all_gold_questions() -> None:
    predicted = {"qa": ["egfr", "HER1", "EGFR", "braf", "MYC"], "qb": ["Insulin"], "qd": []}  # qc: none
    result = score_list(LIST_GOLD, predicted, threshold=0.3)
    assert result.questions == 4 and result.threshold == 0.3
    assert result.precision == pytest.approx((2 / 5 + 1) / 4)
    assert result.recall == pytest.approx((2 / 3 + 1) / 4)
    # the mean of per-question F1s (1/2 and 1), not the F1 of the mean P and R (0.3804)
    assert result.f1 == pytest.approx((1 / 2 + 1) / 4)
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"kind", "n_questions", "mean", "threshold"} and set(data["mean"]) == {"precision", "recall", "f1"}
    assert (result.headline_key, headline_from_dict(data, "mean.f1")) == ("mean.f1", pytest.approx(0.375))
    text = render_markdown(data, "list")
    assert "kept at score >= 0.3" in text and "headline mean F1 = 37.50" in text and "| 35.00 |" in text
    assert "as predicted" in render_markdown(score_list(LIST_GOLD, {}))


def test_cut_list_sorts_drops_duplicates_and_keeps_the_top_answer() -> None:
    candidates = {"q1": [("b", 0.2), ("A", 0.9), ("a", 0.8), ("c", 0.5)], "q2": [("z", 0.1)], "q3": []}
    assert cut_list(candidates, 0.5) == {"q1": ["A", "c"], "q2": ["z"], "q3": []}
    assert cut_list(candidates, 0.5, keep_at_least_one=False) == {"q1": ["A", "c"], "q2": [], "q3": []}


# Three questions; mean F1 at each threshold (keeping at least the top answer):
#   t   | q1 kept     F1  | q2 kept  F1  | q3 kept F1 | mean
#   0.9 | a           2/3 | d        1   | g    2/3   | 7/9
#   0.8 | a           2/3 | d        1   | g    2/3   | 7/9
#   0.7 | a           2/3 | d e      2/3 | g    2/3   | 2/3
#   0.6 | a c         1/2 | d e      2/3 | g    2/3   | 11/18
#   0.55| a c         1/2 | d e      2/3 | g    2/3   | 11/18
#   0.5 | a c b       4/5 | d e      2/3 | g h  1     | 37/45   <- best, tied with 0.4: the higher wins
#   0.4 | a c b       4/5 | d e (D dup) 2/3 | g h 1   | 37/45
THRESHOLD_GOLD = [listq("q1", ("a",), ("b",)), listq("q2", ("d",)), listq("q3", ("g",), ("h",))]
THRESHOLD_CANDIDATES = {
    "q1": [("a", 0.9), ("c", 0.6), ("b", 0.5)],
    "q2": [("d", 0.8), ("e", 0.7), ("D", 0.4)],
    "q3": [("g", 0.55), ("h", 0.5)],
}


def test_best_list_threshold_on_a_hand_computed_example() -> None:
    threshold, result = best_list_threshold(THRESHOLD_GOLD, THRESHOLD_CANDIDATES)
    assert threshold == 0.5 and result.threshold == 0.5
    assert result.f1 == pytest.approx(37 / 45)
    assert result.precision == pytest.approx((2 / 3 + 1 / 2 + 1) / 3) and result.recall == pytest.approx(1.0)
    # without the top-answer rule, 0.9 and 0.8 leave q2 or q3 empty; 0.5 still wins
    assert best_list_threshold(THRESHOLD_GOLD, THRESHOLD_CANDIDATES, keep_at_least_one=False)[0] == 0.5


def test_best_list_threshold_ties_go_to_the_highest_threshold() -> None:
    # q1 and q2 only: 0.9 and 0.8 both give (2/3 + 1) / 2 with the top answer kept; 0.5 gives (4/5 + 2/3) / 2
    gold, candidates = THRESHOLD_GOLD[:2], {k: THRESHOLD_CANDIDATES[k] for k in ("q1", "q2")}
    threshold, result = best_list_threshold(gold, candidates)
    assert threshold == 0.9 and result.f1 == pytest.approx(5 / 6)
    # without it, 0.9 leaves q2 empty (mean 1/3), so 0.8 is the one best
    assert best_list_threshold(gold, candidates, keep_at_least_one=False)[0] == 0.8


@pytest.mark.parametrize("keep", [True, False])
def test_best_list_threshold_equals_scoring_every_cut(keep: bool) -> None:
    rng = random.Random(7)
    names = [f"n{i}" for i in range(8)]
    gold, candidates = [], {}
    for q in range(12):
        entries = tuple((name, name.upper() + "x") for name in rng.sample(names, rng.randint(1, 4)))
        gold.append(listq(f"q{q}", *entries))
        candidates[f"q{q}"] = [(rng.choice(names + ["N1", "N2"]), round(rng.random(), 2)) for _ in range(rng.randint(0, 6))]
    by_cut = {t: score_list(gold, cut_list(candidates, t, keep)).f1
              for t in {s for scored in candidates.values() for _, s in scored}}
    best = max(by_cut.values())
    threshold, result = best_list_threshold(gold, candidates, keep)
    assert result.f1 == pytest.approx(best)
    assert threshold == max(t for t, f1 in by_cut.items() if f1 == pytest.approx(best))


# ---- yes/no and PubMedQA ------------------------------------------------------------------

PUBMEDQA_GOLD = ["yes", "yes", "no", "no", "yes", "maybe"]
PUBMEDQA_PRED = ["yes", "no", "no", "yes", "yes", "no"]
PUBMEDQA_LABELS = ("yes", "no", "maybe")


def test_decisions_accuracy_per_class_macro_f1_and_confusion() -> None:
    result = score_decisions(PUBMEDQA_GOLD, PUBMEDQA_PRED, PUBMEDQA_LABELS)
    # rows gold yes, no, maybe; columns predicted
    assert result.confusion == ((2, 1, 0), (1, 1, 0), (0, 1, 0))
    yes, no, maybe = (result.per_class[label] for label in PUBMEDQA_LABELS)
    assert (yes.precision, yes.recall, yes.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (no.precision, no.recall, no.f1, no.support, no.predicted) == pytest.approx((1 / 3, 1 / 2, 2 / 5, 2, 3))
    assert (maybe.f1, maybe.support, maybe.predicted) == (0.0, 1, 0)  # never predicted: counts 0 in the macro
    assert result.accuracy == pytest.approx(3 / 6)
    assert result.macro_f1 == pytest.approx((2 / 3 + 2 / 5 + 0) / 3)
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"kind", "n_examples", "accuracy", "macro_f1", "per_class", "confusion"}
    assert set(data["per_class"]["no"]) == {"precision", "recall", "f1", "support", "predicted"}
    assert data["confusion"] == {"labels": ["yes", "no", "maybe"], "matrix": [[2, 1, 0], [1, 1, 0], [0, 1, 0]]}
    assert (result.headline_key, headline_from_dict(data, "accuracy")) == ("accuracy", pytest.approx(0.5))
    text = render_markdown(data, "PubMedQA")
    assert "headline accuracy = 50.00, macro-F1 = 35.56" in text
    assert "| no      | 33.33 | 50.00 | 40.00 |         2 |           3 |" in text
    assert "| maybe              |     0 |    1 |       0 |" in text


def test_bioasq_yes_no_macro_f1_is_the_mean_of_yes_and_no_f1() -> None:
    # yes: TP 2, FN 1, FP 0 -> F1 4/5; no: TP 1, FN 0, FP 1 -> F1 2/3 (BioASQ's 2TP / (2TP + FP + FN))
    result = score_decisions(["yes", "yes", "yes", "no"], ["yes", "no", "yes", "no"], ("yes", "no"))
    assert result.macro_f1 == pytest.approx((4 / 5 + 2 / 3) / 2) and result.accuracy == pytest.approx(3 / 4)


def test_decisions_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    result = score_decisions(PUBMEDQA_GOLD, PUBMEDQA_PRED, PUBMEDQA_LABELS)
    labels = list(PUBMEDQA_LABELS)
    assert result.accuracy == pytest.approx(metrics.accuracy_score(PUBMEDQA_GOLD, PUBMEDQA_PRED))
    assert result.macro_f1 == pytest.approx(metrics.f1_score(PUBMEDQA_GOLD, PUBMEDQA_PRED, labels=labels,
                                                             average="macro", zero_division=0))
    p, r, f, s = metrics.precision_recall_fscore_support(PUBMEDQA_GOLD, PUBMEDQA_PRED, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        ours = result.per_class[label]
        assert (ours.precision, ours.recall, ours.f1, ours.support) == pytest.approx((p[i], r[i], f[i], s[i]))
    assert [list(row) for row in result.confusion] == metrics.confusion_matrix(PUBMEDQA_GOLD, PUBMEDQA_PRED,
                                                                               labels=labels).tolist()


# ---- bad input ----------------------------------------------------------------------------

def test_a_prediction_for_a_question_not_in_the_gold_is_refused() -> None:
    with pytest.raises(BiotuneError, match="not in the gold: q9"):
        score_factoid(FACTOID_GOLD, {"q1": ["PD-L1"], "q9": ["x"]})
    with pytest.raises(BiotuneError, match="not in the gold: zz"):
        score_list(LIST_GOLD, {"zz": ["x"]})
    with pytest.raises(BiotuneError, match="not in the gold: zz"):
        best_list_threshold(LIST_GOLD, {"zz": [("x", 0.5)]})


def test_gold_without_answers_or_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(BiotuneError, match="factoid question q5 has no gold answer"):
        score_factoid([factoid("q5")], {})
    with pytest.raises(BiotuneError, match="list question l1: gold answer 2 has no synonym"):
        score_list([listq("l1", ("a",), ())], {})
    with pytest.raises(BiotuneError, match="question l1 is a list question, not factoid"):
        score_factoid([listq("l1", ("a",))], {})
    with pytest.raises(BiotuneError, match="question q1 is twice in the gold"):
        score_factoid([FACTOID_GOLD[0], FACTOID_GOLD[0]], {})
    with pytest.raises(BiotuneError, match="no list questions"):
        score_list([], {})


def test_answers_given_as_one_string_are_refused() -> None:
    with pytest.raises(BiotuneError, match="question q1: answers must be a list"):
        score_factoid(FACTOID_GOLD, {"q1": "PD-L1"})


def test_decisions_bad_input() -> None:
    with pytest.raises(BiotuneError, match="'perhaps' are not in the label space"):
        score_decisions(["yes"], ["perhaps"], ("yes", "no"))
    with pytest.raises(BiotuneError, match="gold has 2 examples but predictions have 1"):
        score_decisions(["yes", "no"], ["yes"], ("yes", "no"))
    with pytest.raises(BiotuneError, match="distinct"):
        score_decisions(["yes"], ["yes"], ("yes", "yes"))


def test_render_refuses_a_result_of_another_task() -> None:
    with pytest.raises(BiotuneError, match="not a question-answering result"):
        render_markdown({"micro": {}}, "x")
