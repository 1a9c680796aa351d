"""NER as a stage of the document pipeline (`biotune.tasks.stages`): it adds ``entities``, the
mentions `tag_documents` predicts (sentences of all documents in one length-sorted pass)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from biotune.formats.documents import Document
from biotune.formats.schemes import entity_types
from biotune.tasks.ner.annotate import tag_documents
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.stages import DocumentStage


class EntityStage(DocumentStage):
    """A tagger's entities on documents; `labels` are the entity types it predicts."""

    provides = "entities"

    def __init__(self, tagger: Tagger) -> None:
        self.tagger = tagger

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(entity_types(self.tagger.labels))

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        return tag_documents(self.tagger, documents)

    def describe(self) -> dict[str, Any]:
        return {"types": list(self.labels)}
