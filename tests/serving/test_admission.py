"""How a request waits its turn (`biotune.serving.admission`), once for every endpoint: a request past
the character-bounded queue gets 503 with Retry-After and is never computed, one past its timeout gets
504 and its queued items are dropped, and the items of a client that went away are not computed.

The endpoint is a stand-in (`Endpoint` with items of its own), not a task's: what it computes is a
fake model that records each batch call and holds it until the test releases it, so the tests see
exactly which items were computed. The refusals before the queue (413, 422) are each endpoint's and
the service limits' (test_service.py, test_qa_service.py, test_endpoints.py); the queue's arithmetic
and shutdown are the micro-batcher's (test_batcher.py, test_server.py).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from biotune.serving.app import Mounted, create_app
from biotune.serving.batcher import retry_after
from biotune.serving.limits import ServiceLimits
from biotune.tasks.endpoints import Endpoint, text_cost
from tests.serving.test_batcher import run_async, until

PATH = "/items"


class ItemsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(min_length=1)


class ItemsResponse(BaseModel):
    results: list[str]
    model: str


# Each item is one string costing its characters; the answer is each item's result, in order.
ENDPOINT = Endpoint(path=PATH, request=ItemsRequest, response=ItemsResponse,
                    items=lambda request, limits: list(request.items), cost=text_cost,
                    predict=lambda model, items: model(items),
                    answer=lambda model, request, results: {"results": list(results)},
                    usage=f'{PATH} takes {{"items": ["..."]}}', unit="items",
                    late="the items were not computed", lighter="send fewer items")


class StandInTask:
    """What the app reads of a task besides its endpoint: a registered name (the route's summary, /health)."""

    name = "multilabel"


class HeldModel:
    """The stand-in's model: records each batch call's items and holds it until `release` is set; an
    item's result names it, so a request given another's results shows."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.calls.append(list(items))
        self.entered.set()
        assert self.release.wait(30)
        return [f"computed {item}" for item in items]


def stand_in_app(model: HeldModel, limits: ServiceLimits) -> Any:
    return create_app([Mounted(StandInTask(), model, ENDPOINT, "stand-in")], limits)  # type: ignore[arg-type]


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, its lifespan (the micro-batcher) running."""
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        yield client


async def post(client: httpx.AsyncClient, items: list[str]) -> httpx.Response:
    return await client.post(PATH, json={"items": items})


def answer(*items: str) -> dict[str, Any]:
    return {"results": [f"computed {item}" for item in items], "model": "stand-in"}


def test_a_request_past_the_character_bounded_queue_gets_503_with_retry_after_and_is_never_computed() -> None:
    model = HeldModel()
    app = stand_in_app(model, ServiceLimits(max_queue_chars=100, batch_wait_ms=0))

    async def scenario() -> tuple[httpx.Response, tuple[int, int], list[httpx.Response], dict[str, Any]]:
        async with serving(app) as client:
            batcher = app.state.batchers[PATH]
            first = asyncio.create_task(post(client, ["a" * 40]))  # held while computed: its 40 still count
            await until(model.entered.is_set)
            second = asyncio.create_task(post(client, ["b" * 50]))
            await until(lambda: batcher.queued_chars == 90)
            refused = await post(client, ["c" * 11])  # 90 + 11 > 100
            last = asyncio.create_task(post(client, ["d" * 10]))  # 90 + 10 fits: a third request waits
            await until(lambda: batcher.waiting == 3)
            queue = (batcher.waiting, batcher.queued_chars)
            model.release.set()
            answered = list(await asyncio.gather(first, second, last))
            health = (await client.get("/health")).json()["mounted"][0]
        return refused, queue, answered, health

    refused, queue, answered, health = run_async(scenario)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"  # no batch finished yet: nothing to estimate from
    assert refused.json() == {"detail": "the service is busy: 90 characters are waiting and this request has 11 "
                                        "(max_queue_chars 100); retry after 1 s"}
    assert queue == (3, 100)  # bounded by characters, not requests
    assert [(r.status_code, r.json()) for r in answered] == [(200, answer("a" * 40)), (200, answer("b" * 50)),
                                                             (200, answer("d" * 10))]
    assert model.calls == [["a" * 40], ["b" * 50, "d" * 10]]  # the refused item was never computed
    assert (health["served"]["requests"], health["served"]["refused"], health["served"]["items"]) == (3, 1, 3)
    assert health["queue"] == {"requests": 0, "characters": 0}


def test_retry_after_is_the_queue_at_the_rate_measured_so_far() -> None:
    model = HeldModel()
    app = stand_in_app(model, ServiceLimits(max_queue_chars=100, batch_wait_ms=0))

    async def scenario() -> tuple[httpx.Response, float | None]:
        async with serving(app) as client:
            batcher = app.state.batchers[PATH]
            measured = asyncio.create_task(post(client, ["a" * 10]))
            await until(model.entered.is_set)
            await asyncio.sleep(0.5)  # 10 characters in at least 0.5 s: at most 20 a second
            model.release.set()
            assert (await measured).status_code == 200
            model.entered.clear()
            model.release.clear()
            held = asyncio.create_task(post(client, ["b" * 40]))
            await until(model.entered.is_set)
            queued = asyncio.create_task(post(client, ["c" * 50]))
            await until(lambda: batcher.queued_chars == 90)
            refused = await post(client, ["d" * 20])
            rate = batcher.chars_per_second()
            model.release.set()
            await asyncio.gather(held, queued)
        return refused, rate

    refused, rate = run_async(scenario)
    seconds = refused.headers["retry-after"]
    assert refused.status_code == 503 and rate is not None
    assert seconds == str(retry_after(90, rate)) and int(seconds) >= 5  # 90 characters at 20 a second or less
    assert refused.json()["detail"].endswith(f"(max_queue_chars 100); retry after {seconds} s")
    assert model.calls == [["a" * 10], ["b" * 40], ["c" * 50]]


def test_a_request_past_its_timeout_gets_504_and_its_queued_items_are_dropped() -> None:
    model = HeldModel()
    app = stand_in_app(model, ServiceLimits(request_timeout_s=0.3, batch_wait_ms=0))

    async def scenario() -> tuple[list[httpx.Response], tuple[int, int], httpx.Response, dict[str, Any]]:
        async with serving(app) as client:
            batcher = app.state.batchers[PATH]
            first = asyncio.create_task(post(client, ["a" * 10]))
            await until(model.entered.is_set)  # held until released: both requests below time out
            queued = asyncio.create_task(post(client, ["b" * 10]))
            late = list(await asyncio.gather(first, queued))
            queue = (batcher.waiting, batcher.queued_chars)  # neither counts against the queue any more
            model.release.set()
            await until(lambda: batcher.counts["batches"] == 1)
            after = await post(client, ["c"])  # the worker serves on
            health = (await client.get("/health")).json()["mounted"][0]
        return late, queue, after, health

    late, queue, after, health = run_async(scenario)
    detail = ("the items were not computed within 0.3 s (request_timeout_s); the service is overloaded: "
              "retry later or send fewer items")
    assert [(r.status_code, r.json()) for r in late] == [(504, {"detail": detail})] * 2
    assert queue == (0, 0)
    assert (after.status_code, after.json()) == (200, answer("c"))
    assert model.calls == [["a" * 10], ["c"]]  # the queued request's item was dropped, not computed
    assert (health["served"]["timed_out"], health["served"]["batches"], health["served"]["items"]) == (2, 2, 2)
    assert health["queue"] == {"requests": 0, "characters": 0}


async def asgi_post(app: Any, path: str, body: bytes, client_leaves: bool) -> list[dict[str, Any]]:
    """Send one POST `path` straight to the ASGI app; the client disconnects right after its body
    when `client_leaves`, else it waits for the answer as a server would. Returns what the app sent."""
    sent: list[dict[str, Any]] = []
    answered = asyncio.Event()
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        if not client_leaves:
            await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return sent


def test_the_items_of_a_client_that_disconnected_are_not_computed() -> None:
    model = HeldModel()
    app = stand_in_app(model, ServiceLimits(batch_wait_ms=0))

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int], int]:
        async with app.router.lifespan_context(app):
            batcher = app.state.batchers[PATH]
            staying = asyncio.create_task(asgi_post(app, PATH, b'{"items": ["stays"]}', client_leaves=False))
            await until(model.entered.is_set)
            leaving = await asgi_post(app, PATH, b'{"items": ["leaves"]}', client_leaves=True)
            model.release.set()
            stayed = await staying
            return stayed, leaving, dict(batcher.counts), batcher.queued_chars

    stayed, leaving, counts, queued = run_async(scenario)
    assert model.calls == [["stays"]]
    assert [m["status"] for m in (stayed[0], leaving[0])] == [200, 499]  # 499: for the log, nobody reads it
    assert json.loads(stayed[1]["body"]) == answer("stays")
    assert (counts["requests"], counts["items"], counts["disconnected"], queued) == (2, 1, 1, 0)
