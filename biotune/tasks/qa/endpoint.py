"""The schema of QA's HTTP endpoint, POST /qa: a question and its contexts in, the model's ranked
answers out, each with every place it was read. The service (`biotune.serving.service`) mounts it
with a micro-batcher whose items are whole questions.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
