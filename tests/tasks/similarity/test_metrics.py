"""Similarity metrics against a hand computation: Pearson, Spearman (average ranks for ties), MSE; rendering."""

from __future__ import annotations

import math

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.similarity.metrics import render_markdown, score_similarity

GOLD = [0.0, 1.0, 2.0, 3.0, 4.0]
PREDICTED = [0.5, 1.0, 1.0, 3.5, 2.0]  # a tie at 1.0: ranks 2 and 3 share 2.5


def test_pearson_spearman_and_mse_match_a_hand_computation() -> None:
    result = score_similarity(GOLD, PREDICTED)
    # means 2 and 1.6; deviations (-2, -1, 0, 1, 2) and (-1.1, -0.6, -0.6, 1.9, 0.4)
    assert result.pearson == pytest.approx(5.5 / math.sqrt(10 * 5.7))
    # ranks (1, 2, 3, 4, 5) and (1, 2.5, 2.5, 5, 4): deviations (-2, -1, 0, 1, 2) and (-2, -0.5, -0.5, 2, 1)
    assert result.spearman == pytest.approx(8.5 / math.sqrt(10 * 9.5))
    assert result.mse == pytest.approx((0.25 + 0 + 1 + 0.25 + 4) / 5)
    assert (result.headline_key, result.headline) == ("pearson", result.pearson)
    assert result.to_dict() == {"kind": "similarity", "n_pairs": 5, "pearson": result.pearson,
                                "spearman": result.spearman, "mse": result.mse}


def test_a_constant_prediction_or_a_single_pair_correlates_zero_not_nan() -> None:
    constant = score_similarity(GOLD, [2.0] * 5)
    assert (constant.pearson, constant.spearman, constant.mse) == (0.0, 0.0, 2.0)
    assert score_similarity([1.0], [3.0]).pearson == 0.0
    with pytest.raises(BiotuneError, match="2 predicted scores for 5 gold pairs"):
        score_similarity(GOLD, [1.0, 2.0])


def test_render_shows_the_headline_in_percent() -> None:
    text = render_markdown(score_similarity(GOLD, PREDICTED), title="test")
    assert text.startswith("# test\n\n5 sentence pairs; headline pearson = 72.85")
    assert "| Spearman (%) |   87.21 |" in text and "| MSE          |  1.1000 |" in text
    with pytest.raises(BiotuneError, match="not a sentence-similarity result"):
        render_markdown({"kind": "decisions"})
