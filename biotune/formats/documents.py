"""Documents: the unit that literature formats (PubTator, BioC, brat) and a knowledge graph use.

A corpus sentence is what models see; a `Document` is what a KG pipeline reads back: passages
(title, abstract, ...) placed at character offsets in one document text, each holding its
annotations with *document-level* offsets, as in PubTator and BioC. Offsets count Python `str`
characters (code points), so `document.text[a.start_char:a.end_char] == a.text` for every
annotation, whatever the script or emoji in the text.

Documents also carry document-level labels (`Document.labels`: what a text classifier says of the
whole text, e.g. HoC's hallmarks) and document-level `Relation`s (BC5CDR's chemical-induced-disease pairs,
BioC `<relation>` elements). A relation's two arguments name either annotation ids (BioC nodes)
or concept ids (PubTator relation lines, which name MeSH ids); `assemble` checks that every
named entity exists in the document, so a relation can always be followed back to its mentions.

Readers build documents through `assemble`, which checks that contract and sorts annotations,
so two readings of the same content compare equal. `document_sentences` cuts a document into
`Sentence`s for the tagger (`tagged_sentences` adds BIO tags from its annotations, for
training) and `with_predictions` maps the tagger's token spans back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biotune.formats.readers import existing_file, json_object, numbered_lines
from biotune.formats.schemes import spans_to_tags
from biotune.formats.sentence import Sentence, Span
from biotune.formats.text import split_sentences, tokenize
from biotune.errors import BiotuneError


@dataclass(frozen=True, slots=True)
class Annotation:
    """An entity mention `[start_char, end_char)` in document coordinates.

    `concept_id` is the normalised identifier (PubTator's sixth column, BioC's `identifier`
    infon; several ids joined by ``|`` for a composite mention, as BC5CDR writes them);
    `score` is the tagger's confidence for predictions. `id` is the annotation's id in its
    file (BioC), kept where a relation refers to it; PubTator has no annotation ids.

    `link_stage` and `link_score` say how a linker found `concept_id` (``exact``, ``fuzzy``, ...,
    or ``unlinked`` for a stand-in id) and how sure that stage was: a knowledge graph keeps only
    the links it trusts. They stay None for ids that came with the input (gold ids). Writers
    carry them where the format has room (JSONL fields, BioC infons, brat notes), not PubTator.
    """

    start_char: int
    end_char: int
    type: str
    text: str
    score: float | None = None
    concept_id: str | None = None
    id: str | None = None
    link_stage: str | None = None
    link_score: float | None = None

    @property
    def concept_ids(self) -> tuple[str, ...]:
        """The concept ids this mention stands for: ``D1|D2`` (a composite mention) is both D1 and D2."""
        if not self.concept_id:
            return ()
        return tuple(part for part in self.concept_id.split("|") if part)


BY_CONCEPT = "concept"
BY_ANNOTATION = "annotation"


@dataclass(frozen=True, slots=True)
class Relation:
    """A document-level relation of `type` from `head` to `tail`.

    `by` says what the arguments name: ``concept`` (concept ids, as PubTator's
    ``PMID<TAB>CID<TAB>chemical<TAB>disease`` lines) or ``annotation`` (annotation ids, as BioC
    ``<node refid=...>``). `head_role` and `tail_role` are the BioC node roles or infon keys;
    where a file gives none (PubTator), `assemble` fills in the type of the entity named, so
    a PubTator and a BioC reading of BC5CDR agree. `id` is the BioC relation id; `score` a
    model's confidence for predictions.
    """

    type: str
    head: str
    tail: str
    by: str = BY_CONCEPT
    head_role: str = ""
    tail_role: str = ""
    id: str | None = None
    score: float | None = None


@dataclass(slots=True)
class Passage:
    """A titled stretch of a document (`type`: title, abstract, ...) starting at `offset`."""

    type: str
    text: str
    offset: int = 0
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.offset + len(self.text)


@dataclass(slots=True)
class Document:
    """An identified document made of non-overlapping passages in offset order, its relations and labels.

    `labels` maps each label of the whole document to a classifier's score, or to None for a label
    that came with the input (gold labels have no score), as `Annotation.score` does for mentions.
    JSONL and BioC hold them; PubTator, brat and CoNLL have no place for them, so their writers
    refuse a labelled document (`refuse_labels`) rather than drop what a classifier predicted.
    `relations` and `labels` default to none, so entity-only code builds documents as before.
    """

    id: str
    passages: list[Passage]
    relations: list[Relation] = field(default_factory=list)
    labels: dict[str, float | None] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The passages at their offsets, gaps filled with spaces (brat `.txt`, PubTator text)."""
        parts: list[str] = []
        position = 0
        for passage in self.passages:
            parts.append(" " * (passage.offset - position) + passage.text)
            position = passage.end
        return "".join(parts)

    @property
    def annotations(self) -> list[Annotation]:
        return [annotation for passage in self.passages for annotation in passage.annotations]


def assemble(
    doc_id: str,
    passages: Sequence[Passage],
    located: Iterable[tuple[str, Annotation]],
    where: str,
    relations: Iterable[tuple[str, Relation]] = (),
    labels: Mapping[str, float | None] | None = None,
) -> Document:
    """A `Document` whose annotations are placed in the passage that contains them, with `labels`.

    `located` pairs each annotation with the place to blame in an error (`file:line`, or file
    and annotation id), and `relations` each relation likewise. Raises `BiotuneError` when
    passages overlap or go backwards, an annotation is empty, leaves its passage, or does not
    slice its text from the document, two annotations share an id, or a relation names an
    annotation id or a concept id that no annotation of the document has. Relations keep
    their order; missing roles are filled with the type of the entity they name.
    """
    position = 0
    for passage in passages:
        if passage.offset < position:
            raise BiotuneError(
                f"{where}: document {doc_id!r}: passage at offset {passage.offset} overlaps the one before"
            )
        position = passage.end
    placed = [dataclasses.replace(passage, annotations=[]) for passage in passages]
    for place, annotation in located:
        _passage_of(doc_id, placed, place, annotation).annotations.append(annotation)
    for passage in placed:
        passage.annotations.sort(key=lambda a: (a.start_char, a.end_char, a.type, a.concept_id or "", a.id or ""))
    annotations = [a for passage in placed for a in passage.annotations]
    by_id: dict[str, Annotation] = {}
    for a in annotations:
        if a.id is not None:
            if a.id in by_id:
                raise BiotuneError(f"{where}: document {doc_id!r}: two annotations have the id {a.id!r}")
            by_id[a.id] = a
    by_concept: dict[str, Annotation] = {}
    for a in annotations:
        for concept in (a.concept_id, *a.concept_ids):
            if concept:
                by_concept.setdefault(concept, a)
    checked = [_checked_relation(doc_id, place, r, by_id, by_concept) for place, r in relations]
    return Document(doc_id, placed, checked, dict(labels or {}))


def _checked_relation(
    doc_id: str, where: str, relation: Relation, by_id: dict[str, Annotation], by_concept: dict[str, Annotation]
) -> Relation:
    """`relation` with its roles filled in, or a `BiotuneError` if it names an entity the document lacks."""
    if relation.by not in (BY_CONCEPT, BY_ANNOTATION):
        raise BiotuneError(f"{where}: document {doc_id!r}: relation arguments must name a "
                           f"{BY_CONCEPT!r} or an {BY_ANNOTATION!r}, not {relation.by!r}")
    known = by_concept if relation.by == BY_CONCEPT else by_id
    roles = []
    for argument, role in ((relation.head, relation.head_role), (relation.tail, relation.tail_role)):
        if argument not in known:
            raise BiotuneError(f"{where}: document {doc_id!r}: {relation.type} relation names {relation.by} "
                               f"{argument!r}, which no annotation of the document has")
        roles.append(role or known[argument].type)
    return dataclasses.replace(relation, head_role=roles[0], tail_role=roles[1])


def _passage_of(doc_id: str, passages: list[Passage], where: str, annotation: Annotation) -> Passage:
    start, end = annotation.start_char, annotation.end_char
    if not 0 <= start < end:
        raise BiotuneError(f"{where}: document {doc_id!r}: empty or negative annotation range {start}-{end}")
    for passage in passages:
        if passage.offset <= start and end <= passage.end:
            found = passage.text[start - passage.offset : end - passage.offset]
            if found != annotation.text:
                raise BiotuneError(
                    f"{where}: document {doc_id!r}: offsets {start}-{end} hold {found!r}, not the mention "
                    f"{annotation.text!r} (offsets must count characters, not bytes)"
                )
            return passage
    raise BiotuneError(f"{where}: document {doc_id!r}: annotation {start}-{end} is not inside one passage")


def document_sentences(doc: Document) -> list[Sentence]:
    """The sentences of every passage, tokenised, with document-level token offsets.

    `Sentence.text` is the whole document text (one shared string) and `offsets` index it,
    so `text[start:end] == token` holds and a predicted span maps straight to document
    characters. Sentences never cross passages. `Sentence.document` is the document's id
    (document context reads the neighbours through it); `meta` names the document and passage index.
    """
    text = doc.text
    sentences = []
    for index, passage in enumerate(doc.passages):
        for start, end in split_sentences(passage.text):
            base = passage.offset + start
            tokens = tokenize(passage.text[start:end])
            sentences.append(
                Sentence(
                    [token for token, _, _ in tokens],
                    id=f"{doc.id}:{base}",
                    text=text,
                    offsets=[(base + s, base + e) for _, s, e in tokens],
                    meta={"document": doc.id, "passage": index},
                    document=doc.id,
                )
            )
    return sentences


def tagged_sentences(doc: Document) -> list[Sentence]:
    """`document_sentences(doc)` with BIO tags from the document's annotations (documents -> NER training data).

    A token is inside an annotation when their characters overlap. Where annotations overlap
    (nested mentions), the earlier, then longer, one is kept, since BIO tags cannot nest.
    """
    sentences = document_sentences(doc)
    for sentence in sentences:
        sentence.tags = spans_to_tags(token_spans(sentence, doc.annotations), len(sentence))
    return sentences


def token_spans(sentence: Sentence, annotations: Sequence[Annotation]) -> list[Span]:
    """Non-overlapping token spans of the annotations that overlap `sentence` (from `document_sentences`)."""
    assert sentence.offsets is not None, "sentences must come from document_sentences"
    spans: list[Span] = []
    for a in sorted(annotations, key=lambda a: (a.start_char, -a.end_char)):
        inside = [i for i, (s, e) in enumerate(sentence.offsets) if s < a.end_char and a.start_char < e]
        if inside and (not spans or spans[-1].end <= inside[0]):
            spans.append(Span(inside[0], inside[-1] + 1, a.type, a.score))
    return spans


def with_predictions(doc: Document, sentences: Sequence[Sentence], spans: Sequence[Sequence[Span]]) -> Document:
    """`doc` with its annotations replaced by the token `spans` predicted on `sentences`.

    `sentences` are `document_sentences(doc)` (or a subset), `spans[i]` those of sentence i.
    The document's relations are dropped with the annotations they were about; its labels, which
    are about the whole text, are kept.
    """
    text = doc.text
    located = []
    for sentence, sentence_spans in zip(sentences, spans, strict=True):
        assert sentence.offsets is not None, "sentences must come from document_sentences"
        for span in sentence_spans:
            start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
            located.append((sentence.id, Annotation(start, end, span.type, text[start:end], span.score)))
    return assemble(doc.id, doc.passages, located, where=doc.id, labels=doc.labels)


def document_record(doc: Document) -> dict[str, Any]:
    """The JSON object of one document: passages with their text, entities with document offsets, relations
    and labels (``{"label": score or null}``).

    `relations` and `labels` are written only when the document has some, and an entity's `concept_id`,
    `id`, `link_stage` and `link_score` only when it has them, so entity-only output is unchanged.
    """
    record: dict[str, Any] = {
        "id": doc.id,
        "passages": [{"type": p.type, "offset": p.offset, "text": p.text} for p in doc.passages],
        "entities": [
            {"start_char": a.start_char, "end_char": a.end_char, "type": a.type, "text": a.text, "score": a.score}
            | ({"concept_id": a.concept_id} if a.concept_id is not None else {})
            | ({"id": a.id} if a.id is not None else {})
            | ({"link_stage": a.link_stage} if a.link_stage is not None else {})
            | ({"link_score": a.link_score} if a.link_score is not None else {})
            for a in doc.annotations
        ],
    }
    if doc.relations:
        record["relations"] = [
            {"type": r.type, "by": r.by, "head": r.head, "tail": r.tail, "head_role": r.head_role,
             "tail_role": r.tail_role}
            | ({"id": r.id} if r.id is not None else {})
            | ({"score": r.score} if r.score is not None else {})
            for r in doc.relations
        ]
    if doc.labels:
        record["labels"] = dict(doc.labels)
    return record


def iter_jsonl_documents(path: str | Path) -> Iterator[Document]:
    """Stream documents from JSONL, one object per line (blank lines are skipped).

    A line is a `document_record` (`id`, `passages`, optional `entities`, `relations`, `labels`), or a
    plain record for tagging: `{"id", "text"}` (one passage) or `{"id", "title", "abstract"}` (two
    passages, the abstract one character after the title, as in PubTator). `labels` is an object of
    label -> score (or null), or a list of label names (a classification corpus's gold labels, unscored).
    """
    path = existing_file(path)
    return jsonl_documents(path, numbered_lines(path))


def jsonl_documents(path: Path, lines: Iterable[tuple[int, str]]) -> Iterator[Document]:
    """The documents of `lines` (`(line number, line)`, a whole file or a byte range of `path`)."""
    for number, line in lines:
        if line.strip():
            yield _from_record(f"{path}:{number}", json_object(f"{path}:{number}", line))


def _from_record(where: str, record: dict[str, Any]) -> Document:
    try:
        if "passages" in record:
            passages = [Passage(str(p["type"]), p["text"], int(p["offset"])) for p in record["passages"]]
        elif "text" in record:
            passages = [Passage("text", _string(record, "text"))]
        elif "title" in record or "abstract" in record:
            title = _string(record, "title") if "title" in record else ""
            passages = [Passage("title", title), Passage("abstract", _string(record, "abstract"), len(title) + 1)]
        else:
            raise BiotuneError(f"{where}: a document needs 'passages', 'text' or 'title'/'abstract'")
        located = [
            (where, Annotation(int(e["start_char"]), int(e["end_char"]), e["type"], e["text"], e.get("score"),
                               e.get("concept_id"), e.get("id"), e.get("link_stage"), e.get("link_score")))
            for e in record.get("entities", [])
        ]
        relations = [
            (f"{where}: relation {index}", Relation(str(r["type"]), str(r["head"]), str(r["tail"]),
                                                    str(r.get("by", BY_CONCEPT)), str(r.get("head_role", "")),
                                                    str(r.get("tail_role", "")), r.get("id"), r.get("score")))
            for index, r in enumerate(record.get("relations", []), start=1)
        ]
        return assemble(str(record["id"]), passages, located, where, relations, _labels(record.get("labels", {})))
    except KeyError as error:
        raise BiotuneError(f"{where}: missing field {error.args[0]!r}") from None
    except (TypeError, ValueError) as error:
        raise BiotuneError(f"{where}: not a document record ({error})") from None


def _labels(value: Any) -> dict[str, float | None]:
    """A record's `labels`: an object of label -> number or null, or a list of label names (no scores)."""
    if isinstance(value, list):
        value = dict.fromkeys(value)
    if not isinstance(value, dict):
        raise TypeError(f"'labels' must be an object of label -> score or a list of labels, not {type(value).__name__}")
    for label, score in value.items():
        if not isinstance(label, str) or not label:
            raise TypeError(f"a label must be a non-empty string, not {label!r}")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise TypeError(f"label {label!r} has the score {score!r}, which is not a number")
    return {label: None if score is None else float(score) for label, score in value.items()}


def refuse_labels(doc: Document, format_name: str) -> None:
    """A `BiotuneError` when `doc` has labels, for a writer whose format has no place for them: a job
    that predicts them must not drop them silently (`biotune tag` probes its writer with a labelled document)."""
    if doc.labels:
        raise BiotuneError(f"document {doc.id!r} has document labels, which {format_name} has no place for; "
                           "write jsonl, bioc-xml or bioc-json")


def _string(record: dict[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise TypeError(f"field {key!r} must be a string, not {type(value).__name__}")
    return value


def document_json(doc: Document) -> str:
    """One JSONL line (without newline) for `doc`, non-ASCII kept as is."""
    return json.dumps(document_record(doc), ensure_ascii=False)
