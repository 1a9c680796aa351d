"""Whole-word masking for the masked-LM objective, as a pure function of its random generator.

BERT's recipe (Devlin et al. 2019) with whole-word masking (Google's 2019 release; BioBERT
and PubMedBERT use it): each word of a sequence is chosen with probability `probability`;
a chosen word's subwords all become [MASK] (80% of chosen words), all become random tokens
(10%) or all stay as they are (10%), and they all become prediction targets. The
80/10/10 draw is made per word, so a word is never half masked. With `whole_word=False` every
subword is its own unit (the original token-level masking). Special tokens are never chosen.
A sequence with words but none chosen gets one word chosen uniformly, so that no batch can
be without targets (its share is negligible for windows of more than a few words).

Masks are dynamic (RoBERTa): they are redrawn every epoch, but an example's mask depends only
on `(seed, epoch, example index)` through its own generator (`mask_rng`), never on the global
RNG. The Trainer replays the batches it skips when it resumes from a checkpoint; with masks
drawn from a shared generator the replay would have to consume it exactly as the killed run
did, whereas here the resumed run's masks are equal by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.pretraining.packing import NO_WORD, Sequence

IGNORE = -100  # label of a position that is not a prediction target
MASK_SHARE = 0.8  # of chosen words: replaced by the mask token
RANDOM_SHARE = 0.1  # of chosen words: replaced by random tokens (the rest stay unchanged)
TRAIN_STREAM, DEV_STREAM = 1, 2  # keep the training and the dev masks' generators apart


def mask_rng(seed: int, epoch: int, index: int, stream: int = TRAIN_STREAM) -> np.random.Generator:
    """The generator of one example's mask: a function of its coordinates only."""
    return np.random.default_rng([seed, stream, epoch, index])


@dataclass(frozen=True)
class Masker:
    """Masks `Sequence`s for one vocabulary."""

    mask_id: int
    replacement_ids: np.ndarray  # the vocabulary without special tokens: what a random replacement draws from
    probability: float = 0.15
    whole_word: bool = True

    def mask(self, sequence: Sequence, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """(input ids with the masks applied, labels: the original id at targets, IGNORE elsewhere)."""
        ids = list(sequence.input_ids)
        labels = [IGNORE] * len(ids)
        units = _units(sequence.word_ids, self.whole_word)
        if not units:
            return ids, labels
        chosen = np.flatnonzero(rng.random(len(units)) < self.probability)
        if chosen.size == 0:
            chosen = np.array([rng.integers(len(units))])
        for unit in chosen:
            positions = units[unit]
            draw = rng.random()
            for position in positions:
                labels[position] = ids[position]
            if draw < MASK_SHARE:
                for position in positions:
                    ids[position] = self.mask_id
            elif draw < MASK_SHARE + RANDOM_SHARE:
                for position, token in zip(positions, rng.choice(self.replacement_ids, size=len(positions))):
                    ids[position] = int(token)
        return ids, labels


def _units(word_ids: tuple[int, ...], whole_word: bool) -> list[list[int]]:
    """Positions grouped into masking units: words (in order), or single subwords."""
    groups: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        if word != NO_WORD:
            groups.setdefault(word if whole_word else position, []).append(position)
    return list(groups.values())


def masker_for(tokenizer: PreTrainedTokenizerBase, probability: float, whole_word: bool) -> Masker:
    """The masker of a tokenizer: its mask token, and its non-special ids as random replacements."""
    if tokenizer.mask_token_id is None:
        raise BiotuneError(f"tokenizer {tokenizer.name_or_path!r} has no mask token: it cannot be pretrained "
                           "with masked-language modelling")
    special = set(tokenizer.all_special_ids)
    replacement = np.array([i for i in range(len(tokenizer)) if i not in special])
    return Masker(tokenizer.mask_token_id, replacement, probability, whole_word)
