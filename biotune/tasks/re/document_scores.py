"""Document-level relation scores: P/R/F1 of (head id, tail id) pairs, as BC5CDR CID is scored.

The BioCreative V CDR task scores a system by the set of (chemical MeSH, disease MeSH) pairs it
states for each abstract, not by mentions: a pair counts once per document however often, or
from however many sentences, it was found. `score_documents` does exactly that for one relation
type. A document's pairs are its relations of that type, by concept id; a relation between
annotation ids counts for its annotations' concept ids (every part of a composite ``D1|D2``).
Gold and predicted documents are matched by id, and both must hold the same documents: a
missing document would silently count as all misses or none.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import BY_ANNOTATION, Document
from biotune.tables import markdown_table


def document_pairs(doc: Document, relation_type: str) -> set[tuple[str, str]]:
    """The (head id, tail id) pairs of `doc`'s relations of `relation_type`."""
    annotations = {a.id: a for a in doc.annotations if a.id is not None}
    pairs: set[tuple[str, str]] = set()
    for r in doc.relations:
        if r.type != relation_type:
            continue
        if r.by == BY_ANNOTATION:
            heads = annotations[r.head].concept_ids or (r.head,)
            tails = annotations[r.tail].concept_ids or (r.tail,)
            pairs.update(itertools.product(heads, tails))
        else:
            pairs.add((r.head, r.tail))
    return pairs


@dataclass(frozen=True, slots=True)
class DocumentScore:
    """Pair counts over documents and the P/R/F1 they give (0 where a denominator is 0)."""

    relation_type: str
    documents: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"relation_type": self.relation_type, "documents": self.documents, "tp": self.tp, "fp": self.fp,
                "fn": self.fn, "precision": self.precision, "recall": self.recall, "f1": self.f1}


def score_documents(gold: Iterable[Document], predicted: Iterable[Document], relation_type: str) -> DocumentScore:
    """Document-level P/R/F1 of `relation_type` pairs of `predicted` against `gold` (same document ids)."""
    gold_by_id = _by_id(gold, "gold")
    predicted_by_id = _by_id(predicted, "predicted")
    for missing, side in ((gold_by_id.keys() - predicted_by_id.keys(), "predicted"),
                          (predicted_by_id.keys() - gold_by_id.keys(), "gold")):
        if missing:
            raise BiotuneError(f"{len(missing)} document(s) missing from the {side} documents, e.g. "
                               f"{sorted(missing)[0]!r}: score the same documents on both sides")
    tp = fp = fn = 0
    for doc_id, gold_doc in gold_by_id.items():
        truth = document_pairs(gold_doc, relation_type)
        guess = document_pairs(predicted_by_id[doc_id], relation_type)
        tp, fp, fn = tp + len(truth & guess), fp + len(guess - truth), fn + len(truth - guess)
    return DocumentScore(relation_type, len(gold_by_id), tp, fp, fn)


def render_markdown(score: DocumentScore | Mapping[str, Any], title: str = "") -> str:
    """One row of counts and P/R/F1 in percent (two decimals); accepts a saved `to_dict()` too."""
    data = score.to_dict() if isinstance(score, DocumentScore) else score
    table = markdown_table(
        ["relation", "documents", "gold pairs", "predicted pairs", "TP", "FP", "FN", "P", "R", "F1"],
        [[data["relation_type"], str(data["documents"]), str(data["tp"] + data["fn"]), str(data["tp"] + data["fp"]),
          str(data["tp"]), str(data["fp"]), str(data["fn"]),
          *(f"{100 * data[key]:.2f}" for key in ("precision", "recall", "f1"))]],
        ["left"] + ["right"] * 9,
    )
    header = [f"# {title}", ""] if title else []
    return "\n".join([*header, "Document-level pairs, each counted once per document.", "", table]) + "\n"


def _by_id(documents: Iterable[Document], side: str) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for doc in documents:
        if doc.id in found:
            raise BiotuneError(f"document id {doc.id!r} appears twice among the {side} documents")
        found[doc.id] = doc
    return found
