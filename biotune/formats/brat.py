"""brat standoff: what most biomedical annotation projects export, read as documents and written back.

A brat corpus is a folder of `<id>.txt` (the text) + `<id>.ann` (its annotations) pairs:

    T1<TAB>protein 0 27<TAB>Anti-Ro(SSA) autoantibodies          an entity: type, character offsets, text
    T2<TAB>DNA 30 35;40 44<TAB>IL-2 gene                         a discontinuous entity: fragments joined by ';'
    R1<TAB>Binds Arg1:T1 Arg2:T2                                 a relation between two entities
    N1<TAB>Reference T1 UniProt:P10451<TAB>osteopontin          a normalisation: T1's concept id
    #1<TAB>AnnotatorNotes T1<TAB>score=0.93                      a note (biotune writes scores here,
    #2<TAB>AnnotatorNotes T1<TAB>score=0.93 link_stage=fuzzy link_score=0.81   and how T1's id was linked)

`iter_brat` takes a folder, one `.ann` or `.txt` file, or a split pattern of such files
(`biotune.formats.patterns`: the registry names JNLPBA's dev split `train/*0.ann except test`);
documents come in the order of their ids. The text is the whole `.txt` (offsets as brat counts
them: characters of the file read without newline translation). A `.txt` without an `.ann` is a
document without annotations (text to tag); an `.ann` without its `.txt` is an error.

A document's passages are the lines of its `.txt`, each with its line break, so the passages
put together are the text exactly and sentences never cross a line break (brat corpora put a
title, a paragraph or a sentence on a line, and a title may end without a period). An entity
that crosses a line break is an error naming its line.

What biotune's `Document` cannot hold is handled, never silently:
- a discontinuous entity becomes the range from its first fragment's start to its last
  fragment's end (the mention's covering text), since a `Span` is contiguous; one warning per
  file names the first such line and the count;
- overlapping entities are all kept (relations and output keep them); one warning per file
  names the first overlap, since BIO tags for NER training can keep only the earlier, then
  longer, of each overlap (`documents.tagged_sentences`);
- several `N` lines on one entity give it every id, joined by `|` (a composite mention);
- attribute (`A`, `M`), event (`E`) and equivalence (`*`) lines are skipped: no biotune task
  reads them. Any other line, or a malformed one, is a `BiotuneError` naming file and line.

`write_brat` writes the same layout back: entity ids, relations (`R` lines, `Arg1`/`Arg2` unless
the relation carries other role names) and concept ids (`N` lines; an id's whitespace and `%`
written as `%20`-style escapes and read back, since brat splits an `N` line at spaces and the
linker's stand-in id of an unlinked mention, ``text:Disease:fever x``, holds some) are kept, so
a read, write, read gives the same documents; so are scores and a linker's `link_stage` / `link_score` (the
``key=value`` fields of an `AnnotatorNotes` line: brat has no column for them, and a note is
what its users read beside an entity). A relation between concept ids (PubTator's CID lines) is written
between the first mention of each concept, since brat relates entities, not concepts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

from biotune.errors import BiotuneError
from biotune.formats.patterns import is_pattern, pattern_files
from biotune.formats.documents import (BY_ANNOTATION, Annotation, Document, Passage, Relation, assemble,
                                       refuse_labels)
from biotune.io import atomic_open

logger = logging.getLogger("biotune")

PASSAGE = "text"  # the type of a brat document's passages (its lines)
SKIPPED_KINDS = frozenset("AME*")  # attributes, modifications, events, equivalences: no task reads them
_SAFE_ID = re.compile(r"[\w.-]+")  # a document id that is a safe file name
_ENTITY_ID = re.compile(r"T\d+")
_RELATION_ID = re.compile(r"R\d+")
_ROLE = re.compile(r"[A-Za-z][\w-]*")
_OFFSETS = re.compile(r"\d+ \d+(?:;\d+ \d+)*")
_NOTE_FIELD = re.compile(r"(?:^|\s)(score|link_stage|link_score)=(\S+)")  # biotune's fields in a note
_FLATTEN = str.maketrans("\t\n\r", "   ")  # brat's .ann holds a mention on one line
_ESCAPED = re.compile(r"[%\s]")  # characters of a concept id an N line cannot hold as they are


def iter_brat(path: str | Path) -> Iterator[Document]:
    """Stream the documents of a brat folder, file or glob pattern (see the module docstring)."""
    for text_file, ann_file in brat_pairs(path):
        yield read_brat_document(text_file, ann_file)


def brat_pairs(path: str | Path) -> list[tuple[Path, Path | None]]:
    """`(<id>.txt, <id>.ann or None)` of every document `path` names, sorted by id.

    An error when nothing is found, or when an `.ann` has no `.txt` beside it.
    """
    path = Path(path)
    if is_pattern(path):
        named = pattern_files(path)
    elif path.is_dir():
        named = list(path.iterdir())
    elif path.is_file():
        named = [path]
    else:
        raise BiotuneError(f"brat input {path} does not exist")
    stems = sorted({p.with_suffix("") for p in named if p.suffix in (".txt", ".ann") and p.is_file()})
    if not stems:
        raise BiotuneError(f"brat input {path} holds no .txt or .ann files")
    pairs = []
    for stem in stems:
        text_file, ann_file = stem.with_suffix(".txt"), stem.with_suffix(".ann")
        if not text_file.is_file():
            raise BiotuneError(f"{ann_file}: its text {text_file.name} is missing (brat pairs <id>.txt with <id>.ann)")
        pairs.append((text_file, ann_file if ann_file.is_file() else None))
    return pairs


def is_brat_folder(path: Path) -> bool:
    """Whether `path` is a folder holding `.ann` files directly (a brat corpus, read as one input)."""
    return path.is_dir() and any(p.suffix == ".ann" and p.is_file() for p in path.iterdir())


def read_brat_document(text_file: Path, ann_file: Path | None) -> Document:
    """One document: `text_file`'s text as one passage, `ann_file`'s entities, normalisations and relations."""
    text = _read(text_file)
    if ann_file is None:
        return Document(text_file.stem, line_passages(text))
    parsed = _Annotations(ann_file, text)
    for number, line in enumerate(_read(ann_file).split("\n"), start=1):
        if line.strip():
            parsed.add(number, line.rstrip("\r"))
    return parsed.document(text_file.stem)


def line_passages(text: str) -> list[Passage]:
    """One passage per line of `text`, its line break included (the passages put together are `text`)."""
    passages, offset = [], 0
    for line in text.split("\n"):
        piece = line + "\n" if offset + len(line) < len(text) else line
        if piece:
            passages.append(Passage(PASSAGE, piece, offset))
        offset += len(piece)
    return passages or [Passage(PASSAGE, text)]


def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:  # no newline translation: offsets count \r too
            return handle.read()
    except UnicodeDecodeError as error:
        raise BiotuneError(f"{path}: not valid UTF-8 ({error.reason} at byte {error.start})") from None


@dataclass
class _Annotations:
    """The lines of one `.ann` file as they are read; `document` applies N lines and notes to the entities."""

    file: Path
    text: str
    entities: dict[str, tuple[str, Annotation]] = field(default_factory=dict)  # id -> (where, annotation)
    concepts: dict[str, list[str]] = field(default_factory=dict)  # entity id -> its N lines' concept ids
    scores: dict[str, float] = field(default_factory=dict)  # entity or relation id -> score from its note
    links: dict[str, tuple[str | None, float | None]] = field(default_factory=dict)  # entity id -> link stage, score
    relations: list[tuple[str, Relation]] = field(default_factory=list)
    discontinuous: list[str] = field(default_factory=list)  # where each discontinuous entity was read

    def add(self, number: int, line: str) -> None:
        where = f"{self.file}:{number}"
        kind = line[0]
        if kind in SKIPPED_KINDS:
            return
        columns = line.split("\t")
        reader = {"T": self._entity, "R": self._relation, "N": self._normalisation, "#": self._note}.get(kind)
        if reader is None:
            raise BiotuneError(f"{where}: not a brat annotation line (T, R, N, #, A, M, E or * expected): {line[:60]!r}")
        reader(where, columns)

    def _entity(self, where: str, columns: list[str]) -> None:
        if len(columns) < 3 or " " not in columns[1] or not _ENTITY_ID.fullmatch(columns[0]):
            raise BiotuneError(f"{where}: expected 'T<n><TAB><type> <start> <end><TAB><text>', found {columns!r}")
        type_, offsets = columns[1].split(" ", 1)
        if not _OFFSETS.fullmatch(offsets):
            raise BiotuneError(f"{where}: offsets must be '<start> <end>' (';' between fragments), found {offsets!r}")
        fragments = [tuple(map(int, part.split())) for part in offsets.split(";")]
        start, end = fragments[0][0], fragments[-1][1]
        if any(s >= e for s, e in fragments) or any(a[1] > b[0] for a, b in zip(fragments, fragments[1:])):
            raise BiotuneError(f"{where}: fragments {offsets!r} are empty or out of order")
        if end > len(self.text):
            raise BiotuneError(f"{where}: offsets {start}-{end} run past the end of {self.file.with_suffix('.txt').name} "
                               f"({len(self.text)} characters)")
        mention = "\t".join(columns[2:])
        written = " ".join(self.text[s:e] for s, e in fragments)
        if written.translate(_FLATTEN) != mention.translate(_FLATTEN):
            raise BiotuneError(f"{where}: offsets {offsets} hold {written!r}, not the mention {mention!r} "
                               "(offsets must count characters, not bytes)")
        if columns[0] in self.entities:
            raise BiotuneError(f"{where}: entity id {columns[0]} is used twice (first at {self.entities[columns[0]][0]})")
        if len(fragments) > 1:
            self.discontinuous.append(where)
        self.entities[columns[0]] = (where, Annotation(start, end, type_, self.text[start:end], id=columns[0]))

    def _relation(self, where: str, columns: list[str]) -> None:
        parts = columns[1].split() if len(columns) >= 2 else []
        arguments = [part.split(":", 1) for part in parts[1:]]
        if len(parts) != 3 or not _RELATION_ID.fullmatch(columns[0]) or any(len(a) != 2 for a in arguments):
            raise BiotuneError(f"{where}: expected 'R<n><TAB><type> Arg1:T<a> Arg2:T<b>', found {columns!r}")
        (head_role, head), (tail_role, tail) = arguments
        self.relations.append((where, Relation(parts[0], head, tail, BY_ANNOTATION, head_role, tail_role,
                                               id=columns[0])))

    def _normalisation(self, where: str, columns: list[str]) -> None:
        parts = columns[1].split() if len(columns) >= 2 else []
        if len(parts) != 3:
            raise BiotuneError(f"{where}: expected 'N<n><TAB>Reference T<a> <db>:<id><TAB><text>', found {columns!r}")
        self.concepts.setdefault(parts[1], []).append(unquote(parts[2]))

    def _note(self, where: str, columns: list[str]) -> None:
        """biotune's ``key=value`` fields of a note; a note without any is free text for people."""
        parts = columns[1].split() if len(columns) >= 2 else []
        fields = dict(_NOTE_FIELD.findall(columns[2])) if len(columns) >= 3 and len(parts) == 2 else {}
        numbers = {key: _number(where, key, value) for key, value in fields.items() if key != "link_stage"}
        if "score" in numbers:
            self.scores[parts[1]] = numbers["score"]
        if "link_stage" in fields or "link_score" in numbers:
            self.links[parts[1]] = (fields.get("link_stage"), numbers.get("link_score"))

    def document(self, doc_id: str) -> Document:
        for entity in [*self.concepts, *self.scores, *self.links]:
            if entity.startswith("T") and entity not in self.entities:
                raise BiotuneError(f"{self.file}: a normalisation or note names entity {entity}, which no T line has")
        located = [(where, replace(a, concept_id="|".join(self.concepts[key]) if key in self.concepts else None,
                                   score=self.scores.get(key), link_stage=self.links.get(key, (None, None))[0],
                                   link_score=self.links.get(key, (None, None))[1]))
                   for key, (where, a) in self.entities.items()]
        relations = [(where, replace(r, score=self.scores.get(r.id or ""))) for where, r in self.relations]
        self._warn(located)
        return assemble(doc_id, line_passages(self.text), located, str(self.file), relations)

    def _warn(self, located: list[tuple[str, Annotation]]) -> None:
        if self.discontinuous:
            logger.warning("%s: %d discontinuous entities read as their covering range (biotune's spans are "
                           "contiguous)", self.discontinuous[0], len(self.discontinuous))
        ordered = sorted(located, key=lambda item: (item[1].start_char, -item[1].end_char))
        overlaps = [(b, a) for (_, a), b in zip(ordered, ordered[1:]) if b[1].start_char < a.end_char]
        if overlaps:
            (where, second), first = overlaps[0]
            logger.warning("%s: %s overlaps %s (%d overlaps in this file): documents keep both; BIO tags for NER "
                           "keep the earlier, then longer", where, second.id, first.id, len(overlaps))


def write_brat(documents: Iterable[Document], path: str | Path) -> int:
    """brat standoff into folder `path` (each file atomically); returns the number of documents written.

    `<id>.txt` holds `Document.text`; `<id>.ann` its entities (`T`, their own ids where they are
    brat ids, else numbered), concept ids (`N` lines, one per id of a composite mention),
    relations (`R`), scores and link stages and scores (`AnnotatorNotes`). Document ids must be safe file names
    (letters, digits, `_`, `.`, `-`). A document with labels is refused: brat annotates spans, not
    documents (`documents.refuse_labels`).
    """
    folder = Path(path)
    count = 0
    for doc in documents:
        if not _SAFE_ID.fullmatch(doc.id):
            raise BiotuneError(f"document id {doc.id!r} is not a safe brat file name (letters, digits, _ . -)")
        refuse_labels(doc, "brat")
        lines = brat_lines(doc)
        with atomic_open(folder / f"{doc.id}.txt") as out:
            out.write(doc.text)
        with atomic_open(folder / f"{doc.id}.ann") as out:
            out.writelines(lines)
        count += 1
    return count


def brat_lines(doc: Document) -> list[str]:
    """The `.ann` lines of `doc` (see `write_brat`), each ending in a line break."""
    annotations = doc.annotations
    ids = [a.id or "" for a in annotations]
    keep = all(_ENTITY_ID.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)
    entity_ids = ids if keep else [f"T{k}" for k in range(1, len(annotations) + 1)]
    lines, notes = [], []
    for entity_id, a in zip(entity_ids, annotations):
        lines.append(f"{entity_id}\t{a.type} {a.start_char} {a.end_char}\t{a.text.translate(_FLATTEN)}\n")
        fields = _entity_note(a)
        if fields:
            notes.append((entity_id, fields))
    normalisations = [(entity_id, concept, a.text) for entity_id, a in zip(entity_ids, annotations)
                      for concept in a.concept_ids]
    lines += [f"N{k}\tReference {entity_id} {_ESCAPED.sub(_escape, concept)}\t{text.translate(_FLATTEN)}\n"
              for k, (entity_id, concept, text) in enumerate(normalisations, start=1)]
    by_annotation = {a.id: entity_id for entity_id, a in zip(entity_ids, annotations) if a.id is not None}
    by_concept: dict[str, str] = {}
    for entity_id, a in zip(entity_ids, annotations):
        for concept in (a.concept_id, *a.concept_ids):
            if concept:
                by_concept.setdefault(concept, entity_id)
    relation_ids = [r.id or "" for r in doc.relations]
    keep = all(_RELATION_ID.fullmatch(i) for i in relation_ids) and len(set(relation_ids)) == len(relation_ids)
    for k, relation in enumerate(doc.relations, start=1):
        relation_id = relation_ids[k - 1] if keep else f"R{k}"
        known = by_annotation if relation.by == BY_ANNOTATION else by_concept
        head, tail = (_argument(doc, relation, known, ref) for ref in (relation.head, relation.tail))
        head_role = relation.head_role if _ROLE.fullmatch(relation.head_role) else "Arg1"
        tail_role = relation.tail_role if _ROLE.fullmatch(relation.tail_role) else "Arg2"
        if " " in relation.type or "\t" in relation.type or not relation.type:
            raise BiotuneError(f"document {doc.id!r}: relation type {relation.type!r} cannot be written to brat "
                               "(it must be one word)")
        lines.append(f"{relation_id}\t{relation.type} {head_role}:{head} {tail_role}:{tail}\n")
        if relation.score is not None:
            notes.append((relation_id, f"score={relation.score!r}"))
    lines += [f"#{k}\tAnnotatorNotes {target}\t{fields}\n" for k, (target, fields) in enumerate(notes, start=1)]
    return lines


def _entity_note(a: Annotation) -> str:
    """The note fields of an entity: its score and how its concept id was linked ('' when it has none)."""
    if a.link_stage is not None and not re.fullmatch(r"\S+", a.link_stage):
        raise BiotuneError(f"link stage {a.link_stage!r} of {a.text!r} cannot be written to brat (one word expected)")
    fields = [f"score={a.score!r}" if a.score is not None else "",
              f"link_stage={a.link_stage}" if a.link_stage is not None else "",
              f"link_score={a.link_score!r}" if a.link_score is not None else ""]
    return " ".join(part for part in fields if part)


def _escape(found: re.Match[str]) -> str:
    """One character of a concept id as its URL escape (`urllib.parse.unquote` reads it back)."""
    return "".join(f"%{byte:02X}" for byte in found.group().encode("utf-8"))


def _number(where: str, key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise BiotuneError(f"{where}: {key} {value!r} is not a number") from None


def _argument(doc: Document, relation: Relation, known: dict[str, str], ref: str) -> str:
    if ref not in known:
        raise BiotuneError(f"document {doc.id!r}: {relation.type} relation names {relation.by} {ref!r}, which no "
                           "annotation of the document has")
    return known[ref]
