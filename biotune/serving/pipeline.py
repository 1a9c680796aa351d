"""The document annotator behind `biotune tag` and `biotune serve`: NER, then [linking], then [relations].

One code path, so a text gets the same entities and relations from the tag job (single process
or Ray) and from the HTTP service:

1. NER: `tag_documents` (sentences of all documents in one length-sorted pass).
2. Linking (optional, `DictionaryLinker` from a ``term<TAB>id`` file): every predicted mention
   gets a concept id, looked up exactly, then normalised, else the pseudo id of its text
   (``text:<normalised text>``).
3. Relations (optional, an RE checkpoint trained on annotated documents): candidate pairs are
   built from the predicted mentions with the entity-type pairs, scope and `max_sentences` the
   checkpoint recorded at training (`config.biotune`), classified in one batched call over all
   documents, and mapped back with `to_relations`.

Relations by concept: the tag job writes document-level relations between concept ids, as
PubTator and BC5CDR CID define them. Without a dictionary a mention's concept is the pseudo id
of its text, so two mentions with the same text are one entity. A relation's `score` is the
highest probability of its type among the candidate pairs that predicted it.

A candidate pair whose marked mentions span more tokens than the RE model's window is not cut
down to fit (that would change what the model reads): it gets no relation, and
`DocumentAnnotator.counts()` counts it (the tag job reports the count).

Relations by mention: the service answers which pair of mentions in a text holds which
relation, so the page can draw them. It builds *sentence* candidates over the mentions
(whatever scope the checkpoint was trained with: a same-sentence pair is also what a
document-scope model reads for its closest mentions), each mention identified by its offsets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from biotune.errors import BiotuneError
from biotune.formats.documents import BY_ANNOTATION, Annotation, Document, Relation, assemble
from biotune.formats.schemes import entity_types
from biotune.linking import DictionaryLinker, LinkCounts, read_dictionary
from biotune.tasks.ner.annotate import tag_documents, text_document
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.re.candidates import Candidate, check_pairs, document_candidates, to_relations
from biotune.tasks.re.examples import RelationExample
from biotune.tasks.re.markers import featurise
from biotune.tasks.re.task import RelationPrediction, RelationPredictor


@dataclass(frozen=True)
class RelationStage:
    """An RE predictor and the candidate pairs it was trained on (read from its checkpoint)."""

    predictor: RelationPredictor
    pairs: tuple[tuple[str, str], ...]
    scope: str
    max_sentences: int | None
    negative: str | None

    @classmethod
    def from_checkpoint(cls, path: Path, precision: str = "auto", batch_size: int = 64) -> RelationStage:
        """Load an RE checkpoint; a `BiotuneError` if it records no entity-type pairs to build candidates with."""
        predictor = RelationPredictor.from_checkpoint(path, precision=precision, batch_size=batch_size)
        return cls.of(predictor, path)

    @classmethod
    def of(cls, predictor: RelationPredictor, path: Path | str = "the relation model") -> RelationStage:
        recorded = getattr(predictor.relation_model.model.config, "biotune", None) or {}
        if not recorded.get("pairs"):
            raise BiotuneError(f"relation checkpoint {path} records no entity-type pairs (re.pairs): it was "
                               "trained on pre-masked sentences; to tag documents, train it on annotated documents "
                               "(PubTator, BioC or JSONL) with re.pairs set")
        pairs = tuple(check_pairs(recorded["pairs"]))
        unknown = sorted({t for pair in pairs for t in pair} - set(predictor.relation_model.scheme.types))
        if unknown:
            raise BiotuneError(f"relation checkpoint {path}: its pairs name {unknown}, which its entity markers "
                               f"lack (markers: {', '.join(predictor.relation_model.scheme.types)})")
        negative = recorded.get("negative_label")
        return cls(predictor, pairs, recorded.get("scope", "sentence"), recorded.get("max_sentences"),
                   negative if negative in predictor.labels else None)

    @property
    def relation_types(self) -> list[str]:
        """The labels a prediction can turn into a relation (the negative label aside)."""
        return [label for label in self.predictor.labels if label != self.negative]

    def predict(self, candidates: Sequence[Candidate]) -> list[RelationPrediction | None]:
        """One prediction per candidate, in order, in one batched call; None for a pair that does not fit the window.

        A pair whose marked mentions span more tokens than the model's `max_length` cannot be
        classified without cutting text between them (`markers.featurise` refuses it); rather
        than stop a corpus-scale job at one such pair, it gets no relation and the caller counts it.
        """
        examples = [c.example for c in candidates]
        if not examples:
            return []
        try:
            return list(self.predictor.predict(examples))
        except BiotuneError:  # some pairs are too wide: find them (tokenising only), classify the rest
            fits = [self._fits(example) for example in examples]
            found = iter(self.predictor.predict([e for e, fit in zip(examples, fits) if fit]))
            return [next(found) if fit else None for fit in fits]

    def _fits(self, example: RelationExample) -> bool:
        model = self.predictor.relation_model
        try:
            featurise([example], model.tokenizer, model.scheme, self.predictor.max_length)
        except BiotuneError:
            return False
        return True

    def is_relation(self, prediction: RelationPrediction | None) -> TypeGuard[RelationPrediction]:
        return prediction is not None and prediction.label != self.negative


@dataclass(frozen=True, slots=True)
class MentionRelation:
    """A relation between two mentions of one text, as the service answers it."""

    type: str
    head: Annotation
    tail: Annotation
    score: float


@dataclass(frozen=True, slots=True)
class TextAnnotations:
    """What the service finds in one text: entities, and relations (None when it has no RE model)."""

    entities: list[Annotation]
    relations: list[MentionRelation] | None = None


class DocumentAnnotator:
    """NER -> [dictionary linking] -> [relation extraction] over documents (see the module docstring).

    Not thread-safe (the models are not): the service calls it from its one worker thread.
    """

    def __init__(self, tagger: Tagger, relations: RelationStage | None = None,
                 linker: DictionaryLinker | None = None) -> None:
        self.tagger = tagger
        self.relations = relations
        self.linker = linker
        self.link_counts = LinkCounts()
        self.too_wide = 0  # candidate pairs left unrelated because they do not fit the RE model's window
        if relations is not None:
            predicted = set(entity_types(tagger.labels))
            missing = sorted({t for pair in relations.pairs for t in pair} - predicted)
            if missing:
                raise BiotuneError(f"the relation model pairs entity types {missing} that the NER model does not "
                                   f"predict (its types: {', '.join(sorted(predicted))}); use models trained on the "
                                   "same entity types")

    @classmethod
    def load(cls, checkpoint: Path, relations: Path | None = None, dictionary: Path | None = None,
             precision: str = "auto", batch_size: int = 32) -> DocumentAnnotator:
        """Load the NER checkpoint, and the RE checkpoint and dictionary if given; errors name the bad path."""
        linker = DictionaryLinker(read_dictionary(dictionary)) if dictionary is not None else None
        tagger = Tagger.from_checkpoint(checkpoint, precision=precision, batch_size=batch_size)
        stage = RelationStage.from_checkpoint(relations, precision, batch_size) if relations is not None else None
        return cls(tagger, stage, linker)

    def entities(self, documents: Sequence[Document]) -> list[Document]:
        """NER, then linking: the documents with predicted (and, with a linker, identified) mentions."""
        tagged = tag_documents(self.tagger, documents)
        if self.linker is None:
            return tagged
        return [self.linker.link_document(doc, self.link_counts) for doc in tagged]

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        """The documents with predicted entities and, with an RE model, the concept-level relations between them."""
        tagged = self.entities(documents)
        stage = self.relations
        if stage is None:
            return tagged
        per_document = [document_candidates(doc, stage.pairs, stage.scope, stage.negative or "", labelled=False,
                                            max_sentences=stage.max_sentences) for doc in tagged]
        predictions = self._predict(stage, [c for candidates in per_document for c in candidates])
        out, k = [], 0
        for doc, candidates in zip(tagged, per_document):
            mine = predictions[k : k + len(candidates)]
            k += len(candidates)
            labels = [p.label if p is not None else stage.negative or "" for p in mine]
            related = to_relations(doc, candidates, labels, stage.negative or "")
            scored = [dataclasses.replace(r, score=_support(r, candidates, mine)) for r in related.relations]
            out.append(dataclasses.replace(related, relations=scored))
        return out

    def annotate_texts(self, texts: Sequence[str]) -> list[TextAnnotations]:
        """Each text's entities and, with an RE model, the relations between its mentions (sentence candidates)."""
        tagged = self.entities([text_document(str(i), text) for i, text in enumerate(texts)])
        stage = self.relations
        if stage is None:
            return [TextAnnotations(doc.annotations) for doc in tagged]
        numbered = [_numbered(doc) for doc in tagged]
        per_document = [document_candidates(doc, stage.pairs, "sentence", stage.negative or "", labelled=False)
                        for doc in numbered]
        predictions = self._predict(stage, [c for candidates in per_document for c in candidates])
        out, k = [], 0
        for doc, candidates in zip(numbered, per_document):
            by_id = {a.id: a for a in doc.annotations}
            found = []
            for candidate, prediction in zip(candidates, predictions[k : k + len(candidates)]):
                if stage.is_relation(prediction):
                    found.append(MentionRelation(prediction.label, _plain(by_id[candidate.head_annotation]),
                                                 _plain(by_id[candidate.tail_annotation]),
                                                 prediction.scores[prediction.label]))
            k += len(candidates)
            out.append(TextAnnotations([_plain(a) for a in doc.annotations], found))
        return out

    def counts(self) -> dict[str, int]:
        """What this annotator has counted so far: pairs too wide for the RE window, mentions by how they were linked."""
        out = {"pairs_too_wide": self.too_wide} if self.relations is not None else {}
        if self.linker is not None:
            out |= {f"mentions_{how}": count for how, count in self.link_counts.to_dict().items()}
        return out

    def _predict(self, stage: RelationStage, candidates: Sequence[Candidate]) -> list[RelationPrediction | None]:
        predictions = stage.predict(candidates)
        self.too_wide += sum(p is None for p in predictions)
        return predictions

    def describe(self) -> dict[str, Any]:
        """What /health says of the relation and linking stages (nothing for NER alone)."""
        out: dict[str, Any] = {}
        if self.relations is not None:
            out["relations"] = {"types": self.relations.relation_types,
                                "pairs": [list(pair) for pair in self.relations.pairs]}
        if self.linker is not None:
            out["linking"] = {"terms": len(self.linker)}
        return out


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
    return assemble(doc.id, doc.passages, located, doc.id)


def _plain(annotation: Annotation) -> Annotation:
    """The annotation without the id `_numbered` gave it (ids are internal to one call)."""
    return dataclasses.replace(annotation, id=None)
