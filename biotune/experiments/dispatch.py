"""Run independent jobs in this process, one after the other, or as Ray tasks: the same outcomes either way.

A job is `(key, function, args)` with a module-level `function` (Ray ships it by reference, so
the workers must be able to import it). A job that raises becomes a `JobOutcome` carrying its
error as ``"Type: message"``; the other jobs go on. That is what suites and searches need: one
failed run or trial is recorded, never the end of the batch.

With Ray, each job is one task asking for `cpus_per_job` CPUs and `gpus_per_job` GPUs, so a
cluster runs as many at once as its resources allow (and at most `workers` at once when given);
inside a task torch uses as many threads as the task has CPUs, since it would otherwise start
one thread per core of the node in every task and oversubscribe it. Without an address a
private local Ray is started with `workers * cpus_per_job` CPUs and shut down at the end; a Ray
that was already running (or a cluster at `ray_address`) is left running. Jobs write their
results themselves (run folders on a file system every worker sees); what they return comes
back to the caller in job order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from biotune.errors import BiotuneError

Job = tuple[str, Callable[..., Any], tuple[Any, ...]]


@dataclass
class JobOutcome:
    """What one job gave: its return value, or the error it raised (``"Type: message"``)."""

    key: str
    value: Any | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe(exc: BaseException) -> str:
    """``"Type: message"``: the one line a failed job is recorded with."""
    return f"{type(exc).__name__}: {exc}"


def _call(key: str, function: Callable[..., Any], args: tuple[Any, ...]) -> JobOutcome:
    try:
        return JobOutcome(key, function(*args), None)
    except Exception as exc:  # one job's failure must not stop the others
        return JobOutcome(key, None, describe(exc))


def _call_in_worker(key: str, function: Callable[..., Any], args: tuple[Any, ...]) -> JobOutcome:
    """A Ray task's body: torch threads = the task's CPUs, then the job, its error caught as in-process."""
    import ray
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    torch.set_num_threads(max(1, int(cpus)))
    return _call(key, function, args)


def _check_resources(workers: int | None, cpus_per_job: float, gpus_per_job: float) -> None:
    for name, value, least in (("workers", workers if workers is not None else 1, 1),
                               ("cpus per job", cpus_per_job, 1e-9), ("gpus per job", gpus_per_job, 0)):
        if not value >= least:  # also catches NaN
            raise BiotuneError(f"{name} must be {'positive' if least == 1e-9 else f'at least {least}'}, not {value}")


def run_jobs(jobs: Sequence[Job], *, ray: bool = False, ray_address: str | None = None, workers: int | None = None,
             gpus_per_job: float = 0.0, cpus_per_job: float = 1.0,
             on_done: Callable[[JobOutcome], None] | None = None) -> list[JobOutcome]:
    """Run every job; the outcomes come back in job order, and `on_done` sees each as it finishes.

    In-process (the default) the jobs run one after the other in this process and `workers`,
    `cpus_per_job` and `gpus_per_job` are ignored. Bad resource numbers are a `BiotuneError`
    before anything runs.
    """
    keys = [key for key, _, _ in jobs]
    if len(set(keys)) != len(keys):
        raise BiotuneError(f"job keys must be unique: {sorted({k for k in keys if keys.count(k) > 1})}")
    if not ray:
        outcomes = []
        for key, function, args in jobs:
            outcome = _call(key, function, args)
            if on_done is not None:
                on_done(outcome)
            outcomes.append(outcome)
        return outcomes
    _check_resources(workers, cpus_per_job, gpus_per_job)
    return _run_on_ray(jobs, ray_address, workers, gpus_per_job, cpus_per_job, on_done)


def _run_on_ray(jobs: Sequence[Job], address: str | None, workers: int | None, gpus_per_job: float,
                cpus_per_job: float, on_done: Callable[[JobOutcome], None] | None) -> list[JobOutcome]:
    import ray

    if not jobs:
        return []
    started_here = not ray.is_initialized()
    if started_here:
        local: dict[str, Any] = {}
        if address is None:
            size = workers or max(1, min(len(jobs), int((os.cpu_count() or 1) // cpus_per_job) or 1))
            local = {"num_cpus": max(1, math.ceil(size * cpus_per_job)), "num_gpus": math.ceil(size * gpus_per_job)}
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **local)
    try:
        remote = ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=0)(_call_in_worker)
        limit = workers or len(jobs)
        pending: dict[Any, int] = {}
        outcomes: list[JobOutcome | None] = [None] * len(jobs)
        queue = list(enumerate(jobs))
        while queue or pending:
            while queue and len(pending) < limit:
                index, (key, function, args) = queue.pop(0)
                pending[remote.remote(key, function, args)] = index
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # the worker died (killed, out of memory): the job failed, not the batch
                    first = next((line for line in str(exc).splitlines() if line.strip()), "")
                    outcome = JobOutcome(jobs[index][0], None, f"{type(exc).__name__}: {first}")
                outcomes[index] = outcome
                if on_done is not None:
                    on_done(outcome)
        return [o for o in outcomes if o is not None]
    finally:
        if started_here:
            ray.shutdown()
