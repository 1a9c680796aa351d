"""HTTP service: `POST /tag` (texts in, entities and relations out), `POST /qa` (a question and its
contexts in, ranked answers out), `GET /health` and a small web page at `/`.

Every text goes through `pipeline.DocumentAnnotator` (NER by `tag_documents`, then optional
dictionary linking and relation extraction), so the service gives the same entities, with the
same character offsets (Python code points), as `biotune tag` and the library API. With an RE
model each result also lists the relations between the text's mentions (sentence candidates;
see `pipeline`), each argument named by the offsets of one of the result's entities.

With a QA model (`biotune.tasks.qa.predict.QaPredictor`, or anything with its `answer`), /qa
answers a question from one or more contexts with the model's ranked answers, merged over the
contexts, each with every place it was read: the context's index and character offsets into it
(code points, so `contexts[i][start:end] == text`). A service has an NER model, a QA model or
both; an endpoint without its model answers 404 saying so.

Concurrent requests are merged by a `batcher.MicroBatcher` per model, which tags the texts of
several requests in one call on one worker thread (the Tagger is not thread-safe). A batch is
bounded by cost (characters, `max_batch_chars`), and so is the queue (`max_queue_chars`): many
small requests fit where a few large ones would not. The QA model has a micro-batcher of its
own, whose items are whole questions (a question with all its contexts, which are merged into
one ranking, so never split).

Overload is refused, not queued forever: a request that would take the queued characters past
`max_queue_chars` gets 503 with `Retry-After` (one larger than the whole budget, 413); a request
not answered within `request_timeout_s` gets 504; and the texts of a request whose client
disconnected or timed out are dropped from the queue, never tagged.

Shutdown (SIGINT, SIGTERM; `serve` runs uvicorn as a `ClosingServer`) answers the queued
requests 503 at once, lets the batch being tagged finish and be answered, and logs one line
with the count; a second Ctrl-C answers that batch's requests 503 too. No request is left to be
cancelled mid-answer, which is what printed a traceback per open request.

Limits are checked before anything is tagged and each refusal names the limit or the field:
413 for a body over `max_request_bytes` (judged from Content-Length, or counted while reading,
so a body is never buffered past the limit) or a text over `max_chars`; 422 for malformed or
too deeply nested JSON, wrong types, an empty list or too many texts (or contexts), a blank
question or context. Every error body is `{"detail": "<message>"}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol, TypeVar

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation
from biotune.formats.schemes import entity_types
from biotune.linking import DictionaryLinker, read_dictionary
from biotune.serving.batcher import MicroBatcher, QueueFull, RequestTooLarge, ServiceClosing
from biotune.serving.pipeline import DocumentAnnotator, MentionRelation, RelationStage, TextAnnotations
from biotune.tasks import checkpoint_task, task_spec
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.qa.examples import RankedAnswer

# A validation error can list one problem per text; the message keeps the first few.
_MESSAGES_SHOWN = 3
# Seconds a forced shutdown (a second Ctrl-C) waits for the requests it answered 503 to be sent.
_FORCED_ANSWER_S = 2.0
# nginx's "client closed request": logged for a request whose client went away; nobody reads it.
_CLIENT_GONE = 499


class ServiceLimits(BaseModel):
    """What one request may hold, how the micro-batcher merges requests, and when it refuses them.

    `max_request_bytes` bites before `max_texts * max_chars` does (64 texts of 100,000
    characters are at least 6.4 MB), so it bounds a request's memory; `max_batch_chars` bounds
    the work of one tagging call, so it bounds how long any request waits behind another;
    `max_queue_chars` (in the batches' unit, so many small requests fit where few large ones do)
    and `request_timeout_s` bound how long a request can wait at all. /qa holds to the same
    limits, with `max_contexts` for its count and `max_chars` for the question and each context;
    each model's queue holds `max_queue_chars`, a question costing its own and its contexts'
    characters.

    The default queue, 500,000 characters, is about half a minute of tagging for MiniLM on two
    CPU threads (the service's rate in BENCHMARKS.md, about 120 sentences of 146 characters a
    second), within `request_timeout_s`; it holds thousands of one-sentence requests, and a
    request of more than that is refused with 413 (split it) rather than admitted to fill the
    queue on its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_texts: int = Field(64, gt=0, description="texts per request")
    max_contexts: int = Field(64, gt=0, description="contexts per /qa question")
    max_chars: int = Field(100_000, gt=0, description="characters (code points) per text")
    max_request_bytes: int = Field(2_000_000, gt=0, description="bytes of one request body")
    max_batch_chars: int = Field(
        8_000, gt=0, description="characters the micro-batcher merges into one tagging call (a longer text goes alone)"
    )
    batch_wait_ms: float = Field(5.0, ge=0, allow_inf_nan=False,
                                 description="how long a batch waits for more requests to join")
    max_queue_chars: int = Field(500_000, gt=0, description="characters waiting or being tagged; a request that "
                                 "would exceed them gets 503, one larger than all of them 413")
    request_timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False,
                                     description="seconds a request may wait for its entities; then 504")


class TagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, description="raw texts; each is split into sentences and tagged")


class Entity(BaseModel):
    """An entity mention: `text == input[start:end]`, offsets in code points (not UTF-16 units, not bytes)."""

    start: int
    end: int
    type: str
    text: str
    score: float
    concept_id: str | None = Field(None, description="only with a link dictionary: the linked id, or "
                                   "text:<normalised mention> where the dictionary has none")


class Mention(BaseModel):
    """A relation argument: the entity of the same result with these offsets."""

    start: int
    end: int
    text: str
    type: str


class EntityRelation(BaseModel):
    """A relation between two mentions of one text; `head` and `tail` are in the order the model read them."""

    type: str = Field(description="the relation label of the RE model")
    head: Mention
    tail: Mention
    score: float = Field(description="the model's probability of `type` for this pair")


class TagResult(BaseModel):
    entities: list[Entity]
    relations: list[EntityRelation] | None = Field(
        None, description="only with an RE model: relations between pairs of `entities` of one sentence, in text order")


class TagResponse(BaseModel):
    results: list[TagResult] = Field(description="one per input text, in input order")
    model: str
    relation_model: str | None = Field(None, description="only with an RE model: its name")


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


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`, with a detail naming the limit.

    A declared `Content-Length` over the limit is refused before reading; a streamed body is
    counted while the route reads it. FastAPI's own `max_body_size` is not used because
    Starlette's limiter replaces the answer to a declared oversize body with its own plain
    `Content Too Large`, which cannot say which limit was hit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limit = f"{max_bytes} bytes (max_request_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            detail = f"the request body has {declared} bytes; the limit is {self.limit}"
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # FastAPI lets an HTTPException out of body reading as it is
                raise HTTPException(413, f"the request body exceeds the limit of {self.limit}")
            return message

        await self.app(scope, counted, send)


async def client_gone(request: Request) -> None:
    """Return when the client disconnects: after the body, the next ASGI message is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def in_turn(request: Request, batcher: MicroBatcher, items: list[Any], limits: ServiceLimits,
                  late: str, lighter: str) -> list[Any] | Response:
    """The results of `items` once `batcher` has computed them, or the answer to send instead.

    413 (`HTTPException`, advising a `lighter` request) when the items alone cost more than
    `max_queue_chars`; 503 with Retry-After when they would take the queue past it; 503 when the
    service is shutting down (before or while they wait); 499 (nobody reads it) when the client
    disconnected; 504 (what was `late`, and advice to retry or send a `lighter` request) past
    `request_timeout_s`. In the last two cases the items leave the queue uncomputed.
    """
    try:
        future = batcher.enqueue(items)
    except RequestTooLarge as large:
        raise HTTPException(413, f"the request has {large.cost} characters; the queue holds at most "
                                 f"{large.max_queue_chars} (max_queue_chars): {lighter}") from None
    except QueueFull as full:
        detail = (f"the service is busy: {full.queued_chars} characters are waiting and this request has "
                  f"{full.cost} (max_queue_chars {limits.max_queue_chars}); retry after {full.retry_after_s} s")
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(full.retry_after_s)})
    except ServiceClosing:
        return shutting_down(late)
    gone = asyncio.create_task(client_gone(request))
    try:
        await asyncio.wait({future, gone}, timeout=limits.request_timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not future.done():
            future.cancel()  # its items leave the queue uncomputed
    if not future.cancelled():
        if isinstance(future.exception(), ServiceClosing):
            return shutting_down(late)
        return future.result()
    if gone.done() and not gone.cancelled():
        batcher.counts["disconnected"] += 1
        return Response(status_code=_CLIENT_GONE)
    batcher.counts["timed_out"] += 1
    raise HTTPException(504, f"{late} within {limits.request_timeout_s:g} s (request_timeout_s); the service is "
                             f"overloaded: retry later or {lighter}")


def shutting_down(late: str) -> JSONResponse:
    """The 503 of a request the service refused or dropped because it is shutting down (no Retry-After:
    when, or whether, it comes back is not the service's to say)."""
    return JSONResponse({"detail": f"the service is shutting down: {late}; retry later"}, status_code=503)


class QuestionAnswerer(Protocol):
    """What the service needs of a QA model; `biotune.tasks.qa.predict.QaPredictor` is one."""

    def answer(self, questions: Sequence[tuple[str, Sequence[str]]],
               top_k: int | None = 5) -> list[list[RankedAnswer]]: ...


@dataclass(frozen=True, slots=True)
class Question:
    """One /qa request as its micro-batcher carries it."""

    question: str
    contexts: tuple[str, ...]
    top_k: int | None  # None: the model's own cut


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


def traffic(batcher: MicroBatcher) -> dict[str, Any]:
    """What /health says of a model's queue: the requests served so far and what waits now."""
    return {"served": dict(batcher.counts),
            "queue": {"requests": batcher.waiting, "characters": batcher.queued_chars}}


def create_app(tagger: Tagger | None, limits: ServiceLimits = ServiceLimits(), model_name: str = "",
               relations: RelationStage | None = None, linker: DictionaryLinker | None = None,
               relation_model_name: str = "", qa: QuestionAnswerer | None = None, qa_model_name: str = "") -> FastAPI:
    """The service around `tagger` (and `relations`, `linker`): /tag; around `qa`: /qa. One of the two may be None.

    Each model has its micro-batcher (`app.state.batcher`, `app.state.qa_batcher`; both in
    `app.state.batchers`, which a server closes when it starts shutting down), running while the
    app's lifespan does. Only their worker threads call the models, so do not use them elsewhere
    while the app is serving.
    """
    if tagger is None and qa is None:
        raise ValueError("the service needs an NER tagger, a QA model or both")
    if tagger is None and (relations is not None or linker is not None):
        raise ValueError("relations and linking annotate the entities of an NER tagger; give one")
    batchers: list[MicroBatcher] = []
    page = (files("biotune.serving") / "web" / "index.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            for batcher in batchers:
                await batcher.start()
            yield
        finally:
            for batcher in batchers:
                await batcher.stop()

    app = FastAPI(title="biotune service", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes)
    app.state.batchers = batchers
    ner_health: dict[str, Any] = {}
    if tagger is not None:
        # its counters are /health's; a caller may read them, or swap its tag function
        app.state.batcher, ner_health = mount_tag(app, tagger, limits, model_name, relations, linker,
                                                  relation_model_name)
        batchers.append(app.state.batcher)
    else:
        mount_missing(app, "/tag", "this service has no NER model, so no /tag: it answers questions at POST /qa")
    if qa is not None:
        app.state.qa_batcher = mount_qa(app, qa, limits, qa_model_name)
        batchers.append(app.state.qa_batcher)
    else:
        mount_missing(app, "/qa", "this service has no QA model, so no /qa: serve one with --qa QA_CHECKPOINT")
    endpoints = ["/tag"] * (tagger is not None) + ["/qa"] * (qa is not None)

    @app.get("/health")
    async def health() -> JSONResponse:
        """Liveness plus what a client needs to know: the endpoints, models and types, the limits, traffic served."""
        running = all(batcher.running for batcher in batchers)
        body = {"status": "ok" if running else "stopped", "endpoints": endpoints, **ner_health,
                "limits": limits.model_dump()}
        if tagger is not None:
            body |= traffic(app.state.batcher)
        if qa is not None:
            body["qa"] = {"model": qa_model_name, **traffic(app.state.qa_batcher)}
        return JSONResponse(body, status_code=200 if running else 503)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        """The web page: tag text and see its entities and relations; ask a question of contexts and see the answers."""
        return page

    return app


def mount_tag(app: FastAPI, tagger: Tagger, limits: ServiceLimits, model_name: str, relations: RelationStage | None,
              linker: DictionaryLinker | None, relation_model_name: str) -> tuple[MicroBatcher, dict[str, Any]]:
    """Add POST /tag to `app`; returns its micro-batcher and what /health says of its models."""
    annotator = DocumentAnnotator(tagger, relations, linker)
    batcher = MicroBatcher(annotator.annotate_texts, limits.max_batch_chars, limits.max_queue_chars,
                           limits.batch_wait_ms / 1000)
    stages = annotator.describe()
    if "relations" in stages:
        stages["relations"] = {"model": relation_model_name, **stages["relations"]}
    models = {"model": model_name, "entity_types": entity_types(tagger.labels), **stages}
    relation_model = {"relation_model": relation_model_name} if relations is not None else {}

    @app.post("/tag", response_model=TagResponse, response_model_exclude_unset=True,
              openapi_extra=request_body(TagRequest))
    async def tag(request: Request) -> Any:
        """Entities of each text with character offsets, types and scores; relations between them with an RE model."""
        texts = parse_request(await request.body(), TagRequest, '/tag takes {"texts": ["..."]}').texts
        check_texts(texts, limits)
        found = await in_turn(request, batcher, texts, limits, late="the texts were not tagged",
                              lighter="send fewer texts")
        if isinstance(found, Response):
            return found
        return {"results": [result_record(annotations) for annotations in found], "model": model_name,
                **relation_model}

    return batcher, models


def mount_qa(app: FastAPI, model: QuestionAnswerer, limits: ServiceLimits, model_name: str) -> MicroBatcher:
    """Add POST /qa to `app`; returns its micro-batcher, whose items are whole questions."""
    batcher = MicroBatcher(partial(answer_questions, model), limits.max_batch_chars, limits.max_queue_chars,
                           limits.batch_wait_ms / 1000, cost=question_cost, unit="questions")

    @app.post("/qa", response_model=QaResponse, openapi_extra=request_body(QaRequest))
    async def answer(request: Request) -> Any:
        """The ranked answers to a question from its contexts, each with its score and where it was read."""
        question = check_question(
            parse_request(await request.body(), QaRequest, '/qa takes {"question": "...", "contexts": ["..."]}'),
            limits)
        found = await in_turn(request, batcher, [question], limits, late="the question was not answered",
                              lighter="send fewer contexts")
        if isinstance(found, Response):
            return found
        return {"model": model_name, "question": question.question,
                "answers": [answer_record(ranked) for ranked in found[0]]}

    return batcher


def request_body(schema: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its body itself (`parse_request`) as `schema`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


def mount_missing(app: FastAPI, path: str, detail: str) -> None:
    """Answer POST `path` with 404 and `detail`: the endpoint's model is not loaded (kept out of the API schema)."""

    @app.post(path, include_in_schema=False)
    async def missing() -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=404)


RequestModel = TypeVar("RequestModel", bound=BaseModel)


def parse_request(body: bytes, schema: type[RequestModel], usage: str) -> RequestModel:
    """The request body as a `schema`, or `HTTPException` 422 naming what is wrong (`usage` for JSON too deep).

    Parsed here rather than by FastAPI, which answers JSON nested deeper than Python's
    recursion limit with a bare 400 "There was an error parsing the body".
    """
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise HTTPException(422, f"the request body is not valid JSON: {error.msg} at character {error.pos}") from None
    except UnicodeDecodeError as error:
        raise HTTPException(422, f"the request body is not UTF-8 JSON: byte {error.start} is not UTF-8") from None
    except RecursionError:
        raise HTTPException(422, f"the request body nests JSON too deeply to parse; {usage}") from None
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise HTTPException(422, validation_message(error.errors())) from None


def check_texts(texts: Sequence[str], limits: ServiceLimits) -> None:
    """Raise `HTTPException` for too many texts (422), or a text `check_text` refuses."""
    if len(texts) > limits.max_texts:
        raise HTTPException(422, f"the request has {len(texts)} texts; the limit is {limits.max_texts} (max_texts)")
    for i, text in enumerate(texts):
        check_text(f"texts[{i}]", text, limits)


def check_question(request: QaRequest, limits: ServiceLimits) -> Question:
    """The /qa request as a `Question`, or `HTTPException` naming the field: 422 for neither or both of
    `contexts` and `context`, too many contexts or a blank question or context, and what `check_text` refuses."""
    if request.contexts is None and request.context is None:
        raise HTTPException(422, "contexts: Field required (a list of texts, or one text as context)")
    if request.contexts is not None and request.context is not None:
        raise HTTPException(422, "contexts: give contexts (a list) or context (one text), not both")
    named = ([(f"contexts[{i}]", text) for i, text in enumerate(request.contexts)] if request.contexts is not None
             else [("context", request.context)])
    if len(named) > limits.max_contexts:
        raise HTTPException(
            422, f"the request has {len(named)} contexts; the limit is {limits.max_contexts} (max_contexts)")
    for name, text in [("question", request.question), *named]:
        if not text.strip():
            raise HTTPException(422, f"{name} is empty" + (" (white space only)" if text else ""))
        check_text(name, text, limits)
    return Question(request.question, tuple(text for _, text in named), request.top_k)


def check_text(name: str, text: str, limits: ServiceLimits) -> None:
    """Raise `HTTPException` for a text over `max_chars` (413) or invalid Unicode (422), naming it `name`.

    A JSON string may hold an unpaired surrogate escape (`"\\ud800"`), which no tokenizer
    and no UTF-8 response can carry, so it is refused up front with its position.
    """
    if len(text) > limits.max_chars:
        raise HTTPException(413, f"{name} has {len(text)} characters; the limit is {limits.max_chars} (max_chars)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise HTTPException(
            422, f"{name} holds an unpaired surrogate (U+{ord(text[error.start]):04X}) at character "
            f"{error.start}; send valid Unicode"
        ) from None


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable line for pydantic errors on the request body, each naming its field (`texts[3]: ...`)."""
    messages = [_error_message(error) for error in errors]
    more = len(messages) - _MESSAGES_SHOWN
    return "; ".join(messages[:_MESSAGES_SHOWN]) + (f" (and {more} more errors)" if more > 0 else "")


def _error_message(error: Mapping[str, Any]) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    return f"{path or 'the request body'}: {error['msg']}"


def entity_record(annotation: Annotation) -> dict[str, Any]:
    """One entity as /tag answers it (the `Entity` schema; `concept_id` only where linking gave one)."""
    return {"start": annotation.start_char, "end": annotation.end_char, "type": annotation.type,
            "text": annotation.text, "score": annotation.score} | (
        {"concept_id": annotation.concept_id} if annotation.concept_id is not None else {})


def mention_record(annotation: Annotation) -> dict[str, Any]:
    """A relation argument as /tag answers it (the `Mention` schema)."""
    return {"start": annotation.start_char, "end": annotation.end_char, "text": annotation.text,
            "type": annotation.type}


def relation_record(relation: MentionRelation) -> dict[str, Any]:
    """One relation as /tag answers it (the `EntityRelation` schema)."""
    return {"type": relation.type, "head": mention_record(relation.head), "tail": mention_record(relation.tail),
            "score": relation.score}


def result_record(found: TextAnnotations) -> dict[str, Any]:
    """One text's result (the `TagResult` schema): `relations` only when the service has an RE model."""
    record: dict[str, Any] = {"entities": [entity_record(a) for a in found.entities]}
    if found.relations is not None:
        record["relations"] = [relation_record(r) for r in found.relations]
    return record


def answer_record(answer: RankedAnswer) -> dict[str, Any]:
    """One ranked answer as /qa answers it (the `Answer` schema)."""
    return {"text": answer.text, "score": answer.score,
            "occurrences": [{"context": o.context, "start": o.start, "end": o.end, "probability": o.probability}
                            for o in answer.occurrences]}


def model_name_of(checkpoint: Path) -> str:
    """The name /tag and /health give the model: never the server's file path.

    For a training run's checkpoint (`<output_dir>/checkpoints/<run>/seed_<n>/best_model`) it
    is the run and seed below `checkpoints/` (`bc5cdr/seed_42`, or `.../phase_1_gold` for an
    earlier phase); for another folder, its name (its parent's when it is called `best_model`).
    """
    parts = checkpoint.resolve().parts
    if "checkpoints" in parts[:-1]:
        below = list(parts[len(parts) - parts[::-1].index("checkpoints") :])
        if below[-1] == "best_model" and len(below) > 1:
            below.pop()
        return "/".join(below)
    folder = checkpoint.resolve()
    return folder.parent.name if folder.name == "best_model" and folder.parent.name else folder.name


def serve(
    checkpoint: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    precision: str = "auto",
    limits: ServiceLimits = ServiceLimits(),
    model_name: str | None = None,
    relations: Path | None = None,
    link_dictionary: Path | None = None,
    qa: Path | None = None,
) -> None:
    """Load `checkpoint` (a `best_model/` folder) and the models given beside it; serve with uvicorn.

    The checkpoint's task decides what is served: an NER model answers /tag (with the RE
    checkpoint `relations` and the dictionary if given) and, with a QA checkpoint `qa`, /qa
    too; a QA model alone answers /qa. Binds to loopback by default: the service has no
    authentication, so exposing it is a deliberate choice (`host="0.0.0.0"`). `model_name`
    defaults to `model_name_of(checkpoint)`; the relation and QA models beside it are named
    `model_name_of` their folders.
    """
    for what, folder in (("checkpoint", checkpoint), ("relation checkpoint", relations), ("QA checkpoint", qa)):
        if folder is not None and not folder.is_dir():
            raise BiotuneError(f"{what} folder {folder} not found")
    task = checkpoint_task(checkpoint)
    if task not in ("ner", "qa"):
        raise BiotuneError(f"checkpoint {checkpoint} is a {task} model; serve --checkpoint takes an NER or a QA "
                           f"checkpoint: a {task} model goes to {task_spec(task).takes}")
    if task == "qa" and (qa is not None or relations is not None or link_dictionary is not None):
        beside = "a second QA checkpoint" if qa is not None else "relations or a link dictionary"
        raise BiotuneError(f"checkpoint {checkpoint} is a QA model: {beside} can only be served beside an NER "
                           "checkpoint")
    if qa is not None and (qa_task := checkpoint_task(qa)) != "qa" and (qa / "config.json").is_file():
        raise BiotuneError(f"QA checkpoint {qa} is a {qa_task} model, not a QA model")
    name = model_name or model_name_of(checkpoint)
    if task == "qa":
        app = create_app(None, limits, qa=load_qa_predictor(checkpoint, precision), qa_model_name=name)
    else:
        linker = DictionaryLinker(read_dictionary(link_dictionary)) if link_dictionary is not None else None
        tagger = Tagger.from_checkpoint(checkpoint, precision=precision)
        stage = RelationStage.from_checkpoint(relations, precision) if relations is not None else None
        app = create_app(tagger, limits, model_name=name, relations=stage, linker=linker,
                         relation_model_name=model_name_of(relations) if relations is not None else "",
                         qa=load_qa_predictor(qa, precision) if qa is not None else None,
                         qa_model_name=model_name_of(qa) if qa is not None else "")
    run_server(app, host, port)


class ClosingServer(uvicorn.Server):
    """uvicorn's server, shutting the service down when the signal comes, not once every request is answered.

    uvicorn answers SIGINT or SIGTERM by waiting for every open request, queued ones included,
    before the app's lifespan ends; a second Ctrl-C then cancels the requests still open, each
    cancellation a traceback in the log. Here the first signal closes the app's batchers: the
    queued requests are answered 503 at once and the batch being computed finishes, so the wait
    is one batch. A second signal answers that batch's requests 503 too and ends the app's
    lifespan itself (uvicorn skips it when forced), so nothing is left to cancel.
    """

    def __init__(self, config: uvicorn.Config, batchers: Sequence[MicroBatcher]) -> None:
        super().__init__(config)
        self.batchers = batchers

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's `serve`, except that a Ctrl-C that stopped the server cleanly is not raised again
        once it has stopped: stopping the service was the whole request (exit status 0). A SIGTERM
        is still raised again, so a supervisor sees the process end by it. (uvicorn 0.54 keeps the
        signals it handled in `_captured_signals` and raises them again as `capture_signals` ends.)"""
        with self.capture_signals():
            await self._serve(sockets)
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGINT]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        cancelled = sum(batcher.close() for batcher in self.batchers)
        # uvicorn's own logger: this line belongs in the server log beside its start and stop lines
        logging.getLogger("uvicorn.error").info("biotune serve: shutting down, %d queued requests cancelled",
                                                cancelled)
        await super().shutdown(sockets)
        if not self.force_exit:
            return
        for batcher in self.batchers:
            batcher.abandon()
        if self.server_state.tasks:
            await asyncio.wait(set(self.server_state.tasks), timeout=_FORCED_ANSWER_S)
        await self.lifespan.shutdown()


def run_server(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` (from `create_app`) on `host`:`port` until SIGINT or SIGTERM, then shut down as `ClosingServer` does.

    A Ctrl-C ends it with exit status 0 (see `ClosingServer.serve`); a SIGTERM ends the process as
    that signal's default does (or, under the `biotune` command's `catch_signals`, with status 143),
    so a supervisor sees it.
    """
    server = ClosingServer(uvicorn.Config(app, host=host, port=port), app.state.batchers)
    with suppress(KeyboardInterrupt):  # the SIGTERM raised again, under `catch_signals`
        server.run()


def load_qa_predictor(checkpoint: Path, precision: str) -> QuestionAnswerer:
    """The predictor of a QA `best_model/` folder, imported here: only a service with a QA model needs it."""
    from biotune.tasks.qa.predict import QaPredictor

    return QaPredictor.from_checkpoint(checkpoint, precision=precision)
