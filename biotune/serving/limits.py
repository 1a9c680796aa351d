"""What one request may hold and how the service reads it: `ServiceLimits`, the body-size middleware
(`BodyLimit`) and the parsing that turns a body into a request model or a 422 naming the field.
Task-free: each endpoint checks its own items against the limits (`biotune.tasks.endpoints`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A validation error can list one problem per text; the message keeps the first few.
_MESSAGES_SHOWN = 3


class ServiceLimits(BaseModel):
    """What one request may hold, how the micro-batcher merges requests, and when it refuses them.

    `max_request_bytes` bites before `max_texts * max_chars` does (64 texts of 100,000
    characters are at least 6.4 MB), so it bounds a request's memory; `max_batch_chars` bounds
    the work of one model call, so it bounds how long any request waits behind another;
    `max_queue_chars` (in the batches' unit, so many small requests fit where few large ones do)
    and `request_timeout_s` bound how long a request can wait at all. `max_texts` also bounds the
    records of a records endpoint, `max_contexts` the contexts of a /qa question, and `max_chars`
    a question, a context and a record's JSON; each model's queue holds `max_queue_chars`.

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
        8_000, gt=0, description="characters the micro-batcher merges into one model call (a longer text goes alone)"
    )
    batch_wait_ms: float = Field(5.0, ge=0, allow_inf_nan=False,
                                 description="how long a batch waits for more requests to join")
    max_queue_chars: int = Field(500_000, gt=0, description="characters waiting or being computed; a request that "
                                 "would exceed them gets 503, one larger than all of them 413")
    request_timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False,
                                     description="seconds a request may wait for its answer; then 504")


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


def request_body(schema: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its body itself (`parse_request`) as `schema`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable line for pydantic errors on the request body, each naming its field (`texts[3]: ...`)."""
    messages = [_error_message(error) for error in errors]
    more = len(messages) - _MESSAGES_SHOWN
    return "; ".join(messages[:_MESSAGES_SHOWN]) + (f" (and {more} more errors)" if more > 0 else "")


def _error_message(error: Mapping[str, Any]) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    return f"{path or 'the request body'}: {error['msg']}"
