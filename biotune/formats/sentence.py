"""The two types every stage of biotune passes around.

Readers produce `Sentence`s, the aligner, trainer, evaluator and tagger consume them, writers
write them; nothing else parses files. A `Span` is a half-open token range `[start, end)` with
an entity type and, for predictions, a score.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """Entity mention over tokens `start` (inclusive) to `end` (exclusive)."""

    start: int
    end: int
    type: str
    score: float | None = None


@dataclass(slots=True)
class Sentence:
    """One unit of text: tokens, optional tags (BIO after reading), and provenance.

    `id` is unique within its source file (e.g. ``train.tsv:17`` or a JSONL id). `offsets`
    holds each token's `(start, end)` character offsets into `text` when the sentence came
    from raw text, so predictions can be mapped back to characters.
    `annotated_types` names the entity types this sentence's tags annotate; `None` means
    "every type in the label space" (the usual case for a gold corpus).
    `document` names the document the sentence belongs to (a `-DOCSTART-` block of a TSV
    file, a JSONL `document` field, a PubTator or BioC document); consecutive sentences with
    the same `document` are neighbours in it, and document context (`biotune.tasks.ner.context`)
    never crosses from one document to another. `None`: the sentence stands alone.
    """

    tokens: list[str]
    tags: list[str] | None = None
    id: str = ""
    source: str | None = None
    text: str | None = None
    offsets: list[tuple[int, int]] | None = None
    annotated_types: frozenset[str] | None = None
    weight: float = 1.0
    meta: dict[str, object] = field(default_factory=dict)
    document: str | None = None

    def __len__(self) -> int:
        return len(self.tokens)
