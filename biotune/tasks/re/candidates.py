"""Candidate pairs from annotated documents: `RelationExample`s with mention spans, and back.

A document with entity annotations (PubTator, BioC, JSONL) becomes one `Candidate` per pair of
entities of a configured type pair (``("Chemical", "Disease")``: head Chemical, tail Disease),
each wrapping a `RelationExample` (unmasked text, `head`/`tail` = the mention spans) that
`markers.mark` and `markers.featurise` take as they are. Two scopes:

- ``sentence``: one candidate per pair of mentions inside one sentence (sentences from
  `biotune.formats.text.split_sentences`, per passage, as `document_sentences` cuts them); the
  text is that sentence.
- ``document``: one candidate per (head concept, tail concept) pair of the document, as
  document-level relations (BC5CDR CID) are defined. A concept appears as several mentions, so
  the candidate uses the closest pair of their mentions (fewest sentence boundaries between
  them, then fewest characters, then the earliest) and its text runs from the start of the
  sentence holding the first of the two to the end of the sentence holding the second. That
  keeps the pair inside one window of the encoder however long the document is, at the price
  of the model seeing one pair of mentions rather than all of them. Even so a pair can be
  wider than the encoder's window (BC5CDR test: 2 of 5,557 pairs exceed 512 MiniLM tokens, and
  `markers.featurise` refuses them): `max_sentences` builds no candidate for a pair whose
  closest mentions are more sentence boundaries apart, and `CandidateCounts` says how many
  pairs that left out, and how many of them were gold relations (recall the model cannot get).

Entities are grouped by concept id: a composite id (``D1|D2``) makes the mention count for both
concepts; a mention without a usable id (none, or ``-1``) is grouped by its type and normalised
surface text under `biotune.linking.pseudo_id` rather than dropped. Mentions that overlap are never
paired (markers could not wrap both).

Labels come from the document's relations: a candidate's label is the type of the first
relation between its two entities (for a pair of one type, such as Drug-Drug, either direction
counts and each unordered pair is one candidate, head first in the text), else `negative`.
Candidates built by concept (document scope, or sentence scope where the annotations have no
ids, as in PubTator) match relations by concept (an annotation-level relation counts for its
annotations' concepts); sentence candidates between annotations with ids match annotation-level
relations only. With ``labelled=False`` labels are None (prediction input).

`to_relations(document, candidates, predicted_labels, negative)` maps predictions back: each
candidate predicted as a relation type becomes a `Relation` of the document (by annotation id
where the candidate was built by annotation, else one per concept pair, each pair once). So that
a relation always names an entity the document carries, mentions grouped under a pseudo id get
that id as their `concept_id` in the returned document.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from biotune.errors import BiotuneError
from biotune.formats.documents import BY_ANNOTATION, BY_CONCEPT, Annotation, Document, Relation, assemble
from biotune.formats.text import split_sentences
from biotune.linking import pseudo_id, usable_id
from biotune.tasks.re.examples import Entity, RelationExample

SCOPES = ("sentence", "document")


@dataclass(slots=True)
class CandidateCounts:
    """What candidate building did (added up as documents stream by): pairs built, and pairs left out.

    `too_far` counts document-scope pairs beyond `max_sentences`; `too_far_related` those of
    them that a document relation names (known only for labelled building).
    """

    built: int = 0
    too_far: int = 0
    too_far_related: int = 0

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate pair and the way back to its document.

    `head_concepts`/`tail_concepts` are the entity keys (concept ids, or pseudo ids) the pair
    stands for; `head_annotation`/`tail_annotation` are annotation ids where the candidate was
    built by annotation (sentence scope over annotations with ids), else None.
    """

    example: RelationExample
    document: str
    head_concepts: tuple[str, ...]
    tail_concepts: tuple[str, ...]
    head_annotation: str | None = None
    tail_annotation: str | None = None

    @property
    def by(self) -> str:
        return BY_ANNOTATION if self.head_annotation is not None else BY_CONCEPT


def concept_keys(annotation: Annotation) -> tuple[str, ...]:
    """The entities a mention stands for: its concept ids, or its `pseudo_id` when it has none usable."""
    if usable_id(annotation.concept_id):
        return annotation.concept_ids
    return (pseudo_id(annotation.text, annotation.type),)


def check_pairs(pairs: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """The configured entity-type pairs as ``(head type, tail type)`` tuples, or a `BiotuneError`."""
    checked = []
    for pair in pairs:
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(t, str) and t for t in pair):
            raise BiotuneError(f"an entity-type pair is two type names such as ['Chemical', 'Disease'], got {pair!r}")
        checked.append((pair[0], pair[1]))
    if not checked:
        raise BiotuneError("no entity-type pairs given: name at least one, such as [['Chemical', 'Disease']]")
    return checked


def document_candidates(
    doc: Document,
    pairs: Iterable[Sequence[str]],
    scope: str,
    negative: str,
    labelled: bool = True,
    max_sentences: int | None = None,
    counts: CandidateCounts | None = None,
) -> list[Candidate]:
    """The candidates of one document (see the module docstring); `counts`, if given, is added to.

    In text order: sentence by sentence; in document scope by the positions of the pair's two
    mentions, then by concept id. `max_sentences` (document scope only) is the most sentence
    boundaries allowed between a pair's closest mentions (0: same sentence); None allows any.
    """
    if scope not in SCOPES:
        raise BiotuneError(f"unknown candidate scope {scope!r}; choose one of {', '.join(SCOPES)}")
    if max_sentences is not None and (scope != "document" or max_sentences < 0):
        raise BiotuneError(f"max_sentences applies to the document scope and is 0 or more, got {max_sentences} "
                           f"with scope {scope!r}")
    type_pairs = check_pairs(pairs)
    counts = counts if counts is not None else CandidateCounts()
    labels = _Labels(doc) if labelled else None
    if scope == "sentence":
        candidates = _sentence_candidates(doc, type_pairs)
    else:
        candidates, far = _document_candidates(doc, type_pairs, max_sentences)
        counts.too_far += len(far)
        if labels is not None:
            counts.too_far_related += sum(_labelled(c, labels, negative).example.label != negative for c in far)
    counts.built += len(candidates)
    return [_labelled(c, labels, negative) for c in candidates]


def to_relations(
    document: Document, candidates: Sequence[Candidate], predicted_labels: Sequence[str], negative: str
) -> Document:
    """`document` with one `Relation` per candidate predicted as a relation (label other than `negative`).

    `candidates` are this document's (from `document_candidates`), `predicted_labels` their
    labels in the same order. The document's own relations are replaced by the predicted
    ones (its document labels kept); a concept pair gets one relation of a type however many candidates predicted it.
    """
    if len(candidates) != len(predicted_labels):
        raise ValueError(f"{len(candidates)} candidates but {len(predicted_labels)} predicted labels")
    relations: dict[tuple[str, str, str, str], Relation] = {}
    for candidate, label in zip(candidates, predicted_labels):
        if candidate.document != document.id:
            raise ValueError(f"candidate of document {candidate.document!r} given with document {document.id!r}")
        if label == negative:
            continue
        roles = candidate.example.head.type, candidate.example.tail.type
        if candidate.head_annotation is not None and candidate.tail_annotation is not None:
            key = (BY_ANNOTATION, label, candidate.head_annotation, candidate.tail_annotation)
            relations.setdefault(key, Relation(label, key[2], key[3], BY_ANNOTATION, *roles))
            continue
        for head, tail in itertools.product(candidate.head_concepts, candidate.tail_concepts):
            relations.setdefault((BY_CONCEPT, label, head, tail), Relation(label, head, tail, BY_CONCEPT, *roles))
    located = [(document.id, a if usable_id(a.concept_id)
                else dataclasses.replace(a, concept_id=pseudo_id(a.text, a.type))) for a in document.annotations]
    return assemble(document.id, document.passages, located, document.id,
                    [(document.id, r) for r in relations.values()], document.labels)


class _Labels:
    """The relations of a document, indexed by annotation ids and by concept keys."""

    def __init__(self, doc: Document) -> None:
        self.by_annotation: dict[tuple[str, str], str] = {}
        self.by_concept: dict[tuple[str, str], str] = {}
        annotations = {a.id: a for a in doc.annotations if a.id is not None}
        for r in doc.relations:
            if r.by == BY_ANNOTATION:
                self.by_annotation.setdefault((r.head, r.tail), r.type)
                heads, tails = concept_keys(annotations[r.head]), concept_keys(annotations[r.tail])
            else:
                heads, tails = (r.head,), (r.tail,)
            for key in itertools.product(heads, tails):
                self.by_concept.setdefault(key, r.type)

    def label(self, candidate: Candidate, either_way: bool) -> str | None:
        if candidate.head_annotation is not None and candidate.tail_annotation is not None:
            keys = [(candidate.head_annotation, candidate.tail_annotation)]
            table = self.by_annotation
        else:
            keys = list(itertools.product(candidate.head_concepts, candidate.tail_concepts))
            table = self.by_concept
        if either_way:
            keys += [(tail, head) for head, tail in keys]
        return next((table[key] for key in keys if key in table), None)


def _labelled(candidate: Candidate, labels: _Labels | None, negative: str) -> Candidate:
    if labels is None:
        return candidate
    example = candidate.example
    found = labels.label(candidate, either_way=example.head.type == example.tail.type)
    return dataclasses.replace(candidate, example=dataclasses.replace(example, label=found or negative))


def _sentences(doc: Document) -> list[tuple[int, int]]:
    """Document-level character ranges of the sentences of every passage, in order."""
    return [(p.offset + s, p.offset + e) for p in doc.passages for s, e in split_sentences(p.text)]


def _overlap(a: Annotation, b: Annotation) -> bool:
    return a.start_char < b.end_char and b.start_char < a.end_char


def _ordered_pairs(
    heads: Sequence[Annotation], tails: Sequence[Annotation], same_type: bool
) -> Iterator[tuple[Annotation, Annotation]]:
    """Head-tail mention pairs that do not overlap; for one type, each unordered pair once, head first in text."""
    for head, tail in itertools.product(heads, tails):
        if _overlap(head, tail) or (same_type and (head.start_char, head.end_char) >= (tail.start_char, tail.end_char)):
            continue
        yield head, tail


def _example(doc: Document, start: int, end: int, head: Annotation, tail: Annotation, number: int,
             label_id: str) -> RelationExample:
    return RelationExample(
        text=doc.text[start:end],
        head=Entity(head.start_char - start, head.end_char - start, head.type),
        tail=Entity(tail.start_char - start, tail.end_char - start, tail.type),
        label=None, id=f"{doc.id}:{label_id}", source=f"document {doc.id}", line=number,
    )


def _sentence_candidates(doc: Document, type_pairs: list[tuple[str, str]]) -> list[Candidate]:
    candidates: list[Candidate] = []
    annotations = doc.annotations
    for start, end in _sentences(doc):
        inside = [a for a in annotations if start <= a.start_char and a.end_char <= end]
        for head_type, tail_type in type_pairs:
            heads = [a for a in inside if a.type == head_type]
            tails = [a for a in inside if a.type == tail_type]
            for head, tail in _ordered_pairs(heads, tails, head_type == tail_type):
                ids = head.id is not None and tail.id is not None
                name = f"{head.start_char}-{head.end_char}:{tail.start_char}-{tail.end_char}"
                example = _example(doc, start, end, head, tail, len(candidates) + 1, name)
                candidates.append(Candidate(example, doc.id, concept_keys(head), concept_keys(tail),
                                            head.id if ids else None, tail.id if ids else None))
    return candidates


def _document_candidates(
    doc: Document, type_pairs: list[tuple[str, str]], max_sentences: int | None
) -> tuple[list[Candidate], list[Candidate]]:
    """The candidates within `max_sentences`, and those beyond it (built only to be counted)."""
    sentences = _sentences(doc)
    candidates: list[Candidate] = []
    far: list[Candidate] = []
    for head_type, tail_type in type_pairs:
        heads, tails = _mentions_by_concept(doc, head_type), _mentions_by_concept(doc, tail_type)
        chosen = []
        for (head_key, head_mentions), (tail_key, tail_mentions) in itertools.product(heads.items(), tails.items()):
            if head_key == tail_key or (head_type == tail_type and head_key > tail_key):
                continue  # one concept is not a pair; a same-type pair is one candidate, not two
            found = _closest(sentences, head_mentions, tail_mentions)
            if found is not None:
                chosen.append((head_key, tail_key, *found))
        chosen.sort(key=lambda c: (*sorted((c[3].start_char, c[4].start_char)), c[0], c[1]))
        for head_key, tail_key, distance, head, tail in chosen:
            if head_type == tail_type and head.start_char > tail.start_char:
                head_key, tail_key, head, tail = tail_key, head_key, tail, head  # head first in text
            start, end = _stretch(sentences, head, tail)
            into = far if max_sentences is not None and distance > max_sentences else candidates
            example = _example(doc, start, end, head, tail, len(candidates) + 1, f"{head_key}:{tail_key}")
            into.append(Candidate(example, doc.id, (head_key,), (tail_key,)))
    return candidates, far


def _mentions_by_concept(doc: Document, type_: str) -> dict[str, list[Annotation]]:
    """The mentions of `type_` under each entity key, keys in order of first mention."""
    grouped: dict[str, list[Annotation]] = {}
    for a in doc.annotations:
        if a.type == type_:
            for key in concept_keys(a):
                grouped.setdefault(key, []).append(a)
    return grouped


def _closest(
    sentences: Sequence[tuple[int, int]], heads: Sequence[Annotation], tails: Sequence[Annotation]
) -> tuple[int, Annotation, Annotation] | None:
    """``(sentence boundaries between, head, tail)`` of the closest non-overlapping pair of mentions.

    Closest: fewest sentence boundaries between them, then fewest characters, then the earliest.
    """
    starts = [start for start, _ in sentences]
    best: tuple[tuple[int, int, int], tuple[int, Annotation, Annotation]] | None = None
    for head, tail in itertools.product(heads, tails):
        if _overlap(head, tail):
            continue
        distance = abs(bisect.bisect_right(starts, head.start_char) - bisect.bisect_right(starts, tail.start_char))
        gap = max(head.start_char, tail.start_char) - min(head.end_char, tail.end_char)
        rank = (distance, gap, min(head.start_char, tail.start_char))
        if best is None or rank < best[0]:
            best = (rank, (distance, head, tail))
    return best[1] if best is not None else None


def _stretch(sentences: Sequence[tuple[int, int]], a: Annotation, b: Annotation) -> tuple[int, int]:
    """From the start of the sentence holding the first mention to the end of the one holding the second.

    A mention that no sentence range holds whole (a split inside it) widens the stretch to cover it.
    """
    first, last = min(a.start_char, b.start_char), max(a.end_char, b.end_char)
    start = max((s for s, e in sentences if s <= first < e), default=first)
    end = min((e for s, e in sentences if s < last <= e), default=last)
    return min(start, first), max(end, last)
