"""Relation extraction as a stage of the document pipeline (`biotune.tasks.stages`): it adds
``relations`` between the entities an earlier stage found, with an RE model trained on annotated
documents (it records the entity-type pairs, scope and `max_sentences` it was trained with in
`config.biotune`; those build the candidate pairs). The candidates of all documents are classified
in one batched call and mapped back with `to_relations`.

Relations by concept (the tag job): document-level relations between concept ids, as PubTator and
BC5CDR CID define them. Without linking a mention's concept is the pseudo id of its text, so two
mentions with the same text are one entity. A relation's `score` is the highest probability of
its type among the candidate pairs that predicted it.

Relations by mention (the service, `by_mention`): which pair of mentions of one text holds which
relation. *Sentence* candidates over the mentions (whatever scope the checkpoint was trained with:
a same-sentence pair is also what a document-scope model reads for its closest mentions), each
mention identified by an annotation id (its index), the relation scored by its pair's probability.

A candidate pair whose marked mentions span more tokens than the RE model's window is not cut down
to fit (that would change what the model reads): it gets no relation, and `counts()` counts it as
``pairs_too_wide`` (the tag job warns with the count).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import BY_ANNOTATION, BY_CONCEPT, Annotation, Document, Passage, Relation, assemble
from biotune.tasks.re.candidates import Candidate, check_pairs, document_candidates, to_relations
from biotune.tasks.re.examples import RelationExample
from biotune.tasks.re.markers import featurise
from biotune.tasks.re.task import RelationPrediction, RelationPredictor
from biotune.tasks.stages import DocumentStage

TOO_WIDE = "pairs_too_wide"


class RelationStage(DocumentStage):
    """An RE predictor and the candidate pairs it was trained on (read from its checkpoint)."""

    provides = "relations"
    needs = ("entities",)
    uses = ("linking",)  # concept ids group mentions into the entities relations are between

    def __init__(self, predictor: RelationPredictor, source: str = "the relation model", by_mention: bool = False):
        recorded = getattr(predictor.relation_model.model.config, "biotune", None) or {}
        if not recorded.get("pairs"):
            raise BiotuneError(f"relation checkpoint {source} records no entity-type pairs (re.pairs): it was "
                               "trained on pre-masked sentences; to tag documents, train it on annotated documents "
                               "(PubTator, BioC or JSONL) with re.pairs set")
        self.pairs = tuple(check_pairs(recorded["pairs"]))
        markers = predictor.relation_model.scheme.types
        unknown = sorted({t for pair in self.pairs for t in pair} - set(markers))
        if unknown:
            raise BiotuneError(f"relation checkpoint {source}: its pairs name {unknown}, which its entity markers "
                               f"lack (markers: {', '.join(markers)})")
        negative = recorded.get("negative_label")
        self.predictor = predictor
        self.scope: str = recorded.get("scope", "sentence")
        self.max_sentences: int | None = recorded.get("max_sentences")
        self.negative = negative if negative in predictor.labels else None
        self.by_mention = by_mention
        self.too_wide = 0

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels a prediction can turn into a relation (the negative label aside)."""
        return tuple(label for label in self.predictor.labels if label != self.negative)

    def check(self, given: Mapping[str, Sequence[str]]) -> None:
        predicted = set(given["entities"])
        missing = sorted({t for pair in self.pairs for t in pair} - predicted)
        if missing:
            raise BiotuneError(f"the relation model pairs entity types {missing} that the NER model does not "
                               f"predict (its types: {', '.join(sorted(predicted))}); use models trained on the "
                               "same entity types")

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        """The documents with their predicted relations (by concept, or by mention: see the module docstring)."""
        if self.by_mention:
            documents = [_numbered(doc) for doc in documents]
        scope, limit = ("sentence", None) if self.by_mention else (self.scope, self.max_sentences)
        negative = self.negative or ""
        per_document = [document_candidates(doc, self.pairs, scope, negative, labelled=False, max_sentences=limit)
                        for doc in documents]
        predictions = self.predict([c for candidates in per_document for c in candidates])
        out, k = [], 0
        for doc, candidates in zip(documents, per_document):
            mine = predictions[k : k + len(candidates)]
            k += len(candidates)
            if self.by_mention:
                out.append(_by_mention(doc, candidates, mine, self.negative))
                continue
            labels = [p.label if p is not None else negative for p in mine]
            related = to_relations(doc, candidates, labels, negative)
            scored = [dataclasses.replace(r, score=_support(r, candidates, mine)) for r in related.relations]
            out.append(dataclasses.replace(related, relations=scored))
        return out

    def predict(self, candidates: Sequence[Candidate]) -> list[RelationPrediction | None]:
        """One prediction per candidate, in order, in one batched call; None for a pair that does not fit the window.

        A pair whose marked mentions span more tokens than the model's `max_length` cannot be
        classified without cutting text between them (`markers.featurise` refuses it); rather
        than stop a corpus-scale job at one such pair, it gets no relation and is counted.
        """
        examples = [c.example for c in candidates]
        if not examples:
            return []
        try:
            return list(self.predictor.predict(examples))
        except BiotuneError:  # some pairs are too wide: find them (tokenising only), classify the rest
            fits = [self._fits(example) for example in examples]
            found = iter(self.predictor.predict([e for e, fit in zip(examples, fits) if fit]))
            self.too_wide += fits.count(False)
            return [next(found) if fit else None for fit in fits]

    def _fits(self, example: RelationExample) -> bool:
        model = self.predictor.relation_model
        try:
            featurise([example], model.tokenizer, model.scheme, self.predictor.max_length)
        except BiotuneError:
            return False
        return True

    def counts(self) -> dict[str, int]:
        return {TOO_WIDE: self.too_wide}

    @classmethod
    def report(cls, counts: Mapping[str, int]) -> str | None:
        if not counts.get(TOO_WIDE):
            return None
        return (f"{counts[TOO_WIDE]} candidate pairs span more tokens than the relation model's max_length and got "
                f"no relation (recorded as annotations.{TOO_WIDE} in the job's manifest)")

    def describe(self) -> dict[str, Any]:
        return {"types": list(self.labels), "pairs": [list(pair) for pair in self.pairs]}

    def probe(self) -> list[Document]:
        """One document holding a relation of every type the model predicts."""
        head_type, tail_type = self.pairs[0]
        head, tail = Annotation(0, 1, head_type, "a", 1.0, "h"), Annotation(2, 3, tail_type, "b", 1.0, "t")
        return [assemble("probe", [Passage("text", "a b")], [("probe", head), ("probe", tail)], "probe",
                         [("probe", Relation(label, "h", "t", BY_CONCEPT, score=1.0)) for label in self.labels])]


def _by_mention(doc: Document, candidates: Sequence[Candidate], predictions: Sequence[RelationPrediction | None],
                negative: str | None) -> Document:
    """`doc` with a relation between the two annotation ids of each candidate predicted as one."""
    relations = [Relation(p.label, c.head_annotation, c.tail_annotation, BY_ANNOTATION, score=p.scores[p.label])
                 for c, p in zip(candidates, predictions)
                 if p is not None and p.label != negative and c.head_annotation is not None
                 and c.tail_annotation is not None]
    return dataclasses.replace(doc, relations=relations)


def _support(relation: Relation, candidates: Sequence[Candidate],
             predictions: Sequence[RelationPrediction | None]) -> float:
    """The highest probability of `relation`'s type among the candidates that `to_relations` made it from."""
    def made_it(candidate: Candidate) -> bool:
        if relation.by == BY_ANNOTATION:
            return (candidate.head_annotation, candidate.tail_annotation) == (relation.head, relation.tail)
        return relation.head in candidate.head_concepts and relation.tail in candidate.tail_concepts

    return max(p.scores[relation.type] for c, p in zip(candidates, predictions)
               if p is not None and p.label == relation.type and made_it(c))


def _numbered(doc: Document) -> Document:
    """`doc` with every annotation given an id (its index), so sentence candidates name their two mentions."""
    located = [(doc.id, dataclasses.replace(a, id=str(i))) for i, a in enumerate(doc.annotations)]
    return assemble(doc.id, doc.passages, located, doc.id, labels=doc.labels)
