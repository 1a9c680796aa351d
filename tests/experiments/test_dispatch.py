"""Jobs run in-process or as Ray tasks: same outcomes in job order, a failing job recorded, the others finished."""

from __future__ import annotations

import operator

import pytest

from biotune.errors import BiotuneError
from biotune.experiments.dispatch import JobOutcome, run_jobs

JOBS = [("half", operator.truediv, (1, 2)), ("boom", operator.truediv, (1, 0)), ("sum", operator.add, (2, 3))]
EXPECTED = [JobOutcome("half", 0.5, None), JobOutcome("boom", None, "ZeroDivisionError: division by zero"),
            JobOutcome("sum", 5, None)]


def test_in_process_a_failing_job_is_recorded_and_the_others_finish() -> None:
    seen: list[str] = []
    outcomes = run_jobs(JOBS, on_done=lambda outcome: seen.append(outcome.key))
    assert outcomes == EXPECTED
    assert seen == ["half", "boom", "sum"]
    assert [o.ok for o in outcomes] == [True, False, True]


def test_duplicate_keys_and_bad_resources_are_refused_before_anything_runs() -> None:
    calls: list[int] = []
    with pytest.raises(BiotuneError, match="unique.*'a'"):
        run_jobs([("a", calls.append, (1,)), ("a", calls.append, (2,))])
    assert calls == []
    with pytest.raises(BiotuneError, match="workers must be at least 1, not 0"):
        run_jobs(JOBS, ray=True, workers=0)
    with pytest.raises(BiotuneError, match="gpus per job"):
        run_jobs(JOBS, ray=True, gpus_per_job=-1)


def test_ray_gives_the_same_outcomes_in_job_order_and_shuts_down_its_own_ray() -> None:
    ray = pytest.importorskip("ray")
    seen: list[str] = []
    try:
        outcomes = run_jobs(JOBS, ray=True, workers=2, on_done=lambda outcome: seen.append(outcome.key))
    except (ConnectionError, RuntimeError) as exc:  # pragma: no cover - a machine where Ray cannot start
        pytest.skip(f"local Ray cannot start: {exc}")
    assert outcomes == EXPECTED
    assert sorted(seen) == ["boom", "half", "sum"]
    assert not ray.is_initialized(), "the Ray this call started is shut down"
