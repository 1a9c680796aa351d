"""Tiny documents for the format tests: non-ASCII mentions, an emoji, a scored prediction."""

from __future__ import annotations

import pytest

from biotune.formats.documents import Annotation, Document, Passage, assemble

TITLE = "TNF-α induces β-catenin 💊 signalling."
ABSTRACT = "Aspirin reduced TNF-α in 👩\u200d🔬 labs. IL-2 rose sharply (p<0.05)."


def mention(text: str, surface: str, type_: str, base: int = 0, **extra: object) -> tuple[str, Annotation]:
    """The annotation of the first `surface` in `text` (placed at `base`), for `assemble`."""
    start = base + text.index(surface)
    return "test", Annotation(start, start + len(surface), type_, surface, **extra)  # type: ignore[arg-type]


def make_document(doc_id: str = "12345") -> Document:
    base = len(TITLE) + 1
    passages = [Passage("title", TITLE, 0), Passage("abstract", ABSTRACT, base)]
    return assemble(doc_id, passages, [
        mention(TITLE, "TNF-α", "Gene", concept_id="7124"),
        mention(TITLE, "β-catenin", "Gene"),
        mention(ABSTRACT, "Aspirin", "Chemical", base, concept_id="D001241"),
        mention(ABSTRACT, "TNF-α", "Gene", base),
        mention(ABSTRACT, "IL-2", "Gene", base),
    ], "test")


@pytest.fixture
def documents() -> list[Document]:
    """Two documents, the second with one passage and a scored annotation."""
    single = assemble("doc-2", [Passage("abstract", "Cisplatin causes nephrotoxicity 😷.", 0)], [
        ("test", Annotation(0, 9, "Chemical", "Cisplatin", score=0.75)),
        ("test", Annotation(17, 31, "Disease", "nephrotoxicity", score=0.5)),
    ], "test")
    return [make_document(), single]
