"""Commands that put models to work on new text: `tag` a corpus (sharded, resumable, on Ray if asked)
and `serve` models over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biotune.cli.console import console, friendly, progress
from biotune.cli.options import (BatchSizeOption, CpusPerWorkerOption, GpusPerWorkerOption, LinkOption,
                                 PrecisionOption, RayAddressOption, RayOption, RelationsOption, WorkersOption)
from biotune.errors import BiotuneError

app = typer.Typer()


@app.command()
@friendly
def tag(
    checkpoint: Annotated[list[Path], typer.Option(
        help="a best_model/ folder whose task annotates documents (NER: entities; an RE model trained on "
             "documents: relations between them; multilabel: document labels); repeatable")],
    input: Annotated[Path, typer.Option(help="a document file, or a folder of them (searched recursively)")],
    output_dir: Annotated[Path, typer.Option(help="folder for the output shards and tag_manifest.json")],
    format: Annotated[str | None, typer.Option(help="input: text | jsonl | pubtator | bioc-xml | bioc-json (default: by extension)")] = None,
    output_format: Annotated[str, typer.Option(help="jsonl | pubtator | bioc-xml | bioc-json | conll | brat")] = "jsonl",
    shard_size: Annotated[int, typer.Option(help="documents per output shard (the unit of resumption)")] = 1000,
    precision: PrecisionOption = "auto",
    batch_size: BatchSizeOption = 32,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = 2,
    gpus_per_worker: GpusPerWorkerOption = 0.0,
    cpus_per_worker: CpusPerWorkerOption = 1.0,
    overwrite: Annotated[bool, typer.Option(help="delete a previous job in --output-dir first")] = False,
    relations: RelationsOption = None,
    link: LinkOption = None,
) -> None:
    """Tag a corpus into sharded, resumable output; rerun the same command to finish an interrupted job.
    With --ray, one replica of the models per Ray Data worker."""
    from biotune.serving.tag_job import TagSettings, expected_documents, run_tag

    settings = TagSettings(input=input, output_dir=output_dir, checkpoints=(*checkpoint, *([relations] if relations else [])),
                           input_format=format, output_format=output_format, shard_size=shard_size, precision=precision,
                           batch_size=batch_size, link=link)
    with progress() as bar:
        task = bar.add_task("documents", total=expected_documents(settings))

        def advance(documents: int) -> None:
            bar.advance(task, documents)

        if ray:
            from biotune.serving.distributed import run_tag_ray

            summary = run_tag_ray(settings, ray_address, workers, gpus_per_worker, overwrite, advance, cpus_per_worker)
        else:
            summary = run_tag(settings, overwrite=overwrite, on_progress=advance)
    console.print(f"{summary.documents} documents in {summary.shards_written + summary.shards_skipped} shards "
                  f"({summary.shards_written} written, {summary.shards_skipped} already done) -> {output_dir}")
    if summary.annotations:  # what the stages counted: mentions by linking stage, pairs too wide, ...
        console.print(", ".join(f"{key} {value}" for key, value in summary.annotations.items()), highlight=False,
                      soft_wrap=True)


@app.command()
@friendly
def serve(
    model_dirs: Annotated[list[Path] | None, typer.Argument(
        metavar="[MODEL_DIR]...", help="best_model/ folders, each mounted by its task (one per task)",
        show_default=False)] = None,
    checkpoint: Annotated[list[Path] | None, typer.Option(
        help="a best_model/ folder (repeatable; the same as a MODEL_DIR)", show_default=False)] = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    precision: PrecisionOption = "auto",
    max_texts: Annotated[int, typer.Option(help="texts per request")] = 64,
    max_contexts: Annotated[int, typer.Option(help="contexts per /qa question")] = 64,
    max_chars: Annotated[int, typer.Option(help="characters per text (and per /qa question or context)")] = 100_000,
    max_request_bytes: Annotated[int, typer.Option(help="request body size")] = 2_000_000,
    max_batch_chars: Annotated[int, typer.Option(help="characters the batcher merges into one model call")] = 8_000,
    batch_wait_ms: Annotated[float, typer.Option(help="how long the batcher waits for more requests")] = 5.0,
    max_queue_chars: Annotated[int, typer.Option(
        help="characters waiting or being tagged (per model); a request past them gets 503, one larger than all "
             "of them 413")] = 500_000,
    request_timeout_s: Annotated[float, typer.Option(help="seconds a request may wait; then 504")] = 60.0,
    model_name: Annotated[str | None, typer.Option(help="name in answers (default: run/seed of the checkpoint)")] = None,
    relations: RelationsOption = None,
    link: LinkOption = None,
    qa: Annotated[Path | None, typer.Option(
        help="a QA model's best_model/ folder: the same as a MODEL_DIR (POST /qa)")] = None,
) -> None:
    """HTTP service, one endpoint per model by its task: POST /tag (NER), /qa (QA), /<task> (the task's records: re,
    yesno, similarity, multilabel); GET /health lists them, and the page at / has a panel for each."""
    from pydantic import ValidationError

    from biotune.serving import service
    from biotune.serving.limits import ServiceLimits

    try:
        limits = ServiceLimits(max_texts=max_texts, max_contexts=max_contexts, max_chars=max_chars,
                               max_request_bytes=max_request_bytes,
                               max_batch_chars=max_batch_chars, batch_wait_ms=batch_wait_ms,
                               max_queue_chars=max_queue_chars,
                               request_timeout_s=request_timeout_s)
    except ValidationError as error:
        problems = "; ".join(f"--{'-'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in error.errors())
        raise BiotuneError(f"invalid service limits: {problems}") from None
    folders = [*(checkpoint or []), *(model_dirs or []), *([qa] if qa is not None else [])]
    if not folders:
        raise BiotuneError("serve needs a model: give MODEL_DIR (one or more best_model/ folders) or --checkpoint")
    service.serve(folders, host=host, port=port, precision=precision, limits=limits, model_name=model_name,
                  stages=[relations] if relations is not None else [], link=link)
