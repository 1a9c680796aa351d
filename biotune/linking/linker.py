"""`Linker`: the linking layers composed, for mentions and for documents.

Per mention, in order (each layer optional except the look-ups):

1. abbreviation: a mention that is a short form defined in its own document (`abbreviations`)
   is looked up as its long form; if the long form links nowhere, as itself;
2. exact, then normalised look-up in the vocabularies of the mention's type (`Lexicon`);
3. fuzzy: character 3-gram TF-IDF neighbours, accepted at or above `fuzzy_threshold`;
4. dense: nearest name in a trained encoder's space (`DenseLinker`), at or above `dense_threshold`;
5. otherwise unlinked: in documents the mention gets `pseudo_id` (mentions of one type and text
   still group into one entity) and `StageCounts` groups the unlinked texts for the caller.

Types never cross: a mention only reaches the vocabularies (and index rows) of its type, after
`type_map` (NCBI-disease's ``SpecificDisease`` / ``DiseaseClass`` / ... -> ``Disease``); a type
with no vocabulary stays unlinked. With `k` > 1, the candidates of the stage that linked come
first and later stages fill the list up to `k` (for accuracy@k); the link itself is the first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, assemble
from biotune.linking.abbreviations import abbreviation_map
from biotune.linking.lexicon import Lexicon
from biotune.linking.links import Candidate, Link, StageCounts
from biotune.linking.terms import pseudo_id, usable_id
from biotune.linking.vocabulary import Vocabulary, read_vocabulary

if TYPE_CHECKING:  # torch and transformers load only when a dense linker does
    from biotune.linking.dense import DenseLinker

# Cosines below which a fuzzy or dense neighbour is not accepted. The fuzzy one is scispaCy's
# default for the same TF-IDF neighbours (its `threshold=0.7`); it was not tuned here. The dense
# one accepts every dense neighbour: for accuracy a wrong link costs no more than none, and a
# user building a curated graph raises it (each link carries its score).
DEFAULT_FUZZY_THRESHOLD = 0.7
DEFAULT_DENSE_THRESHOLD = 0.0
DOCUMENTS_PER_BATCH = 64  # documents whose mentions are linked together (one dense batch instead of many)


@dataclass(frozen=True, slots=True)
class LinkedDocument:
    """A document whose annotations carry concept ids, and the `Link` of each annotation in
    `document.annotations` order (None where the annotation already had a usable id and was kept)."""

    document: Document
    links: list[Link | None]


class Linker:
    """The linking layers over per-type vocabularies (see the module docstring)."""

    def __init__(self, vocabularies: Mapping[str, Sequence[Vocabulary]], *, abbreviations: bool = True,
                 fuzzy: bool = True, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD, dense: DenseLinker | None = None,
                 dense_threshold: float = DEFAULT_DENSE_THRESHOLD, type_map: Mapping[str, str] | None = None) -> None:
        if not vocabularies:
            raise BiotuneError("a linker needs at least one vocabulary")
        for source, target in (type_map or {}).items():
            if target not in vocabularies:
                raise BiotuneError(f"type map: {source!r} -> {target!r} names a type without vocabularies "
                                   f"(types with vocabularies: {', '.join(sorted(vocabularies))})")
        self.lexicons = {type_: Lexicon(vocabs, fuzzy) for type_, vocabs in vocabularies.items()}
        self.abbreviations = abbreviations
        self.fuzzy_threshold = fuzzy_threshold
        self.dense = dense
        self.dense_threshold = dense_threshold
        self.type_map = dict(type_map or {})

    @classmethod
    def from_files(cls, vocabularies: Mapping[str, Sequence[str | Path]], dense_folder: str | Path | None = None,
                   **options: object) -> Linker:
        """A linker from ``{type: [vocabulary files, in priority order]}`` and, if given, a saved dense linker
        folder built from those same vocabularies (refused otherwise). `options` go to `Linker`."""
        from biotune.linking.dense import DenseLinker

        vocabs = {type_: [read_vocabulary(path) for path in paths] for type_, paths in vocabularies.items()}
        dense = DenseLinker.load(dense_folder, vocabs) if dense_folder is not None else None
        return cls(vocabs, dense=dense, **options)  # type: ignore[arg-type]

    # ---- mentions ---------------------------------------------------------------------------
    def link(self, mentions: Sequence[tuple[str, str]], abbreviations: Sequence[Mapping[str, str]] | None = None,
             k: int = 1) -> list[Link]:
        """The `Link` of each ``(text, type)`` mention, in order; `abbreviations` gives each mention's
        document's short form -> long form map (`abbreviation_map`), none: no expansion."""
        expansions = [None] * len(mentions) if abbreviations is None or not self.abbreviations else \
            [found.get(text) for (text, _), found in zip(mentions, abbreviations)]
        types = [self.type_map.get(type_, type_) for _, type_ in mentions]
        expanded = [i for i, long in enumerate(expansions) if long is not None]
        direct = self._candidates([(text, types[i]) for i, (text, _) in enumerate(mentions)], k)
        via_long = self._candidates([(expansions[i], types[i]) for i in expanded], k)  # type: ignore[misc]
        links = [Link(text, type_, tuple(found)) for (text, type_), found in zip(mentions, direct)]
        for i, found in zip(expanded, via_long):
            if found:
                links[i] = Link(mentions[i][0], mentions[i][1], tuple(found), expansions[i])
        return links

    def _candidates(self, queries: Sequence[tuple[str, str]], k: int) -> list[list[Candidate]]:
        """Each query's accepted candidates, stage by stage, up to `k` (see the module docstring)."""
        found: list[list[Candidate]] = [[] for _ in queries]
        by_type: dict[str, list[int]] = {}
        for i, (_, type_) in enumerate(queries):
            if type_ in self.lexicons:
                by_type.setdefault(type_, []).append(i)
        for type_, members in by_type.items():
            lexicon = self.lexicons[type_]
            for i in members:
                _extend(found[i], lexicon.exact_candidates(queries[i][0]), k)
                if len(found[i]) < k:
                    _extend(found[i], lexicon.normalised_candidates(queries[i][0]), k)
            if lexicon.fuzzy is not None:
                wanting = [i for i in members if len(found[i]) < k]
                for i, candidates in zip(wanting, lexicon.fuzzy_candidates([queries[i][0] for i in wanting], k)):
                    _extend(found[i], [c for c in candidates if c.score >= self.fuzzy_threshold], k)
            if self.dense is not None:
                wanting = [i for i in members if len(found[i]) < k]
                for i, candidates in zip(wanting, self.dense.search([queries[i][0] for i in wanting], type_, k)):
                    _extend(found[i], [c for c in candidates if c.score >= self.dense_threshold], k)
        return found

    # ---- documents -------------------------------------------------------------------------
    def link_documents(self, documents: Iterable[Document], counts: StageCounts | None = None) -> Iterator[LinkedDocument]:
        """Stream `documents` with a concept id on every annotation (its link, or a `pseudo_id`), in order.

        Annotations with a usable id keep it (gold ids and the relations naming them stay valid);
        relations are kept. `counts`, if given, adds up each stage and the unlinked texts.
        """
        counts = counts if counts is not None else StageCounts()
        documents = iter(documents)
        while chunk := list(islice(documents, DOCUMENTS_PER_BATCH)):
            pending = [(d, a) for d, doc in enumerate(chunk) for a in doc.annotations if not usable_id(a.concept_id)]
            found = {d: abbreviation_map(doc.text) for d, doc in enumerate(chunk)} if self.abbreviations else {}
            links = self.link([(a.text, a.type) for _, a in pending],
                              [found.get(d, {}) for d, _ in pending] if self.abbreviations else None)
            linked = dict(zip((id(a) for _, a in pending), links))
            for doc in chunk:
                yield _linked_document(doc, linked, counts)


def _linked_document(doc: Document, linked: Mapping[int, Link], counts: StageCounts) -> LinkedDocument:
    located: list[tuple[str, Annotation]] = []
    links_of: dict[int, Link | None] = {}
    for a in doc.annotations:
        link = linked.get(id(a))
        if link is None:
            counts.kept += 1
            located.append((doc.id, a))
            links_of[id(a)] = None
            continue
        counts.add(link)
        new = dataclasses.replace(a, concept_id=link.id or pseudo_id(a.text, a.type))
        located.append((doc.id, new))
        links_of[id(new)] = link
    document = assemble(doc.id, doc.passages, located, doc.id, [(doc.id, r) for r in doc.relations])
    return LinkedDocument(document, [links_of[id(a)] for a in document.annotations])


def _extend(found: list[Candidate], candidates: Iterable[Candidate], k: int) -> None:
    """Append candidates of concepts not yet in `found`, up to `k` in all."""
    held = {c.id for c in found}
    for candidate in candidates:
        if len(found) >= k:
            return
        if candidate.id not in held:
            found.append(candidate)
            held.add(candidate.id)
