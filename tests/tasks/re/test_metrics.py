"""Relation scores against hand-computed examples: negative class excluded from micro, binary, macro, confusion."""

from __future__ import annotations

import json

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.re.metrics import render_markdown, score_relations

LABELS = ("0", "A", "B", "C")
#        pair:  0    1    2    3    4    5    6    7    8    9
GOLD = ["A", "A", "A", "B", "B", "0", "0", "0", "0", "A"]
PRED = ["A", "A", "B", "B", "0", "0", "A", "0", "0", "0"]


def test_re_multiclass_scores_exclude_the_negative_class_from_micro() -> None:
    result = score_relations(GOLD, PRED, LABELS, negative="0")
    # Confusion, rows gold (0, A, B, C), columns predicted:
    #   gold 0 (pairs 5-8) -> 0, A, 0, 0   gold A (0, 1, 2, 9) -> A, A, B, 0   gold B (3, 4) -> B, 0
    assert result.confusion == ((3, 1, 0, 0), (1, 2, 1, 0), (1, 0, 1, 0), (0, 0, 0, 0))
    a, b, negative = result.per_class["A"], result.per_class["B"], result.per_class["0"]
    # A: tp 2, gold 4, predicted 3 (pairs 0, 1, 6) -> P 2/3, R 2/4, F1 2*2/(4+3) = 4/7
    assert (a.tp, a.support, a.predicted) == (2, 4, 3)
    assert (a.precision, a.recall, a.f1) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    # B: tp 1 (pair 3), gold 2, predicted 2 (pairs 2, 3) -> P R F1 1/2
    assert (b.precision, b.recall, b.f1) == pytest.approx((1 / 2, 1 / 2, 1 / 2))
    # 0: tp 3, gold 4, predicted 5 (pairs 4, 5, 7, 8, 9) -> P 3/5, R 3/4, F1 6/9
    assert (negative.precision, negative.recall, negative.f1) == pytest.approx((3 / 5, 3 / 4, 2 / 3))
    # micro over A, B, C (0 excluded): tp 2+1 = 3, gold 4+2 = 6, predicted 3+2 = 5 -> P 3/5, R 1/2, F1 6/11.
    # Counting the negative class too would give 6/10 for all three: the exclusion is what is tested.
    assert (result.micro.tp, result.micro.support, result.micro.predicted) == (3, 6, 5)
    assert (result.micro.precision, result.micro.recall, result.micro.f1) == pytest.approx((3 / 5, 1 / 2, 6 / 11))
    # macro over the classes with gold or predictions (0, A, B; C has neither)
    assert result.macro.precision == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    assert result.macro.recall == pytest.approx((3 / 4 + 1 / 2 + 1 / 2) / 3)
    assert result.macro.f1 == pytest.approx((2 / 3 + 4 / 7 + 1 / 2) / 3)
    assert result.binary is None
    assert (result.headline_key, result.headline) == ("micro.f1", pytest.approx(6 / 11))


def test_re_binary_scores_are_the_positive_class() -> None:
    result = score_relations(["1", "1", "0", "0", "1"], ["1", "0", "1", "0", "1"], ("0", "1"), negative="0")
    # class 1: tp 2 (pairs 0, 4), gold 3, predicted 3 -> P R F1 2/3; class 0: tp 1, gold 2, predicted 2 -> 1/2
    assert result.binary is not None
    assert (result.binary.precision, result.binary.recall, result.binary.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert result.micro == result.binary
    assert result.macro.f1 == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert (result.headline_key, result.headline) == ("binary.f1", pytest.approx(2 / 3))


def test_re_without_a_negative_class_micro_is_accuracy() -> None:
    result = score_relations(["x", "y", "y"], ["x", "x", "y"], ("x", "y"), negative=None)
    assert result.micro.f1 == pytest.approx(2 / 3) and result.binary is None


def test_re_result_dict_is_json_and_headline_key_points_into_it() -> None:
    result = score_relations(GOLD, PRED, LABELS, negative="0")
    data = json.loads(json.dumps(result.to_dict()))
    section, key = result.headline_key.split(".")
    assert data[section][key] == data["headline"]["value"] == pytest.approx(6 / 11)
    assert data["confusion"][1] == [1, 2, 1, 0] and data["negative"] == "0" and data["n_examples"] == 10
    assert render_markdown(data, "ChemProt") == render_markdown(result, "ChemProt")


def test_re_markdown_lists_classes_averages_and_confusion() -> None:
    text = render_markdown(score_relations(GOLD, PRED, LABELS, negative="0"), "toy")
    assert "10 pairs; headline micro.f1 = 54.55" in text
    lines = text.splitlines()
    assert "| 0 (negative)                      | 60.00 | 75.00 | 66.67 |         4 |           5 |" in lines
    assert "| A                                 | 66.67 | 50.00 | 57.14 |         4 |           3 |" in lines
    assert "| **micro** (relations, 0 excluded) | 60.00 | 50.00 | 54.55 |         6 |           5 |" in lines
    confusion = lines.index("Confusion (rows gold, columns predicted):") + 2
    assert lines[confusion:confusion + 4] == ["| gold \\ predicted   |   0 |   A |   B |   C |",
                                              "|:-------------------|----:|----:|----:|----:|",
                                              "| 0                  |   3 |   1 |   0 |   0 |",
                                              "| A                  |   1 |   2 |   1 |   0 |"]
    piped = render_markdown(score_relations(["a|b"], ["a|b"], ("0", "a|b"), negative="0")).splitlines()
    assert "| a\\|b               |   0 |      1 |" in piped


@pytest.mark.parametrize(("gold", "pred", "negative", "message"), [
    (["A"], ["A", "B"], "0", "gold has 1 pairs but predictions have 2"),
    (["A"], ["D"], "0", "labels 'D' are not in the label space"),
    (["A"], ["A"], "none", "negative label 'none' is not one of the labels"),
])
def test_re_bad_scoring_input_is_an_error(gold: list[str], pred: list[str], negative: str, message: str) -> None:
    with pytest.raises(BiotuneError, match=message):
        score_relations(gold, pred, LABELS, negative=negative)
