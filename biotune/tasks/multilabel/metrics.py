"""Multi-label scores: BLURB's abstract-level micro-F1 (the headline), with sentence-level micro
and macro F1 and per-label P/R/F1 beside it; the decision threshold tuned on dev.

- **Abstract level** (BLURB's HoC metric): an abstract's labels are the union of its sentences'
  (gold and predicted alike), and precision, recall and F1 are micro-averaged over every
  (abstract, label) decision: a true positive is a label both the abstract's gold and its
  predictions hold. An abstract without gold labels still counts its false positives.
- **Sentence level**: the same over (sentence, label) decisions; macro is the unweighted mean of
  the per-label scores over the labels with gold support or predictions (as NER's and RE's).
- A label is predicted when its probability reaches the threshold (``p >= t``); at the
  abstract level that is when the highest probability among its sentences reaches it.

`best_threshold` sweeps every cut of the abstract-level probabilities exactly (no grid): the
cut with the best abstract-level micro-F1 (the highest such cut on a tie), the threshold put
halfway to the next lower probability so that it does not sit on a score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import numpy as np

from biotune.scores import Scores
from biotune.tables import markdown_table

DEFAULT_THRESHOLD = 0.5  # a model trained without dev predicts at this probability


@dataclass(frozen=True)
class MultiLabelResult:
    """A split's scores (the contract's `Result`); `threshold_from` says where the threshold came from."""

    abstract_micro: Scores
    sentence_micro: Scores
    sentence_macro: Scores
    abstract_labels: dict[str, Scores]
    sentence_labels: dict[str, Scores]
    n_sentences: int
    n_abstracts: int
    threshold: float
    threshold_from: str  # "the model's" (recorded in it) or "best on this split" (training's dev evaluation)

    @property
    def headline_key(self) -> str:
        return "abstract_micro.f1"

    @property
    def headline(self) -> float:
        return self.abstract_micro.f1

    @property
    def collapse(self) -> str | None:
        """One label set for every sentence (often the empty one) where the gold sentences differ."""
        every = (0, self.n_sentences)
        if all(s.support in every for s in self.sentence_labels.values()) or \
                any(s.predicted not in every for s in self.sentence_labels.values()):
            return None
        labels = [label for label, s in self.sentence_labels.items() if s.predicted]
        return f"the same labels for all {self.n_sentences} sentences ({', '.join(labels) or 'none'})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "multilabel", "abstract_micro": self.abstract_micro.to_dict(),
                "sentence_micro": self.sentence_micro.to_dict(), "sentence_macro": self.sentence_macro.to_dict(),
                "abstract_labels": {label: s.to_dict() for label, s in self.abstract_labels.items()},
                "sentence_labels": {label: s.to_dict() for label, s in self.sentence_labels.items()},
                "n_sentences": self.n_sentences, "n_abstracts": self.n_abstracts,
                "decision": {"threshold": self.threshold, "from": self.threshold_from}}


def decide(probabilities: np.ndarray, labels: Sequence[str], threshold: float) -> list[tuple[str, ...]]:
    """Each row's labels (in label order) whose probability reaches `threshold`."""
    return [tuple(label for label, p in zip(labels, row) if p >= threshold) for row in probabilities]


def per_label(gold: Sequence[Set[str]], predicted: Sequence[Set[str]], labels: Sequence[str]) -> dict[str, Scores]:
    """Each label's scores over units (sentences or abstracts), `gold[i]` and `predicted[i]` one unit's labels."""
    return {label: Scores.from_counts(tp=sum(label in g and label in p for g, p in zip(gold, predicted)),
                                      support=sum(label in g for g in gold),
                                      predicted=sum(label in p for p in predicted))
            for label in labels}


def micro(scores: Mapping[str, Scores]) -> Scores:
    values = list(scores.values())
    return Scores.from_counts(tp=sum(s.tp for s in values), support=sum(s.support for s in values),
                              predicted=sum(s.predicted for s in values))


def macro(scores: Mapping[str, Scores]) -> Scores:
    """Mean ratios over the labels with support or predictions; counts are their totals."""
    kept = [s for s in scores.values() if s.support or s.predicted]
    n = max(len(kept), 1)
    return Scores(precision=sum(s.precision for s in kept) / n, recall=sum(s.recall for s in kept) / n,
                  f1=sum(s.f1 for s in kept) / n, support=sum(s.support for s in kept),
                  predicted=sum(s.predicted for s in kept), tp=sum(s.tp for s in kept))


def by_document(documents: Sequence[str], sets: Sequence[Set[str]]) -> dict[str, frozenset[str]]:
    """Each document's union of its units' labels, documents in first-seen order."""
    union: dict[str, set[str]] = {}
    for document, labels in zip(documents, sets):
        union.setdefault(document, set()).update(labels)
    return {document: frozenset(labels) for document, labels in union.items()}


def score_sets(documents: Sequence[str], gold: Sequence[Set[str]], predicted: Sequence[Set[str]],
               labels: Sequence[str], threshold: float, threshold_from: str) -> MultiLabelResult:
    """Both levels' scores of one split's predicted label sets against its gold ones."""
    gold_docs, predicted_docs = by_document(documents, gold), by_document(documents, predicted)
    abstract_labels = per_label(list(gold_docs.values()), [predicted_docs[d] for d in gold_docs], labels)
    sentence_labels = per_label(gold, predicted, labels)
    return MultiLabelResult(micro(abstract_labels), micro(sentence_labels), macro(sentence_labels), abstract_labels,
                            sentence_labels, len(gold), len(gold_docs), threshold, threshold_from)


def best_threshold(documents: Sequence[str], gold: Sequence[Set[str]], probabilities: np.ndarray,
                   labels: Sequence[str]) -> tuple[float, float]:
    """(threshold, abstract-level micro-F1 at it) with the best F1 (see the module docstring);
    `DEFAULT_THRESHOLD` when no abstract has a gold label (every cut scores 0)."""
    order = {document: k for k, document in enumerate(dict.fromkeys(documents))}
    rows = np.array([order[d] for d in documents], dtype=np.int64)
    scores = np.full((len(order), len(labels)), -np.inf)  # (abstracts, labels): the best sentence's probability
    np.maximum.at(scores, rows, np.asarray(probabilities, dtype=np.float64))
    truth = np.zeros((len(order), len(labels)), dtype=bool)  # (abstracts, labels)
    index = {label: j for j, label in enumerate(labels)}
    for row, labels_of in zip(rows, gold):
        truth[row, [index[label] for label in labels_of]] = True
    support = int(truth.sum())
    if not support:
        return DEFAULT_THRESHOLD, 0.0
    flat = scores.ravel()
    ranked = np.argsort(-flat, kind="stable")
    values, hits = flat[ranked], truth.ravel()[ranked]
    f1 = 2 * np.cumsum(hits) / (support + np.arange(1, len(values) + 1))  # predicting the top i+1 decisions
    cuts = np.flatnonzero(np.append(values[1:] != values[:-1], True))  # a cut never splits equal scores
    best = int(cuts[np.argmax(f1[cuts])])
    lower = values[best + 1] if best + 1 < len(values) else 0.0
    return float((values[best] + lower) / 2), float(f1[best])


# ---- Markdown -------------------------------------------------------------------------------

def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _row(name: str, s: Mapping[str, Any]) -> list[str]:
    return [name, *(_pct(s[key]) for key in ("precision", "recall", "f1")), str(s["support"])]


def render_markdown(data: Mapping[str, Any], title: str = "") -> str:
    """A result's `to_dict()` as Markdown: the headline line, the averages, then each label at both levels."""
    decision = data["decision"]
    lines = [f"# {title}", ""] if title else []
    lines += [f"{data['n_sentences']} sentences in {data['n_abstracts']} abstracts; labels at probability >= "
              f"{decision['threshold']:.4g} ({decision['from']}); headline abstract-level micro-F1 = "
              f"{_pct(data['abstract_micro']['f1'])}", "",
              markdown_table(("", "P", "R", "F1", "support"),
                             [_row("abstract micro (BLURB)", data["abstract_micro"]),
                              _row("sentence micro", data["sentence_micro"]),
                              _row("sentence macro", data["sentence_macro"])], ["left", *["right"] * 4]), "",
              markdown_table(("label", "abstract P", "R", "F1", "support", "sentence P", "R", "F1", "support"),
                             [[*_row(label, s), *_row("", data["sentence_labels"][label])[1:]]
                              for label, s in data["abstract_labels"].items()], ["left", *["right"] * 8])]
    return "\n".join(lines) + "\n"
