"""HTTP service: `POST /tag` (texts in, entities and relations out), `POST /qa` (a question and its
contexts in, ranked answers out), each other task's endpoint (`Task.endpoint`, by default
`POST /<task>`: the task's prediction records in and out, `predict_records` behind a
micro-batcher whose items are whole requests), `GET /health` (which lists what is mounted) and a
small web page at `/` with a panel per mounted model. `serve` mounts one model folder per task,
by the task each records. The /tag and /qa request and response schemas are their tasks'
(`tasks/ner/endpoint.py`, `tasks/qa/endpoint.py`).

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
from biotune.serving.predict_job import load_predictor
from biotune.serving.pipeline import DocumentAnnotator, MentionRelation, RelationStage, TextAnnotations
from biotune.tasks import checkpoint_task, get_task, task_spec
from biotune.tasks.contract import Endpoint, Predictor, Task
from biotune.tasks.ner.endpoint import TagRequest, TagResponse
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.qa.endpoint import QaRequest, QaResponse
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


@dataclass(frozen=True)
class Mounted:
    """A model served at its task's endpoint (`Task.endpoint`), named `name` in its answers and /health."""

    task: Task
    predictor: Predictor
    endpoint: Endpoint
    name: str


def predict_requests(task: Task, predictor: Predictor,
                     requests: Sequence[Sequence[dict[str, Any]]]) -> list[list[dict[str, Any]] | BiotuneError]:
    """The output records of each of a batch's requests, in order: one `predict_records` call for all
    of them; where that refuses a record (a `BiotuneError`), each request again on its own, so a
    malformed request gets its own error (naming its record's position in it) and the others their
    records."""
    flat = [record for request in requests for record in request]
    try:
        results = task.predict_records(predictor, flat)
    except BiotuneError as error:
        if len(requests) == 1:
            return [error]
        return [predict_requests(task, predictor, [request])[0] for request in requests]
    answers: list[list[dict[str, Any]] | BiotuneError] = []
    start = 0
    for request in requests:
        answers.append(results[start : start + len(request)])
        start += len(request)
    return answers


def mount_endpoint(app: FastAPI, mounted: Mounted, limits: ServiceLimits) -> MicroBatcher:
    """Add POST `mounted.endpoint.path` to `app`; returns its micro-batcher, whose items are whole requests
    (their records predicted together, never split), each costing its records' `endpoint.cost`."""
    endpoint = mounted.endpoint
    batcher = MicroBatcher(partial(predict_requests, mounted.task, mounted.predictor), limits.max_batch_chars,
                           limits.max_queue_chars, limits.batch_wait_ms / 1000,
                           cost=lambda records: max(sum(map(endpoint.cost, records)), 1), unit="answered")

    async def predict(request: Request) -> Any:
        parsed = parse_request(await request.body(), endpoint.request, endpoint.usage)
        records = endpoint.records(parsed)
        check_records(records, limits)
        found = await in_turn(request, batcher, [records], limits, late="the records were not predicted",
                              lighter="send fewer records")
        if isinstance(found, Response):
            return found
        if isinstance(found[0], BiotuneError):
            raise HTTPException(422, str(found[0]))
        return {**endpoint.answer(parsed, found[0]), "model": mounted.name}

    app.add_api_route(endpoint.path, predict, methods=["POST"], response_model=endpoint.response,
                      openapi_extra=request_body(endpoint.request),
                      summary=f"{mounted.task.name}: {task_spec(mounted.task.name).description}")
    return batcher


def check_records(records: Sequence[Mapping[str, Any]], limits: ServiceLimits) -> None:
    """Raise `HTTPException` for too many records (422, `max_texts`), or a record whose JSON `check_text`
    refuses (over `max_chars`, invalid Unicode)."""
    if len(records) > limits.max_texts:
        raise HTTPException(422, f"the request has {len(records)} records; the limit is {limits.max_texts} (max_texts)")
    for i, record in enumerate(records):
        check_text(f"records[{i}]", json.dumps(record, ensure_ascii=False), limits)


def traffic(batcher: MicroBatcher) -> dict[str, Any]:
    """What /health says of a model's queue: the requests served so far and what waits now."""
    return {"served": dict(batcher.counts),
            "queue": {"requests": batcher.waiting, "characters": batcher.queued_chars}}


def create_app(tagger: Tagger | None, limits: ServiceLimits = ServiceLimits(), model_name: str = "",
               relations: RelationStage | None = None, linker: DictionaryLinker | None = None,
               relation_model_name: str = "", qa: QuestionAnswerer | None = None, qa_model_name: str = "",
               mounted: Sequence[Mounted] = ()) -> FastAPI:
    """The service around `tagger` (and `relations`, `linker`): /tag; around `qa`: /qa; and each of
    `mounted` at its task's endpoint. Any of them may be missing, not all.

    Each model has its micro-batcher (`app.state.batcher`, `app.state.qa_batcher`,
    `app.state.endpoint_batchers[path]`; all in `app.state.batchers`, which a server closes when it
    starts shutting down), running while the app's lifespan does. Only their worker threads call
    the models, so do not use them elsewhere while the app is serving.
    """
    if tagger is None and qa is None and not mounted:
        raise ValueError("the service needs a model: an NER tagger, a QA model or both, or models mounted at their "
                         "task's endpoint")
    paths = [m.endpoint.path for m in mounted] + ["/tag"] * (tagger is not None) + ["/qa"] * (qa is not None)
    if len(set(paths)) < len(paths):
        raise ValueError(f"two models would answer the same endpoint: {', '.join(paths)}")
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
        serves = ("answers questions at POST /qa" if qa is not None
                  else "serves " + ", ".join(f"POST {m.endpoint.path}" for m in mounted))
        mount_missing(app, "/tag", f"this service has no NER model, so no /tag: it {serves}")
    if qa is not None:
        app.state.qa_batcher = mount_qa(app, qa, limits, qa_model_name)
        batchers.append(app.state.qa_batcher)
    else:
        mount_missing(app, "/qa", "this service has no QA model, so no /qa: serve one with --qa QA_CHECKPOINT")
    app.state.endpoint_batchers = {}
    for model in mounted:
        app.state.endpoint_batchers[model.endpoint.path] = mount_endpoint(app, model, limits)
        batchers.append(app.state.endpoint_batchers[model.endpoint.path])
    endpoints = ["/tag"] * (tagger is not None) + ["/qa"] * (qa is not None) + [m.endpoint.path for m in mounted]
    dedicated = ([{"path": "/tag", "task": "ner", "model": model_name}] * (tagger is not None)
                 + [{"path": "/qa", "task": "qa", "model": qa_model_name}] * (qa is not None))

    @app.get("/health")
    async def health() -> JSONResponse:
        """Liveness plus what a client needs to know: the endpoints, models and types, the limits, traffic served."""
        running = all(batcher.running for batcher in batchers)
        served = [*dedicated, *({"path": m.endpoint.path, "task": m.task.name, "model": m.name,
                                 **traffic(app.state.endpoint_batchers[m.endpoint.path])} for m in mounted)]
        body = {"status": "ok" if running else "stopped", "endpoints": endpoints, "mounted": served, **ner_health,
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
    checkpoint: Path | Sequence[Path],
    host: str = "127.0.0.1",
    port: int = 8000,
    precision: str = "auto",
    limits: ServiceLimits = ServiceLimits(),
    model_name: str | None = None,
    relations: Path | None = None,
    link_dictionary: Path | None = None,
    qa: Path | None = None,
) -> None:
    """Load `checkpoint` (a `best_model/` folder, or several) and the models given beside it; serve with uvicorn.

    Each folder is mounted by its recorded task, one model per endpoint: an NER model answers
    /tag (with the RE checkpoint `relations` and the dictionary if given), a QA model (here or
    as `qa`) /qa, and a model of any other task its task's endpoint (`Task.endpoint`, e.g.
    /similarity: its prediction records in and out). Binds to loopback by default: the service
    has no authentication, so exposing it is a deliberate choice (`host="0.0.0.0"`). `model_name`
    names the first folder's model (default `model_name_of` it); the others are named
    `model_name_of` their folders.
    """
    folders = [Path(checkpoint)] if isinstance(checkpoint, (str, Path)) else [Path(f) for f in checkpoint]
    if not folders:
        raise BiotuneError("serve needs at least one model folder")
    named = [*(("checkpoint", folder) for folder in folders), ("relation checkpoint", relations), ("QA checkpoint", qa)]
    for what, folder in named:
        if folder is not None and not folder.is_dir():
            raise BiotuneError(f"{what} folder {folder} not found")
    if qa is not None and (qa_task := checkpoint_task(qa)) != "qa" and (qa / "config.json").is_file():
        raise BiotuneError(f"QA checkpoint {qa} is a {qa_task} model, not a QA model")
    given = [*folders, *([qa] if qa is not None else [])]
    if len({folder.resolve() for folder in given}) < len(given):
        raise BiotuneError(f"a model folder is given twice ({', '.join(map(str, given))}): each is served once")
    tasks = {folder: checkpoint_task(folder) for folder in given}
    if "ner" not in tasks.values() and (relations is not None or link_dictionary is not None):
        raise BiotuneError(f"checkpoint {folders[0]} is a {tasks[folders[0]]} model: relations or a link dictionary "
                           "can only be served beside an NER checkpoint")
    for task in dict.fromkeys(tasks.values()):
        same = [str(folder) for folder, t in tasks.items() if t == task]
        if len(same) > 1:
            raise BiotuneError(f"{len(same)} {task} checkpoints ({', '.join(same)}): the service mounts one model "
                               f"per task; serve each on its own port")
    endpoints = {folder: get_task(task).endpoint(recorded_settings(folder))
                 for folder, task in tasks.items() if task not in ("ner", "qa")}
    for folder, endpoint in endpoints.items():
        if endpoint is None:
            raise BiotuneError(f"checkpoint {folder} is a {tasks[folder]} model, which serve does not mount on its "
                               f"own: it goes to {task_spec(tasks[folder]).takes}")
    names = {folder: model_name_of(folder) for folder in tasks} | {folders[0]: model_name or model_name_of(folders[0])}
    by_task = {task: folder for folder, task in tasks.items()}
    mounted = []
    for folder, endpoint in endpoints.items():
        assert endpoint is not None  # refused above
        task, predictor = load_predictor(folder, precision)
        mounted.append(Mounted(task, predictor, endpoint, names[folder]))
    answerer = load_qa_predictor(by_task["qa"], precision) if "qa" in by_task else None
    ner = by_task.get("ner")
    if ner is None:
        app = create_app(None, limits, qa=answerer, qa_model_name=names.get(by_task.get("qa"), ""), mounted=mounted)
    else:
        linker = DictionaryLinker(read_dictionary(link_dictionary)) if link_dictionary is not None else None
        tagger = Tagger.from_checkpoint(ner, precision=precision)
        stage = RelationStage.from_checkpoint(relations, precision) if relations is not None else None
        app = create_app(tagger, limits, model_name=names[ner], relations=stage, linker=linker,
                         relation_model_name=model_name_of(relations) if relations is not None else "",
                         qa=answerer, qa_model_name=names.get(by_task.get("qa"), ""), mounted=mounted)
    run_server(app, host, port)


def recorded_settings(folder: Path) -> dict[str, Any]:
    """What a saved model folder's config records for prediction (`config.json` ``biotune``); empty if unreadable
    (the task's `load` then names what is wrong with the folder)."""
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8")).get("biotune") or {}
    except (OSError, ValueError, AttributeError):
        return {}


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
