"""Strict span-level NER metrics with conlleval semantics, plus word-level metrics.

Spans are extracted per sentence by `schemes.tags_to_spans` (seqeval's `get_entities`), which follows conlleval: an
``I-X`` after ``O`` or after another type opens a new entity. A predicted span is correct only
when its type, start and end all equal a gold span's, so a boundary error costs one false
positive and one false negative.

Label space. A test set may annotate fewer types than a model predicts (a Chemical-only
corpus scored with a Chemical+Disease model). Counting the extra Disease predictions as
false positives punishes the model for the corpus's silence; hiding them loses information.
So, when `annotated_types` is given, only those types are scored (gold spans of other types
are ignored too) and predictions of other types are reported apart as
`unannotated_predictions`. When it is `None`, every type seen in gold *or* predictions is
scored, so a prediction of a type the gold never mentions is a false positive: the
conservative default, and the one seqeval uses.

Averages. Micro pools the counts of all scored types. Macro is the unweighted mean of the
per-type precision, recall and F1 over scored types that have gold support or predictions:
an annotated type absent from both gold and predictions says nothing about the model and
would drag the mean towards zero. With `annotated_types=None` this is exactly seqeval's
``macro avg``. Where a denominator is 0 the ratio is 0.0 (seqeval's ``zero_division=0``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from biotune.formats.schemes import tags_to_spans
from biotune.formats.sentence import Span
from biotune.errors import BiotuneError
from biotune.scores import Scores


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Everything `evaluate_tags` measured on one test set; `to_dict` is the JSON contract."""

    per_type: dict[str, Scores]
    micro: Scores
    macro: Scores
    token: Scores
    unannotated_predictions: dict[str, int]
    n_sentences: int
    n_words: int
    scored_types: tuple[str, ...]

    @property
    def f1(self) -> float:
        """The headline number: micro-averaged strict span F1."""
        return self.micro.f1

    @property
    def headline(self) -> float:
        return self.micro.f1

    @property
    def headline_key(self) -> str:
        return "micro.f1"

    @property
    def collapse(self) -> str | None:
        """All O: no entity predicted in a split that holds some."""
        if self.micro.support and not self.micro.predicted:
            return f"no entity predicted in {self.n_sentences} sentences (all O)"
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "per_type": {name: scores.to_dict() for name, scores in self.per_type.items()},
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "token": self.token.to_dict(),
            "unannotated_predictions": dict(self.unannotated_predictions),
            "n_sentences": self.n_sentences,
            "n_words": self.n_words,
            "scored_types": list(self.scored_types),
        }


def evaluate_tags(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    annotated_types: Iterable[str] | None = None,
) -> EvalResult:
    """Score predicted BIO tag sequences against gold ones, sentence by sentence.

    `annotated_types` names the entity types the gold set annotates; see the module docstring
    for how it shapes the label space. Raises `BiotuneError` when the sentence counts differ
    or a sentence's gold and predicted lengths differ.
    """
    if isinstance(annotated_types, str):
        raise TypeError("annotated_types must be a collection of type names, not a single string")
    _check_lengths(gold, pred)
    gold_spans = [tags_to_spans(tags) for tags in gold]
    pred_spans = [tags_to_spans(tags) for tags in pred]
    predicted_types = {span.type for spans in pred_spans for span in spans}
    if annotated_types is None:
        scored = frozenset({span.type for spans in gold_spans for span in spans} | predicted_types)
    else:
        scored = frozenset(annotated_types)

    per_type = _per_type_scores(gold_spans, pred_spans, scored)
    return EvalResult(
        per_type=per_type,
        micro=_micro(list(per_type.values())),
        macro=_macro([s for s in per_type.values() if s.support or s.predicted]),
        token=_word_scores(gold_spans, pred_spans, [len(tags) for tags in gold], scored),
        unannotated_predictions=_count_unscored(pred_spans, scored),
        n_sentences=len(gold),
        n_words=sum(len(tags) for tags in gold),
        scored_types=tuple(sorted(scored)),
    )


def _check_lengths(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise BiotuneError(f"gold has {len(gold)} sentences but predictions have {len(pred)}")
    for index, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise BiotuneError(
                f"sentence {index}: gold has {len(gold_tags)} tags but prediction has {len(pred_tags)}"
            )


def _per_type_scores(
    gold_spans: list[list[Span]], pred_spans: list[list[Span]], scored: frozenset[str]
) -> dict[str, Scores]:
    support: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for gold_sentence, pred_sentence in zip(gold_spans, pred_spans):
        support.update(span.type for span in gold_sentence)
        predicted.update(span.type for span in pred_sentence)
        correct.update(span.type for span in set(gold_sentence) & set(pred_sentence))
    return {
        type_: Scores.from_counts(correct[type_], support[type_], predicted[type_])
        for type_ in sorted(scored)
    }


def _micro(scores: Sequence[Scores]) -> Scores:
    return Scores.from_counts(
        tp=sum(s.tp for s in scores),
        support=sum(s.support for s in scores),
        predicted=sum(s.predicted for s in scores),
    )


def _macro(scores: Sequence[Scores]) -> Scores:
    return Scores(
        precision=_mean([s.precision for s in scores]),
        recall=_mean([s.recall for s in scores]),
        f1=_mean([s.f1 for s in scores]),
        support=sum(s.support for s in scores),
        predicted=sum(s.predicted for s in scores),
        tp=sum(s.tp for s in scores),
    )


def _word_scores(
    gold_spans: list[list[Span]],
    pred_spans: list[list[Span]],
    lengths: list[int],
    scored: frozenset[str],
) -> Scores:
    """Word-level micro scores: a word counts when its gold and predicted entity types agree.

    A word's type is that of the span covering it (so the B/I prefix is ignored, and a stray
    ``I-X`` is typed like the span conlleval makes of it). Words of unscored types are
    treated as outside any entity, on both sides.
    """
    tp = support = predicted = 0
    for gold_sentence, pred_sentence, length in zip(gold_spans, pred_spans, lengths):
        gold_types = _word_types(gold_sentence, length, scored)
        pred_types = _word_types(pred_sentence, length, scored)
        support += sum(t is not None for t in gold_types)
        predicted += sum(t is not None for t in pred_types)
        tp += sum(g is not None and g == p for g, p in zip(gold_types, pred_types))
    return Scores.from_counts(tp=tp, support=support, predicted=predicted)


def _word_types(spans: list[Span], length: int, scored: frozenset[str]) -> list[str | None]:
    types: list[str | None] = [None] * length
    for span in spans:
        if span.type in scored:
            types[span.start : span.end] = [span.type] * (span.end - span.start)
    return types


def _count_unscored(pred_spans: list[list[Span]], scored: frozenset[str]) -> dict[str, int]:
    counts = Counter(span.type for spans in pred_spans for span in spans if span.type not in scored)
    return dict(sorted(counts.items()))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
