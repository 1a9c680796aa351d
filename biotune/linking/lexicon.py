"""One entity type's names, looked up exactly, normalised and fuzzily.

A type's vocabularies are given in priority order (a corpus's own training mentions first, say,
then MEDIC): a term that several vocabularies hold takes its ranked ids from the first that has
it, and the later ones only add ids after those. Within one vocabulary a term seen with several
ids ranks them by how often it names each (every row counts once), ties by the smallest id, so
the result never depends on row order. The same rule ranks the ids of a normalised form over
every term that normalises to it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from biotune.linking.fuzzy import FuzzyIndex
from biotune.linking.links import EXACT, FUZZY, NORMALISED, Candidate
from biotune.linking.terms import normalise
from biotune.linking.vocabulary import Vocabulary


class Lexicon:
    """Exact and normalised term tables of one type, and, when `fuzzy`, a TF-IDF index over its normalised names."""

    def __init__(self, vocabularies: Sequence[Vocabulary], fuzzy: bool) -> None:
        self.exact: dict[str, tuple[str, ...]] = {}
        self.normalised: dict[str, tuple[str, ...]] = {}
        self.alternatives: dict[str, tuple[str, ...]] = {}
        for vocabulary in vocabularies:
            exact: defaultdict[str, Counter[str]] = defaultdict(Counter)
            normal: defaultdict[str, Counter[str]] = defaultdict(Counter)
            for term, concept in zip(vocabulary.terms, vocabulary.ids):
                exact[term][concept] += 1
                key = normalise(term)
                if key:
                    normal[key][concept] += 1
            _merge(self.exact, exact)
            _merge(self.normalised, normal)
            for concept, alternatives in vocabulary.alternatives.items():
                self.alternatives[concept] = tuple(dict.fromkeys((*self.alternatives.get(concept, ()), *alternatives)))
        self.keys = list(self.normalised)
        self.fuzzy = FuzzyIndex(self.keys) if fuzzy else None

    def exact_candidates(self, text: str) -> list[Candidate]:
        """The ids of `text` as written (score 1), ranked, or none."""
        return self._candidates(self.exact.get(text, ()), 1.0, EXACT, text)

    def normalised_candidates(self, text: str) -> list[Candidate]:
        """The ids of `text`'s normalised form (score 1), ranked, or none."""
        key = normalise(text)
        return self._candidates(self.normalised.get(key, ()), 1.0, NORMALISED, key)

    def fuzzy_candidates(self, texts: Sequence[str], k: int) -> list[list[Candidate]]:
        """Up to `k` concepts per text from its nearest normalised names (score: cosine), best first."""
        assert self.fuzzy is not None, "fuzzy_candidates needs a lexicon built with fuzzy=True"
        found = []
        for neighbours in self.fuzzy.nearest([normalise(t) for t in texts], k):
            ranked: dict[str, Candidate] = {}
            for index, score in neighbours:
                key = self.keys[index]
                for candidate in self._candidates(self.normalised[key], score, FUZZY, key):
                    ranked.setdefault(candidate.id, candidate)
            found.append(list(ranked.values())[:k])
        return found

    def _candidates(self, ids: Iterable[str], score: float, stage: str, name: str) -> list[Candidate]:
        return [Candidate(concept, score, stage, name, self.alternatives.get(concept, ())) for concept in ids]


def _merge(table: dict[str, tuple[str, ...]], counts: Mapping[str, Counter[str]]) -> None:
    """Add each key's ids ranked by count (ties: smallest id) after the ids `table` already holds for it."""
    for key, ids in counts.items():
        ranked = tuple(concept for concept, _ in sorted(ids.items(), key=lambda item: (-item[1], item[0])))
        held = table.get(key, ())
        table[key] = held + tuple(c for c in ranked if c not in held) if held else ranked
