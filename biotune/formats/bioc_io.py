"""BioC XML and BioC JSON, read and written with the `bioc` package (the format's reference library).

A BioC document maps onto a `Document` directly: passages carry their `type` infon, text and
offset; annotations carry `type`, optional `identifier` and `score` infons and one location
with document-level offset and length. Annotations anywhere in a document (passage or
document level) are placed by offset. Discontinuous annotations (several locations), sentences
and relations are outside biotune's model: the first is an error, the others are ignored.
Offsets are Python characters; a file counting UTF-8 bytes fails the mention check, with a hint.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import bioc
from bioc import biocjson, biocxml
from lxml import etree

from biotune.formats.documents import Annotation, Document, Passage, assemble
from biotune.formats.readers import existing_file
from biotune.errors import BiotuneError
from biotune.io import atomic_open


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
    return assemble(str(doc.id), passages, (_annotation(where, a) for a in annotations), str(path))


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
    try:
        score = float(infons["score"]) if infons.get("score") is not None else None
    except ValueError:
        raise BiotuneError(f"{where}: score infon {infons['score']!r} is not a number") from None
    text = annotation.text or ""
    return where, Annotation(start, start + length, infons["type"], text, score, infons.get("identifier"))


def _collection(documents: Iterable[Document]) -> bioc.BioCCollection:
    collection = bioc.BioCCollection()
    collection.source, collection.key = "biotune", "biotune.key"
    collection.date = datetime.date.today().strftime("%Y%m%d")
    for doc in documents:
        out = bioc.BioCDocument()
        out.id = doc.id
        number = 0
        for passage in doc.passages:
            bioc_passage = bioc.BioCPassage.of_text(passage.text, passage.offset)
            bioc_passage.infons["type"] = passage.type
            for a in passage.annotations:
                number += 1
                bioc_passage.add_annotation(_bioc_annotation(f"T{number}", a))
            out.add_passage(bioc_passage)
        collection.add_document(out)
    return collection


def _bioc_annotation(annotation_id: str, a: Annotation) -> bioc.BioCAnnotation:
    out = bioc.BioCAnnotation()
    out.id, out.text = annotation_id, a.text
    out.infons["type"] = a.type
    if a.concept_id is not None:
        out.infons["identifier"] = a.concept_id
    if a.score is not None:
        out.infons["score"] = repr(a.score)
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
