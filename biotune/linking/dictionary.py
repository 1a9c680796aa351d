"""Entity linking in its simplest honest form: a dictionary from mention text to concept id.

End-to-end relation extraction into a knowledge graph needs identifiers (BC5CDR's CID pairs are
MeSH ids), and NER predicts spans only. `DictionaryLinker` maps a mention to an id:

1. exact: the mention text as written is a dictionary term;
2. normalised: `normalise(text)` (case-folded, punctuation as spaces, whitespace collapsed:
   ``Alpha-Methyldopa`` and ``alpha methyldopa`` meet) is the normalised form of a term;
3. otherwise unlinked: the mention gets the pseudo id ``text:<type>:<normalised text>``
   (`pseudo_id`), so mentions of one type with the same surface text still group into one
   entity, and the caller is told how many there were (`LinkCounts`). The type is part of the
   id because a Chemical and a Disease mention of the same text (an abbreviation such as "PAN"
   can be either) are different entities: one shared id would make a relation between them a
   relation of one entity with itself. A pseudo id never matches a real
   identifier.

The dictionary comes from training documents' (mention text, concept id) pairs plus any user
file of ``term<TAB>id`` lines (e.g. terms from MeSH). A term seen with several ids goes to the
id seen most often for it (each training mention and each dictionary line counts once; a tie
goes to the smallest id, so the result does not depend on input order). The same rule picks
the id of a normalised form, over every term that normalises to it. Training mentions without
a usable id (none, or BC5CDR's ``-1``) add nothing. A composite id (``D014786|D006311``, one
mention for two concepts) is kept whole: the mention links to both.

`linking_accuracy` measures a linker on gold mentions (those with a usable gold id).

The layered `biotune.linking.Linker` (per-type vocabularies, abbreviations, fuzzy and dense
stages, a stage and score per link) does all this and more, and is what the tag job and the
service use (`biotune.serving.linking_stage`; a ``term<TAB>id`` file given to ``--link`` becomes
a `Linker` that looks it up exactly, then normalised, for every predicted type). This
untyped linker stays for library users' scripts written against it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, assemble
from biotune.formats.readers import existing_file, numbered_lines
from biotune.linking.terms import normalise, pseudo_id, usable_id

EXACT, NORMALISED, UNLINKED = "exact", "normalised", "unlinked"


def read_dictionary(path: str | Path) -> list[tuple[str, str]]:
    """The ``(term, id)`` pairs of a ``term<TAB>id`` file; blank lines are skipped, anything else is an error."""
    path = existing_file(path, "link dictionary")
    pairs = []
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != 2 or not cells[0].strip() or not usable_id(cells[1]):
            raise BiotuneError(f"{path}:{number}: expected 'term<TAB>id' with a non-empty term and id, "
                               f"got {line[:80]!r}")
        pairs.append((cells[0].strip(), cells[1].strip()))
    if not pairs:
        raise BiotuneError(f"dictionary {path} holds no 'term<TAB>id' lines")
    return pairs


@dataclass(slots=True)
class LinkCounts:
    """How the mentions of a `DictionaryLinker.link` run were resolved (updated as documents stream by)."""

    exact: int = 0
    normalised: int = 0
    unlinked: int = 0
    kept: int = 0  # mentions that already had a usable id and were left alone

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class DictionaryLinker:
    """Exact, then normalised dictionary look-up of mention text (see the module docstring)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        exact: defaultdict[str, Counter[str]] = defaultdict(Counter)
        normal: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for term, concept in pairs:
            exact[term][concept] += 1
            key = normalise(term)
            if key:
                normal[key][concept] += 1
        self.exact = _most_common(exact)
        self.normalised = _most_common(normal)

    @classmethod
    def from_documents(cls, documents: Iterable[Document], dictionary: str | Path | None = None) -> DictionaryLinker:
        """A linker from the (mention text, concept id) pairs of `documents`, plus a ``term<TAB>id`` file if given."""
        pairs = [(a.text, a.concept_id.strip()) for doc in documents for a in doc.annotations
                 if usable_id(a.concept_id)]
        if dictionary is not None:
            pairs += read_dictionary(dictionary)
        if not pairs:
            raise BiotuneError("no (mention, concept id) pairs to build a dictionary linker from: the training "
                               "documents carry no concept ids and no dictionary file was given")
        return cls(pairs)

    def __len__(self) -> int:
        return len(self.exact)

    def lookup(self, text: str) -> tuple[str | None, str]:
        """``(id, how)``: how is `EXACT`, `NORMALISED` or `UNLINKED` (then the id is None)."""
        if text in self.exact:
            return self.exact[text], EXACT
        found = self.normalised.get(normalise(text))
        return (found, NORMALISED) if found is not None else (None, UNLINKED)

    def link_document(self, doc: Document, counts: LinkCounts) -> Document:
        """`doc` with a concept id on every annotation: looked up, or a `pseudo_id` where none is found.

        Annotations that already have a usable id keep it (so gold ids and the relations that
        name them stay valid); the document's relations and labels are kept.
        """
        located: list[tuple[str, Annotation]] = []
        for a in doc.annotations:
            if usable_id(a.concept_id):
                counts.kept += 1
                located.append((doc.id, a))
                continue
            found, how = self.lookup(a.text)
            setattr(counts, how, getattr(counts, how) + 1)
            located.append((doc.id, dataclasses.replace(a, concept_id=found or pseudo_id(a.text, a.type))))
        relations = [(doc.id, r) for r in doc.relations]
        return assemble(doc.id, doc.passages, located, doc.id, relations, doc.labels)

    def link(self, documents: Iterable[Document], counts: LinkCounts | None = None) -> Iterator[Document]:
        """Stream `documents` linked (`link_document`); `counts`, if given, adds up how mentions were resolved."""
        counts = counts if counts is not None else LinkCounts()
        for doc in documents:
            yield self.link_document(doc, counts)


@dataclass(frozen=True, slots=True)
class LinkingAccuracy:
    """Accuracy of a linker on gold mentions with a usable gold id, split by how each was looked up."""

    mentions: int
    correct: int
    exact: int
    exact_correct: int
    normalised: int
    normalised_correct: int
    unlinked: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.mentions if self.mentions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"accuracy": self.accuracy}


def linking_accuracy(gold_documents: Iterable[Document], linker: DictionaryLinker) -> LinkingAccuracy:
    """Link the text of every gold mention that has a usable id and compare with that id (exact string match).

    An unlinked mention counts as wrong; mentions without a gold id are left out.
    """
    seen: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for doc in gold_documents:
        for a in doc.annotations:
            if not usable_id(a.concept_id):
                continue
            found, how = linker.lookup(a.text)
            seen[how] += 1
            right[how] += found == a.concept_id.strip()
    return LinkingAccuracy(sum(seen.values()), sum(right.values()), seen[EXACT], right[EXACT], seen[NORMALISED],
                           right[NORMALISED], seen[UNLINKED])


def _most_common(counts: Mapping[str, Counter[str]]) -> dict[str, str]:
    """Each key's most frequent id, ties to the smallest id."""
    return {key: min(ids.items(), key=lambda item: (-item[1], item[0]))[0] for key, ids in counts.items()}
