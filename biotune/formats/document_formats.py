"""Document formats by name: how `biotune tag` reads a literature corpus.

A format name maps to one streaming reader (documents come one at a time, so a file larger
than memory is fine, except BioC JSON, which is one JSON object). `document_format` picks the
format from a file's extension when none is given, and `input_files` expands a folder into the
files a job reads, in a stable order, so that shard names and resumption do not depend on the
order the file system lists them in.

The line formats (text, JSONL, PubTator) can also be read by byte range: `plan_ranges` finds
the documents' first lines with one byte scan (no parsing), and `read_range` parses only the
bytes of one range, numbering its lines as in the whole file, so the documents (ids, error
places) are exactly those a whole-file read gives. This is what lets a tagging job hand one
shard of a PubMed-sized file to a worker without anyone reading the file from its start.
BioC has no line structure to cut at: `plan_ranges` returns None for it.

brat (`biotune.formats.brat`) is a folder of `<id>.txt` + `<id>.ann` pairs, not one file: a
folder holding `.ann` files is one input in brat (`input_files` lists it once, its `.txt` files
are not read again as plain text), and so are an `.ann` file and a glob pattern of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from biotune.formats.bigbio import iter_bigbio
from biotune.formats.bioc_io import iter_bioc_xml, read_bioc_json
from biotune.formats.brat import is_brat_folder, iter_brat
from biotune.formats.documents import Document, Passage, iter_jsonl_documents, jsonl_documents
from biotune.formats.pubtator import iter_pubtator, pubtator_documents, starts_document
from biotune.formats.readers import existing_file, numbered_lines
from biotune.errors import BiotuneError
from biotune.registry import Registry


def iter_text_documents(path: str | Path) -> Iterator[Document]:
    """Plain text: every non-blank line is one document (one `text` passage), id `<file stem>-<line>`."""
    path = existing_file(path)
    return text_documents(path, numbered_lines(path))


def text_documents(path: Path, lines: Iterable[tuple[int, str]]) -> Iterator[Document]:
    """The documents of `lines` (`(line number, line)`, a whole file or a byte range of `path`)."""
    for number, line in lines:
        if line.strip():
            yield Document(f"{path.stem}-{number}", [Passage("text", line)])


def _bioc_json(path: str | Path) -> Iterator[Document]:
    return iter(read_bioc_json(path))


LINE_READERS: dict[str, Callable[[Path, Iterable[tuple[int, str]]], Iterator[Document]]] = {
    "text": text_documents,
    "jsonl": jsonl_documents,
    "pubtator": pubtator_documents,
}

DOCUMENT_READERS: Registry[Callable[[str | Path], Iterator[Document]]] = Registry("document format", {
    "text": iter_text_documents,
    "jsonl": iter_jsonl_documents,
    "pubtator": iter_pubtator,
    "bioc-xml": iter_bioc_xml,
    "bioc-json": _bioc_json,
    "brat": iter_brat,
    "bigbio": iter_bigbio,  # a BigBIO KB split: parquet file or save_to_disk folder
})

DOCUMENT_EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".jsonl": "jsonl",
    ".pubtator": "pubtator",
    ".pubtator3": "pubtator",
    ".xml": "bioc-xml",
    ".bioc": "bioc-xml",
    ".json": "bioc-json",
    ".ann": "brat",
    ".parquet": "bigbio",
}


def document_format(path: str | Path, format: str | None = None) -> str:
    """`format` checked against the registry, or the one `path`'s extension implies (a folder of `.ann`
    files: brat)."""
    if format is not None:
        DOCUMENT_READERS.lookup(format)
        return format
    if is_brat_folder(Path(path)):
        return "brat"
    suffix = Path(path).suffix.lower()
    if suffix not in DOCUMENT_EXTENSIONS:
        known = ", ".join(f"{ext} ({name})" for ext, name in DOCUMENT_EXTENSIONS.items())
        raise BiotuneError(f"{path}: cannot tell the document format from the extension {suffix or '(none)'!r}; "
                           f"pass --format, or use one of {known}")
    return DOCUMENT_EXTENSIONS[suffix]


def iter_documents(path: str | Path, format: str | None = None) -> Iterator[Document]:
    """Stream the documents of one file in `format` (default: by extension)."""
    return DOCUMENT_READERS[document_format(path, format)](path)


def _non_blank(raw: bytes, first: bool) -> bool:
    """The text and JSONL readers' document test (`line.strip()` after decoding) on a raw line."""
    return bool(raw.strip()) and bool(raw.decode("utf-8-sig" if first else "utf-8", "replace").strip())


def _document_starts(path: Path, format: str) -> Iterator[tuple[int, int]]:
    """`(byte offset, line number)` of the first line of each document of a line-format file."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if starts_document(raw) if format == "pubtator" else _non_blank(raw, first=number == 1):
                yield offset, number
            offset += len(raw)


@dataclass(frozen=True)
class ByteRange:
    """Bytes `[start, end)` of a file, whose first line is line `first_line`, holding `documents` documents."""

    start: int
    end: int
    first_line: int
    documents: int


def plan_ranges(path: str | Path, format: str, size: int) -> list[ByteRange] | None:
    """Consecutive ranges of `size` documents (the last may hold fewer) covering the whole file.

    The first range starts at byte 0 and each later one at the first line of its first
    document, so every byte (blank lines, a stray line a reader rejects) is read by exactly one
    range and in the place a whole-file read meets it. None for a format without lines (BioC).
    """
    if format not in LINE_READERS:
        return None
    path = existing_file(path)
    cuts, total = [], 0
    for offset, number in _document_starts(path, format):
        if total % size == 0:
            cuts.append((offset, number))
        total += 1
    starts = [(0, 1)] + cuts[1:]
    ends = [offset for offset, _ in cuts[1:]] + [path.stat().st_size]
    return [ByteRange(start, end, line, min(size, total - k * size))
            for k, ((start, line), end) in enumerate(zip(starts, ends))] if cuts else []


def read_range(path: str | Path, format: str, span: ByteRange) -> Iterator[Document]:
    """Stream the documents of one planned range of a line-format file."""
    path = existing_file(path)
    return LINE_READERS[format](path, numbered_lines(path, span.start, span.end, span.first_line))


def count_documents(path: str | Path, format: str) -> int | None:
    """A quick document count for progress bars, by the byte scan of `plan_ranges` (no parsing); None for BioC."""
    if format not in LINE_READERS:
        return None
    return sum(1 for _ in _document_starts(existing_file(path), format))


def input_files(path: str | Path, format: str | None = None) -> list[tuple[Path, str]]:
    """`(file, name relative to the input)` for a file, or for every readable file under a folder.

    Inside a folder, files whose extension names no format are skipped unless `format` is
    given (then every non-hidden file is read in that format); the list is sorted by relative
    path. A brat folder (one holding `.ann` files, or any folder with `format="brat"`) is one
    input, its `<id>.txt` + `<id>.ann` pairs its documents. An empty folder is an error, as is a
    path that does not exist.
    """
    path = Path(path)
    if path.is_file():
        document_format(path, format)
        return [(path, path.name)]
    if not path.is_dir():
        raise BiotuneError(f"input {path} not found")
    if format == "brat" or (format is None and is_brat_folder(path)):
        return [(path, path.name)]
    found = []
    brat: dict[Path, bool] = {}  # folder -> whether it is a brat folder (asked once per folder)
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if not file.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if format is None and file.suffix.lower() in (".ann", ".txt"):
            if file.parent not in brat:
                brat[file.parent] = is_brat_folder(file.parent)
                if brat[file.parent]:  # the pairs of a brat folder are one input, listed once
                    found.append((file.parent, file.parent.relative_to(path).as_posix()))
            if brat[file.parent]:
                continue
        if format is not None or file.suffix.lower() in DOCUMENT_EXTENSIONS:
            found.append((file, relative.as_posix()))
    if not found:
        raise BiotuneError(f"input folder {path} holds no files in a known document format "
                           f"({', '.join(DOCUMENT_EXTENSIONS)}); pass --format to read other names")
    return found
