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

Concurrent requests are merged: the Tagger is fastest on many sentences at once and is not
thread-safe, so requests hand their texts to a `MicroBatcher`, whose one worker thread tags
the texts of several requests in one call and hands each request its own results back. A
batch is bounded by cost (characters, `max_batch_chars`), not by count, and a request larger
than the budget is tagged a budget at a time, taking its turn behind the requests that arrived
meanwhile, so one huge request delays a small one by at most one batch. The QA model has a
micro-batcher of its own (its own worker thread and queue), whose items are whole questions
(a question with all its contexts, which are merged into one ranking, so never split).

Overload is refused, not queued forever: past `max_queue` unanswered requests the answer is
503 with `Retry-After`; a request not answered within `request_timeout_s` gets 504; and the
texts of a request whose client disconnected or timed out are dropped from the queue, never
tagged.

Limits are checked before anything is tagged and each refusal names the limit or the field:
413 for a body over `max_request_bytes` (judged from Content-Length, or counted while reading,
so a body is never buffered past the limit) or a text over `max_chars`; 422 for malformed or
too deeply nested JSON, wrong types, an empty list or too many texts (or contexts), a blank
question or context. Every error body is `{"detail": "<message>"}`.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
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
from biotune.serving.pipeline import DocumentAnnotator, MentionRelation, RelationStage, TextAnnotations
from biotune.tasks import checkpoint_task
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.qa.examples import RankedAnswer

# A validation error can list one problem per text; the message keeps the first few.
_MESSAGES_SHOWN = 3
# Bounds of the Retry-After estimate, in seconds: at least 1 (the header counts whole seconds),
# at most a minute, beyond which an estimate from past batches means little.
_RETRY_AFTER_S = (1, 60)
# nginx's "client closed request": logged for a request whose client went away; nobody reads it.
_CLIENT_GONE = 499


class ServiceLimits(BaseModel):
    """What one request may hold, how the micro-batcher merges requests, and when it refuses them.

    `max_request_bytes` bites before `max_texts * max_chars` does (64 texts of 100,000
    characters are at least 6.4 MB), so it bounds a request's memory; `max_batch_chars` bounds
    the work of one tagging call, so it bounds how long any request waits behind another;
    `max_queue` and `request_timeout_s` bound how long a request can wait at all. /qa holds to
    the same limits, with `max_contexts` for its count and `max_chars` for the question and
    each context; each model's queue holds `max_queue`.
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
    max_queue: int = Field(64, gt=0, description="requests waiting or being tagged; one more gets 503")
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


# A model call over a batch of items (texts to tag, questions to answer): one result per item, in order.
BatchFunction = Callable[[Sequence[Any]], list[Any]]


def text_cost(text: str) -> int:
    """What a text costs a batch: its characters (an empty text still costs one, so texts stay bounded)."""
    return max(len(text), 1)


def retry_after(pending_chars: int, chars_per_second: float | None) -> int:
    """Whole seconds until the queue has drained at the measured rate, within `_RETRY_AFTER_S`."""
    low, high = _RETRY_AFTER_S
    if not chars_per_second:
        return low
    return min(max(math.ceil(pending_chars / chars_per_second), low), high)


class QueueFull(Exception):
    """The batcher holds `max_queue` unanswered requests; the service answers 503 with Retry-After."""

    def __init__(self, waiting: int, retry_after_s: int) -> None:
        super().__init__(f"{waiting} requests are waiting or being tagged")
        self.waiting = waiting
        self.retry_after_s = retry_after_s


@dataclass(slots=True, eq=False)
class Job:
    """One request's items (its texts for /tag; its one question for /qa), each costing `cost`
    characters; `tagged` counts those already computed, whose results are in `results`."""

    texts: list[Any]
    future: asyncio.Future[list[Any]]
    tagged: int = 0
    results: list[Any] = field(default_factory=list)
    cost: Callable[[Any], int] = text_cost

    def untagged_chars(self) -> int:
        return sum(map(self.cost, self.texts[self.tagged :]))


@dataclass(frozen=True, slots=True)
class Part:
    """Texts `[start, stop)` of `job`, in one batch."""

    job: Job
    start: int
    stop: int


def plan_batch(line: deque[Job], max_chars: int) -> list[Part]:
    """Take the next batch from the front of `line`, in order, within `max_chars`.

    Whole texts only: a request is split between texts, never inside one, and a text over the
    budget goes alone. A request whose texts do not all fit leaves the line with the part that
    does; the caller puts its rest back at the end, behind requests that arrived meanwhile.
    Requests whose future is done (cancelled: client gone or timed out) are dropped untagged.
    """
    parts: list[Part] = []
    budget = max_chars
    while line:
        job = line[0]
        if job.future.done():
            line.popleft()
            continue
        stop = job.tagged
        while stop < len(job.texts) and (job.cost(job.texts[stop]) <= budget or not parts and stop == job.tagged):
            budget -= job.cost(job.texts[stop])
            stop += 1
        if stop == job.tagged:  # its next text does not fit: the batch is full
            break
        line.popleft()
        parts.append(Part(job, job.tagged, stop))
        if stop < len(job.texts):
            break
    return parts


class MicroBatcher:
    """Merges the items (texts, or questions) of concurrent requests into few calls of `tag`, run on one worker thread.

    `enqueue` admits a request's items (or raises `QueueFull`) and returns the future of their
    results. The worker waits for a first request, lets others join for `wait_s`, takes a batch
    of at most `max_chars` characters by `cost` (`plan_batch`), computes it in one call and hands
    each request its own slice. `tag` only ever runs on the one worker thread, which is what
    makes a non-thread-safe model safe to serve. `unit` names the items in `counts`.
    """

    def __init__(self, tag: BatchFunction, max_chars: int, max_queue: int, wait_s: float,
                 cost: Callable[[Any], int] = text_cost, unit: str = "texts") -> None:
        self.tag = tag
        self.max_chars = max_chars
        self.max_queue = max_queue
        self.wait_s = wait_s
        self.cost = cost
        self.unit = unit
        self.counts = {"requests": 0, "batches": 0, unit: 0, "refused": 0, "timed_out": 0, "disconnected": 0}
        self._tagged_chars = 0
        self._tagging_s = 0.0
        self._line: deque[Job] = deque()
        self._waiting: dict[asyncio.Future[list[Any]], Job] = {}
        self._arrived: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def waiting(self) -> int:
        """Requests admitted and not answered yet (queued or in the batch being tagged)."""
        return len(self._waiting)

    def pending_chars(self) -> int:
        return sum(job.untagged_chars() for job in self._waiting.values())

    def chars_per_second(self) -> float | None:
        """The tagging rate measured so far; None before the first batch."""
        return self._tagged_chars / self._tagging_s if self._tagging_s > 0 else None

    async def start(self) -> None:
        # Made here, not in __init__: an Event belongs to the event loop that first uses it.
        self._arrived = asyncio.Event()
        self._line.clear()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"biotune-{self.unit}")
        self._task = asyncio.create_task(self._run(), name=f"biotune-micro-batcher-{self.unit}")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting fail (uvicorn drains open requests before this)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(RuntimeError(f"the service stopped before computing these {self.unit}"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def enqueue(self, texts: list[Any]) -> asyncio.Future[list[Any]]:
        """Admit `texts` (items); the future resolves to the result of each. Cancel it to drop them."""
        if not self.running or self._arrived is None:
            raise RuntimeError("the micro-batcher is not running: serve the app with its lifespan "
                               "(uvicorn, or TestClient used as a context manager)")
        if self.waiting >= self.max_queue:
            self.counts["refused"] += 1
            raise QueueFull(self.waiting, retry_after(self.pending_chars(), self.chars_per_second()))
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        job = Job(texts, future, cost=self.cost)
        self._waiting[future] = job
        future.add_done_callback(self._forget)
        self.counts["requests"] += 1
        self._line.append(job)
        self._arrived.set()
        return future

    def _forget(self, future: asyncio.Future[list[Any]]) -> None:
        self._waiting.pop(future, None)

    async def _run(self) -> None:
        assert self._arrived is not None  # set by start()
        loop = asyncio.get_running_loop()
        while True:
            while not any(not job.future.done() for job in self._line):
                self._arrived.clear()
                await self._arrived.wait()
            if self.wait_s > 0 and sum(job.untagged_chars() for job in self._line) < self.max_chars:
                await asyncio.sleep(self.wait_s)  # room left in the batch: let concurrent requests join
            parts = plan_batch(self._line, self.max_chars)
            if parts:
                await self._tag(parts, loop)

    async def _tag(self, parts: list[Part], loop: asyncio.AbstractEventLoop) -> None:
        texts = [text for part in parts for text in part.job.texts[part.start : part.stop]]
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self.tag, texts)
        except Exception as error:  # every request of the batch gets the error (a 500), the worker lives on
            for part in parts:
                if not part.job.future.done():
                    part.job.future.set_exception(error)
            return
        self._tagging_s += time.perf_counter() - started
        self._tagged_chars += sum(map(self.cost, texts))
        self.counts["batches"] += 1
        self.counts[self.unit] += len(texts)
        offset = 0
        for part in parts:
            job, count = part.job, part.stop - part.start
            job.results.extend(results[offset : offset + count])
            offset += count
            job.tagged = part.stop
            if job.future.done():  # cancelled while its batch was being tagged
                continue
            if job.tagged == len(job.texts):
                job.future.set_result(job.results)
            else:  # the rest of a large request waits its turn behind those that came meanwhile
                self._line.append(job)


async def client_gone(request: Request) -> None:
    """Return when the client disconnects: after the body, the next ASGI message is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def in_turn(request: Request, batcher: MicroBatcher, items: list[Any], limits: ServiceLimits,
                  late: str, lighter: str) -> list[Any] | Response:
    """The results of `items` once `batcher` has computed them, or the answer to send instead.

    503 with Retry-After when `max_queue` requests are waiting already; 499 (nobody reads it)
    when the client disconnected; 504 (`HTTPException`: what was `late`, and advice to retry
    or send a `lighter` request) past `request_timeout_s`. In the last two cases the items
    leave the queue uncomputed.
    """
    try:
        future = batcher.enqueue(items)
    except QueueFull as full:
        detail = (f"the service is busy: {full.waiting} requests are waiting (max_queue {limits.max_queue}); "
                  f"retry after {full.retry_after_s} s")
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(full.retry_after_s)})
    gone = asyncio.create_task(client_gone(request))
    try:
        await asyncio.wait({future, gone}, timeout=limits.request_timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not future.done():
            future.cancel()  # its items leave the queue uncomputed
    if not future.cancelled():
        return future.result()
    if gone.done() and not gone.cancelled():
        batcher.counts["disconnected"] += 1
        return Response(status_code=_CLIENT_GONE)
    batcher.counts["timed_out"] += 1
    raise HTTPException(504, f"{late} within {limits.request_timeout_s:g} s (request_timeout_s); the service is "
                             f"overloaded: retry later or {lighter}")


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
            "queue": {"requests": batcher.waiting, "characters": batcher.pending_chars()}}


def create_app(tagger: Tagger | None, limits: ServiceLimits = ServiceLimits(), model_name: str = "",
               relations: RelationStage | None = None, linker: DictionaryLinker | None = None,
               relation_model_name: str = "", qa: QuestionAnswerer | None = None, qa_model_name: str = "") -> FastAPI:
    """The service around `tagger` (and `relations`, `linker`): /tag; around `qa`: /qa. One of the two may be None.

    Each model has its micro-batcher (`app.state.batcher`, `app.state.qa_batcher`), running
    while the app's lifespan does. Only their worker threads call the models, so do not use
    them elsewhere while the app is serving.
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
    batcher = MicroBatcher(annotator.annotate_texts, limits.max_batch_chars, limits.max_queue,
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
    batcher = MicroBatcher(partial(answer_questions, model), limits.max_batch_chars, limits.max_queue,
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
        raise BiotuneError(f"checkpoint {checkpoint} is a {task} model; serve takes an NER or a QA checkpoint")
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
    uvicorn.run(app, host=host, port=port)


def load_qa_predictor(checkpoint: Path, precision: str) -> QuestionAnswerer:
    """The predictor of a QA `best_model/` folder, imported here: only a service with a QA model needs it."""
    from biotune.tasks.qa.predict import QaPredictor

    return QaPredictor.from_checkpoint(checkpoint, precision=precision)
