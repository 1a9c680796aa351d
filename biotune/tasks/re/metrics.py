"""Relation-classification scores with the standard definitions (BLURB, BioBERT).

- Per class: precision, recall, F1 with the counts behind them (`Scores`, as NER reports them).
- ``micro``: counts pooled over the *relation* classes, the negative class (no relation:
  ChemProt's and DDI's ``0``) excluded. A pair of the negative class predicted as a relation
  is a false positive of that relation; a relation predicted as negative is a false negative;
  a relation predicted as another relation is both. This is BLURB's ChemProt and DDI metric.
- ``binary``: when there is exactly one relation class (GAD's ``1`` against ``0``), the
  scores of that class. It equals ``micro`` by construction (one class pooled is that class),
  and is reported under its own name because that is how GAD's results are quoted.
- ``macro``: the unweighted mean of per-class P/R/F1 over every class, negative included,
  that has gold support or predictions (as NER's macro, and sklearn's macro over the labels
  that occur): the one average in which the negative class counts.
- ``confusion``: counts by (gold row, predicted column) in label order.

The headline is micro-F1 over the relation classes; `headline_key` names it as a dotted path
into `to_dict()` (``binary.f1`` for a binary label set, else ``micro.f1``), which is how
aggregation and sweeps find a run's main score. Without a negative class every class counts
and micro-F1 is accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from biotune.errors import BiotuneError
from biotune.tables import markdown_table
from biotune.scores import Scores, classification_counts, one_class


@dataclass(frozen=True, slots=True)
class RelationResult:
    """Everything `score_relations` measured on one test set; `to_dict` is the JSON contract."""

    labels: tuple[str, ...]
    negative: str | None
    per_class: dict[str, Scores]
    micro: Scores
    macro: Scores
    binary: Scores | None
    confusion: tuple[tuple[int, ...], ...]
    n_examples: int

    @property
    def headline_key(self) -> str:
        return "binary.f1" if self.binary is not None else "micro.f1"

    @property
    def headline(self) -> float:
        """The one number a run is judged by: micro-F1 over the relation classes (= positive-class F1 when binary)."""
        return self.micro.f1

    @property
    def collapse(self) -> str | None:
        return one_class(self.per_class, "pairs")

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "negative": self.negative,
            "per_class": {name: scores.to_dict() for name, scores in self.per_class.items()},
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "binary": self.binary.to_dict() if self.binary is not None else None,
            "confusion": [list(row) for row in self.confusion],
            "n_examples": self.n_examples,
            "headline": {"key": self.headline_key, "value": self.headline},
        }


def score_relations(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str],
                    negative: str | None) -> RelationResult:
    """Score predicted labels against gold ones, pair by pair, over the label space `labels`."""
    if len(gold) != len(predicted):
        raise BiotuneError(f"gold has {len(gold)} pairs but predictions have {len(predicted)}")
    if negative is not None and negative not in labels:
        raise BiotuneError(f"negative label {negative!r} is not one of the labels ({', '.join(labels)})")
    confusion, per_class = classification_counts(gold, predicted, labels)
    relations = [label for label in labels if label != negative]
    micro = Scores.from_counts(sum(per_class[r].tp for r in relations), sum(per_class[r].support for r in relations),
                               sum(per_class[r].predicted for r in relations))
    present = [scores for scores in per_class.values() if scores.support or scores.predicted]
    macro = Scores(precision=_mean([s.precision for s in present]), recall=_mean([s.recall for s in present]),
                   f1=_mean([s.f1 for s in present]), support=sum(s.support for s in present),
                   predicted=sum(s.predicted for s in present), tp=sum(s.tp for s in present))
    binary = per_class[relations[0]] if negative is not None and len(relations) == 1 else None
    return RelationResult(tuple(labels), negative, per_class, micro, macro, binary,
                          tuple(tuple(int(c) for c in row) for row in confusion), len(gold))


def render_markdown(result: RelationResult | Mapping[str, Any], title: str = "") -> str:
    """A per-class table with the averages, then the confusion matrix; P/R/F1 in percent, two decimals.

    Accepts a saved `to_dict()` too, so a report can be rebuilt from its JSON file.
    """
    data = result.to_dict() if isinstance(result, RelationResult) else result
    negative = data["negative"]
    rows = [_row(name + (" (negative)" if name == negative else ""), scores)
            for name, scores in data["per_class"].items()]
    excluded = f", {negative} excluded" if negative is not None else ""
    rows.append(_row(f"**micro** (relations{excluded})", data["micro"]))
    if data["binary"] is not None:
        rows.append(_row("**binary** (positive class)", data["binary"]))
    rows.append(_row("**macro** (all classes)", data["macro"]))
    labels = list(data["labels"])
    confusion = [[label, *(str(count) for count in row)] for label, row in zip(labels, data["confusion"])]
    lines = [f"# {title}", ""] if title else []
    lines += [f"{data['n_examples']} pairs; headline {data['headline']['key']} = {100 * data['headline']['value']:.2f}",
              "", markdown_table(("class", "P", "R", "F1", "support", "predicted"), rows, ["left"] + ["right"] * 5),
              "", "Confusion (rows gold, columns predicted):", "",
              markdown_table(["gold \\ predicted", *labels], confusion, ["left"] + ["right"] * len(labels))]
    return "\n".join(lines) + "\n"


def _row(label: str, scores: Mapping[str, float | int]) -> list[str]:
    cells = [label, *(f"{100 * scores[key]:.2f}" for key in ("precision", "recall", "f1"))]
    return cells + [str(scores["support"]), str(scores["predicted"])]


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0
