"""`biotune tag`: tag a corpus (a file or a folder of files) into sharded, resumable output.

The corpus streams through in shards of `shard_size` documents: a shard is read, tagged and
written (to a temporary name, then renamed), so memory is bounded by one shard and an
interrupted job loses at most the shard in flight. Shard `k` of input file `f` is always the
same documents (positions `k*size .. (k+1)*size-1` of `f`) and always has the same output name
(`<f with / as __>.<k:05d>.<ext>`), so a rerun skips the shards that exist and neither
duplicates nor loses a document. That naming is also what lets the Ray job
(`biotune.inference.distributed`) hand shards to workers and produce the same files.

`tag_manifest.json` in the output folder records the settings that decide the output; a rerun
with different settings is refused (mixing them would corrupt the corpus), and a finished job
records its per-file document and shard counts there.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from biotune.data.document_formats import count_documents, document_format, input_files, iter_documents
from biotune.data.documents import Document
from biotune.errors import BiotuneError
from biotune.inference.annotate import tag_documents
from biotune.inference.tagger import Tagger
from biotune.inference.writers import WRITERS
from biotune.io import write_json

MANIFEST = "tag_manifest.json"
OUTPUT_SUFFIX = {"jsonl": ".jsonl", "pubtator": ".pubtator", "bioc-xml": ".xml", "bioc-json": ".json",
                 "conll": ".conll", "brat": ""}


@dataclass(frozen=True)
class TagSettings:
    """Everything that decides a tagging job's output (and so must match to resume it)."""

    input: Path
    output_dir: Path
    checkpoint: Path
    input_format: str | None = None
    output_format: str = "jsonl"
    shard_size: int = 1000
    precision: str = "auto"
    batch_size: int = field(default=32, compare=False)

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_SUFFIX:
            raise BiotuneError(f"unknown output format {self.output_format!r}; choose one of {', '.join(OUTPUT_SUFFIX)}")
        if self.shard_size < 1:
            raise BiotuneError(f"shard size must be at least 1, not {self.shard_size}")

    def record(self) -> dict[str, Any]:
        """The manifest's `settings`: paths resolved, batch size left out (it does not change the output)."""
        out = asdict(self)
        del out["batch_size"]
        return {key: str(Path(value).resolve()) if isinstance(value, Path) else value for key, value in out.items()}

    def tagger(self) -> Tagger:
        return Tagger.from_checkpoint(self.checkpoint, precision=self.precision, batch_size=self.batch_size)


@dataclass(frozen=True)
class Shard:
    """Shard `index` of one input file: its documents `index*size .. (index+1)*size - 1`."""

    file: Path
    relative: str
    format: str
    index: int

    def output(self, settings: TagSettings) -> Path:
        name = f"{self.relative.replace('/', '__')}.{self.index:05d}{OUTPUT_SUFFIX[settings.output_format]}"
        return settings.output_dir / name

    def read(self, size: int) -> list[Document]:
        """The shard's documents, found by reading the file from its start."""
        return list(islice(iter_documents(self.file, self.format), self.index * size, (self.index + 1) * size))


@dataclass
class TagSummary:
    documents: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    files: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, shard: Shard, documents: int, written: bool) -> None:
        self.documents += documents
        self.shards_written += written
        self.shards_skipped += not written
        counts = self.files.setdefault(shard.relative, {"documents": 0, "shards": 0})
        counts["documents"] += documents
        counts["shards"] += 1


def shards_of(file: Path, relative: str, format: str, size: int) -> Iterator[tuple[Shard, list[Document]]]:
    """Stream `(shard, its documents)` through one file."""
    documents = iter_documents(file, format)
    index = 0
    while chunk := list(islice(documents, size)):
        yield Shard(file, relative, format, index), chunk
        index += 1


def tag_shard(tagger: Tagger, shard: Shard, documents: Sequence[Document], settings: TagSettings) -> None:
    """Tag `documents` and write them to the shard's output, atomically."""
    write_documents(tag_documents(tagger, documents), shard.output(settings), settings.output_format)


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


def open_output(settings: TagSettings, overwrite: bool = False) -> None:
    """Create the output folder and its manifest, or check that a resumed job has the same settings.

    Raises `BiotuneError` when the folder holds a job with other settings (naming the keys) or
    files that are not a tagging job's, unless `overwrite` (which deletes the old job first).
    """
    out = settings.output_dir
    manifest = out / MANIFEST
    if overwrite and manifest.is_file():
        shutil.rmtree(out)
    if manifest.is_file():
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8"))["settings"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise BiotuneError(f"{manifest}: not a biotune tagging manifest ({error}); use another output folder, "
                               "or --overwrite to delete that job") from None
        differing = sorted(key for key in set(previous) | set(settings.record())
                           if previous.get(key) != settings.record().get(key))
        if differing:
            raise BiotuneError(f"{out} holds a tagging job with other settings ({', '.join(differing)} differ); "
                               "use another output folder, or --overwrite to delete that job")
    elif out.exists() and any(out.iterdir()):
        raise BiotuneError(f"{out} is not empty and holds no {MANIFEST}: choose an empty or new output folder")
    out.mkdir(parents=True, exist_ok=True)
    if not manifest.is_file():
        write_json(manifest, {"settings": settings.record(), "complete": False})


def close_output(settings: TagSettings, summary: TagSummary) -> None:
    """Mark the job complete in its manifest, with per-file counts."""
    write_json(settings.output_dir / MANIFEST, {"settings": settings.record(), "complete": True, **asdict(summary)})


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
    tagger: Tagger | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> TagSummary:
    """Tag every document under `settings.input` into `settings.output_dir`, skipping finished shards.

    `tagger` defaults to the settings' checkpoint and precision. `on_progress(n)` is called
    with the number of documents of each shard done (tagged or skipped).
    """
    files = input_files(settings.input, settings.input_format)
    formats = [document_format(file, settings.input_format) for file, _ in files]
    open_output(settings, overwrite)
    summary = TagSummary()
    for (file, relative), format in zip(files, formats):
        for shard, documents in shards_of(file, relative, format, settings.shard_size):
            done = shard.output(settings).exists()
            if not done:
                tagger = tagger or settings.tagger()
                tag_shard(tagger, shard, documents, settings)
            summary.add(shard, len(documents), written=not done)
            if on_progress is not None:
                on_progress(len(documents))
    close_output(settings, summary)
    return summary
