"""RE over annotated documents: a document file as a split, and its document-level score.

A split given as PubTator, BioC or JSONL documents becomes the candidates of `candidates.py`
(the configured `re.pairs`, `re.scope`, `re.max_sentences`), labelled from
the documents' relations; the documents and each one's candidates stay with the split so the
predictions can be put back into documents and scored the way document-level relations
(BC5CDR CID) are scored: each (head concept, tail concept) pair once per document, pairs that
got no candidate (too far apart) counted as missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biotune.config import DataConfig, ExperimentConfig
from biotune.errors import BiotuneError
from biotune.formats.document_formats import DOCUMENT_READERS, iter_documents
from biotune.formats.documents import Document
from biotune.tables import markdown_table
from biotune.tasks.re.candidates import Candidate, CandidateCounts, document_candidates, to_relations
from biotune.tasks.re.document_scores import DocumentScore, render_markdown, score_documents
from biotune.tasks.re.metrics import RelationResult
from biotune.tasks.re.metrics import render_markdown as render_pairs
from biotune.tasks.re.settings import RelationSettings

PAIR_FILE_FORMATS = ("tsv",)


@dataclass(frozen=True)
class DocumentCandidates:
    """One document and its candidates, in the order they sit in the split's examples."""

    document: Document
    candidates: list[Candidate]


def is_document_file(path: Path, format: str | None) -> bool:
    """Whether a split file holds documents (else pre-masked ``sentence<TAB>label`` rows)."""
    if format is not None:
        if format in PAIR_FILE_FORMATS:
            return False
        DOCUMENT_READERS.lookup(format, where="data.format")
        return True
    return path.suffix.lower() not in (".tsv", ".txt")


def read_document_split(path: Path, data: DataConfig, config: ExperimentConfig,
                        limit: int | None) -> tuple[list[DocumentCandidates], CandidateCounts]:
    """The documents of `path` (read as `data.format`) with their labelled candidates (at most `limit` documents)."""
    relation = config.section(RelationSettings)
    if not relation.pairs:
        raise BiotuneError(f"{path}: a document split needs re.pairs (entity type pairs, e.g. "
                           "[[Chemical, Disease]]) to build candidate pairs")
    if relation.negative_label is None:
        raise BiotuneError("re.negative_label: candidate pairs from documents need a label for pairs "
                           "without a relation (e.g. '0')")
    negative = relation.negative_label
    counts = CandidateCounts()
    out = []
    for number, doc in enumerate(iter_documents(path, data.format)):
        if limit is not None and number >= limit:
            break
        candidates = document_candidates(doc, relation.pairs, relation.scope, negative, labelled=True,
                                         max_sentences=relation.max_sentences, counts=counts)
        out.append(DocumentCandidates(doc, candidates))
    if not out:
        raise BiotuneError(f"file {path} contains no documents")
    return out, counts


@dataclass(frozen=True)
class DocumentRelationResult:
    """Pair-level scores of the candidates, and the document-level score that is the headline."""

    pairs: RelationResult
    documents: DocumentScore
    candidates: Mapping[str, int]

    @property
    def headline(self) -> float:
        return self.documents.f1

    @property
    def headline_key(self) -> str:
        return "documents.f1"

    @property
    def collapse(self) -> str | None:
        """The candidate pairs' (`RelationResult.collapse`): documents are scored from them."""
        return self.pairs.collapse

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents.to_dict(), "pairs": self.pairs.to_dict(), "candidates": dict(self.candidates)}


def score_document_split(units: Sequence[DocumentCandidates], predicted: Sequence[str], pairs: RelationResult,
                         negative: str, counts: Mapping[str, int]) -> DocumentRelationResult:
    """Put the predicted labels back into the documents and score every relation type the gold holds."""
    predicted_docs, k = [], 0
    for unit in units:
        labels = predicted[k:k + len(unit.candidates)]
        k += len(unit.candidates)
        predicted_docs.append(to_relations(unit.document, unit.candidates, labels, negative))
    types = sorted({r.type for unit in units for r in unit.document.relations}) or sorted(
        {label for label in pairs.labels if label != negative})
    if len(types) != 1:
        raise BiotuneError(f"document-level scoring needs one relation type, the gold holds {types}")
    documents = score_documents([u.document for u in units], predicted_docs, types[0])
    return DocumentRelationResult(pairs, documents, counts)


def render_document_result(result: Mapping[str, Any], title: str) -> str:
    counts = result["candidates"]
    lines = [render_markdown(result["documents"], title=title).rstrip(), "",
             markdown_table(["candidates built", "pairs left out (too far apart)", "of them gold relations"],
                            [[str(counts.get("built", 0)), str(counts.get("too_far", 0)),
                              str(counts.get("too_far_related", 0))]], ["right"] * 3),
             "", render_pairs(result["pairs"], title="candidate pairs").rstrip()]
    return "\n".join(lines) + "\n"
