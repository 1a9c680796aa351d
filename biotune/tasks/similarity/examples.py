"""The sentence-similarity domain type: what the readers produce and the predictor reads.

A `SentencePair` is two sentences and, in gold data, the similarity score annotators gave them
(BIOSSES: the mean of five annotators on a 0-4 scale). The same type carries a prediction
input (no score) and a training example (with its source's loss weight), as `RelationExample`
does for relation extraction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SentencePair:
    """Two sentences, their gold score if known, and where they were read (for error messages).

    `id` is the record's own id where it has one, else ``<file name>:<line>``; `where` says
    where the pair came from: ``<file>:<line>`` for a file, ``record <n> (id ...)`` for a record.
    """

    id: str
    sentence1: str
    sentence2: str
    score: float | None = None
    weight: float = 1.0  # the training source's loss weight
    where: str = ""
