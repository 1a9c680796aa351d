"""Sentence-similarity scores: Pearson (BLURB's BIOSSES metric, the headline), Spearman and MSE.

Pearson and Spearman are scipy's (`scipy.stats.pearsonr`, `spearmanr`: Pearson of the ranks,
ties sharing their average rank). A correlation is undefined when either side is constant or
fewer than two pairs are scored; it counts as 0 then (no association shown), so that a model
that predicts one value for every pair — what an untrained regression head does — is selected
last on dev, never crashes the selection with a NaN. MSE is on the gold scale (0-4 for BIOSSES).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from biotune.errors import BiotuneError
from biotune.tables import markdown_table

# Predictions whose standard deviation is under this share of the gold scores' are one score for every
# pair (a regression head that learned only the mean): `SimilarityResult.collapse`.
CONSTANT_SPREAD = 0.01


@dataclass(frozen=True, slots=True)
class SimilarityResult:
    """A split's scores (the task contract's `Result`): headline `pearson`."""

    pearson: float
    spearman: float
    mse: float
    pairs: int
    spread: float  # the predictions' standard deviation over the gold scores' (0: one score for every pair)

    @property
    def headline_key(self) -> str:
        return "pearson"

    @property
    def headline(self) -> float:
        return self.pearson

    @property
    def collapse(self) -> str | None:
        """Constant: the predictions vary by less than `CONSTANT_SPREAD` of the gold scores' spread."""
        if self.pairs < 2 or self.spread >= CONSTANT_SPREAD:
            return None
        return f"one score for all {self.pairs} pairs (spread {self.spread:.2%} of the gold scores')"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "similarity", "n_pairs": self.pairs, "pearson": self.pearson, "spearman": self.spearman,
                "mse": self.mse}


def score_similarity(gold: Sequence[float], predicted: Sequence[float]) -> SimilarityResult:
    """Pearson, Spearman and mean squared error of `predicted` against `gold`, pair by pair."""
    if len(gold) != len(predicted):
        raise BiotuneError(f"{len(predicted)} predicted scores for {len(gold)} gold pairs")
    gold_array, predicted_array = np.asarray(gold, dtype=float), np.asarray(predicted, dtype=float)
    defined = len(gold) >= 2 and np.ptp(gold_array) > 0 and np.ptp(predicted_array) > 0
    pearson = float(pearsonr(gold_array, predicted_array).statistic) if defined else 0.0
    spearman = float(spearmanr(gold_array, predicted_array).statistic) if defined else 0.0
    mse = float(np.mean((gold_array - predicted_array) ** 2)) if len(gold) else 0.0
    gold_std = float(np.std(gold_array)) if len(gold) else 0.0
    spread = float(np.std(predicted_array)) / gold_std if gold_std else 1.0  # constant gold: nothing to collapse from
    return SimilarityResult(pearson, spearman, mse, len(gold), spread)


def render_markdown(result: SimilarityResult | Mapping[str, Any], title: str = "") -> str:
    """A result (or its saved `to_dict()`) as Markdown: the headline line and its table."""
    data = result if isinstance(result, Mapping) else result.to_dict()
    if data.get("kind") != "similarity":
        raise BiotuneError(f"not a sentence-similarity result (kind {data.get('kind')!r})")
    rows = [["Pearson (%)", f"{100 * data['pearson']:.2f}"], ["Spearman (%)", f"{100 * data['spearman']:.2f}"],
            ["MSE", f"{data['mse']:.4f}"]]
    lines = [f"# {title}", ""] if title else []
    lines += [f"{data['n_pairs']} sentence pairs; headline pearson = {100 * data['pearson']:.2f}", "",
              markdown_table(("measure", "value"), rows, ("left", "right"))]
    return "\n".join(lines) + "\n"
