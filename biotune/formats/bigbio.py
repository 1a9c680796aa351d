"""BigBIO's knowledge-base schema (`bigbio_kb`) as documents, both ways.

BigBIO (Fries et al., 2022) harmonises most biomedical corpora on the Hugging Face Hub into one
schema: a row is a document with `passages` (type, text, document-level offsets), `entities`
(type, text and offsets per fragment, `normalized` ids as `{db_name, db_id}`), `relations`
(between entity ids), `events` and `coreferences`. A row becomes a `Document` here, so NER,
relation extraction and linking read a BigBIO dataset through the same document path as
PubTator and BioC:

- a passage is one `Passage` per text fragment (BigBIO passages have one fragment each, as a rule);
- an entity is one `Annotation` per fragment: a discontinuous mention (two fragments) becomes two
  mentions of its type, the first keeping the entity id (the one relations name), the others
  ``<id>#<k>``, since BIO tags cannot hold a gap;
- `normalized` ids become the concept id ``DB:ID`` (several joined by ``|``, as BC5CDR writes a
  composite mention); an empty `db_name` gives the bare id, so a PubTator id (bare MeSH) written
  out and read back is unchanged;
- a relation becomes a `Relation` between annotation ids (as BioC's), its `normalized` dropped;
  `events` and `coreferences` have no biotune type and are not read.

`kb_record` writes a `Document` back as a `bigbio_kb` row (`KB_FEATURES` types it, so a split
without relations still has the schema's columns). Offsets count Python characters, as
BigBIO's do. A split is read from a parquet file (streamed by row groups) or from a
`Dataset.save_to_disk` folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import BY_ANNOTATION, Annotation, Document, Passage, Relation, assemble

KB_FIELDS = ("id", "document_id", "passages", "entities", "events", "coreferences", "relations")
READ_FIELDS = ("document_id", "passages", "entities", "relations")  # what a row must have to be read
PARQUET_BATCH_ROWS = 64  # rows decoded at a time: a split larger than memory still streams


def check_kb_fields(fields: Iterable[str], where: str) -> None:
    """A `BiotuneError` naming `where` and the fields it has, unless it has BigBIO KB's `READ_FIELDS`."""
    found = list(fields)
    missing = [name for name in READ_FIELDS if name not in found]
    if missing:
        raise BiotuneError(f"{where}: not a BigBIO KB (bigbio_kb) dataset: it lacks {', '.join(missing)}; its fields "
                           f"are {', '.join(found) or '(none)'} (a bigbio_kb config is named <corpus>_bigbio_kb)")


def kb_document(row: Mapping[str, Any], where: str) -> Document:
    """One `bigbio_kb` row as a `Document` (see the module docstring for the mapping)."""
    doc_id = str(row.get("document_id") or row.get("id"))
    place = f"{where}: document {doc_id}"
    try:
        passages = [Passage(str(p["type"]), text, int(start))
                    for p in row["passages"] for text, (start, _) in zip(p["text"], p["offsets"], strict=True)]
        located = [(f"{place}: entity {e['id']}", annotation) for e in row["entities"] for annotation in _mentions(e)]
        relations = [(f"{place}: relation {r['id']}",
                      Relation(str(r["type"]), str(r["arg1_id"]), str(r["arg2_id"]), BY_ANNOTATION, id=str(r["id"])))
                     for r in row["relations"] or ()]
    except (KeyError, TypeError, ValueError) as error:
        raise BiotuneError(f"{place}: not a bigbio_kb row ({type(error).__name__}: {error})") from None
    return assemble(doc_id, sorted(passages, key=lambda p: p.offset), located, where, relations)


def _mentions(entity: Mapping[str, Any]) -> list[Annotation]:
    concept = "|".join(f"{n['db_name']}:{n['db_id']}" if n["db_name"] else str(n["db_id"])
                       for n in entity.get("normalized") or ()) or None
    return [Annotation(int(start), int(end), str(entity["type"]), text, concept_id=concept,
                       id=str(entity["id"]) if k == 0 else f"{entity['id']}#{k}")
            for k, (text, (start, end)) in enumerate(zip(entity["text"], entity["offsets"], strict=True))]


def kb_documents(rows: Iterable[Mapping[str, Any]], where: str) -> Iterator[Document]:
    """The documents of `bigbio_kb` rows, in order."""
    return (kb_document(row, where) for row in rows)


def kb_record(doc: Document, number: int) -> dict[str, Any]:
    """`doc` as a `bigbio_kb` row; ids are made unique within the dataset with the document's `number`.

    An annotation without an id gets ``<doc>-E<k>``; a relation by concept (PubTator's CID lines)
    is written between the first mentions of its two concepts, BigBIO relations naming entities.
    """
    prefix = f"{doc.id}-{number}"
    entity_ids = {id(a): a.id or f"{prefix}-E{k}" for k, a in enumerate(doc.annotations)}
    first_of_concept: dict[str, str] = {}
    for a in doc.annotations:
        for concept in (a.concept_id, *a.concept_ids):
            if concept:
                first_of_concept.setdefault(concept, entity_ids[id(a)])
    by_id = {a.id: entity_ids[id(a)] for a in doc.annotations if a.id}

    def argument(relation: Relation, value: str) -> str:
        return by_id[value] if relation.by == BY_ANNOTATION else first_of_concept[value]

    return {
        "id": prefix,
        "document_id": doc.id,
        "passages": [{"id": f"{prefix}-P{k}", "type": p.type, "text": [p.text], "offsets": [[p.offset, p.end]]}
                     for k, p in enumerate(doc.passages)],
        "entities": [{"id": entity_ids[id(a)], "type": a.type, "text": [a.text], "offsets": [[a.start_char, a.end_char]],
                      "normalized": [_normalized(concept) for concept in a.concept_ids]}
                     for a in doc.annotations],
        "events": [],
        "coreferences": [],
        "relations": [{"id": r.id or f"{prefix}-R{k}", "type": r.type, "arg1_id": argument(r, r.head),
                       "arg2_id": argument(r, r.tail), "normalized": []}
                      for k, r in enumerate(doc.relations)],
    }


def _normalized(concept: str) -> dict[str, str]:
    """``MESH:D001`` -> MESH / D001; a bare id keeps an empty `db_name`, so it reads back bare."""
    db_name, _, db_id = concept.rpartition(":")
    return {"db_name": db_name, "db_id": db_id}


def kb_features() -> Any:
    """The `datasets.Features` of `bigbio_kb`, as BigBIO's `schemas/kb.py` declares them."""
    import datasets

    text, offsets = datasets.Sequence(datasets.Value("string")), datasets.Sequence([datasets.Value("int32")])
    normalized = [{"db_name": datasets.Value("string"), "db_id": datasets.Value("string")}]
    return datasets.Features({
        "id": datasets.Value("string"),
        "document_id": datasets.Value("string"),
        "passages": [{"id": datasets.Value("string"), "type": datasets.Value("string"), "text": text,
                      "offsets": offsets}],
        "entities": [{"id": datasets.Value("string"), "type": datasets.Value("string"), "text": text,
                      "offsets": offsets, "normalized": normalized}],
        "events": [{"id": datasets.Value("string"), "type": datasets.Value("string"),
                    "trigger": {"text": text, "offsets": offsets},
                    "arguments": [{"role": datasets.Value("string"), "ref_id": datasets.Value("string")}]}],
        "coreferences": [{"id": datasets.Value("string"), "entity_ids": datasets.Sequence(datasets.Value("string"))}],
        "relations": [{"id": datasets.Value("string"), "type": datasets.Value("string"),
                       "arg1_id": datasets.Value("string"), "arg2_id": datasets.Value("string"),
                       "normalized": normalized}],
    })


def iter_bigbio(path: str | Path) -> Iterator[Document]:
    """Stream the documents of one BigBIO KB split: a `.parquet` file or a `save_to_disk` folder of one split."""
    path = Path(path)
    if path.is_dir():
        return kb_documents(_saved_rows(path), str(path))
    if not path.is_file():
        raise BiotuneError(f"{path}: no such file or folder")
    return _parquet_documents(path)


def _parquet_documents(path: Path) -> Iterator[Document]:
    import pyarrow.lib
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except (pyarrow.lib.ArrowException, OSError) as error:
        raise BiotuneError(f"{path}: not a parquet file ({error})") from None
    check_kb_fields(handle.schema_arrow.names, str(path))
    for batch in handle.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(READ_FIELDS)):
        yield from kb_documents(batch.to_pylist(), str(path))


def _saved_rows(folder: Path) -> Sequence[Mapping[str, Any]]:
    import datasets

    try:
        saved = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as error:
        raise BiotuneError(f"{folder}: not a datasets save_to_disk folder ({error})") from None
    if isinstance(saved, datasets.DatasetDict):
        raise BiotuneError(f"{folder}: holds the splits {', '.join(saved)}; name one split's folder "
                           f"({folder}/{next(iter(saved))}), or give the whole folder as a corpus: hf:{folder}")
    check_kb_fields(saved.column_names, str(folder))
    return saved  # type: ignore[no-any-return]
