"""HTTP service: `POST /tag` (texts in, entities out), `GET /health` and a small web page at `/`.

Every text goes through `tag_documents`, so the service gives the same entities, with the
same character offsets (Python code points), as `biotune tag` and the library API.

Concurrent requests are merged: the Tagger is fastest on many sentences at once and is not
thread-safe, so requests hand their texts to a `MicroBatcher`, whose one worker thread tags
the texts of all requests that arrived within `batch_wait_ms` in one call and hands each
request its own results back. Under load the batches grow by themselves: requests arriving
while a batch is being tagged are merged into the next one.

Limits are checked before anything is tagged and each refusal names the limit or the field:
413 for a body over `max_request_bytes` (judged from Content-Length, or counted while reading,
so a body is never buffered past the limit) or a text over `max_chars`; 422 for malformed JSON,
wrong types, an empty list or too many texts. Every error body is `{"detail": "<message>"}`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from biotune.data.documents import Annotation
from biotune.data.schemes import entity_types
from biotune.errors import BiotuneError
from biotune.inference.annotate import tag_documents, text_document
from biotune.inference.tagger import Tagger

# A validation error can list one problem per text; the message keeps the first few.
_MESSAGES_SHOWN = 3


class ServiceLimits(BaseModel):
    """What one request may hold, and how long the micro-batcher waits to merge requests.

    `max_request_bytes` bites before `max_texts * max_chars` does (64 texts of 100,000
    characters are at least 6.4 MB), so it bounds a request's memory; `max_chars` keeps one
    huge text from holding up the texts batched with it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_texts: int = Field(64, gt=0, description="texts per request")
    max_chars: int = Field(100_000, gt=0, description="characters (code points) per text")
    max_request_bytes: int = Field(2_000_000, gt=0, description="bytes of one request body")
    max_batch_texts: int = Field(64, gt=0, description="texts the micro-batcher merges into one tagging call")
    batch_wait_ms: float = Field(5.0, ge=0, description="how long a batch waits for more requests to join")


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


class TagResult(BaseModel):
    entities: list[Entity]


class TagResponse(BaseModel):
    results: list[TagResult] = Field(description="one per input text, in input order")
    model: str


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


TagFunction = Callable[[Sequence[str]], list[list[Annotation]]]


def annotate_texts(tagger: Tagger, texts: Sequence[str]) -> list[list[Annotation]]:
    """The entities of each text, exactly as `tag_documents` finds them."""
    documents = tag_documents(tagger, [text_document(str(i), text) for i, text in enumerate(texts)])
    return [document.annotations for document in documents]


@dataclass(slots=True)
class _Job:
    texts: list[str]
    future: asyncio.Future[list[list[Annotation]]]


class MicroBatcher:
    """Merges the texts of concurrent requests into few calls of `tag`, run on one worker thread.

    `submit` queues a request's texts and waits for their results. The worker takes the first
    waiting request, adds those arriving within `wait_s` (and any already queued) while the
    batch stays within `max_texts` texts, tags them in one call and resolves each request with
    its own slice. A request larger than `max_texts` is tagged alone, never split; a request
    that would overflow a batch starts the next one. `tag` only ever runs on the one worker
    thread, which is what makes a non-thread-safe Tagger safe to serve.
    """

    _queue: asyncio.Queue[_Job]

    def __init__(self, tag: TagFunction, max_texts: int, wait_s: float) -> None:
        self.tag = tag
        self.max_texts = max_texts
        self.wait_s = wait_s
        self.requests = 0
        self.batches = 0
        self.texts = 0
        self._carried: _Job | None = None
        self._waiting: set[asyncio.Future[list[list[Annotation]]]] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        # Made here, not in __init__: a queue belongs to the event loop that first uses it.
        self._queue = asyncio.Queue()
        self._carried = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="biotune-tagger")
        self._task = asyncio.create_task(self._run(), name="biotune-micro-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting fail (uvicorn drains open requests before this)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(RuntimeError("the service stopped before these texts were tagged"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str]) -> list[list[Annotation]]:
        """The annotations of each of `texts`, tagged together with other requests' texts."""
        if not self.running:
            raise RuntimeError("the micro-batcher is not running: serve the app with its lifespan "
                               "(uvicorn, or TestClient used as a context manager)")
        future: asyncio.Future[list[list[Annotation]]] = asyncio.get_running_loop().create_future()
        self._waiting.add(future)
        future.add_done_callback(self._waiting.discard)
        self.requests += 1
        self._queue.put_nowait(_Job(texts, future))
        return await future

    async def _run(self) -> None:
        while True:
            await self._tag(await self._collect())

    async def _collect(self) -> list[_Job]:
        """The jobs of the next batch (see the class docstring)."""
        first = self._carried or await self._queue.get()
        self._carried = None
        jobs, count = [first], len(first.texts)
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while count < self.max_texts:
            try:
                async with asyncio.timeout_at(deadline):
                    job = await self._queue.get()
            except TimeoutError:
                break
            if count + len(job.texts) > self.max_texts:
                self._carried = job
                break
            jobs.append(job)
            count += len(job.texts)
        return jobs

    async def _tag(self, jobs: list[_Job]) -> None:
        jobs = [job for job in jobs if not job.future.done()]  # a client that went away cancelled its future
        if not jobs:
            return
        texts = [text for job in jobs for text in job.texts]
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._executor, self.tag, texts)
        except Exception as error:  # every request of the batch gets the error (a 500), the worker lives on
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        self.batches += 1
        self.texts += len(texts)
        offsets = itertools.accumulate((len(job.texts) for job in jobs), initial=0)
        for job, start in zip(jobs, offsets):
            if not job.future.done():  # cancelled while its batch was being tagged
                job.future.set_result(results[start : start + len(job.texts)])


def create_app(tagger: Tagger, limits: ServiceLimits = ServiceLimits(), model_name: str = "") -> FastAPI:
    """The service around `tagger`; the micro-batcher runs while the app's lifespan does.

    Only the batcher's worker thread calls the tagger, so do not use `tagger` elsewhere while
    the app is serving.
    """
    batcher = MicroBatcher(partial(annotate_texts, tagger), limits.max_batch_texts, limits.batch_wait_ms / 1000)
    types = entity_types(tagger.labels)
    page = (files("biotune.inference") / "web" / "index.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="biotune NER service", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(error.errors())}, status_code=422)

    @app.post("/tag", response_model=TagResponse)
    async def tag(request: TagRequest) -> dict[str, Any]:
        """Entities of each text with character offsets, types and scores."""
        check_texts(request.texts, limits)
        annotations = await batcher.submit(request.texts)
        return {"results": [{"entities": [entity_record(a) for a in found]} for found in annotations],
                "model": model_name}

    @app.get("/health")
    async def health() -> JSONResponse:
        """Liveness plus what a client needs to know: the model, its entity types, the limits, traffic served."""
        body = {"status": "ok" if batcher.running else "stopped", "model": model_name, "entity_types": types,
                "limits": limits.model_dump(),
                "served": {"requests": batcher.requests, "batches": batcher.batches, "texts": batcher.texts}}
        return JSONResponse(body, status_code=200 if batcher.running else 503)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        """The web page: paste text, see its entities highlighted by type."""
        return page

    return app


def check_texts(texts: Sequence[str], limits: ServiceLimits) -> None:
    """Raise `HTTPException` for too many texts (422), a text over `max_chars` (413) or invalid Unicode (422).

    A JSON string may hold an unpaired surrogate escape (`"\\ud800"`), which no tokenizer
    and no UTF-8 response can carry, so it is refused up front with its position.
    """
    if len(texts) > limits.max_texts:
        raise HTTPException(422, f"the request has {len(texts)} texts; the limit is {limits.max_texts} (max_texts)")
    for i, text in enumerate(texts):
        if len(text) > limits.max_chars:
            raise HTTPException(
                413, f"texts[{i}] has {len(text)} characters; the limit is {limits.max_chars} (max_chars)"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise HTTPException(
                422, f"texts[{i}] holds an unpaired surrogate (U+{ord(text[error.start]):04X}) at character "
                f"{error.start}; send valid Unicode"
            ) from None


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable line for pydantic/FastAPI errors, each naming its field (`texts[3]: ...`)."""
    messages = [_error_message(error) for error in errors]
    more = len(messages) - _MESSAGES_SHOWN
    return "; ".join(messages[:_MESSAGES_SHOWN]) + (f" (and {more} more errors)" if more > 0 else "")


def _error_message(error: Mapping[str, Any]) -> str:
    if error["type"] == "json_invalid":
        return f"the request body is not valid JSON: {error['ctx']['error']} at character {error['loc'][-1]}"
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"][1:]).lstrip(".")
    return f"{path or 'the request body'}: {error['msg']}"


def entity_record(annotation: Annotation) -> dict[str, Any]:
    """One entity as /tag answers it (the `Entity` schema)."""
    return {"start": annotation.start_char, "end": annotation.end_char, "type": annotation.type,
            "text": annotation.text, "score": annotation.score}


def serve(
    checkpoint: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    precision: str = "auto",
    limits: ServiceLimits = ServiceLimits(),
) -> None:
    """Load `checkpoint` (a `best_model/` folder) and serve it with uvicorn until interrupted.

    Binds to loopback by default: the service has no authentication, so exposing it is a
    deliberate choice (`host="0.0.0.0"`).
    """
    if not checkpoint.is_dir():
        raise BiotuneError(f"checkpoint folder {checkpoint} not found")
    tagger = Tagger.from_checkpoint(checkpoint, precision=precision)
    uvicorn.run(create_app(tagger, limits, model_name=str(checkpoint)), host=host, port=port)
