"""The micro-batcher: batches of whole texts within a character budget, in arrival order; a queue
bounded by characters, not requests; what a request leaves counted out of the queue however it
leaves; shutdown answers the queued at once and lets the batch being computed finish."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from biotune.serving.batcher import (Job, MicroBatcher, QueueFull, RequestTooLarge, ServiceClosing, plan_batch,
                                     retry_after)


def run_async(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


class FakeTag:
    """A tag function whose first call waits for `release`; each call's texts are recorded.

    Each text's "annotations" are the text itself, so a request that got another's results shows.
    """

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str]) -> list[list[Any]]:
        self.calls.append(list(texts))
        self.entered.set()
        assert self.release.wait(30)
        return [[text] for text in texts]


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def test_plan_batch_takes_whole_texts_in_order_within_the_budget() -> None:
    async def scenario() -> list[list[tuple[int, int, int]]]:
        loop = asyncio.get_running_loop()
        jobs = [Job(["x" * n for n in sizes], loop.create_future()) for sizes in ([30, 30], [10, 50], [200], [5])]
        line = deque(jobs)
        plans = []
        while line:
            parts = plan_batch(line, 100)
            plans.append([(jobs.index(p.job), p.start, p.stop) for p in parts])
            for part in parts:  # what the batcher does after tagging: the rest of a split job goes to the back
                part.job.tagged = part.stop
                if part.stop < len(part.job.texts):
                    line.append(part.job)
        return plans

    # job 1's second text does not fit (30 + 30 + 10 + 50 > 100): its rest waits behind jobs 2 and 3;
    # job 2's 200 characters go alone
    assert run_async(scenario) == [[(0, 0, 2), (1, 0, 1)], [(2, 0, 1)], [(3, 0, 1), (1, 1, 2)]]


def test_plan_batch_drops_cancelled_requests_untagged() -> None:
    async def scenario() -> list[tuple[int, int, int]]:
        loop = asyncio.get_running_loop()
        jobs = [Job(["a"], loop.create_future()), Job(["b"], loop.create_future()), Job(["c"], loop.create_future())]
        jobs[1].future.cancel()
        line = deque(jobs)
        parts = plan_batch(line, 100)
        assert not line
        return [(jobs.index(p.job), p.start, p.stop) for p in parts]

    assert run_async(scenario) == [(0, 0, 1), (2, 0, 1)]


def test_a_small_request_is_not_held_behind_a_huge_one_beyond_one_batch() -> None:
    fake = FakeTag()
    huge = [f"{i}" * 40 for i in range(6)]  # 6 x 40 characters: three batches of a 100-character budget

    async def scenario() -> tuple[list[Any], ...]:
        batcher = MicroBatcher(fake, max_chars=100, max_queue_chars=1000, wait_s=0)
        await batcher.start()
        first = batcher.enqueue(["a" * 10])
        await until(fake.entered.is_set)  # the worker is busy: the next two wait in line
        big = batcher.enqueue(huge)
        small = batcher.enqueue(["s" * 10])
        fake.release.set()
        answers = await asyncio.gather(first, big, small)
        await batcher.stop()
        return answers

    first, big, small = run_async(scenario)
    assert fake.calls == [["a" * 10], huge[:2], ["s" * 10, *huge[2:4]], huge[4:]]
    assert (first, big, small) == ([["a" * 10]], [[t] for t in huge], [["s" * 10]])


def test_retry_after_is_the_queue_at_the_measured_rate_in_whole_seconds() -> None:
    assert [retry_after(0, None), retry_after(5000, None)] == [1, 1]  # nothing measured yet
    assert [retry_after(5000, 2000.0), retry_after(4000, 2000.0), retry_after(100, 2000.0)] == [3, 2, 1]
    assert retry_after(10**9, 1.0) == 60


def test_the_queue_is_bounded_by_characters_not_requests() -> None:
    fake = FakeTag()

    async def scenario() -> tuple[QueueFull, RequestTooLarge, list[int], list[Any]]:
        batcher = MicroBatcher(fake, max_chars=100, max_queue_chars=50, wait_s=0)
        await batcher.start()
        futures = [batcher.enqueue(["a" * 10])]
        await until(fake.entered.is_set)  # held while being tagged: its 10 characters still count
        futures.append(batcher.enqueue(["b" * 30]))
        with pytest.raises(QueueFull) as full:
            batcher.enqueue(["c" * 11])  # 40 + 11 > 50
        with pytest.raises(RequestTooLarge) as large:
            batcher.enqueue(["d" * 30, "e" * 21])  # could never fit
        futures += [batcher.enqueue([t]) for t in ("f" * 4, "g" * 3, "h" * 2, "")]  # 40 + 10: four more fit
        queue = [batcher.waiting, batcher.queued_chars]
        with pytest.raises(QueueFull):
            batcher.enqueue([""])  # an empty text still costs one
        fake.release.set()
        answers = await asyncio.gather(*futures)
        queue += [batcher.waiting, batcher.queued_chars, batcher.counts["refused"]]
        await batcher.stop()
        return full.value, large.value, queue, answers

    full, large, queue, answers = run_async(scenario)
    assert (full.queued_chars, full.cost, full.retry_after_s) == (40, 11, 1)
    assert str(large) == "the request has 51 characters; the queue holds at most 50"
    assert queue == [6, 50, 0, 0, 2]
    assert answers == [[[t]] for t in ("a" * 10, "b" * 30, "f" * 4, "g" * 3, "h" * 2, "")]
    assert fake.calls == [["a" * 10], ["b" * 30, "f" * 4, "g" * 3, "h" * 2, ""]]


def test_queued_characters_count_what_is_left_however_a_request_leaves() -> None:
    fake = FakeTag()

    async def scenario() -> list[int]:
        batcher = MicroBatcher(fake, max_chars=100, max_queue_chars=1000, wait_s=0)
        await batcher.start()
        split = batcher.enqueue(["a" * 60, "b" * 60])  # two batches: its first text is being tagged below
        await until(fake.entered.is_set)
        queued, kept = batcher.enqueue(["c" * 10]), batcher.enqueue(["d" * 10])
        seen = [batcher.queued_chars]
        split.cancel()  # mid-batch: its 120 characters leave, the batch's result is dropped
        queued.cancel()
        await asyncio.sleep(0)  # done callbacks run on the next turn of the loop
        seen.append(batcher.queued_chars)
        fake.release.set()
        await kept
        seen.append(batcher.queued_chars)
        await batcher.stop()
        return seen

    assert run_async(scenario) == [140, 10, 0]
    assert fake.calls == [["a" * 60], ["d" * 10]]


def test_close_answers_the_queued_at_once_and_lets_the_batch_finish() -> None:
    fake = FakeTag()

    async def scenario() -> tuple[int, list[Any], list[str]]:
        batcher = MicroBatcher(fake, max_chars=100, max_queue_chars=1000, wait_s=0)
        await batcher.start()
        finishing = batcher.enqueue(["a" * 10])
        split = batcher.enqueue(["b" * 50, "c" * 60])  # its first text joins the batch, its second never fits
        await until(fake.entered.is_set)
        queued = batcher.enqueue(["d" * 10])
        cancelled = batcher.close()
        await asyncio.wait([split, queued])  # answered before the batch ends
        with pytest.raises(ServiceClosing, match="the service is shutting down"):
            batcher.enqueue(["e"])
        outcomes = [type(future.exception()).__name__ for future in (split, queued)]
        fake.release.set()
        await batcher.stop()
        return cancelled, [finishing.result(), batcher.running, batcher.queued_chars], outcomes

    cancelled, finished, outcomes = run_async(scenario)
    assert (cancelled, outcomes) == (2, ["ServiceClosing", "ServiceClosing"])
    assert finished == [[["a" * 10]], False, 0]
    assert fake.calls == [["a" * 10, "b" * 50]]


def test_abandon_answers_the_batch_being_computed_too() -> None:
    fake = FakeTag()

    async def scenario() -> tuple[int, int, str]:
        batcher = MicroBatcher(fake, max_chars=100, max_queue_chars=1000, wait_s=0)
        await batcher.start()
        computing = batcher.enqueue(["a" * 10])
        await until(fake.entered.is_set)
        queued = batcher.enqueue(["b" * 10])
        abandoned = batcher.abandon()
        await asyncio.wait([computing, queued])
        message = str(computing.exception())
        fake.release.set()
        await batcher.stop()
        return abandoned, batcher.queued_chars, message

    assert run_async(scenario) == (2, 0, "the service stopped before computing these texts")
    assert fake.calls == [["a" * 10]]
