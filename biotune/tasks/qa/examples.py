"""The question-answering domain types: what the readers produce and the predictor returns.

Two kinds of data, as BioASQ has them:
- `QaExample`: one (question, context) pair to read an answer span from: an item of a
  SQuAD-form file, or one snippet of a BioASQ question. Several pairs share a `question_id`
  (BioASQ's snippets of one question), and answers are merged per question.
- `QaQuestion`: a question's gold as the BioASQ judges wrote it: exact answers, each a tuple
  of synonyms. Factoid: one entry (every synonym of the one answer); list: one entry per answer.
- `DecisionExample`: a yes/no(/maybe) question with its context (BioASQ yes/no, PubMedQA).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AnswerSpan:
    """A character span `[start, end)` of a context; its text is `context[start:end]`."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class QaExample:
    """One (question, context) pair; `answers` are the training targets (every occurrence), empty at test."""

    id: str  # the item's id (a SQuAD id such as ``<question id>_001``)
    question_id: str  # the question it belongs to: answers are merged over a question's pairs
    question: str
    context: str
    answers: tuple[AnswerSpan, ...] = ()
    weight: float = 1.0  # the source's loss weight
    file: str = ""  # where it was read, for error messages
    item: str = ""  # the item within the file (id or position), for error messages


@dataclass(frozen=True, slots=True)
class QaQuestion:
    """A question's gold exact answers (each a tuple of synonyms) and its type."""

    id: str
    type: str  # factoid | list | yesno
    body: str
    answers: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class DecisionExample:
    """A question to answer yes / no (/ maybe) from its context."""

    id: str
    question: str
    context: str
    label: str
    weight: float = 1.0
    file: str = ""
    item: str = ""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a predicted answer was read: the context's index in its question's contexts, the
    character span, and the span's probability among its context's candidates (`postprocess`)."""

    context: int
    start: int
    end: int
    probability: float


@dataclass(frozen=True, slots=True)
class RankedAnswer:
    """One merged answer of a question: its text (the best-scoring surface form), its merged
    score (see `biotune.tasks.qa.postprocess`) and every place it was read."""

    text: str
    score: float
    occurrences: tuple[Occurrence, ...]
