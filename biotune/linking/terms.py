"""The text and identifier conventions every linking layer shares.

A mention text and a vocabulary term meet when their `normalise` forms are equal (case-folded
NFKC, punctuation and symbols as spaces): ``Alpha-Methyldopa`` and ``alpha methyldopa``.
Identifiers are compared in their `canonical_id` form: BC5CDR, NCBI-disease and PubTator write
MeSH ids bare (``D012345``) while CTD's vocabularies prefix them (``MESH:D012345``), so the
``MESH:`` prefix is dropped everywhere and other prefixes (``OMIM:``) are kept.

An id's namespace is its prefix up to the first colon, the rest is its local id: CTD's Disease
Ontology alternatives (``DO:DOID:0060395``) are local ids of ``DO`` that hold a colon themselves.
A bare canonical id is a MeSH id (`namespace`), which is what lets a linker prefer MeSH ids.
"""

from __future__ import annotations

import unicodedata
from typing import TypeGuard

import regex

PSEUDO_PREFIX = "text:"
# Ids that mean "no identifier" in released corpora (BC5CDR writes -1).
NO_ID = frozenset({"", "-1"})
# A composite mention names several concepts: BC5CDR joins them with "|", NCBI-disease with "|" or "+".
COMPOSITE = regex.compile(r"[|+]")
# A CURIE-like id: an optional prefix (MESH:, OMIM:, a user's own) and a local part without spaces,
# whose colon-separated pieces are not empty (DOID:0060395 of DO:DOID:0060395; not "D1:" or "D1::2").
_PREFIX = r"[A-Za-z][A-Za-z0-9_.]*"
_PIECE = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
KNOWN_ID = regex.compile(rf"(?:{_PREFIX}:)?{_PIECE}(?::{_PIECE})*")
NAMESPACE = regex.compile(_PREFIX)
BARE_NAMESPACE = "MESH"  # the namespace of an id without prefix: `canonical_id` strips MESH: only

_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")
_SPACES = regex.compile(r"\s+")


def normalise(text: str) -> str:
    """Case-folded NFKC text with punctuation and symbols as spaces and runs of whitespace as one space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()


def pseudo_id(text: str, type_: str) -> str:
    """The stable stand-in id of a mention no dictionary links: ``text:<type>:<normalised text>``.

    The type is part of the id because a Chemical and a Disease mention of the same text (an
    abbreviation such as "PAN" can be either) are different entities: one shared id would make a
    relation between them a relation of one entity with itself. A mention made only of
    punctuation keeps its case-folded text, so the id never ends in ``:``.
    """
    return f"{PSEUDO_PREFIX}{type_}:{normalise(text) or text.casefold().strip()}"


def usable_id(concept_id: str | None) -> TypeGuard[str]:
    """Whether an annotation's concept id identifies something (not missing, not ``-1``)."""
    return concept_id is not None and concept_id.strip() not in NO_ID


def canonical_id(concept_id: str) -> str:
    """`concept_id` stripped, without a ``MESH:`` prefix (the corpora's bare MeSH ids)."""
    concept_id = concept_id.strip()
    return concept_id[5:] if concept_id.upper().startswith("MESH:") else concept_id


def gold_ids(concept_id: str) -> frozenset[str]:
    """The canonical ids a gold annotation names; a composite (``D1|D2``, ``D1+D2``) names each part."""
    return frozenset(canonical_id(part) for part in COMPOSITE.split(concept_id) if usable_id(part))


def namespace(concept_id: str) -> str:
    """The upper-cased prefix of a canonical id up to its first colon (``DO`` for ``DO:DOID:0060395``), or
    `BARE_NAMESPACE` for an id without one (``D012345``, whose ``MESH:`` `canonical_id` dropped)."""
    prefix, colon, _ = concept_id.partition(":")
    return prefix.upper() if colon else BARE_NAMESPACE
