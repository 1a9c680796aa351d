"""Accuracy@k of a `Linker` on gold mentions, the way BioSyn and SapBERT report entity linking.

Every gold mention with a usable id is linked from its text and type (with its document's
abbreviations when the linker expands them); it counts as right at k when one of its first k
candidates names one of the gold ids. Composite gold ids (``D014786|D006311``, NCBI-disease's
``D1+D2``) count as right when the prediction names any of them, and a predicted concept names
its id and its alternative ids (MEDIC's OMIM ids beside a MeSH id): BioSyn's evaluation rule.
An unlinked mention is wrong at every k.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import Document
from biotune.linking.abbreviations import abbreviation_map
from biotune.linking.linker import Linker
from biotune.linking.links import Link
from biotune.linking.terms import gold_ids, usable_id


@dataclass(frozen=True)
class AccuracyAtK:
    """Right-at-k counts over `mentions` gold mentions, and per stage how many it linked and got right at 1."""

    mentions: int
    right: dict[int, int]
    stages: dict[str, int] = field(default_factory=dict)
    stages_right: dict[str, int] = field(default_factory=dict)

    def accuracy(self, k: int) -> float:
        return self.right[k] / self.mentions if self.mentions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"mentions": self.mentions, **{f"acc@{k}": self.accuracy(k) for k in self.right},
                "stages": self.stages, "stages_right": self.stages_right}


def gold_mentions(documents: Iterable[Document], types: frozenset[str] | None = None
                  ) -> list[tuple[str, str, frozenset[str], Mapping[str, str]]]:
    """``(text, type, gold ids, the document's abbreviations)`` of each mention with a usable id (of `types`, if given)."""
    out = []
    for doc in documents:
        abbreviations: Mapping[str, str] | None = None
        for a in doc.annotations:
            if usable_id(a.concept_id) and (types is None or a.type in types):
                abbreviations = abbreviation_map(doc.text) if abbreviations is None else abbreviations
                out.append((a.text, a.type, gold_ids(a.concept_id), abbreviations))
    return out


def accuracy_at_k(linker: Linker, mentions: Sequence[tuple[str, str, frozenset[str], Mapping[str, str]]],
                  ks: Sequence[int] = (1, 5)) -> AccuracyAtK:
    """Accuracy@k for each k of `ks` over `mentions` (from `gold_mentions`), by the module docstring's rule."""
    links = linker.link([(text, type_) for text, type_, _, _ in mentions], [m[3] for m in mentions], k=max(ks))
    return score_links(links, [gold for _, _, gold, _ in mentions], ks)


def accuracy_by_type(linker: Linker, documents: Iterable[Document], ks: Sequence[int] = (1, 5)
                     ) -> dict[str, AccuracyAtK]:
    """Accuracy@k per type the linker links (its vocabularies' types, the type map applied) over the gold
    mentions of `documents`; types without gold mentions are left out, none at all is an error."""
    documents = list(documents)
    found = {}
    for target in linker.lexicons:
        members = frozenset(t for t in linker.types if linker.type_map.get(t, t) == target)
        mentions = gold_mentions(documents, members)
        if mentions:
            found[target] = accuracy_at_k(linker, mentions, ks)
    if not found:
        held = sorted({a.type for doc in documents for a in doc.annotations if usable_id(a.concept_id)})
        raise BiotuneError(f"no gold mention with a concept id has a type the linker links ({', '.join(sorted(linker.types))}); "
                           f"mentions with ids have the types: {', '.join(held) or 'none'} (map them with --type-map "
                           "when building the linker)")
    return found


def score_links(links: Sequence[Link], gold: Sequence[frozenset[str]], ks: Sequence[int]) -> AccuracyAtK:
    right = {k: 0 for k in ks}
    stages: Counter[str] = Counter()
    stages_right: Counter[str] = Counter()
    for link, ids in zip(links, gold):
        stages[link.stage] += 1
        for k in ks:
            right[k] += any(candidate.ids & ids for candidate in link.candidates[:k])
        stages_right[link.stage] += bool(link.candidates and link.candidates[0].ids & ids)
    return AccuracyAtK(len(links), right, dict(stages), dict(stages_right))
