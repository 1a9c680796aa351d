"""The tagging job on Ray Data: the same shards as `biotune tag`, tagged by a pool of model replicas.

The driver plans the shards (`tag_job.plan_shards`: for the line formats one byte scan per file
finds each shard's byte range, without parsing), drops those already written, and hands the
rest to Ray Data as a dataset of shard descriptors; `map` runs them on `workers` actors, each
loading the models once (one replica of the job's document pipeline, every model of it, per
worker, `cpus_per_worker` CPUs, which set torch's thread count, and `gpus_per_worker` GPUs each). A worker reads only its shard's bytes from the shared
file system, tags it with exactly the code of the single-process job (`tag_job.tag_shard`) and
writes it atomically, so the output folder is identical to `biotune tag`'s and an interrupted
run resumes the same way, with either runner.

BioC files have no lines to cut at: the driver streams them once (linear) and ships each
pending shard's documents to its worker inside the shard descriptor, so the driver's Ray object
store holds those documents until they are tagged.

Ray is local by default (`address=None` starts a private Ray on this machine with
`workers * cpus_per_worker` CPUs); pass a cluster address (`ray://head:10001` or `auto`) to use
an existing cluster whose nodes see the input and output paths.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from biotune.formats.document_formats import ByteRange
from biotune.errors import BiotuneError
from biotune.serving.tag_job import (Shard, TagSettings, TagSummary, check_models, close_output, counted_since,
                                     output_folder, plan_shards, tag_shard, warn)


def use_assigned_cpus() -> int:
    """Set torch's thread count to the CPUs Ray assigned to the calling actor; returns it.

    Torch would otherwise start one thread per core of the node in every replica, and replicas
    sharing a node would oversubscribe it many times over.
    """
    import ray

    threads = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    torch.set_num_threads(threads)
    return threads


def shard_row(shard: Shard) -> dict[str, Any]:
    """A shard as a Ray Data row: where its bytes are, or (BioC) its documents, pickled."""
    span = shard.span
    return {"file": str(shard.file), "relative": shard.relative, "format": shard.format, "index": shard.index,
            "start": span.start if span else -1, "end": span.end if span else -1,
            "first_line": span.first_line if span else -1, "count": shard.size,
            "documents": b"" if span else pickle.dumps(shard.documents)}


def row_shard(row: dict[str, Any]) -> Shard:
    """The shard of a `shard_row`."""
    file, relative, format, index = Path(row["file"]), row["relative"], row["format"], int(row["index"])
    if int(row["start"]) < 0:
        return Shard(file, relative, format, index, documents=pickle.loads(row["documents"]))
    span = ByteRange(int(row["start"]), int(row["end"]), int(row["first_line"]), int(row["count"]))
    return Shard(file, relative, format, index, span)


class _ShardWorker:
    """A Ray Data actor: one document pipeline (its models) for its lifetime, one shard per call."""

    def __init__(self, settings: TagSettings) -> None:
        use_assigned_cpus()
        self.settings = settings
        self.pipeline = settings.pipeline()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        shard = row_shard(row)
        documents = shard.read()
        before = self.pipeline.counts()
        tag_shard(self.pipeline, shard, documents, self.settings)
        return {"documents": len(documents), "counts": json.dumps(counted_since(self.pipeline, before))}


def run_tag_ray(
    settings: TagSettings,
    address: str | None = None,
    workers: int = 2,
    gpus_per_worker: float = 0.0,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
    cpus_per_worker: float = 1.0,
) -> TagSummary:
    """Run the tagging job on Ray; the output equals `tag_job.run_tag`'s for the same settings.

    Raises `BiotuneError` for a pool that cannot exist (no workers, no CPUs, negative GPUs)
    before anything is read or written.
    """
    import ray

    for name, value, least in (("workers", workers, 1), ("cpus per worker", cpus_per_worker, 0.01),
                               ("gpus per worker", gpus_per_worker, 0)):
        if not value >= least:  # also catches NaN
            raise BiotuneError(f"{name} must be at least {least}, not {value}")
    settings = replace(settings, input=settings.input.resolve(), output_dir=settings.output_dir.resolve(),
                       checkpoints=tuple(folder.resolve() for folder in settings.checkpoints),
                       link=settings.link.resolve() if settings.link is not None else None)  # workers may
    # start in another directory
    stages, linker = check_models(settings)  # before anything is written: the workers load the models only later
    with output_folder(settings, overwrite, linker) as record:
        summary = TagSummary()
        rows = []
        for shard in plan_shards(settings):
            done = shard.output(settings).exists()
            summary.add(shard.relative, shard.size, written=not done)
            if done and on_progress is not None:
                on_progress(shard.size)
            elif not done:
                rows.append(shard_row(shard))
        if rows:
            _run_pool(ray, rows, settings, address, workers, gpus_per_worker, cpus_per_worker, on_progress,
                      summary)
        close_output(settings, record, summary)
    warn(stages, summary)
    return summary


def _run_pool(ray: Any, rows: list[dict[str, Any]], settings: TagSettings, address: str | None, workers: int,
              gpus_per_worker: float, cpus_per_worker: float, on_progress: Callable[[int], None] | None,
              summary: TagSummary) -> None:
    """Tag the shards of `rows` on a pool of `workers` actors (starting a local Ray if none runs).

    What the workers' annotators count on each shard is added to `summary`.
    """
    started_here = not ray.is_initialized()
    if started_here:
        local = ({"num_cpus": math.ceil(workers * cpus_per_worker), "num_gpus": math.ceil(workers * gpus_per_worker)}
                 if address is None else {})
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **local)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False  # the caller shows progress
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        pool = ray.data.ActorPoolStrategy(size=min(workers, len(rows)))
        done = ray.data.from_items(rows, override_num_blocks=len(rows)).map(  # one block per shard: all workers busy
            _ShardWorker, fn_constructor_kwargs={"settings": settings}, compute=pool, num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker or None,
        )
        for row in done.iter_rows():
            summary.count(json.loads(row["counts"]))
            if on_progress is not None:
                on_progress(int(row["documents"]))
    finally:
        if started_here:
            ray.shutdown()
