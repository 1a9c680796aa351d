"""The stream: lazy (never materialises the collection), deterministic for a seed, mixes sources."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from biotune.models.backbones import load_tokenizer
from biotune.pretraining.masking import masker_for
from biotune.pretraining.packing import Packer
from biotune.pretraining.stream import MaskedStream, TextCollection, scan, shuffled

WORDS = ["aspirin", "heparin", "tremor", "asthma", "the", "patient"]


class CountingTexts:
    """A collection whose reading is observable: how many documents have been handed out."""

    def __init__(self, name: str, n: int, offset: int = 0) -> None:
        self.name, self.n, self.offset, self.read = name, n, offset, 0

    def open(self) -> Iterator[str]:
        for i in range(self.n):
            self.read += 1
            yield " ".join(WORDS[(i + self.offset + k) % len(WORDS)] for k in range(1 + i % 5))

    def collection(self) -> TextCollection:
        return TextCollection(self.name, self.open)


@pytest.fixture(scope="module")
def tools(word_backbone: Path):
    tokenizer = load_tokenizer(str(word_backbone))
    return Packer(tokenizer, 16), masker_for(tokenizer, 0.15, True)


def _stream(tools, sources: list[CountingTexts], seed: int, buffer: int = 8) -> MaskedStream:
    packer, masker = tools
    collections = [s.collection() for s in sources]
    counts = [scan(c, packer) for c in collections]
    for s in sources:
        s.read = 0
    return MaskedStream(collections, counts, packer, masker, seed, buffer)


def test_the_stream_reads_documents_lazily(tools) -> None:
    source = CountingTexts("big", 10_000)
    stream = _stream(tools, [source], seed=1, buffer=8)
    first = list(itertools.islice(iter(stream), 20))
    assert len(first) == 20
    assert source.read <= 8 + 20 + 1  # the shuffle buffer and what was handed out, not the 10,000 documents


def test_the_order_is_deterministic_for_a_seed_and_changes_with_it(tools) -> None:
    def take(seed: int) -> list[list[int]]:
        return [e["input_ids"] for e in itertools.islice(iter(_stream(tools, [CountingTexts("a", 50)], seed)), 60)]

    assert take(3) == take(3)
    assert take(3) != take(4)


def test_an_epoch_holds_every_sequence_once_and_epochs_continue(tools) -> None:
    packer, _ = tools
    sources = [CountingTexts("a", 30), CountingTexts("b", 10, offset=2)]
    stream = _stream(tools, sources, seed=2)
    one = [s.input_ids for s in stream.epoch_order(0)]
    expected = [s.input_ids for src in (CountingTexts("a", 30), CountingTexts("b", 10, offset=2))
                for text in src.open() for s in packer.sequences(text)]
    assert sorted(one) == sorted(expected)
    assert one != expected  # shuffled and interleaved
    two = list(itertools.islice(iter(stream), 2 * len(one) + 1))
    assert len(two) == 2 * len(one) + 1  # the stream runs on into a second and third epoch
    assert [s.input_ids for s in stream.epoch_order(1)] != one  # each epoch its own order


def test_sources_are_interleaved_not_read_one_after_another(tools) -> None:
    sources = [CountingTexts("a", 40), CountingTexts("b", 40, offset=3)]
    stream = _stream(tools, sources, seed=5, buffer=1)
    list(itertools.islice(stream.epoch_order(0), 20))
    assert sources[0].read > 2 and sources[1].read > 2


def test_shuffle_buffer_is_a_permutation() -> None:
    import numpy as np

    items = list(range(100))
    out = list(shuffled(iter(items), 10, np.random.default_rng(0)))
    assert sorted(out) == items and out != items
