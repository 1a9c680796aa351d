"""Document formats by name: how `biotune tag` reads a literature corpus.

A format name maps to one streaming reader (documents come one at a time, so a file larger
than memory is fine, except BioC JSON, which is one JSON object). `document_format` picks the
format from a file's extension when none is given, and `input_files` expands a folder into the
files a job reads, in a stable order, so that shard names and resumption do not depend on the
order the file system lists them in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from biotune.data.bioc_io import iter_bioc_xml, read_bioc_json
from biotune.data.documents import Document, Passage, iter_jsonl_documents
from biotune.data.pubtator import iter_pubtator
from biotune.data.readers import existing_file, numbered_lines
from biotune.errors import BiotuneError


def iter_text_documents(path: str | Path) -> Iterator[Document]:
    """Plain text: every non-blank line is one document (one `text` passage), id `<file stem>-<line>`."""
    path = existing_file(path)
    for number, line in numbered_lines(path):
        text = line.rstrip("\r\n")
        if text.strip():
            yield Document(f"{path.stem}-{number}", [Passage("text", text)])


def _bioc_json(path: str | Path) -> Iterator[Document]:
    return iter(read_bioc_json(path))


DOCUMENT_READERS: dict[str, Callable[[str | Path], Iterator[Document]]] = {
    "text": iter_text_documents,
    "jsonl": iter_jsonl_documents,
    "pubtator": iter_pubtator,
    "bioc-xml": iter_bioc_xml,
    "bioc-json": _bioc_json,
}

DOCUMENT_EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".jsonl": "jsonl",
    ".pubtator": "pubtator",
    ".pubtator3": "pubtator",
    ".xml": "bioc-xml",
    ".bioc": "bioc-xml",
    ".json": "bioc-json",
}


def document_format(path: str | Path, format: str | None = None) -> str:
    """`format` checked against the registry, or the one `path`'s extension implies."""
    if format is not None:
        if format not in DOCUMENT_READERS:
            raise BiotuneError(f"unknown document format {format!r}; choose one of {', '.join(DOCUMENT_READERS)}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in DOCUMENT_EXTENSIONS:
        known = ", ".join(f"{ext} ({name})" for ext, name in DOCUMENT_EXTENSIONS.items())
        raise BiotuneError(f"{path}: cannot tell the document format from the extension {suffix or '(none)'!r}; "
                           f"pass --format, or use one of {known}")
    return DOCUMENT_EXTENSIONS[suffix]


def iter_documents(path: str | Path, format: str | None = None) -> Iterator[Document]:
    """Stream the documents of one file in `format` (default: by extension)."""
    return DOCUMENT_READERS[document_format(path, format)](path)


_PUBTATOR_TITLE = re.compile(r"[^|\t]+\|t\|")


def count_documents(path: str | Path, format: str) -> int | None:
    """A quick document count for progress bars, by scanning lines (no parsing); None for BioC.

    Text and JSONL count non-blank lines, PubTator its title lines (`id|t|`).
    """
    if format not in ("text", "jsonl", "pubtator"):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        if format == "pubtator":
            return sum(1 for line in handle if _PUBTATOR_TITLE.match(line))
        return sum(1 for line in handle if line.strip())


def input_files(path: str | Path, format: str | None = None) -> list[tuple[Path, str]]:
    """`(file, name relative to the input)` for a file, or for every readable file under a folder.

    Inside a folder, files whose extension names no format are skipped unless `format` is
    given (then every non-hidden file is read in that format); the list is sorted by relative
    path. An empty folder is an error, as is a path that does not exist.
    """
    path = Path(path)
    if path.is_file():
        document_format(path, format)
        return [(path, path.name)]
    if not path.is_dir():
        raise BiotuneError(f"input {path} not found")
    found = []
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if not file.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if format is not None or file.suffix.lower() in DOCUMENT_EXTENSIONS:
            found.append((file, relative.as_posix()))
    if not found:
        raise BiotuneError(f"input folder {path} holds no files in a known document format "
                           f"({', '.join(DOCUMENT_EXTENSIONS)}); pass --format to read other names")
    return found
