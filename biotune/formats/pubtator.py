"""PubTator: the line format of PubMed abstracts with entity annotations (BC5CDR, NCBI-disease).

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>concept id[<TAB>...]]
    <blank line>

Offsets are characters over `title + " " + abstract`, so a document reads into a title passage
at 0 and an abstract passage at `len(title) + 1`. Relation lines (`PMID<TAB>CID<TAB>id<TAB>id`)
are skipped and columns after the concept id ignored: biotune keeps entities only. Scores have
no column, so writing predictions to PubTator drops them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from biotune.formats.documents import Annotation, Document, Passage, assemble
from biotune.formats.readers import existing_file, numbered_lines
from biotune.errors import BiotuneError
from biotune.io import atomic_open

# A line break or tab inside text would break the line format; each becomes one space, which
# keeps every offset valid.
_FLATTEN = str.maketrans("\t\n\r", "   ")


def iter_pubtator(path: str | Path) -> Iterator[Document]:
    """Stream the documents of a PubTator file; errors name the file and line."""
    path = existing_file(path)
    return pubtator_documents(path, numbered_lines(path))


def starts_document(raw: bytes) -> bool:
    """Whether a raw line is a title line (`id|t|...`), where `pubtator_documents` starts a document.

    The reader's own test, on undecoded bytes (`|`, `t` and tab are single bytes in UTF-8), so
    a byte scan finds exactly the reader's document boundaries without parsing.
    """
    head = raw.split(b"|", 2)
    return len(head) == 3 and head[1] == b"t" and b"\t" not in head[0]


def pubtator_documents(path: Path, lines: Iterable[tuple[int, str]]) -> Iterator[Document]:
    """The documents of `lines` (`(line number, line)`, a whole file or a byte range of `path`)."""
    doc: _Pending | None = None
    for number, line in lines:
        where = f"{path}:{number}"
        if not line.strip():
            if doc is not None:
                yield doc.build()
            doc = None
            continue
        head = line.split("|", 2)
        if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
            if head[1] == "t":
                if doc is not None:
                    yield doc.build()
                doc = _Pending(head[0], head[2], where)
            elif doc is None or doc.id != head[0] or doc.abstract is not None:
                raise BiotuneError(f"{where}: abstract line of {head[0]!r} does not follow its title line")
            else:
                doc.abstract = head[2]
            continue
        if doc is None:
            raise BiotuneError(f"{where}: expected a 'PMID|t|title' line, found {line[:60]!r}")
        doc.add(where, line)
    if doc is not None:
        yield doc.build()


class _Pending:
    """A document being read: title, abstract and annotation lines with their places."""

    def __init__(self, doc_id: str, title: str, where: str) -> None:
        self.id, self.title, self.where = doc_id, title, where
        self.abstract: str | None = None
        self.located: list[tuple[str, Annotation]] = []

    def add(self, where: str, line: str) -> None:
        columns = line.split("\t")
        if columns[0] != self.id:
            raise BiotuneError(f"{where}: line of document {columns[0]!r} inside document {self.id!r}")
        if len(columns) == 4 and not columns[1].isdigit():
            return  # a relation line
        if len(columns) < 5:
            raise BiotuneError(f"{where}: expected 'PMID<TAB>start<TAB>end<TAB>mention<TAB>type', found {line!r}")
        try:
            start, end = int(columns[1]), int(columns[2])
        except ValueError:
            raise BiotuneError(f"{where}: offsets must be integers, found {columns[1]!r} and {columns[2]!r}") from None
        concept = columns[5] if len(columns) > 5 and columns[5] else None
        self.located.append((where, Annotation(start, end, columns[4], columns[3], concept_id=concept)))

    def build(self) -> Document:
        abstract = self.abstract or ""
        passages = [Passage("title", self.title, 0), Passage("abstract", abstract, len(self.title) + 1)]
        return assemble(self.id, passages, self.located, self.where)


def write_pubtator(documents: Iterable[Document], path: str | Path) -> int:
    """Write `documents` as PubTator (atomically); returns the number written.

    The first passage becomes the title and the others, joined by spaces, the abstract, with
    annotation offsets moved to match. Tabs and line breaks in text become spaces.
    """
    count = 0
    with atomic_open(path) as out:
        for doc in documents:
            if not doc.id or any(c in doc.id for c in "|\t\n\r"):
                raise BiotuneError(f"document id {doc.id!r} cannot be written to PubTator (empty, or has | or tab)")
            title, abstract, annotations = _title_abstract(doc)
            out.write(f"{doc.id}|t|{title.translate(_FLATTEN)}\n{doc.id}|a|{abstract.translate(_FLATTEN)}\n")
            for a in annotations:
                fields = [doc.id, str(a.start_char), str(a.end_char), a.text.translate(_FLATTEN), a.type]
                out.write("\t".join(fields + ([a.concept_id] if a.concept_id else [])) + "\n")
            out.write("\n")
            count += 1
    return count


def _title_abstract(doc: Document) -> tuple[str, str, list[Annotation]]:
    """Title, abstract and annotations re-based on `title + " " + abstract`."""
    if not doc.passages:
        return "", "", []
    position, texts, annotations = 0, [], []
    for passage in doc.passages:
        shift = position - passage.offset
        annotations += [
            Annotation(a.start_char + shift, a.end_char + shift, a.type, a.text, a.score, a.concept_id)
            for a in passage.annotations
        ]
        texts.append(passage.text)
        position += len(passage.text) + 1
    return texts[0], " ".join(texts[1:]), annotations
