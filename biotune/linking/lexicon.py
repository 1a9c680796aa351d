"""One entity type's names, looked up exactly, normalised and fuzzily.

A type's vocabularies are given in priority order (a corpus's own training mentions first, say,
then MEDIC): a term that several vocabularies hold takes its ranked ids from the first that has
it, and the later ones only add ids after those. Within one vocabulary a term seen with several
ids ranks them by how often it names each (every row counts once), ties by the smallest id, so
the result never depends on row order. The same rule ranks the ids of a normalised form over
every term that normalises to it.

The tables are kept as a list of keys and compressed rows of concept indices (`IdTable`), not
as a dictionary of tuples: the same arrays are what `save` writes and `load` memory-maps, so a
saved lexicon loads without re-reading vocabularies, re-normalising terms or refitting the
fuzzy index (the seconds a linker would otherwise spend at every start).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biotune.linking.fuzzy import FuzzyIndex
from biotune.linking.links import EXACT, FUZZY, NORMALISED, Candidate
from biotune.linking.terms import normalise
from biotune.linking.vocabulary import Vocabulary

STRINGS_FILE = "strings.json"
TABLES = ("exact", "normalised")
NO_IDS = np.zeros(0, dtype=np.int32)


@dataclass
class IdTable:
    """Each key's ranked concept indices: those of `keys[i]` are `ids[indptr[i]:indptr[i + 1]]`."""

    keys: list[str]
    indptr: np.ndarray  # (keys + 1,) int64
    ids: np.ndarray  # int32 indices into the lexicon's concepts
    rows: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rows = {key: row for row, key in enumerate(self.keys)}

    @classmethod
    def from_ranked(cls, ranked: Mapping[str, Sequence[int]]) -> IdTable:
        lengths = np.fromiter((len(ids) for ids in ranked.values()), dtype=np.int64, count=len(ranked))
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.fromiter((i for row in ranked.values() for i in row), dtype=np.int32, count=int(indptr[-1]))
        return cls(list(ranked), indptr, ids)

    def get(self, key: str) -> np.ndarray:
        row = self.rows.get(key)
        return NO_IDS if row is None else self.at(row)

    def at(self, row: int) -> np.ndarray:
        return self.ids[self.indptr[row]:self.indptr[row + 1]]


class Lexicon:
    """Exact and normalised term tables of one type, and optionally a TF-IDF index over its normalised names
    (the `normalised` table's keys, in order). `vocabularies` names the (source, fingerprint) of each
    vocabulary it was built from, in priority order."""

    def __init__(self, concepts: list[str], alternatives: dict[str, tuple[str, ...]], exact: IdTable,
                 normalised: IdTable, fuzzy: FuzzyIndex | None, vocabularies: list[dict[str, str]]) -> None:
        self.concepts = concepts
        self.alternatives = alternatives  # concept id -> its other ids (only concepts that have some)
        self.exact = exact
        self.normalised = normalised
        self.fuzzy = fuzzy
        self.vocabularies = vocabularies

    @classmethod
    def build(cls, vocabularies: Sequence[Vocabulary], fuzzy: bool) -> Lexicon:
        """The tables of `vocabularies` (in priority order, see the module docstring), fuzzy index if asked."""
        exact: dict[str, tuple[str, ...]] = {}
        normalised: dict[str, tuple[str, ...]] = {}
        alternatives: dict[str, tuple[str, ...]] = {}
        for vocabulary in vocabularies:
            exact_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
            normal_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
            for term, concept in zip(vocabulary.terms, vocabulary.ids):
                exact_counts[term][concept] += 1
                key = normalise(term)
                if key:
                    normal_counts[key][concept] += 1
            _merge(exact, exact_counts)
            _merge(normalised, normal_counts)
            for concept, alts in vocabulary.alternatives.items():
                alternatives[concept] = tuple(dict.fromkeys((*alternatives.get(concept, ()), *alts)))
        index: dict[str, int] = {}
        for ids in (*exact.values(), *normalised.values()):
            for concept in ids:
                index.setdefault(concept, len(index))
        tables = [IdTable.from_ranked({key: [index[c] for c in ids] for key, ids in table.items()})
                  for table in (exact, normalised)]
        return cls(list(index), alternatives, tables[0], tables[1], FuzzyIndex.fit(tables[1].keys) if fuzzy else None,
                   [{"source": v.source, "fingerprint": v.fingerprint} for v in vocabularies])

    # ---- look-up --------------------------------------------------------------------------------
    def exact_candidates(self, text: str) -> list[Candidate]:
        """The ids of `text` as written (score 1), ranked, or none."""
        return self._candidates(self.exact.get(text), 1.0, EXACT, text)

    def normalised_candidates(self, text: str) -> list[Candidate]:
        """The ids of `text`'s normalised form (score 1), ranked, or none."""
        key = normalise(text)
        return self._candidates(self.normalised.get(key), 1.0, NORMALISED, key)

    def fuzzy_candidates(self, texts: Sequence[str], k: int) -> list[list[Candidate]]:
        """Up to `k` concepts per text from its nearest normalised names (score: cosine), best first."""
        assert self.fuzzy is not None, "fuzzy_candidates needs a lexicon built with fuzzy=True"
        found = []
        for neighbours in self.fuzzy.nearest([normalise(t) for t in texts], k):
            ranked: dict[str, Candidate] = {}
            for row, score in neighbours:
                for candidate in self._candidates(self.normalised.at(row), score, FUZZY, self.normalised.keys[row]):
                    ranked.setdefault(candidate.id, candidate)
            found.append(list(ranked.values())[:k])
        return found

    def _candidates(self, ids: np.ndarray, score: float, stage: str, name: str) -> list[Candidate]:
        concepts = [self.concepts[i] for i in ids.tolist()]
        return [Candidate(concept, score, stage, name, self.alternatives.get(concept, ())) for concept in concepts]

    # ---- the folder --------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """The tables (and fuzzy index) into `folder`, which exists: strings as JSON, ids as ``.npy`` arrays."""
        strings = {"concepts": self.concepts, "alternatives": self.alternatives,
                   **{name: getattr(self, name).keys for name in TABLES}}
        (folder / STRINGS_FILE).write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")
        for name in TABLES:
            table: IdTable = getattr(self, name)
            np.save(folder / f"{name}_indptr.npy", table.indptr)
            np.save(folder / f"{name}_ids.npy", table.ids)
        if self.fuzzy is not None:
            self.fuzzy.save(folder)

    @classmethod
    def load(cls, folder: Path, fuzzy: bool, vocabularies: list[dict[str, str]]) -> Lexicon:
        """The lexicon `save` wrote into `folder`, its arrays memory-mapped."""
        strings = json.loads((folder / STRINGS_FILE).read_text(encoding="utf-8"))
        exact, normalised = (IdTable(strings[name], np.load(folder / f"{name}_indptr.npy", mmap_mode="r"),
                                     np.load(folder / f"{name}_ids.npy", mmap_mode="r")) for name in TABLES)
        alternatives = {concept: tuple(alts) for concept, alts in strings["alternatives"].items()}
        index = FuzzyIndex.load(folder, len(normalised.keys)) if fuzzy else None
        return cls(strings["concepts"], alternatives, exact, normalised, index, vocabularies)


def _merge(table: dict[str, tuple[str, ...]], counts: Mapping[str, Counter[str]]) -> None:
    """Add each key's ids ranked by count (ties: smallest id) after the ids `table` already holds for it."""
    for key, ids in counts.items():
        ranked = tuple(concept for concept, _ in sorted(ids.items(), key=lambda item: (-item[1], item[0])))
        held = table.get(key, ())
        table[key] = held + tuple(c for c in ranked if c not in held) if held else ranked

