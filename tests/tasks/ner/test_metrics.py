"""Tests for span- and word-level metrics: hand-computed values and agreement with seqeval."""

from __future__ import annotations

import json
import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from biotune.formats.sentence import Span
from biotune.errors import BiotuneError
from biotune.formats.schemes import tags_to_spans as tag_spans
from biotune.tasks.ner.metrics import EvalResult, Scores, evaluate_tags

# Three sentences with one exact match per kind of error, worked out by hand below.
GOLD = [
    ["B-Chem", "I-Chem", "O", "B-Dis", "I-Dis"],
    ["O", "B-Chem", "O", "O"],
    ["B-Dis", "O"],
]
PRED = [
    ["B-Chem", "I-Chem", "O", "B-Dis", "O"],  # Chem exact; Dis too short: 1 FP + 1 FN
    ["O", "I-Chem", "O", "B-Dis"],  # I- after O opens a Chem span (exact); Dis spurious: FP
    ["B-Chem", "O"],  # wrong type: Chem FP + Dis FN
]


def test_tag_spans_follow_conlleval() -> None:
    tags = ["I-A", "I-A", "B-A", "I-B", "O", "I-A"]
    assert tag_spans(tags) == [Span(0, 2, "A"), Span(2, 3, "A"), Span(3, 4, "B"), Span(5, 6, "A")]


def test_hand_computed_conlleval_example() -> None:
    result = evaluate_tags(GOLD, PRED)

    assert result.scored_types == ("Chem", "Dis")
    assert result.per_type["Chem"] == Scores(2 / 3, 1.0, 0.8, support=2, predicted=3, tp=2)
    assert result.per_type["Dis"] == Scores(precision=0.0, recall=0.0, f1=0.0, support=2, predicted=2, tp=0)
    assert result.micro == Scores(0.4, 0.5, pytest.approx(4 / 9), support=4, predicted=5, tp=2)
    assert result.macro == Scores(
        precision=pytest.approx(1 / 3), recall=0.5, f1=pytest.approx(0.4), support=4, predicted=5, tp=2
    )
    assert result.f1 == pytest.approx(4 / 9)
    assert (result.n_sentences, result.n_words) == (3, 11)
    assert result.unannotated_predictions == {}


def test_boundary_error_counts_as_false_positive_and_false_negative() -> None:
    result = evaluate_tags([["B-A", "I-A", "I-A"]], [["B-A", "I-A", "O"]])
    assert (result.micro.tp, result.micro.support, result.micro.predicted) == (0, 1, 1)
    assert result.f1 == 0.0
    assert result.token.tp == 2


def test_token_level_hand_computed() -> None:
    # Words typed (gold | pred): S1 C C - D D | C C - D -; S2 - C - - | - C - D; S3 D - | C -
    # tp = 3 + 1 + 0, gold entity words = 6, predicted entity words = 6.
    token = evaluate_tags(GOLD, PRED).token
    assert token == Scores(precision=4 / 6, recall=4 / 6, f1=4 / 6, support=6, predicted=6, tp=4)


def test_token_level_ignores_prefix_but_spans_do_not() -> None:
    result = evaluate_tags([["B-A", "I-A", "O"]], [["I-A", "B-A", "B-B"]])
    assert result.micro.tp == 0
    assert result.token == Scores(precision=2 / 3, recall=1.0, f1=0.8, support=2, predicted=3, tp=2)


# --- agreement with seqeval -------------------------------------------------------------------

ILL_FORMED_GOLD = [["I-A", "I-A", "O", "B-B", "I-A"], ["B-A", "I-B", "I-B", "O"]]
ILL_FORMED_PRED = [["B-A", "I-A", "O", "I-B", "B-A"], ["I-A", "B-B", "I-B", "I-C"]]


def _assert_matches_seqeval(gold: list[list[str]], pred: list[list[str]]) -> None:
    result = evaluate_tags(gold, pred)
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    assert result.micro.precision == pytest.approx(precision_score(gold, pred, zero_division=0))
    assert result.micro.recall == pytest.approx(recall_score(gold, pred, zero_division=0))
    assert result.f1 == pytest.approx(f1_score(gold, pred, zero_division=0))
    assert set(result.per_type) == set(report) - {"micro avg", "macro avg", "weighted avg"}
    for type_, scores in result.per_type.items():
        expected = report[type_]
        assert scores.precision == pytest.approx(expected["precision"])
        assert scores.recall == pytest.approx(expected["recall"])
        assert scores.f1 == pytest.approx(expected["f1-score"])
        assert scores.support == expected["support"]
    macro = report["macro avg"]
    assert (result.macro.precision, result.macro.recall, result.macro.f1) == pytest.approx(
        (macro["precision"], macro["recall"], macro["f1-score"])
    )


@pytest.mark.parametrize(
    ("gold", "pred"),
    [(GOLD, PRED), (ILL_FORMED_GOLD, ILL_FORMED_PRED), (ILL_FORMED_PRED, ILL_FORMED_GOLD)],
    ids=["well-formed", "ill-formed", "ill-formed-swapped"],
)
def test_matches_seqeval(gold: list[list[str]], pred: list[list[str]]) -> None:
    _assert_matches_seqeval(gold, pred)


def test_matches_seqeval_on_random_sequences() -> None:
    rng = random.Random(13)
    tags = ["O", "O", "O", "B-A", "I-A", "B-B", "I-B", "B-C", "I-C"]
    compared = 0
    for _ in range(300):
        lengths = [rng.randint(0, 10) for _ in range(rng.randint(1, 5))]
        gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        pred = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        if not evaluate_tags(gold, pred).scored_types:
            continue  # seqeval's report has nothing to compare against
        _assert_matches_seqeval(gold, pred)
        compared += 1
    assert compared > 250


# --- label space ------------------------------------------------------------------------------

TWO_TYPE_GOLD = [
    ["B-Chem", "O", "B-Dis", "O"],
    ["O", "B-Chem", "I-Chem", "O"],
    ["B-Chem", "O", "B-Gene"],
]
THREE_TYPE_PRED = [
    ["B-Chem", "B-Species", "B-Dis", "O"],
    ["B-Species", "B-Chem", "I-Chem", "B-Species"],
    ["B-Species", "O", "O"],
]


def _without(tags: list[list[str]], type_: str) -> list[list[str]]:
    return [["O" if tag.endswith(f"-{type_}") else tag for tag in sentence] for sentence in tags]


def test_unannotated_predictions_are_reported_not_scored() -> None:
    result = evaluate_tags(TWO_TYPE_GOLD, THREE_TYPE_PRED, annotated_types={"Chem", "Dis"})

    assert result.scored_types == ("Chem", "Dis")
    assert set(result.per_type) == {"Chem", "Dis"}
    assert result.unannotated_predictions == {"Species": 4}
    # Chem: 3 gold, 2 found; Dis: 1 gold, 1 found; Gene (gold only, unannotated) is ignored.
    assert result.micro == Scores(1.0, 0.75, pytest.approx(6 / 7), support=4, predicted=3, tp=3)


def test_unannotated_predictions_score_like_deleted_ones() -> None:
    annotated = {"Chem", "Dis"}
    with_extra = evaluate_tags(TWO_TYPE_GOLD, THREE_TYPE_PRED, annotated_types=annotated).to_dict()
    pred_deleted = _without(THREE_TYPE_PRED, "Species")
    deleted = evaluate_tags(TWO_TYPE_GOLD, pred_deleted, annotated_types=annotated).to_dict()

    assert with_extra.pop("unannotated_predictions") == {"Species": 4}
    assert deleted.pop("unannotated_predictions") == {}
    assert with_extra == deleted


def test_without_annotated_types_extra_predictions_are_false_positives() -> None:
    result = evaluate_tags(TWO_TYPE_GOLD, THREE_TYPE_PRED)

    assert result.scored_types == ("Chem", "Dis", "Gene", "Species")
    assert result.per_type["Species"] == Scores(0.0, 0.0, 0.0, support=0, predicted=4, tp=0)
    assert (result.micro.tp, result.micro.support, result.micro.predicted) == (3, 5, 7)
    assert result.unannotated_predictions == {}


def test_annotated_types_restrict_token_level_to_scored_types() -> None:
    # Word 0: gold Chem, predicted Species -> missed Chem word, not a false positive.
    gold, pred = [["B-Chem", "B-Gene", "O"]], [["B-Species", "B-Gene", "B-Dis"]]
    result = evaluate_tags(gold, pred, annotated_types=["Chem", "Dis"])
    assert result.token == Scores(precision=0.0, recall=0.0, f1=0.0, support=1, predicted=1, tp=0)


def test_macro_skips_annotated_types_without_gold_or_predictions() -> None:
    result = evaluate_tags([["B-A", "O"]], [["B-A", "O"]], annotated_types=["A", "B"])
    assert result.per_type["B"] == Scores(0.0, 0.0, 0.0, support=0, predicted=0, tp=0)
    assert result.macro.f1 == 1.0


def test_annotated_types_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError):
        evaluate_tags([["B-A"]], [["B-A"]], annotated_types="A")


# --- edge cases and contract ------------------------------------------------------------------


def test_zero_division_gives_zero() -> None:
    result = evaluate_tags([["B-A", "O"]], [["O", "O"]])
    assert result.micro == Scores(0.0, 0.0, 0.0, support=1, predicted=0, tp=0)
    empty = evaluate_tags([["O"], []], [["O"], []])
    assert empty.scored_types == ()
    assert empty.micro == empty.macro == empty.token == Scores(0.0, 0.0, 0.0, 0, 0, 0)


def test_sentence_count_mismatch_raises() -> None:
    with pytest.raises(BiotuneError, match="2 sentences .* 1"):
        evaluate_tags([["O"], ["O"]], [["O"]])


def test_sentence_length_mismatch_names_the_sentence() -> None:
    with pytest.raises(BiotuneError, match="sentence 1: gold has 3 tags but prediction has 2"):
        evaluate_tags([["O"], ["O", "B-A", "I-A"]], [["O"], ["O", "B-A"]])


def test_to_dict_is_json_safe_with_stable_keys() -> None:
    result = evaluate_tags(TWO_TYPE_GOLD, THREE_TYPE_PRED, annotated_types={"Dis", "Chem"})
    data = json.loads(json.dumps(result.to_dict()))

    assert list(data) == [
        "per_type",
        "micro",
        "macro",
        "token",
        "unannotated_predictions",
        "n_sentences",
        "n_words",
        "scored_types",
    ]
    assert list(data["micro"]) == ["precision", "recall", "f1", "support", "predicted", "tp"]
    assert data["scored_types"] == ["Chem", "Dis"]
    assert data["unannotated_predictions"] == {"Species": 4}
    assert (data["n_sentences"], data["n_words"]) == (3, 11)
    assert isinstance(result, EvalResult)
