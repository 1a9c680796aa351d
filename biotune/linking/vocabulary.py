"""Vocabularies: the names of concepts (``term<TAB>id[<TAB>alternative ids]``) a mention links to.

A vocabulary is a user's file (MEDIC, CTD diseases, MeSH, their own list) or the (mention, gold
id) pairs of training documents; both become the same `Vocabulary`, so every linking layer
(exact, normalised, fuzzy, dense) treats a corpus's own mentions as one more list of names.

File format: one row per (term, concept), UTF-8, tab-separated. An optional header whose second
cell is ``identifier`` (CTD's and the shared vocabularies' ``term<TAB>identifier<TAB>alt_identifiers``)
is skipped; a third cell holds alternative ids of the same concept joined by ``|`` (MEDIC's OMIM
ids beside a MeSH id, CTD's Disease Ontology ids such as ``DO:DOID:0060395``). Ids take the
`canonical_id` form. A row without a tab, with an empty term, an empty id or an id in no known
form (`KNOWN_ID`: an optional ``PREFIX:`` up to the first colon and a local id without spaces,
which may hold colons of its own) is a `BiotuneError` naming the file and line: a silently
skipped row is a concept that can never be found.

`fingerprint` identifies the content (every row, in order, after parsing), not the file's bytes
or name: a dense index built from one vocabulary refuses another (`biotune.linking.dense`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from biotune.errors import BiotuneError
from biotune.formats.document_formats import iter_documents
from biotune.formats.documents import Document
from biotune.formats.readers import existing_file, numbered_lines
from biotune.linking.terms import KNOWN_ID, canonical_id, usable_id

HEADER_ID = "identifier"


@dataclass(frozen=True)
class Vocabulary:
    """Rows of (term, canonical id, alternative ids) from one `source` (a file path or a description)."""

    source: str
    terms: tuple[str, ...]
    ids: tuple[str, ...]
    alternatives: dict[str, tuple[str, ...]]  # concept id -> its other ids (only concepts that have some)
    fingerprint: str

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def concepts(self) -> frozenset[str]:
        return frozenset(self.ids)


def make_vocabulary(source: str, rows: Iterable[tuple[str, str, tuple[str, ...]]]) -> Vocabulary:
    """A `Vocabulary` from ``(term, id, alternative ids)`` rows, ids made canonical, with its fingerprint."""
    terms: list[str] = []
    ids: list[str] = []
    alternatives: dict[str, tuple[str, ...]] = {}
    digest = hashlib.sha256()
    for term, concept, alts in rows:
        concept = canonical_id(concept)
        alts = tuple(dict.fromkeys(canonical_id(a) for a in alts if canonical_id(a) not in ("", concept)))
        terms.append(term)
        ids.append(concept)
        if alts:
            alternatives[concept] = tuple(dict.fromkeys((*alternatives.get(concept, ()), *alts)))
        digest.update(f"{term}\t{concept}\t{'|'.join(alts)}\n".encode("utf-8"))
    return Vocabulary(source, tuple(terms), tuple(ids), alternatives, digest.hexdigest()[:16])


def read_vocabulary(path: str | Path) -> Vocabulary:
    """The vocabulary of a ``term<TAB>id[<TAB>alternatives]`` file (see the module docstring for what is refused)."""
    path = existing_file(path, "vocabulary")
    rows: list[tuple[str, str, tuple[str, ...]]] = []
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        if number == 1 and len(cells) > 1 and cells[1].strip().lower() == HEADER_ID:
            continue
        rows.append(_row(path, number, line, cells))
    if not rows:
        raise BiotuneError(f"vocabulary {path} holds no 'term<TAB>id' lines")
    return make_vocabulary(str(path), rows)


def _row(path: Path, number: int, line: str, cells: list[str]) -> tuple[str, str, tuple[str, ...]]:
    where = f"{path}:{number}"
    if len(cells) < 2:
        raise BiotuneError(f"{where}: expected 'term<TAB>id[<TAB>alternative ids]', found no tab in {line[:80]!r}")
    if len(cells) > 3:
        raise BiotuneError(f"{where}: expected at most 3 tab-separated cells (term, id, alternative ids), "
                           f"found {len(cells)} in {line[:80]!r}")
    term, concept = cells[0].strip(), cells[1].strip()
    if not term:
        raise BiotuneError(f"{where}: empty term in {line[:80]!r}")
    alternatives = tuple(a.strip() for a in cells[2].split("|") if a.strip()) if len(cells) == 3 else ()
    for value in (concept, *alternatives):
        if not usable_id(value):
            raise BiotuneError(f"{where}: empty id for term {term!r}")
        if not KNOWN_ID.fullmatch(value):
            raise BiotuneError(f"{where}: id {value!r} of term {term!r} is in no known form "
                               "(expected an optional PREFIX: and an id without spaces, e.g. MESH:D012345)")
    return term, concept, alternatives


def mention_vocabularies(paths: Sequence[str | Path], types: Iterable[str], type_map: Mapping[str, str] | None = None,
                         format: str | None = None) -> dict[str, list[Vocabulary]]:
    """Per linked type, the training mentions of each document file of `paths` as vocabularies (in file
    order): a mention of type T teaches names of `type_map.get(T, T)`. A file none of whose mentions of a
    type carries a usable id adds no vocabulary for it (a disease corpus teaches no chemical names); a
    file that teaches nothing is an error naming it."""
    members = {t: frozenset({t, *(s for s, target in (type_map or {}).items() if target == t)}) for t in types}
    found: dict[str, list[Vocabulary]] = {}
    for path in paths:
        for type_, vocabulary in _document_vocabularies(list(iter_documents(path, format)), members, str(path)).items():
            found.setdefault(type_, []).append(vocabulary)
    return found


def _document_vocabularies(documents: list[Document], types: Mapping[str, frozenset[str]], source: str
                           ) -> dict[str, Vocabulary]:
    held = {a.type for doc in documents for a in doc.annotations if usable_id(a.concept_id)}
    found = {type_: mention_vocabulary(documents, type_, f"{source} {type_} mentions", members)
             for type_, members in types.items() if members & held}
    if not found:
        raise BiotuneError(f"{source}: no mention of type {', '.join(sorted(set().union(*types.values())))} "
                           f"carries a concept id to learn names from (types with ids: {', '.join(sorted(held)) or 'none'})")
    return found


def mention_vocabulary(documents: Iterable[Document], type_: str, source: str,
                       types: frozenset[str] | None = None) -> Vocabulary:
    """The (mention text, gold id) pairs of `documents` whose type is `type_` (or one of `types`) as a vocabulary.

    Mentions without a usable id, or with a composite id (one mention naming several concepts,
    which no single concept's name list can hold), add nothing.
    """
    wanted = types or frozenset({type_})
    rows = [(a.text, a.concept_id.strip(), ()) for doc in documents for a in doc.annotations
            if a.type in wanted and usable_id(a.concept_id) and "|" not in a.concept_id and "+" not in a.concept_id]
    if not rows:
        raise BiotuneError(f"{source}: no {type_} mention carries a concept id to learn names from")
    return make_vocabulary(source, rows)
