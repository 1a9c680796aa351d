"""Question-answering scores with BioASQ's official definitions (and BLURB's for PubMedQA).

Followed: BioASQ's official evaluator, `BioASQ/Evaluation-Measures` (``flat/BioASQEvaluation``:
``evaluation/EvaluatorTask1b.java``, ``evaluation/QuestionAnswerEvaluator.java``,
``data/ExactAnswer.java``, ``data/Task1bData.java``; the copy BioBERT ships in
``dmis-lab/biobert-pytorch`` ``question-answering/scripts/bioasq_eval``), run as ``-e 5``
(BioASQ5 and later, which scores the 7b test set). What it does, and so what this module does:

- Normalisation (`normalise_answer`): every gold synonym and every submitted answer is
  lowercased when read (``Task1bData.readExactAnswerArray``: ``toLowerCase()``), then compared
  with exact string equality (``ExactAnswer.containsAnswerSynonym``: ``equals``). Nothing else:
  no trimming, no punctuation or article stripping, no whitespace collapsing.
- Factoid: an answer is right when it equals any synonym of the gold (every string of every
  gold entry). Strict accuracy: the first answer is right; lenient: any submitted answer is
  right; reciprocal rank: 1 / the rank of the first right answer, 0 if none. The answers are
  taken as submitted: duplicates are not removed and keep their ranks. The evaluator does not
  cut the list; BioASQ's guidelines let a system submit at most 5, so the first `top_k` (5) of
  a ranked list are what is submitted and scored.
- List: per question, each submitted answer in order is a true positive when it matches a gold
  entry (any of its synonyms) not matched yet, and that entry is then used up; otherwise it is
  a false positive. So a gold entry counts at most once, and a second copy of an answer (or a
  second synonym of the same entry) is a false positive: the evaluator does not merge
  duplicates. P = TP / submitted, R = matched entries / gold entries, F1 their harmonic mean
  (0 when P or R is 0). An empty answer list scores P = R = F1 = 0. Mean precision, recall and
  F1 are the means of the per-question values (F1 is the mean of per-question F1s, not the F1
  of the mean P and R).
- Yes/no: accuracy, F1 of ``yes`` and of ``no`` (F1 = 2TP / (2TP + FP + FN), 0 when that
  denominator is 0), macro-F1 = their mean. That equals scikit-learn's
  ``f1_score(average="macro", labels=labels)`` with ``zero_division=0``, which is how BLURB
  scores PubMedQA (yes / no / maybe); `score_decisions` computes it for any label set.

One difference, on purpose: the official evaluator skips a gold question missing from the
submission (it is not in the means), while here every mean runs over all gold questions and a
question without predictions scores 0, as an empty submitted answer does officially. A model
that answers nothing for a question is scored as wrong there, not excused.

The list threshold (`best_list_threshold`, `cut_list`) is prediction, not scoring: as BioBERT's
``biocodes/transform_n2b_list.py`` builds a submission, answers at or above a score threshold
are kept, duplicates under `normalise_answer` are dropped (the first, best-scored, stays) and the
top answer is kept when none passes. The threshold is tuned on the dev split only.

Scores are fractions in [0, 1] in `to_dict()`, as every biotune result; Markdown shows percent.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biotune.errors import BiotuneError
from biotune.scores import Scores, classification_counts, one_class, ratio
from biotune.tables import markdown_table
from biotune.tasks.qa.examples import QaQuestion

TOP_K = 5  # BioASQ: at most five ranked answers per factoid question
_TIE = 1e-12  # mean F1s closer than this are a tie (float sums of equal values in another order)


def normalise_answer(text: str) -> str:
    """BioASQ's normalisation before comparing an answer with a gold synonym: lowercasing, nothing else."""
    return text.lower()


@dataclass(frozen=True, slots=True)
class FactoidResult:
    """Factoid scores over `questions` gold questions (`answered` of them had a prediction)."""

    questions: int
    answered: int
    strict: float
    lenient: float
    mrr: float
    top_k: int

    @property
    def headline_key(self) -> str:
        return "mrr"

    @property
    def headline(self) -> float:
        return self.mrr

    @property
    def collapse(self) -> str | None:
        """Ranked answers have no classes to collapse to."""
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "factoid", "n_questions": self.questions, "strict": self.strict, "lenient": self.lenient,
                "mrr": self.mrr, "top_k": self.top_k, "answered": self.answered}


@dataclass(frozen=True, slots=True)
class ListResult:
    """Mean per-question precision, recall and F1; `threshold`: the score cut the answers were kept at (None: as given)."""

    questions: int
    precision: float
    recall: float
    f1: float
    threshold: float | None = None

    @property
    def headline_key(self) -> str:
        return "mean.f1"

    @property
    def headline(self) -> float:
        return self.f1

    @property
    def collapse(self) -> str | None:
        """Answer lists have no classes to collapse to."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The means nest under ``mean`` (a P/R/F1 block, as aggregation finds them; and apart from the
        eval file's top-level ``precision``, which names the model's numeric precision)."""
        return {"kind": "list", "n_questions": self.questions,
                "mean": {"precision": self.precision, "recall": self.recall, "f1": self.f1}, "threshold": self.threshold}


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """Yes/no (/maybe) scores: accuracy, per-class scores, macro-F1 over `labels`, confusion (rows gold)."""

    labels: tuple[str, ...]
    per_class: dict[str, Scores]
    accuracy: float
    macro_f1: float
    confusion: tuple[tuple[int, ...], ...]
    examples: int

    @property
    def headline_key(self) -> str:
        return "accuracy"

    @property
    def headline(self) -> float:
        return self.accuracy

    @property
    def collapse(self) -> str | None:
        return one_class(self.per_class, "questions")

    def to_dict(self) -> dict[str, Any]:
        per_class = {label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support,
                             "predicted": s.predicted} for label, s in self.per_class.items()}
        return {"kind": "decisions", "n_examples": self.examples, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "per_class": per_class,
                "confusion": {"labels": list(self.labels), "matrix": [list(row) for row in self.confusion]}}


QaResult = FactoidResult | ListResult | DecisionResult


# ---- factoid ------------------------------------------------------------------------------

def score_factoid(questions: Sequence[QaQuestion], ranked: Mapping[str, Sequence[str]],
                  top_k: int = TOP_K) -> FactoidResult:
    """Strict and lenient accuracy and MRR of each question's ranked answers (its first `top_k` as given)."""
    if top_k < 1:
        raise BiotuneError(f"top_k must be at least 1, got {top_k}")
    gold = _gold_by_id(questions, "factoid")
    _check_predictions(gold, ranked)
    strict = lenient = reciprocal = 0.0
    for qid, question in gold.items():
        synonyms = {normalise_answer(s) for entry in question.answers for s in entry}
        submitted = list(ranked.get(qid, ()))[:top_k]
        rank = next((i for i, answer in enumerate(submitted, 1) if normalise_answer(answer) in synonyms), None)
        if rank is not None:
            strict += rank == 1
            lenient += 1
            reciprocal += 1 / rank
    n = len(gold)
    answered = sum(1 for qid in gold if len(ranked.get(qid, ())))
    return FactoidResult(n, answered, strict / n, lenient / n, reciprocal / n, top_k)


# ---- list ---------------------------------------------------------------------------------

def score_list(questions: Sequence[QaQuestion], predicted: Mapping[str, Sequence[str]],
               threshold: float | None = None) -> ListResult:
    """Mean precision, recall and F1 of each question's predicted answers; `threshold` is recorded, not applied."""
    gold = _gold_by_id(questions, "list")
    _check_predictions(gold, predicted)
    precision = recall = f1 = 0.0
    for qid, question in gold.items():
        answers = predicted.get(qid, ())
        scores = _list_scores(sum(_matches(question.answers, answers)), len(answers), len(question.answers))
        precision, recall, f1 = precision + scores[0], recall + scores[1], f1 + scores[2]
    n = len(gold)
    return ListResult(n, precision / n, recall / n, f1 / n, threshold)


def cut_list(candidates: Mapping[str, Sequence[tuple[str, float]]], threshold: float,
             keep_at_least_one: bool = True) -> dict[str, list[str]]:
    """Each question's answers scoring at least `threshold`, best first, without duplicates under
    `normalise_answer`; with `keep_at_least_one`, the top answer when none passes."""
    out = {}
    for qid, scored in candidates.items():
        ranked = _distinct(scored)
        kept = [answer for answer, score in ranked if score >= threshold]
        out[qid] = kept or ([ranked[0][0]] if keep_at_least_one and ranked else [])
    return out


def best_list_threshold(questions: Sequence[QaQuestion], candidates: Mapping[str, Sequence[tuple[str, float]]],
                        keep_at_least_one: bool = True) -> tuple[float, ListResult]:
    """The score threshold (one of the candidates' scores) at which `cut_list` gives the best mean
    list F1, ties to the highest threshold, and the scores there. For the dev split only.

    Each question's F1 is computed once per number of answers kept (its distinct answers, best
    first), so trying every threshold costs a lookup per question, not a rescoring.
    """
    gold = _gold_by_id(questions, "list")
    _check_predictions(gold, candidates)
    thresholds = sorted({score for scored in candidates.values() for _, score in scored}, reverse=True)
    if not thresholds:
        raise BiotuneError("no list answer candidates to tune a threshold on")
    tables = []  # per question with candidates: (its distinct answers' scores ascending, F1 by number kept)
    for qid, scored in candidates.items():
        ranked = _distinct(scored)
        if not ranked:
            continue
        entries = gold[qid].answers
        hits = np.cumsum([0, *_matches(entries, [answer for answer, _ in ranked])])
        f1s = [_list_scores(int(hits[k]), k, len(entries))[2] for k in range(len(ranked) + 1)]
        tables.append(([score for _, score in reversed(ranked)], f1s))
    best, best_total = thresholds[0], -1.0
    for threshold in thresholds:  # highest first: a later threshold must be strictly better to win
        total = 0.0
        for ascending, f1s in tables:
            kept = len(ascending) - bisect.bisect_left(ascending, threshold)
            total += f1s[max(kept, 1) if keep_at_least_one else kept]
        if total > best_total + _TIE:
            best, best_total = threshold, total
    return best, score_list(questions, cut_list(candidates, best, keep_at_least_one), threshold=best)


def _distinct(scored: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """Best score first (stable), the first of each answer under `normalise_answer` only."""
    seen: set[str] = set()
    out = []
    for answer, score in sorted(scored, key=lambda pair: -pair[1]):
        key = normalise_answer(answer)
        if key not in seen:
            seen.add(key)
            out.append((answer, score))
    return out


def _matches(entries: Sequence[Sequence[str]], answers: Sequence[str]) -> Iterator[bool]:
    """For each answer in order, whether it is a true positive: it matches a gold entry not used
    up yet, which it then uses up (BioASQ's ``containsAnswerSynonym(..., remove=true)``)."""
    remaining = [{normalise_answer(s) for s in entry} for entry in entries]
    for answer in answers:
        key = normalise_answer(answer)
        hit = next((i for i, synonyms in enumerate(remaining) if key in synonyms), None)
        if hit is not None:
            del remaining[hit]
        yield hit is not None


def _list_scores(tp: int, submitted: int, gold: int) -> tuple[float, float, float]:
    precision, recall = ratio(tp, submitted), ratio(tp, gold)
    return precision, recall, (2 * precision * recall / (precision + recall) if precision and recall else 0.0)


# ---- yes/no and PubMedQA ------------------------------------------------------------------

def score_decisions(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> DecisionResult:
    """Accuracy, per-class P/R/F1, macro-F1 (the mean F1 over every label in `labels`) and the confusion matrix."""
    if len(gold) != len(predicted):
        raise BiotuneError(f"gold has {len(gold)} examples but predictions have {len(predicted)}")
    if not gold:
        raise BiotuneError("no yes/no examples to score")
    if not labels or len(set(labels)) != len(labels):
        raise BiotuneError(f"the labels must be distinct and not empty, got {list(labels)}")
    confusion, per_class = classification_counts(gold, predicted, labels)
    return DecisionResult(tuple(labels), per_class, accuracy=int(np.trace(confusion)) / len(gold),
                          macro_f1=sum(s.f1 for s in per_class.values()) / len(labels),
                          confusion=tuple(tuple(int(c) for c in row) for row in confusion), examples=len(gold))


# ---- input checks -------------------------------------------------------------------------

def _gold_by_id(questions: Sequence[QaQuestion], kind: str) -> dict[str, QaQuestion]:
    gold: dict[str, QaQuestion] = {}
    for question in questions:
        if question.type != kind:
            raise BiotuneError(f"question {question.id} is a {question.type} question, not {kind}")
        if question.id in gold:
            raise BiotuneError(f"question {question.id} is twice in the gold")
        if not question.answers:
            raise BiotuneError(f"{kind} question {question.id} has no gold answer")
        empty = [i for i, entry in enumerate(question.answers, 1) if not entry]
        if empty:
            raise BiotuneError(f"{kind} question {question.id}: gold answer {empty[0]} has no synonym")
        gold[question.id] = question
    if not gold:
        raise BiotuneError(f"no {kind} questions to score")
    return gold


def _check_predictions(gold: Mapping[str, QaQuestion], predicted: Mapping[str, Sequence[Any]]) -> None:
    """A prediction for a question the gold lacks means the two files do not match: refused, named."""
    unknown = [qid for qid in predicted if qid not in gold]
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise BiotuneError(f"predictions for questions not in the gold: {', '.join(unknown[:3])}{more}")
    for qid, answers in predicted.items():
        if isinstance(answers, str):
            raise BiotuneError(f"question {qid}: answers must be a list of answers, got the string {answers!r}")


# ---- Markdown -----------------------------------------------------------------------------

def render_markdown(result: QaResult | Mapping[str, Any], title: str = "") -> str:
    """Any QA result (or its saved `to_dict()`) as Markdown: the headline line and its table; percent, two decimals."""
    data = result if isinstance(result, Mapping) else result.to_dict()
    render = _RENDERERS.get(data.get("kind", ""))
    if render is None:
        raise BiotuneError(f"not a question-answering result (kind {data.get('kind')!r})")
    lines = [f"# {title}", ""] if title else []
    return "\n".join(lines + render(data)) + "\n"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _factoid_lines(data: Mapping[str, Any]) -> list[str]:
    rows = [["strict accuracy", _pct(data["strict"])], ["lenient accuracy", _pct(data["lenient"])],
            [f"MRR (top {data['top_k']})", _pct(data["mrr"])]]
    return [f"{data['n_questions']} factoid questions, {data['answered']} answered; headline mrr = {_pct(data['mrr'])}",
            "", markdown_table(("measure", "%"), rows, ("left", "right"))]


def _list_lines(data: Mapping[str, Any]) -> list[str]:
    cut = "as predicted" if data["threshold"] is None else f"kept at score >= {data['threshold']:.4g}"
    row = ["mean over questions", *(_pct(data["mean"][key]) for key in ("precision", "recall", "f1"))]
    return [f"{data['n_questions']} list questions, answers {cut}; headline mean F1 = {_pct(data['mean']['f1'])}",
            "", markdown_table(("", "P", "R", "F1"), [row], ("left", "right", "right", "right"))]


def _decision_lines(data: Mapping[str, Any]) -> list[str]:
    rows = [[label, *(_pct(s[key]) for key in ("precision", "recall", "f1")), str(s["support"]), str(s["predicted"])]
            for label, s in data["per_class"].items()]
    labels = data["confusion"]["labels"]
    confusion = [[label, *map(str, row)] for label, row in zip(labels, data["confusion"]["matrix"])]
    return [f"{data['n_examples']} examples; headline accuracy = {_pct(data['accuracy'])}, "
            f"macro-F1 = {_pct(data['macro_f1'])}", "",
            markdown_table(("class", "P", "R", "F1", "support", "predicted"), rows, ["left"] + ["right"] * 5),
            "", "Confusion (rows gold, columns predicted):", "",
            markdown_table(["gold \\ predicted", *labels], confusion, ["left"] + ["right"] * len(labels))]


_RENDERERS = {"factoid": _factoid_lines, "list": _list_lines, "decisions": _decision_lines}
