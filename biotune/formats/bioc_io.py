"""BioC XML and BioC JSON, read and written with the `bioc` package (the format's reference library).

A BioC document maps onto a `Document` directly: passages carry their `type` infon, text and
offset; annotations carry `type`, optional `identifier` and `score` infons (and, from a linker,
`link_stage` and `link_score`: how the identifier was found) and one location with
document-level offset and length. Annotations anywhere in a document (passage or
document level) are placed by offset. A document's labels (`Document.labels`) are document
infons ``label:<name>``, each holding its score (empty for a label without one). Discontinuous
annotations (several locations), sentences and relations are outside biotune's model: the first is an error, the others are ignored.
Offsets are Python characters; a file counting UTF-8 bytes fails the mention check, with a hint.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import bioc
from bioc import biocjson, biocxml
from lxml import etree

from biotune.formats.documents import BY_ANNOTATION, BY_CONCEPT, Annotation, Document, Passage, Relation, assemble
from biotune.formats.readers import existing_file
from biotune.errors import BiotuneError
from biotune.io import atomic_open

_TYPE_KEYS = ("type", "relation")
# Infons of a relation that are neither its type nor an argument.
_NOT_ARGUMENTS = frozenset({*_TYPE_KEYS, "score", "novel"})
LABEL_INFON = "label:"  # the prefix of a document infon that holds a document label


def read_bioc_xml(path: str | Path) -> list[Document]:
    """The documents of a BioC XML collection; syntax errors name the file and line."""
    return list(iter_bioc_xml(path))


def iter_bioc_xml(path: str | Path) -> Iterator[Document]:
    """Stream the documents of a BioC XML collection one at a time (bounded memory for big files)."""
    path = existing_file(path)
    try:
        with path.open("rb") as handle:
            for doc in biocxml.BioCXMLDocumentReader(handle):
                yield _document(path, doc)
    except etree.XMLSyntaxError as error:
        raise BiotuneError(f"{path}:{error.lineno}: invalid XML: {error.msg}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BiotuneError(f"{path}: not a BioC XML collection ({type(error).__name__}: {error})") from None


def read_bioc_json(path: str | Path) -> list[Document]:
    """The documents of a BioC JSON collection; syntax errors name the file and line."""
    path = existing_file(path)
    try:
        with path.open(encoding="utf-8") as handle:
            collection = biocjson.load(handle)
    except json.JSONDecodeError as error:
        raise BiotuneError(f"{path}:{error.lineno}: invalid JSON: {error.msg} (column {error.colno})") from None
    except KeyError as error:
        raise BiotuneError(f"{path}: not a BioC JSON collection: missing field {error.args[0]!r}") from None
    except (TypeError, ValueError, UnicodeDecodeError) as error:
        raise BiotuneError(f"{path}: not a BioC JSON collection ({type(error).__name__}: {error})") from None
    return [_document(path, doc) for doc in collection.documents]


def _document(path: Path, doc: bioc.BioCDocument) -> Document:
    where = f"{path}: document {doc.id!r}"
    passages = []
    for passage in doc.passages:
        if passage.text is None:
            raise BiotuneError(f"{where}: passage at offset {passage.offset} has no text (sentence-level BioC)")
        passages.append(Passage(passage.infons.get("type") or "", passage.text, int(passage.offset)))
    annotations = [*doc.annotations, *(a for p in doc.passages for a in p.annotations)]
    relations = [_relation(where, r) for r in [*doc.relations, *(r for p in doc.passages for r in p.relations)]]
    referred = {r.head for _, r in relations if r.by == BY_ANNOTATION} | {
        r.tail for _, r in relations if r.by == BY_ANNOTATION}
    located = [(place, a if a.id in referred else dataclasses.replace(a, id=None))
               for place, a in (_annotation(where, a) for a in annotations)]
    labels = {key[len(LABEL_INFON):]: _label_score(where, key, value) for key, value in doc.infons.items()
              if key.startswith(LABEL_INFON) and len(key) > len(LABEL_INFON)}
    return assemble(str(doc.id), passages, located, str(path), relations, labels)


def _label_score(where: str, key: str, value: str | None) -> float | None:
    """A label infon's score: a number, or None where the infon is empty (a label given without one)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise BiotuneError(f"{where}: {key} infon {value!r} is not a number") from None


def _relation(where: str, relation: bioc.BioCRelation) -> tuple[str, Relation]:
    where = f"{where}, relation {relation.id!r}"
    infons = relation.infons
    kind = next((infons[key] for key in _TYPE_KEYS if infons.get(key)), None)
    if kind is None:
        raise BiotuneError(f"{where}: no 'type' or 'relation' infon (infons: {', '.join(infons) or 'none'})")
    score = _number(where, infons, "score")
    rid = relation.id or None
    if relation.nodes:
        if len(relation.nodes) != 2:
            raise BiotuneError(f"{where}: expected two nodes (head and tail), found {len(relation.nodes)}")
        head, tail = relation.nodes
        return where, Relation(kind, head.refid, tail.refid, BY_ANNOTATION, head.role or "", tail.role or "",
                               rid, score)
    if infons.get("entity1") and infons.get("entity2"):
        return where, Relation(kind, infons["entity1"], infons["entity2"], BY_CONCEPT, id=rid, score=score)
    arguments = [key for key in infons if key not in _NOT_ARGUMENTS]
    if len(arguments) != 2:
        raise BiotuneError(f"{where}: expected two nodes, or two argument infons besides the type, found infons "
                           f"{', '.join(infons) or 'none'}")
    head_role, tail_role = arguments
    return where, Relation(kind, infons[head_role], infons[tail_role], BY_CONCEPT, head_role, tail_role, rid, score)


def _annotation(where: str, annotation: bioc.BioCAnnotation) -> tuple[str, Annotation]:
    where = f"{where}, annotation {annotation.id!r}"
    if len(annotation.locations) != 1:
        raise BiotuneError(f"{where}: expected one location, found {len(annotation.locations)}")
    if "type" not in annotation.infons:
        raise BiotuneError(f"{where}: no 'type' infon (infons: {', '.join(annotation.infons) or 'none'})")
    location, infons = annotation.locations[0], annotation.infons
    try:
        start, length = int(location.offset), int(location.length)
    except (TypeError, ValueError):
        raise BiotuneError(f"{where}: location {location.offset!r}+{location.length!r} is not two integers") from None
    score, link_score = (_number(where, infons, key) for key in ("score", "link_score"))
    text = annotation.text or ""
    return where, Annotation(start, start + length, infons["type"], text, score, infons.get("identifier"),
                             annotation.id or None, infons.get("link_stage"), link_score)


def _number(where: str, infons: dict[str, str], key: str) -> float | None:
    """The infon `key` as a number, None when absent."""
    try:
        return float(infons[key]) if infons.get(key) is not None else None
    except ValueError:
        raise BiotuneError(f"{where}: {key} infon {infons[key]!r} is not a number") from None


def _collection(documents: Iterable[Document]) -> bioc.BioCCollection:
    collection = bioc.BioCCollection()
    collection.source, collection.key = "biotune", "biotune.key"
    collection.date = datetime.date.today().strftime("%Y%m%d")
    for doc in documents:
        out = bioc.BioCDocument()
        out.id = doc.id
        for label, score in doc.labels.items():
            out.infons[f"{LABEL_INFON}{label}"] = "" if score is None else repr(score)
        fresh = _fresh_ids("T", {a.id for a in doc.annotations if a.id is not None})
        for passage in doc.passages:
            bioc_passage = bioc.BioCPassage.of_text(passage.text, passage.offset)
            bioc_passage.infons["type"] = passage.type
            for a in passage.annotations:
                bioc_passage.add_annotation(_bioc_annotation(a.id if a.id is not None else next(fresh), a))
            out.add_passage(bioc_passage)
        relation_ids = _fresh_ids("R", {r.id for r in doc.relations if r.id is not None})
        for relation in doc.relations:
            out.add_relation(_bioc_relation(relation.id if relation.id is not None else next(relation_ids), relation))
        collection.add_document(out)
    return collection


def _fresh_ids(prefix: str, taken: set[str]) -> Iterator[str]:
    """``T1``, ``T2``, ... skipping the ids the document's own elements already use."""
    number = 0
    while True:
        number += 1
        if f"{prefix}{number}" not in taken:
            yield f"{prefix}{number}"


def _bioc_relation(relation_id: str, r: Relation) -> bioc.BioCRelation:
    out = bioc.BioCRelation()
    out.id = relation_id
    out.infons["type"] = r.type
    if r.by == BY_ANNOTATION:
        out.add_node(bioc.BioCNode(r.head, r.head_role or "head"))
        out.add_node(bioc.BioCNode(r.tail, r.tail_role or "tail"))
    elif r.head_role and r.tail_role and r.head_role != r.tail_role and not {r.head_role, r.tail_role} & _NOT_ARGUMENTS:
        out.infons[r.head_role], out.infons[r.tail_role] = r.head, r.tail
    else:
        out.infons["entity1"], out.infons["entity2"] = r.head, r.tail
    if r.score is not None:
        out.infons["score"] = repr(r.score)
    return out


def _bioc_annotation(annotation_id: str, a: Annotation) -> bioc.BioCAnnotation:
    out = bioc.BioCAnnotation()
    out.id, out.text = annotation_id, a.text
    out.infons["type"] = a.type
    if a.concept_id is not None:
        out.infons["identifier"] = a.concept_id
    if a.score is not None:
        out.infons["score"] = repr(a.score)
    if a.link_stage is not None:
        out.infons["link_stage"] = a.link_stage
    if a.link_score is not None:
        out.infons["link_score"] = repr(a.link_score)
    out.add_location(bioc.BioCLocation(a.start_char, a.end_char - a.start_char))
    return out


def _write(path: str | Path, documents: Iterable[Document], dump: Callable[[bioc.BioCCollection, IO[Any]], Any]) -> int:
    collection = _collection(documents)
    try:
        with atomic_open(path) as out:
            dump(collection, out)
    except ValueError as error:  # lxml refuses characters XML cannot hold (e.g. NUL)
        raise BiotuneError(f"{path}: cannot write BioC: {error}") from None
    return len(collection.documents)


def write_bioc_xml(documents: Iterable[Document], path: str | Path) -> int:
    """Write `documents` as one BioC XML collection (atomically); returns the number written."""
    return _write(path, documents, biocxml.dump)


def write_bioc_json(documents: Iterable[Document], path: str | Path) -> int:
    """Write `documents` as one BioC JSON collection (atomically); returns the number written."""
    return _write(path, documents, lambda collection, out: biocjson.dump(collection, out, indent=2, ensure_ascii=False))
