"""Precision, recall and F1 with the counts behind them: the one score type every task reports.

Where a denominator is 0 the ratio is 0.0 (seqeval's and sklearn's ``zero_division=0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from biotune.errors import BiotuneError


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision, recall and F1 with the counts behind them.

    `support` counts gold units (spans, or entity words for word-level scores), `predicted`
    counts predicted units and `tp` the correct ones. For a macro average the ratios are
    means over types and the counts are totals over the same types, as seqeval reports them.
    """

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    tp: int

    @classmethod
    def from_counts(cls, tp: int, support: int, predicted: int) -> Scores:
        """Scores from raw counts; F1 is ``2·tp / (support + predicted)``, i.e. the harmonic mean."""
        return cls(
            precision=ratio(tp, predicted),
            recall=ratio(tp, support),
            f1=ratio(2 * tp, support + predicted),
            support=support,
            predicted=predicted,
            tp=tp,
        )

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def classification_counts(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
                          ) -> tuple[np.ndarray, dict[str, Scores]]:
    """(confusion counts (gold, predicted) in `labels` order, each label's `Scores`) of single-label
    predictions; a label outside `labels` is an error naming it."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({label for label in (*gold, *predicted) if label not in index})
    if unknown:
        raise BiotuneError(f"labels {', '.join(map(repr, unknown))} are not in the label space ({', '.join(labels)})")
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)  # (gold, predicted)
    np.add.at(confusion, ([index[g] for g in gold], [index[p] for p in predicted]), 1)
    tp, support, counted = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    return confusion, {label: Scores.from_counts(int(tp[i]), int(support[i]), int(counted[i]))
                       for i, label in enumerate(labels)}


def one_class(per_class: Mapping[str, Scores], unit: str) -> str | None:
    """The collapse of single-label predictions (a task's `Result.collapse`): where the gold holds more than
    one class and every prediction is the same one, e.g. ``all 500 questions predicted 'yes'``; else None.

    Such a model has learned nothing of the split, whatever its score (the majority class's accuracy)."""
    gold = [label for label, scores in per_class.items() if scores.support]
    predicted = [label for label, scores in per_class.items() if scores.predicted]
    if len(gold) < 2 or len(predicted) != 1:
        return None
    return f"all {per_class[predicted[0]].predicted} {unit} predicted {predicted[0]!r}"
