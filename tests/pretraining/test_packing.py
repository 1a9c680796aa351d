"""Packing: a document becomes sequences of at most max_length, cut at words, never joined to another."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.models.backbones import load_tokenizer
from biotune.pretraining.packing import NO_WORD, Packer, cut


@pytest.fixture(scope="module")
def tokenizer(word_backbone: Path):
    return load_tokenizer(str(word_backbone))


def test_a_long_document_becomes_several_sequences_and_keeps_every_token(tokenizer) -> None:
    packer = Packer(tokenizer, 10)
    text = " ".join(["aspirin", "xyzzy", "the", "patient"] * 6)
    sequences = list(packer.sequences(text))
    assert len(sequences) > 2
    assert all(len(s.input_ids) <= 10 for s in sequences)
    body = [t for s in sequences for t, w in zip(s.input_ids, s.word_ids) if w != NO_WORD]
    assert body == tokenizer(text, add_special_tokens=False)["input_ids"]
    for s in sequences:
        assert s.input_ids[0] == tokenizer.cls_token_id and s.input_ids[-1] == tokenizer.sep_token_id


def test_sequences_are_cut_between_words(tokenizer) -> None:
    """`xyzzy` is five subwords: no sequence may end inside it."""
    packer = Packer(tokenizer, 9)  # 7 subwords of text per sequence
    sequences = list(packer.sequences("aspirin the xyzzy xyzzy heparin"))
    texts = [tokenizer.decode([t for t, w in zip(s.input_ids, s.word_ids) if w != NO_WORD]) for s in sequences]
    assert texts == ["aspirin the xyzzy", "xyzzy heparin"]


def test_a_word_longer_than_the_window_is_cut_hard() -> None:
    assert cut([0, 0, 0, 0, 0, 0], 0, 4) == 4
    assert cut([0, 1, 1, 1, 1, 1], 0, 4) == 1


def test_short_documents_are_never_joined(tokenizer) -> None:
    packer = Packer(tokenizer, 64)
    documents = ["aspirin tremor", "the patient", "heparin"]
    sequences = [list(packer.sequences(d)) for d in documents]
    assert [len(s) for s in sequences] == [1, 1, 1]
    assert [len(s[0].input_ids) for s in sequences] == [4, 4, 3]
    assert list(packer.sequences("   ")) == []
