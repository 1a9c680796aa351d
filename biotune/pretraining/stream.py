"""The pretraining data as a stream: bounded memory, a deterministic order for a seed, endless epochs.

`MaskedStream` never holds the collection: each source is re-read from its files every epoch
(`TextCollection.open` returns a fresh document iterator), its documents are tokenised and
packed on the fly, and at most `shuffle_buffer` packed sequences are held at once. The order
of an epoch is a function of `(seed, epoch)` only:

- sources are interleaved by drawing the next source with probability proportional to the
  sequences it has left (the counts come from one counting pass, `scan`), so every part of an
  epoch mixes the sources in their proportions rather than reading them one after another;
- a seeded shuffle buffer (as `datasets.IterableDataset.shuffle` and webdataset do) mixes
  sequences within a window of `shuffle_buffer`.

The stream runs epoch after epoch without end and the Trainer stops it at `max_steps`: the
Trainer then sees a single pass, so on resume it skips exactly `global_step` batches of that
pass and the resumed run meets the same sequences, with the same masks (`masking.mask_rng`),
as one that never stopped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from biotune.pretraining.masking import DEV_STREAM, IGNORE, Masker, mask_rng
from biotune.pretraining.packing import Packer, Sequence

ORDER_STREAM = 0  # generator tag of an epoch's order (masks use masking.TRAIN_STREAM / DEV_STREAM)


@dataclass(frozen=True)
class TextCollection:
    """One source: a name and a function that opens a fresh iterator over its document texts."""

    name: str
    open: Callable[[], Iterator[str]]


@dataclass(frozen=True)
class SourceCounts:
    """What one counting pass over a source found."""

    name: str
    documents: int
    sequences: int
    tokens: int  # subwords of its sequences, special tokens included

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "documents": self.documents, "sequences": self.sequences, "tokens": self.tokens}


def scan(collection: TextCollection, packer: Packer) -> SourceCounts:
    """Count a source's documents, sequences and tokens in one streamed pass (nothing is kept)."""
    documents = sequences = tokens = 0
    for text in collection.open():
        documents += 1
        for sequence in packer.sequences(text):
            sequences += 1
            tokens += len(sequence.input_ids)
    return SourceCounts(collection.name, documents, sequences, tokens)


def packed(collection: TextCollection, packer: Packer) -> Iterator[Sequence]:
    return (sequence for text in collection.open() for sequence in packer.sequences(text))


def interleave(streams: list[Iterator[Sequence]], counts: list[int], rng: np.random.Generator) -> Iterator[Sequence]:
    """Draw the next source with probability proportional to its remaining sequences."""
    remaining = np.array(counts, dtype=np.float64)
    while remaining.sum() > 0:
        k = int(rng.choice(len(streams), p=remaining / remaining.sum()))
        item = next(streams[k], None)
        if item is None:  # fewer than counted (the file changed since the count): the source is done
            remaining[k] = 0
            continue
        remaining[k] -= 1
        yield item


def shuffled(items: Iterator[Sequence], size: int, rng: np.random.Generator) -> Iterator[Sequence]:
    """A seeded shuffle buffer of `size` items: each arriving item replaces a random one, which is yielded."""
    buffer: list[Sequence] = list(itertools.islice(items, size))
    for item in items:
        slot = int(rng.integers(len(buffer)))
        yield buffer[slot]
        buffer[slot] = item
    for slot in rng.permutation(len(buffer)):
        yield buffer[int(slot)]


def example(sequence: Sequence, masker: Masker, rng: np.random.Generator) -> dict[str, list[int]]:
    input_ids, labels = masker.mask(sequence, rng)
    return {"input_ids": input_ids, "labels": labels}


class MaskedStream(IterableDataset):  # type: ignore[type-arg]
    """Endless epochs of masked, packed, shuffled sequences of the sources (see the module docstring)."""

    def __init__(self, collections: list[TextCollection], counts: list[SourceCounts], packer: Packer,
                 masker: Masker, seed: int, shuffle_buffer: int) -> None:
        self.collections = collections
        self.counts = [c.sequences for c in counts]
        self.packer = packer
        self.masker = masker
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer

    def __iter__(self) -> Iterator[dict[str, list[int]]]:
        for epoch in itertools.count():
            for index, sequence in enumerate(self.epoch_order(epoch)):
                yield example(sequence, self.masker, mask_rng(self.seed, epoch, index))

    def epoch_order(self, epoch: int) -> Iterator[Sequence]:
        """The sequences of one epoch, unmasked, in that epoch's order."""
        rng = np.random.default_rng([self.seed, ORDER_STREAM, epoch])
        streams = [packed(collection, self.packer) for collection in self.collections]
        return shuffled(interleave(streams, self.counts, rng), self.shuffle_buffer, rng)


def dev_examples(collections: list[TextCollection], packer: Packer, masker: Masker, seed: int,
                 limit: int) -> list[dict[str, list[int]]]:
    """The first `limit` dev sequences in file order, with fixed masks: the before and after losses
    are measured on exactly the same targets."""
    sequences = itertools.islice((s for c in collections for s in packed(c, packer)), limit)
    return [example(s, masker, mask_rng(seed, 0, index, DEV_STREAM)) for index, s in enumerate(sequences)]


class PadCollator:
    """A batch of examples padded to its longest: input_ids, attention_mask, labels (IGNORE at padding)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, examples: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in examples)
        ids = torch.full((len(examples), width), self.pad_id, dtype=torch.long)  # (batch, tokens)
        labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        for row, e in enumerate(examples):
            n = len(e["input_ids"])
            ids[row, :n] = torch.tensor(e["input_ids"])
            labels[row, :n] = torch.tensor(e["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
