"""The multi-label domain type: a text with its set of labels, and the document it belongs to.

HoC labels sentences but is scored per abstract (an abstract's labels are the union of its
sentences'), so each example keeps its `document`: BLURB's index is ``<PMID>_s<n>``, the
abstract being the part before ``_s``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextExample:
    """One text to label; `labels` are its gold labels (in the file's label order), empty for none."""

    id: str  # the row's index (HoC: <PMID>_s<n>), else <file name>:<line>
    document: str  # the document (abstract) it is scored with
    text: str
    labels: tuple[str, ...]
    weight: float = 1.0  # the source's loss weight
    annotated: frozenset[str] | None = None  # the labels its source annotates; None = every label
    file: str = ""  # where it was read, for error messages
    line: int = 0


def document_of(example_id: str) -> str:
    """The abstract of a BLURB sentence index (``22239943_s3`` -> ``22239943``); any other id is its own document."""
    head, sep, tail = example_id.rpartition("_s")
    return head if sep and head and tail.isdigit() else example_id
