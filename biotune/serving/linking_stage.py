"""Dictionary linking as a stage of the document pipeline (`biotune.tasks.stages`): every entity an
earlier stage found gets a concept id, looked up exactly, then normalised, else the pseudo id of
its text (``text:<type>:<normalised text>``). Linking is no task (it trains nothing), so the stage
takes the linker it is given (`biotune.linking.DictionaryLinker`, built from a ``term<TAB>id``
file by `read_dictionary`) and counts how each mention was linked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from biotune.formats.documents import Document
from biotune.linking import DictionaryLinker, LinkCounts
from biotune.tasks.stages import DocumentStage


class LinkingStage(DocumentStage):
    """Concept ids for the entities of documents, from `linker`."""

    provides = "linking"
    needs = ("entities",)

    def __init__(self, linker: DictionaryLinker) -> None:
        self.linker = linker
        self.link_counts = LinkCounts()

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        return [self.linker.link_document(doc, self.link_counts) for doc in documents]

    def counts(self) -> dict[str, int]:
        """Mentions by how they got their concept id (``mentions_exact``, ``_normalised``, ...)."""
        return {f"mentions_{how}": count for how, count in self.link_counts.to_dict().items()}

    def describe(self) -> dict[str, Any]:
        return {"terms": len(self.linker)}
