"""How a request waits its turn in a micro-batcher, and the answers when it cannot: 413 for one larger
than the whole queue, 503 with Retry-After when the queue is full, 503 while the service shuts down,
504 past `request_timeout_s`, and nothing (499, for the log) when the client went away, whose items
then leave the queue uncomputed. Task-free: the items are whatever an endpoint queues.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from biotune.serving.batcher import MicroBatcher, QueueFull, RequestTooLarge, ServiceClosing
from biotune.serving.limits import ServiceLimits

# nginx's "client closed request": logged for a request whose client went away; nobody reads it.
_CLIENT_GONE = 499


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
