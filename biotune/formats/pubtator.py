"""PubTator: the line format of PubMed abstracts with entity annotations (BC5CDR, NCBI-disease).

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>concept id[<TAB>...]]
    PMID<TAB>relation type<TAB>head concept id<TAB>tail concept id[<TAB>...]
    <blank line>

Offsets are characters over `title + " " + abstract`, so a document reads into a title passage
at 0 and an abstract passage at `len(title) + 1`. Columns after the concept id, and after the
two relation arguments (BioRED's novelty), are ignored. A relation line (its second column is
a name, such as ``CID``, where an entity line has its start offset) becomes a concept-level
`Relation`; one naming a concept id that no annotation of its document carries is an error
naming the file and line. Scores, and a linker's stage and score (`Annotation.link_stage`,
`link_score`), have no column, so writing predictions to PubTator drops them and keeps the
concept id: the columns after the id follow no standard (BC5CDR puts a composite mention's
parts there), so another reader would misread them. A relation between annotation ids is
written by the concept ids of those annotations, as PubTator relations are concept-level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from biotune.formats.documents import (BY_ANNOTATION, BY_CONCEPT, Annotation, Document, Passage, Relation, assemble,
                                       refuse_labels)
from biotune.formats.readers import existing_file, numbered_lines
from biotune.errors import BiotuneError
from biotune.io import atomic_open

# A line break or tab inside text would break the line format; each becomes one space, which
# keeps every offset valid.
_FLATTEN = str.maketrans("\t\n\r", "   ")
# The second column of a relation line: a name (CID, Association), never an offset.
_RELATION_TYPE = re.compile(r"[A-Za-z][\w:.-]*")


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
        self.relations: list[tuple[str, Relation]] = []

    def add(self, where: str, line: str) -> None:
        columns = line.split("\t")
        if columns[0] != self.id:
            raise BiotuneError(f"{where}: line of document {columns[0]!r} inside document {self.id!r}")
        if len(columns) >= 4 and _RELATION_TYPE.fullmatch(columns[1]):
            if not columns[2] or not columns[3]:
                raise BiotuneError(f"{where}: relation line needs two concept ids, found {line!r}")
            self.relations.append((where, Relation(columns[1], columns[2], columns[3], BY_CONCEPT)))
            return
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
        return assemble(self.id, passages, self.located, self.where, self.relations)


def write_pubtator(documents: Iterable[Document], path: str | Path) -> int:
    """Write `documents` as PubTator (atomically); returns the number written.

    The first passage becomes the title and the others, joined by spaces, the abstract, with
    annotation offsets moved to match. Tabs and line breaks in text become spaces. Relations
    follow the entity lines, in the document's order. A document with labels is refused: PubTator
    has no line for them (`documents.refuse_labels`).
    """
    count = 0
    with atomic_open(path) as out:
        for doc in documents:
            if not doc.id or any(c in doc.id for c in "|\t\n\r"):
                raise BiotuneError(f"document id {doc.id!r} cannot be written to PubTator (empty, or has | or tab)")
            refuse_labels(doc, "PubTator")
            title, abstract, annotations = _title_abstract(doc)
            out.write(f"{doc.id}|t|{title.translate(_FLATTEN)}\n{doc.id}|a|{abstract.translate(_FLATTEN)}\n")
            for a in annotations:
                fields = [doc.id, str(a.start_char), str(a.end_char), a.text.translate(_FLATTEN), a.type]
                out.write("\t".join(fields + ([a.concept_id] if a.concept_id else [])) + "\n")
            for relation in doc.relations:
                out.write("\t".join([doc.id, relation.type, *_concept_arguments(doc, relation)]) + "\n")
            out.write("\n")
            count += 1
    return count


def _concept_arguments(doc: Document, relation: Relation) -> tuple[str, str]:
    """The two concept ids a relation line names: its own, or those of the annotations it names."""
    if not _RELATION_TYPE.fullmatch(relation.type):
        raise BiotuneError(f"document {doc.id!r}: relation type {relation.type!r} cannot be written to PubTator "
                           "(it must start with a letter and hold no spaces or tabs)")
    if relation.by != BY_ANNOTATION:
        return relation.head, relation.tail
    concepts = {a.id: a.concept_id for a in doc.annotations if a.id is not None}
    arguments = []
    for ref in (relation.head, relation.tail):
        if not concepts.get(ref):
            raise BiotuneError(f"document {doc.id!r}: {relation.type} relation {relation.id or ''} names annotation "
                               f"{ref!r}, which has no concept id; PubTator relations name concept ids (link first)")
        arguments.append(concepts[ref] or "")
    return arguments[0], arguments[1]


def _title_abstract(doc: Document) -> tuple[str, str, list[Annotation]]:
    """Title, abstract and annotations re-based on `title + " " + abstract`."""
    if not doc.passages:
        return "", "", []
    position, texts, annotations = 0, [], []
    for passage in doc.passages:
        shift = position - passage.offset
        annotations += [
            Annotation(a.start_char + shift, a.end_char + shift, a.type, a.text, a.score, a.concept_id, a.id)
            for a in passage.annotations
        ]
        texts.append(passage.text)
        position += len(passage.text) + 1
    return texts[0], " ".join(texts[1:]), annotations
