"""`biotune tag`: tag a corpus (a file or a folder of files) into sharded, resumable output.

The corpus goes through in shards of `shard_size` documents: a shard is read, tagged and
written (to a temporary name, then renamed), so memory is bounded by one shard and an
interrupted job loses at most the shard in flight. Shard `k` of input file `f` is always the
same documents (positions `k*size .. (k+1)*size-1` of `f`) and always has the same output name
(`<f with / as __>.<k:05d>.<ext>`), so a rerun skips the shards that exist and neither
duplicates nor loses a document. That naming is also what lets the Ray job
(`biotune.serving.distributed`) hand shards to workers and produce the same files.

Shards of the line formats (text, JSONL, PubTator) are byte ranges found by one quick scan
(`document_formats.plan_ranges`): a shard reads only its own bytes, and a resumed job does not
read the shards it skips. BioC has no lines to cut at, so its shards come from one streaming
pass over the file, holding one shard's documents at a time.

Documents go through the document pipeline of the checkpoints given (`biotune.serving.pipeline`):
each checkpoint's task declares what its model adds (`Task.document_stage`: NER's entities, an RE
model's relations between them, ...) and, with a linker folder or a dictionary file (`link`), the
linking stage gives the entities concept ids, each with the stage that linked it and its score
(JSONL, BioC and brat write both; PubTator has no column for them); the stages order themselves by
what they need. The job knows no task: it
runs the pipeline over shards, adds up what its stages count and writes what they give (JSONL
`relations`, PubTator relation lines, BioC `<relation>` elements; an output format that cannot
carry a kind of annotation a stage adds, CoNLL or brat with relations, is refused).

`tag_manifest.json` in the output folder records the settings that decide the output and the
fingerprints of the inputs, each checkpoint and the linker (`Linker.fingerprint`: its
vocabularies, options and dense index; `biotune.serving.job_guard`); a rerun with other settings
(another `link`, or none), or after an input, a model or the linker changed, is refused naming
what differs (mixing them would corrupt the corpus), and a job running on the folder locks it
against a second one. A finished job records its per-file document and shard counts there, and
what the stages counted (the linking stage: mentions by the stage that linked them).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from biotune.formats.document_formats import (ByteRange, count_documents, document_format, input_files, iter_documents,
                                           plan_ranges, read_range)
from biotune.formats.documents import Document
from biotune.errors import BiotuneError
from biotune.serving.job_guard import (LOCK, checkpoint_changes, checkpoint_fingerprint, input_changes,
                                       input_fingerprints, job_lock, linker_changes)
from biotune.serving.pipeline import linker_fingerprint, load_pipeline
from biotune.tasks.stages import DocumentPipeline, DocumentStage
from biotune.formats.writers import WRITERS
from biotune.io import write_json

log = logging.getLogger("biotune")

MANIFEST = "tag_manifest.json"
OUTPUT_SUFFIX = {"jsonl": ".jsonl", "pubtator": ".pubtator", "bioc-xml": ".xml", "bioc-json": ".json",
                 "conll": ".conll", "brat": ""}
# What an output format cannot carry, by the kind of annotation a stage adds (`DocumentStage.provides`).
CANNOT_HOLD = {"conll": ("relations",)}  # brat keeps relations (R lines, `formats.brat`)


@dataclass(frozen=True)
class TagSettings:
    """Everything that decides a tagging job's output (and so must match to resume it)."""

    input: Path
    output_dir: Path
    checkpoints: tuple[Path, ...]  # model folders, each a stage of the pipeline (entities, relations, ...)
    input_format: str | None = None
    output_format: str = "jsonl"
    shard_size: int = 1000
    precision: str = "auto"
    batch_size: int = field(default=32, compare=False)
    link: Path | None = None  # a linker folder or a term<TAB>id file: concept ids for the predicted entities

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_SUFFIX:
            raise BiotuneError(f"unknown output format {self.output_format!r}; choose one of {', '.join(OUTPUT_SUFFIX)}")
        if not self.checkpoints:
            raise BiotuneError("tagging needs at least one checkpoint")
        if self.shard_size < 1:
            raise BiotuneError(f"shard size must be at least 1, not {self.shard_size}")
        if self.batch_size < 1:
            raise BiotuneError(f"batch size must be at least 1, not {self.batch_size}")

    def record(self) -> dict[str, Any]:
        """The manifest's `settings`: paths resolved, batch size left out (it does not change the output)."""
        out = asdict(self)
        del out["batch_size"]
        out["checkpoints"] = [str(Path(folder).resolve()) for folder in self.checkpoints]
        return {key: str(Path(value).resolve()) if isinstance(value, Path) else value for key, value in out.items()}

    def pipeline(self, precision: str | None = None) -> DocumentPipeline:
        """The checkpoints' stages and the linker's, loaded as the settings say (or in `precision`)."""
        return load_pipeline(self.checkpoints, self.link, precision or self.precision, self.batch_size)


@dataclass(frozen=True)
class Shard:
    """Shard `index` of one input file: its documents `index*size .. (index+1)*size - 1`.

    A line-format shard knows its bytes (`span`) and reads them when asked; a BioC shard
    carries the `documents` the streaming pass read.
    """

    file: Path
    relative: str
    format: str
    index: int
    span: ByteRange | None = None
    documents: tuple[Document, ...] | None = field(default=None, compare=False, repr=False)

    def output(self, settings: TagSettings) -> Path:
        name = f"{self.relative.replace('/', '__')}.{self.index:05d}{OUTPUT_SUFFIX[settings.output_format]}"
        return settings.output_dir / name

    @property
    def size(self) -> int:
        """The shard's document count."""
        return self.span.documents if self.span is not None else len(self.documents or ())

    def read(self) -> list[Document]:
        """The shard's documents: its byte range parsed, or the documents it carries."""
        if self.span is not None:
            return list(read_range(self.file, self.format, self.span))
        return list(self.documents or ())


@dataclass
class TagSummary:
    documents: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    files: dict[str, dict[str, int]] = field(default_factory=dict)
    # What the pipeline's stages counted over the shards written (`DocumentStage.counts`): e.g. a
    # relation stage's `pairs_too_wide` (candidate pairs that did not fit the RE model's window, left
    # unrelated), the linking stage's `mentions_abbreviation` / `_exact` / `_normalised` / `_fuzzy` / `_dense`
    # / `_unlinked` / `_kept` (the stage that linked each mention).
    annotations: dict[str, int] = field(default_factory=dict)

    def add(self, relative: str, documents: int, written: bool) -> None:
        self.documents += documents
        self.shards_written += written
        self.shards_skipped += not written
        counts = self.files.setdefault(relative, {"documents": 0, "shards": 0})
        counts["documents"] += documents
        counts["shards"] += 1

    def count(self, counts: dict[str, int]) -> None:
        """Add what the pipeline counted on some shards."""
        for key, value in counts.items():
            self.annotations[key] = self.annotations.get(key, 0) + value


def counted_since(pipeline: DocumentPipeline, before: dict[str, int]) -> dict[str, int]:
    """The pipeline's counts minus `before` (its counts earlier)."""
    return {key: value - before.get(key, 0) for key, value in pipeline.counts().items()}


def shards_of(file: Path, relative: str, format: str, size: int) -> Iterator[Shard]:
    """The shards of one file in order: planned byte ranges, or (BioC) a stream of loaded shards."""
    ranges = plan_ranges(file, format, size)
    if ranges is not None:
        yield from (Shard(file, relative, format, index, span) for index, span in enumerate(ranges))
        return
    documents = iter_documents(file, format)
    index = 0
    while chunk := tuple(islice(documents, size)):
        yield Shard(file, relative, format, index, documents=chunk)
        index += 1


def plan_shards(settings: TagSettings) -> Iterator[Shard]:
    """Every shard of the job, in the order of the input files."""
    for file, relative in input_files(settings.input, settings.input_format):
        yield from shards_of(file, relative, document_format(file, settings.input_format), settings.shard_size)


def tag_shard(pipeline: DocumentPipeline, shard: Shard, documents: Sequence[Document], settings: TagSettings) -> None:
    """Annotate `documents` and write them to the shard's output, atomically."""
    write_documents(pipeline.annotate(documents), shard.output(settings), settings.output_format)


def write_documents(documents: Sequence[Document], path: Path, output_format: str) -> None:
    """Write with the format's writer; a folder format (brat) is built aside and renamed into place."""
    if OUTPUT_SUFFIX[output_format]:
        WRITERS[output_format](documents, path)
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        WRITERS[output_format](documents, staging)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _clear(folder: Path) -> None:
    """Delete a previous job's files, keeping the lock this job holds."""
    for entry in folder.iterdir():
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _read_manifest(manifest: Path) -> dict[str, Any]:
    """The manifest's record, or a `BiotuneError` if it is not one this biotune wrote."""
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BiotuneError(f"{manifest}: not a biotune tagging manifest ({error}); use another output folder, "
                           "or --overwrite to delete that job") from None
    missing = [key for key in ("settings", "inputs", "checkpoints")
               if not isinstance(record, dict) or not isinstance(record.get(key), dict)]
    if missing:
        raise BiotuneError(f"{manifest}: not a biotune tagging manifest, or one of an older biotune without "
                           f"fingerprints (no {', '.join(missing)}); use another output folder, "
                           "or --overwrite to delete that job")
    return record


def check_models(settings: TagSettings) -> tuple[list[type[DocumentStage]], str | None]:
    """Load the job's models (and linker) once on CPU and drop them: a `BiotuneError` naming what is unusable.

    The Ray driver calls it before creating anything, as its workers load the models only later;
    it returns the kinds of stage, whose warnings (`DocumentStage.report`) the driver gives at the
    end, and the linker's fingerprint, which the manifest records (`job_record`).
    """
    pipeline = settings.pipeline(precision="fp32")
    check_writable(pipeline, settings.output_format)
    return [type(step.stage) for step in pipeline.steps], linker_fingerprint(pipeline)


def check_writable(pipeline: DocumentPipeline, output_format: str) -> None:
    """Refuse an output format that cannot carry what a stage adds (`CANNOT_HOLD`), and write each stage's
    probe documents (a relation of every type the model predicts) to a scratch file.

    A label the output format cannot hold (a PubTator relation type must start with a letter) is
    a `BiotuneError` now, before any shard, rather than at the first shard that predicts it.
    """
    for step in pipeline.steps:
        kind = step.stage.provides
        if kind in CANNOT_HOLD.get(output_format, ()):
            holding = [name for name in OUTPUT_SUFFIX if kind not in CANNOT_HOLD.get(name, ())]
            raise BiotuneError(f"output format {output_format!r} has no {kind}; with {step.source}, which adds "
                               f"them, write {', '.join(holding)}")
        with tempfile.TemporaryDirectory(prefix="biotune-probe-") as scratch:
            try:
                for probe in step.stage.probe():
                    write_documents([probe], Path(scratch) / f"probe{OUTPUT_SUFFIX[output_format]}", output_format)
            except BiotuneError as error:
                raise BiotuneError(f"what {step.source} adds ({kind}) cannot be written as {output_format}: "
                                   f"{error}") from None


def job_record(settings: TagSettings, linker: str | None = None) -> dict[str, Any]:
    """The manifest's record of a job starting now: settings, input and checkpoint fingerprints, and
    `linker`, the fingerprint of the linker the job's pipeline links with (`linker_fingerprint`), if any.

    Raises `BiotuneError` for an input that cannot be read or a checkpoint that is not a folder.
    """
    files = input_files(settings.input, settings.input_format)
    record: dict[str, Any] = {"settings": settings.record(), "inputs": input_fingerprints(files),
                              "checkpoints": {str(folder.resolve()): checkpoint_fingerprint(folder)
                                              for folder in settings.checkpoints}}
    if linker is not None:
        record["linker"] = linker
    return record


def open_output(settings: TagSettings, current: dict[str, Any], overwrite: bool = False) -> None:
    """Write the job's manifest (`current`, from `job_record`), or check that a resumed job matches it.

    Call it while holding `job_lock` on the output folder. Raises `BiotuneError` when the folder
    holds a job with other settings (naming the keys), a job whose inputs or checkpoint changed
    since it started (naming the files), or files that are not a tagging job's, unless
    `overwrite` (which deletes the old job first).
    """
    out = settings.output_dir
    manifest = out / MANIFEST
    if overwrite and manifest.is_file():  # only now: every check that can fail has passed
        _clear(out)
    if manifest.is_file():
        previous = _read_manifest(manifest)
        differing = sorted(key for key in set(previous["settings"]) | set(current["settings"])
                           if previous["settings"].get(key) != current["settings"].get(key))
        if differing:
            raise BiotuneError(f"{out} holds a tagging job with other settings ({', '.join(differing)} differ); "
                               "use another output folder, or --overwrite to delete that job")
        changes = input_changes(previous["inputs"], current["inputs"])
        for folder, fingerprint in current["checkpoints"].items():
            changes += checkpoint_changes(Path(folder), previous["checkpoints"].get(folder, {}), fingerprint)
        changes += linker_changes(settings.link, previous.get("linker"), current.get("linker"))
        if changes:
            raise BiotuneError(f"{out} holds a tagging job whose inputs or model changed since it started: "
                               f"{'; '.join(changes)}. Its shards would mix old and new; use --overwrite to tag "
                               "everything again, or another output folder")
    elif any(entry.name != LOCK for entry in out.iterdir()):
        raise BiotuneError(f"{out} is not empty and holds no {MANIFEST}: choose an empty or new output folder")
    write_json(manifest, {**current, "complete": False})


def close_output(settings: TagSettings, record: dict[str, Any], summary: TagSummary) -> None:
    """Mark the job complete in its manifest, with per-file counts."""
    write_json(settings.output_dir / MANIFEST, {**record, "complete": True, **asdict(summary)})


@contextlib.contextmanager
def output_folder(settings: TagSettings, overwrite: bool = False, linker: str | None = None
                  ) -> Iterator[dict[str, Any]]:
    """The job's manifest record (`job_record`, with the `linker` fingerprint), with its output folder created,
    checked (`open_output`) and locked for the block.

    Inputs and checkpoint are fingerprinted first, so a job that cannot start creates nothing.
    """
    current = job_record(settings, linker)
    out = settings.output_dir
    if out.exists() and not out.is_dir():
        raise BiotuneError(f"output folder {out} is a file; pass a folder (new, or a tagging job's)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BiotuneError(f"cannot create output folder {out}: a parent is a file") from None
    with job_lock(out):
        open_output(settings, current, overwrite)
        yield current


def expected_documents(settings: TagSettings) -> int | None:
    """The job's document count from a quick line scan (for a progress bar's total), or None when unknown."""
    total = 0
    for file, _ in input_files(settings.input, settings.input_format):
        count = count_documents(file, document_format(file, settings.input_format))
        if count is None:
            return None
        total += count
    return total


def run_tag(
    settings: TagSettings,
    pipeline: DocumentPipeline | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> TagSummary:
    """Tag every document under `settings.input` into `settings.output_dir`, skipping finished shards.

    `pipeline` defaults to the settings' checkpoints, linker and precision; it is loaded
    (and what its stages write checked against the output format) before the output folder is
    touched, so a model that does not load leaves nothing behind. `on_progress(n)` is called
    with the number of documents of each shard done (tagged or skipped).
    """
    pipeline = pipeline or settings.pipeline()
    check_writable(pipeline, settings.output_format)
    before = pipeline.counts()
    with output_folder(settings, overwrite, linker_fingerprint(pipeline)) as record:
        summary = TagSummary()
        for shard in plan_shards(settings):
            done = shard.output(settings).exists()
            if not done:
                tag_shard(pipeline, shard, shard.read(), settings)
            summary.add(shard.relative, shard.size, written=not done)
            if on_progress is not None:
                on_progress(shard.size)
        summary.count(counted_since(pipeline, before))
        close_output(settings, record, summary)
    warn([type(step.stage) for step in pipeline.steps], summary)
    return summary


def warn(stages: Sequence[type[DocumentStage]], summary: TagSummary) -> None:
    """Log the stages' warnings on what they counted over the job (pairs too wide for a model's window)."""
    for stage in stages:
        line = stage.report(summary.annotations)
        if line is not None:
            log.warning("%s", line)
