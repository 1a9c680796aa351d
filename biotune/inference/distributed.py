"""The tagging job on Ray Data: the same shards as `biotune tag`, tagged by a pool of model replicas.

The driver lists every shard (one counting pass over the inputs), drops those already written,
and hands the rest to Ray Data as a dataset of shard descriptors; `map` runs them on
`workers` actors, each loading the model once (one replica per worker, `gpus_per_worker` GPUs
each). A worker reads its shard from the shared file system, tags it with exactly the code of
the single-process job (`tag_job.tag_shard`) and writes it atomically, so the output folder is
identical to `biotune tag`'s and an interrupted run resumes the same way, with either runner.

Ray is local by default (`address=None` starts a private Ray on this machine with `workers`
CPUs); pass a cluster address (`ray://head:10001` or `auto`) to use an existing cluster whose
nodes see the input and output paths.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from biotune.data.document_formats import document_format, input_files, iter_documents
from biotune.inference.tag_job import Shard, TagSettings, TagSummary, close_output, open_output, tag_shard


def plan_shards(settings: TagSettings) -> list[tuple[Shard, int]]:
    """Every shard of the job with its document count, in the single-process job's order."""
    planned = []
    for file, relative in input_files(settings.input, settings.input_format):
        format = document_format(file, settings.input_format)
        total = sum(1 for _ in iter_documents(file, format))
        for index in range(math.ceil(total / settings.shard_size)):
            planned.append((Shard(file, relative, format, index), min(settings.shard_size, total - index * settings.shard_size)))
    return planned


class _ShardWorker:
    """A Ray Data actor: one Tagger for its lifetime, one shard per call."""

    def __init__(self, settings: TagSettings) -> None:
        self.settings = settings
        self.tagger = settings.tagger()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        shard = Shard(Path(row["file"]), row["relative"], row["format"], int(row["index"]))
        documents = shard.read(self.settings.shard_size)
        tag_shard(self.tagger, shard, documents, self.settings)
        return {"documents": len(documents)}


def run_tag_ray(
    settings: TagSettings,
    address: str | None = None,
    workers: int = 2,
    gpus_per_worker: float = 0.0,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> TagSummary:
    """Run the tagging job on Ray; the output equals `tag_job.run_tag`'s for the same settings."""
    import ray

    settings = replace(settings, input=settings.input.resolve(), output_dir=settings.output_dir.resolve(),
                       checkpoint=settings.checkpoint.resolve())  # workers may start in another directory
    open_output(settings, overwrite)
    planned = plan_shards(settings)
    pending = [(i, shard) for i, (shard, _) in enumerate(planned) if not shard.output(settings).exists()]
    if on_progress is not None:
        on_progress(sum(n for shard, n in planned if shard.output(settings).exists()))
    if pending:
        started_here = not ray.is_initialized()
        if started_here:
            local = {"num_cpus": workers, "num_gpus": math.ceil(workers * gpus_per_worker)} if address is None else {}
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **local)
        try:
            rows = [{"file": str(s.file), "relative": s.relative, "format": s.format, "index": s.index} for _, s in pending]
            ray.data.DataContext.get_current().enable_progress_bars = False  # the caller shows progress
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            pool = ray.data.ActorPoolStrategy(size=min(workers, len(rows)))
            done = ray.data.from_items(rows, override_num_blocks=len(rows)).map(  # one block per shard: all workers busy
                _ShardWorker, fn_constructor_kwargs={"settings": settings}, compute=pool, num_cpus=1,
                num_gpus=gpus_per_worker or None,
            )
            for row in done.iter_rows():
                if on_progress is not None:
                    on_progress(int(row["documents"]))
        finally:
            if started_here:
                ray.shutdown()
    summary = TagSummary()
    written = {i for i, _ in pending}
    for i, (shard, n) in enumerate(planned):
        summary.add(shard, n, written=i in written)
    close_output(settings, summary)
    return summary
