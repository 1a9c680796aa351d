"""What linking produces: ranked `Candidate`s per mention, a `Link` per mention, and `StageCounts`.

Every link says how it was found (`stage`) and how sure that stage is (`score`), so a user can
keep only exact links for a curated graph, or audit what the fuzzy and dense stages added.
Stages, in the order the composed `biotune.linking.Linker` tries them:

- ``abbreviation``: the mention is a short form defined in its document ("... familial
  adenomatous polyposis (FAP) ...") and was linked as its long form (the `Link`'s `expanded`);
  its candidates keep the stage that found the long form;
- ``exact``: the mention text is a vocabulary term as written (score 1);
- ``normalised``: the `normalise`d text is the normalised form of a term (score 1);
- ``fuzzy``: character 3-gram TF-IDF neighbour (score: cosine), kept at or above a threshold;
- ``dense``: nearest vocabulary name in a trained encoder's space (score: cosine), likewise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from biotune.linking.terms import namespace

ABBREVIATION, EXACT, NORMALISED, FUZZY, DENSE, UNLINKED = "abbreviation", "exact", "normalised", "fuzzy", "dense", "unlinked"
STAGES = (ABBREVIATION, EXACT, NORMALISED, FUZZY, DENSE)
SCORE_DIGITS = 4  # decimals of a score in output: the cosines of float32 vectors hold no more


@dataclass(frozen=True, slots=True)
class Candidate:
    """A concept a stage proposes for a mention: its canonical `id`, the concept's `alternatives`
    (other ids of the same concept, e.g. MEDIC's OMIM ids), the vocabulary `name` matched."""

    id: str
    score: float
    stage: str
    name: str
    alternatives: tuple[str, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.alternatives))

    def preferring(self, prefix: str) -> Candidate:
        """The same concept named by its first id in namespace `prefix` (upper case, see `namespace`), its
        primary id becoming an alternative: MEDIC names some concepts by an OMIM id with the MeSH id
        BC5CDR's gold and CID pairs use among the alternatives. Itself when its id is already in `prefix`
        or none of its alternatives is."""
        if namespace(self.id) == prefix:
            return self
        for alternative in self.alternatives:
            if namespace(alternative) == prefix:
                others = tuple(a for a in self.alternatives if a != alternative)
                return replace(self, id=alternative, alternatives=(self.id, *others))
        return self


@dataclass(frozen=True, slots=True)
class Link:
    """The linking of one mention: `candidates` best first (empty: unlinked); `expanded` is the
    long form it was linked as when the mention is a short form of its document."""

    text: str
    type: str
    candidates: tuple[Candidate, ...]
    expanded: str | None = None

    @property
    def id(self) -> str | None:
        return self.candidates[0].id if self.candidates else None

    @property
    def stage(self) -> str:
        if not self.candidates:
            return UNLINKED
        return ABBREVIATION if self.expanded is not None else self.candidates[0].stage

    @property
    def score(self) -> float | None:
        return self.candidates[0].score if self.candidates else None

    def to_dict(self) -> dict[str, object]:
        """The JSON a tag or serve output carries per entity: id, stage, score (and the long form used)."""
        out: dict[str, object] = {"id": self.id, "stage": self.stage,
                                  "score": None if self.score is None else round(self.score, SCORE_DIGITS)}
        if self.expanded is not None:
            out["expanded"] = self.expanded
        return out


@dataclass
class StageCounts:
    """How many mentions each stage linked, and the text of those none linked (grouped, with counts)."""

    stages: Counter[str] = field(default_factory=Counter)
    unlinked_texts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, text) -> mentions
    kept: int = 0  # mentions that already had a usable id and were left alone

    def add(self, link: Link) -> None:
        self.stages[link.stage] += 1
        if link.id is None:
            self.unlinked_texts[(link.type, link.text)] += 1

    def to_dict(self) -> dict[str, int]:
        return {stage: self.stages[stage] for stage in (*STAGES, UNLINKED)} | {"kept": self.kept}
