"""QA's HTTP endpoint, POST /qa: a question and its contexts in, the model's ranked answers out,
merged over the contexts, each with every place it was read: the context's index and character
offsets into it (code points, so `contexts[i][start:end] == text`). The service mounts it with a
micro-batcher whose items are whole questions (a question with all its contexts, which are merged
into one ranking, so never split), each costing its own and its contexts' characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from biotune.tasks.endpoints import Endpoint, Limits, RequestRefused, check_text
from biotune.tasks.qa.examples import RankedAnswer


class QaRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="the question, in words (BioASQ: the question body)")
    contexts: list[str] | None = Field(None, min_length=1, description="texts to read the answer from (snippets, "
                                       "abstracts); answers are merged over them. Give this or `context`")
    context: str | None = Field(None, description="one context: the same as contexts: [context]")
    top_k: int | None = Field(None, ge=1, le=50, strict=True, description="how many ranked answers, at most; "
                              "by default the model's own cut: its top_k (5) for a factoid model, every answer "
                              "at its tuned threshold for a list model")


class AnswerOccurrence(BaseModel):
    """Where an answer was read: `contexts[context][start:end]`, offsets in code points."""

    context: int = Field(description="the context's index in the request's contexts (0 for `context`)")
    start: int
    end: int
    probability: float = Field(description="the model's probability of this span among its context's candidates")


class Answer(BaseModel):
    text: str
    score: float = Field(description="the answer's score merged over its occurrences (answers are ranked by it)")
    occurrences: list[AnswerOccurrence]


class QaResponse(BaseModel):
    model: str
    question: str
    answers: list[Answer] = Field(description="best first: the top_k, or the model's own cut")


class QuestionAnswerer(Protocol):
    """What /qa needs of a QA model; `biotune.tasks.qa.predict.QaPredictor` is one."""

    def answer(self, questions: Sequence[tuple[str, Sequence[str]]],
               top_k: int | None = 5) -> list[list[RankedAnswer]]: ...


@dataclass(frozen=True, slots=True)
class Question:
    """One /qa request as its micro-batcher carries it."""

    question: str
    contexts: tuple[str, ...]
    top_k: int | None  # None: the model's own cut


def request_question(request: QaRequest, limits: Limits) -> list[Question]:
    """The request's one question, or `RequestRefused` naming the field: 422 for neither or both of
    `contexts` and `context`, more than `max_contexts` or a blank question or context; what `check_text`
    refuses (over `max_chars`, invalid Unicode)."""
    if request.contexts is None and request.context is None:
        raise RequestRefused(422, "contexts: Field required (a list of texts, or one text as context)")
    if request.contexts is not None and request.context is not None:
        raise RequestRefused(422, "contexts: give contexts (a list) or context (one text), not both")
    named = ([(f"contexts[{i}]", text) for i, text in enumerate(request.contexts)] if request.contexts is not None
             else [("context", request.context or "")])
    if len(named) > limits.max_contexts:
        raise RequestRefused(
            422, f"the request has {len(named)} contexts; the limit is {limits.max_contexts} (max_contexts)")
    for name, text in [("question", request.question), *named]:
        if not text.strip():
            raise RequestRefused(422, f"{name} is empty" + (" (white space only)" if text else ""))
        check_text(name, text, limits)
    return [Question(request.question, tuple(text for _, text in named), request.top_k)]


def question_cost(question: Question) -> int:
    """What a question costs a batch: the characters the model reads, its own and all its contexts'."""
    return max(len(question.question) + sum(map(len, question.contexts)), 1)


def answer_questions(model: QuestionAnswerer, questions: Sequence[Question]) -> list[list[RankedAnswer]]:
    """The ranked answers of each of a batch's questions, in order: one `model.answer` call per
    distinct `top_k`, so each question is ranked and cut with its own `top_k`."""
    answers: list[list[RankedAnswer]] = [[] for _ in questions]
    for top_k in dict.fromkeys(question.top_k for question in questions):
        chosen = [i for i, question in enumerate(questions) if question.top_k == top_k]
        found = model.answer([(questions[i].question, questions[i].contexts) for i in chosen], top_k=top_k)
        for i, ranked in zip(chosen, found, strict=True):
            answers[i] = ranked
    return answers


def answer_record(answer: RankedAnswer) -> dict[str, Any]:
    """One ranked answer as /qa answers it (the `Answer` schema)."""
    return {"text": answer.text, "score": answer.score,
            "occurrences": [{"context": o.context, "start": o.start, "end": o.end, "probability": o.probability}
                            for o in answer.occurrences]}


def answer(model: QuestionAnswerer, request: QaRequest, results: Sequence[list[RankedAnswer]]) -> dict[str, Any]:
    return {"question": request.question, "answers": [answer_record(ranked) for ranked in results[0]]}


def health(model: QuestionAnswerer, name: str, traffic: Mapping[str, Any]) -> dict[str, Any]:
    """/health's ``qa`` entry (what the page reads): the model's name and its traffic."""
    return {"qa": {"model": name, **traffic}}


def qa_endpoint() -> Endpoint:
    return Endpoint(path="/qa", request=QaRequest, response=QaResponse, items=request_question, cost=question_cost,
                    predict=answer_questions, answer=answer,
                    usage='/qa takes {"question": "...", "contexts": ["..."]}', unit="questions",
                    late="the question was not answered", lighter="send fewer contexts", health=health)
