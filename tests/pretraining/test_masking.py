"""Whole-word masking: whole words only, ~15% of words, 80/10/10, reproducible, specials untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biotune.models.backbones import load_tokenizer
from biotune.pretraining.masking import IGNORE, mask_rng, masker_for
from biotune.pretraining.packing import NO_WORD, Packer
from tests.pretraining.conftest import write_documents


@pytest.fixture(scope="module")
def sample(word_backbone: Path, tmp_path_factory: pytest.TempPathFactory):
    tokenizer = load_tokenizer(str(word_backbone))
    texts = write_documents(tmp_path_factory.mktemp("mask") / "t.txt", 400, seed=3).read_text().splitlines()
    packer = Packer(tokenizer, 32)
    sequences = [s for text in texts for s in packer.sequences(text)]
    assert any(len({w for w in s.word_ids}) < len(s.word_ids) - 2 for s in sequences)  # multi-subword words exist
    return tokenizer, sequences


def _masked(sample, seed: int, epoch: int = 0, whole_word: bool = True):
    tokenizer, sequences = sample
    masker = masker_for(tokenizer, 0.15, whole_word)
    return [masker.mask(s, mask_rng(seed, epoch, i)) for i, s in enumerate(sequences)]


def test_every_subword_of_a_chosen_word_is_a_target_and_no_word_is_partly_masked(sample) -> None:
    tokenizer, sequences = sample
    for sequence, (ids, labels) in zip(sequences, _masked(sample, seed=1)):
        words: dict[int, set[bool]] = {}
        replaced: dict[int, set[bool]] = {}
        for position, word in enumerate(sequence.word_ids):
            if word == NO_WORD:
                continue
            words.setdefault(word, set()).add(labels[position] != IGNORE)
            replaced.setdefault(word, set()).add(ids[position] == tokenizer.mask_token_id)
        assert all(len(flags) == 1 for flags in words.values())  # a word is all targets or none
        assert all(len(flags) == 1 for flags in replaced.values())  # and all [MASK] or none


def test_about_15_percent_of_words_with_80_10_10(sample) -> None:
    tokenizer, sequences = sample
    chosen = words = masked = unchanged = 0
    for sequence, (ids, labels) in zip(sequences, _masked(sample, seed=2)):
        first = {}
        for position, word in enumerate(sequence.word_ids):
            if word != NO_WORD:
                first.setdefault(word, position)
        words += len(first)
        for position in first.values():
            if labels[position] != IGNORE:
                chosen += 1
                masked += ids[position] == tokenizer.mask_token_id
                unchanged += ids[position] == sequence.input_ids[position]
    assert words > 3000
    assert chosen / words == pytest.approx(0.15, abs=0.015)
    assert masked / chosen == pytest.approx(0.8, abs=0.04)
    assert unchanged / chosen == pytest.approx(0.1, abs=0.03)  # (a random draw equal to the original is rare)
    assert (chosen - masked - unchanged) / chosen == pytest.approx(0.1, abs=0.03)


def test_labels_hold_the_original_ids_and_special_tokens_are_never_masked(sample) -> None:
    tokenizer, sequences = sample
    special = set(tokenizer.all_special_ids)
    for sequence, (ids, labels) in zip(sequences, _masked(sample, seed=3)):
        for position, word in enumerate(sequence.word_ids):
            if labels[position] != IGNORE:
                assert labels[position] == sequence.input_ids[position]
            if word == NO_WORD:
                assert labels[position] == IGNORE and ids[position] == sequence.input_ids[position]
            elif ids[position] != sequence.input_ids[position]:
                assert ids[position] == tokenizer.mask_token_id or ids[position] not in special


def test_masks_are_reproducible_for_a_seed_and_change_with_seed_and_epoch(sample) -> None:
    first, again = _masked(sample, seed=5), _masked(sample, seed=5)
    assert first == again
    assert _masked(sample, seed=6) != first
    assert _masked(sample, seed=5, epoch=1) != first  # dynamic masking: a new mask every epoch


def test_token_level_masking_when_whole_word_is_off(sample) -> None:
    """Without whole-word masking some multi-subword word is partly a target (a bug would keep words whole)."""
    _, sequences = sample
    partly = 0
    for sequence, (_, labels) in zip(sequences, _masked(sample, seed=1, whole_word=False)):
        by_word: dict[int, set[bool]] = {}
        for position, word in enumerate(sequence.word_ids):
            if word != NO_WORD:
                by_word.setdefault(word, set()).add(labels[position] != IGNORE)
        partly += sum(len(flags) == 2 for flags in by_word.values())
    assert partly > 0


def test_every_sequence_with_words_has_a_target(sample) -> None:
    assert all(any(label != IGNORE for label in labels) for _, labels in _masked(sample, seed=9))


def test_mask_rng_depends_on_coordinates_only() -> None:
    draws = mask_rng(1, 2, 3).random(4)
    np.random.seed(0)
    assert np.array_equal(mask_rng(1, 2, 3).random(4), draws)
    assert not np.array_equal(mask_rng(1, 2, 4).random(4), draws)
