"""The service's micro-batcher: concurrent requests' items merged into few model calls on one worker thread.

A model (the Tagger, a QA predictor) is fastest on many items at once and is not thread-safe,
so requests hand their items to a `MicroBatcher`, whose one worker thread computes the items
of several requests in one call and hands each request its own results back.

Everything is measured in one cost, characters (`text_cost`, or an endpoint's cost of an item: a
question): a batch holds at most `max_chars` of them, and a request larger than that is
computed a batch at a time, taking its turn behind the requests that arrived meanwhile, so one
huge request delays a small one by at most one batch. The queue is bounded in the same unit,
`max_queue_chars`: what a request waits is the work queued ahead of it, not the number of
requests, so many small requests fit where a few large ones would not. A request that would
push the queue past its budget is refused (`QueueFull`, a 503 with Retry-After), one larger
than the whole budget can never fit (`RequestTooLarge`, a 413).

Shutting down (`close`) refuses new requests and answers the queued ones `ServiceClosing` (a
503) at once, while the batch being computed finishes and is answered; `abandon` (a second
Ctrl-C) answers that batch's requests `ServiceClosing` too.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from biotune.tasks.endpoints import text_cost

# Bounds of the Retry-After estimate, in seconds: at least 1 (the header counts whole seconds),
# at most a minute, beyond which an estimate from past batches means little.
_RETRY_AFTER_S = (1, 60)

# A model call over a batch of items (texts to tag, questions to answer): one result per item, in order.
BatchFunction = Callable[[Sequence[Any]], list[Any]]


def retry_after(queued_chars: int, chars_per_second: float | None) -> int:
    """Whole seconds until the queue has drained at the measured rate, within `_RETRY_AFTER_S`."""
    low, high = _RETRY_AFTER_S
    if not chars_per_second:
        return low
    return min(max(math.ceil(queued_chars / chars_per_second), low), high)


class QueueFull(Exception):
    """Admitting the request would take the queued characters past `max_queue_chars`; the service
    answers 503 with Retry-After (the request fits an emptier queue)."""

    def __init__(self, queued_chars: int, cost: int, retry_after_s: int) -> None:
        super().__init__(f"{queued_chars} characters are waiting or being computed; the request has {cost}")
        self.queued_chars = queued_chars
        self.cost = cost
        self.retry_after_s = retry_after_s


class RequestTooLarge(Exception):
    """The request alone costs more than `max_queue_chars`, so no queue can admit it; the service answers 413."""

    def __init__(self, cost: int, max_queue_chars: int) -> None:
        super().__init__(f"the request has {cost} characters; the queue holds at most {max_queue_chars}")
        self.cost = cost
        self.max_queue_chars = max_queue_chars


class ServiceClosing(Exception):
    """The service is shutting down: the request was not admitted, or its items were dropped uncomputed (503)."""


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

    `enqueue` admits a request's items (or raises `QueueFull`, `RequestTooLarge` or
    `ServiceClosing`) and returns the future of their results. The worker waits for a first
    request, lets others join for `wait_s`, takes a batch of at most `max_chars` characters by
    `cost` (`plan_batch`), computes it in one call and hands each request its own slice. `tag`
    only ever runs on the one worker thread, which is what makes a non-thread-safe model safe to
    serve. `unit` names the items in `counts`.
    """

    def __init__(self, tag: BatchFunction, max_chars: int, max_queue_chars: int, wait_s: float,
                 cost: Callable[[Any], int] = text_cost, unit: str = "texts") -> None:
        self.tag = tag
        self.max_chars = max_chars
        self.max_queue_chars = max_queue_chars
        self.wait_s = wait_s
        self.cost = cost
        self.unit = unit
        self.counts = {"requests": 0, "batches": 0, unit: 0, "refused": 0, "timed_out": 0, "disconnected": 0}
        self._tagged_chars = 0
        self._tagging_s = 0.0
        # Kept as a running total, not summed over the queue per request: admission stays O(request)
        # however many small requests wait.
        self._queued_chars = 0
        self._line: deque[Job] = deque()
        self._waiting: dict[asyncio.Future[list[Any]], Job] = {}
        self._batch: list[Part] = []
        self._closing = False
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

    @property
    def queued_chars(self) -> int:
        """Characters admitted and not computed yet (queued or in the batch being tagged)."""
        return self._queued_chars

    def chars_per_second(self) -> float | None:
        """The tagging rate measured so far; None before the first batch."""
        return self._tagged_chars / self._tagging_s if self._tagging_s > 0 else None

    async def start(self) -> None:
        # Made here, not in __init__: an Event belongs to the event loop that first uses it.
        self._arrived = asyncio.Event()
        self._line.clear()
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"biotune-{self.unit}")
        self._task = asyncio.create_task(self._run(), name=f"biotune-micro-batcher-{self.unit}")

    def close(self) -> int:
        """Refuse new requests and answer every queued one `ServiceClosing` now; the batch being
        computed finishes and its requests are answered, unless it holds only part of one (that
        request is answered `ServiceClosing` too). Returns how many requests were answered so."""
        self._closing = True
        if self._arrived is not None:
            self._arrived.set()  # an idle worker wakes up to end
        finishing = {part.job for part in self._batch if part.stop == len(part.job.texts)}
        return self._fail(job for job in self._waiting.values() if job not in finishing)

    def abandon(self) -> int:
        """`close`, and answer the requests of the batch being computed `ServiceClosing` too (its
        results are dropped); returns how many requests were answered so."""
        return self.close() + self._fail(self._waiting.values())

    def _fail(self, jobs: Iterable[Job]) -> int:
        """Answer `jobs` `ServiceClosing` (those not answered yet); returns how many."""
        failed = [job for job in jobs if not job.future.done()]
        for job in failed:
            job.future.set_exception(ServiceClosing(f"the service stopped before computing these {self.unit}"))
        return len(failed)

    async def stop(self) -> None:
        """`close`, then wait for the batch being computed and end the worker. uvicorn calls this
        (the app's lifespan) once the open requests are answered."""
        self.close()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def enqueue(self, texts: list[Any]) -> asyncio.Future[list[Any]]:
        """Admit `texts` (items); the future resolves to the result of each. Cancel it to drop them."""
        if self._closing:
            raise ServiceClosing("the service is shutting down")
        if not self.running or self._arrived is None:
            raise RuntimeError("the micro-batcher is not running: serve the app with its lifespan "
                               "(uvicorn, or TestClient used as a context manager)")
        cost = sum(map(self.cost, texts))
        if cost > self.max_queue_chars:
            raise RequestTooLarge(cost, self.max_queue_chars)
        if self._queued_chars + cost > self.max_queue_chars:
            self.counts["refused"] += 1
            raise QueueFull(self._queued_chars, cost, retry_after(self._queued_chars, self.chars_per_second()))
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        job = Job(texts, future, cost=self.cost)
        self._waiting[future] = job
        self._queued_chars += cost
        future.add_done_callback(self._forget)
        self.counts["requests"] += 1
        self._line.append(job)
        self._arrived.set()
        return future

    def _forget(self, future: asyncio.Future[list[Any]]) -> None:
        """A request is answered (or dropped): what it had left no longer counts against the queue."""
        job = self._waiting.pop(future)
        self._queued_chars -= job.untagged_chars()

    async def _run(self) -> None:
        assert self._arrived is not None  # set by start()
        loop = asyncio.get_running_loop()
        while True:
            while not self._closing and not any(not job.future.done() for job in self._line):
                self._arrived.clear()
                await self._arrived.wait()
            if self._closing:
                return
            if self.wait_s > 0 and sum(job.untagged_chars() for job in self._line) < self.max_chars:
                await asyncio.sleep(self.wait_s)  # room left in the batch: let concurrent requests join
            parts = plan_batch(self._line, self.max_chars)
            if parts:
                await self._tag(parts, loop)

    async def _tag(self, parts: list[Part], loop: asyncio.AbstractEventLoop) -> None:
        texts = [text for part in parts for text in part.job.texts[part.start : part.stop]]
        started = time.perf_counter()
        self._batch = parts
        try:
            results = await loop.run_in_executor(self._executor, self.tag, texts)
        except Exception as error:  # every request of the batch gets the error (a 500), the worker lives on
            for part in parts:
                if not part.job.future.done():
                    part.job.future.set_exception(error)
            return
        finally:
            self._batch = []
        self._tagging_s += time.perf_counter() - started
        self._tagged_chars += sum(map(self.cost, texts))
        self.counts["batches"] += 1
        self.counts[self.unit] += len(texts)
        offset = 0
        for part in parts:
            job, count = part.job, part.stop - part.start
            offset += count
            if job.future.done():  # cancelled while its batch was being tagged: `_forget` counted its rest
                continue
            job.results.extend(results[offset - count : offset])
            job.tagged = part.stop
            self._queued_chars -= sum(map(job.cost, job.texts[part.start : part.stop]))
            if job.tagged == len(job.texts):
                job.future.set_result(job.results)
            else:  # the rest of a large request waits its turn behind those that came meanwhile
                self._line.append(job)
