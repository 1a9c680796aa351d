"""Sentence pairs -> model inputs: ``[CLS] sentence1 [SEP] sentence2 [SEP]``, never truncated.

The pair is encoded as the tokenizer encodes a text pair (`transformers.pipeline` given
``{"text": ..., "text_pair": ...}`` builds the same ids), so a saved model reads in any
pipeline exactly what training fed it. Nothing is cut: the words a truncation would drop may be
the very ones that make two sentences differ, and there is no window to slide, since the score
is of the whole pair. A pair longer than `max_length` is a `BiotuneError` naming the first such
pair, how many do not fit and what this backbone allows (`too_long_message`): the max_length
that holds them all when the backbone has that many positions, else that no input of this model
holds them whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.tasks.similarity.examples import SentencePair


@dataclass(frozen=True, slots=True)
class PairInput:
    """One pair's model input: its subword ids and, where the backbone has them, segment ids."""

    input_ids: list[int]
    token_type_ids: list[int] | None

    def fields(self) -> dict[str, list[int]]:
        """The fields `tokenizer.pad` reads."""
        return {"input_ids": self.input_ids, **({"token_type_ids": self.token_type_ids}
                                                 if self.token_type_ids is not None else {})}


def encode_pairs(pairs: Sequence[SentencePair], tokenizer: PreTrainedTokenizerBase, max_length: int | None,
                 positions: int | None) -> list[PairInput]:
    """Every pair's input, in order; raises when one is longer than `max_length` (None: no limit).

    `positions` is the most subwords the backbone reads (`models.backbones.position_limit`), so
    the advice never names a max_length the model cannot take."""
    if not pairs:
        return []
    encoded = tokenizer([p.sentence1 for p in pairs], [p.sentence2 for p in pairs], truncation=False, padding=False)
    types = encoded.get("token_type_ids")
    inputs = [PairInput(ids, types[k] if types is not None else None) for k, ids in enumerate(encoded["input_ids"])]
    if max_length is not None:
        too_long = [(pair, len(item.input_ids)) for pair, item in zip(pairs, inputs) if len(item.input_ids) > max_length]
        if too_long:
            raise BiotuneError(too_long_message(too_long, len(pairs), max_length, positions))
    return inputs


def too_long_message(too_long: Sequence[tuple[SentencePair, int]], total: int, max_length: int,
                     positions: int | None) -> str:
    """Why pairs do not fit and what can be done with this backbone (never a max_length above `positions`)."""
    pair, length = too_long[0]
    needed = max(n for _, n in too_long)
    head = (f"{pair.where}: the sentence pair is {length} subwords with its special tokens, more than max_length "
            f"{max_length}; {len(too_long)} of {total} pairs do not fit, and a pair is never cut (the words cut "
            "could be the ones that make the sentences differ)")
    if positions is None or needed <= positions:
        return f"{head}: model.max_length {needed} fits them all, raise model.max_length"
    unreadable = sum(n > positions for _, n in too_long)
    fits = len(too_long) - unreadable
    raise_first = f"model.max_length {positions} (this backbone's most) fits {fits} of them; " if fits else ""
    return (f"{head}: {raise_first}{unreadable} are longer than the {positions} positions this backbone reads, so no "
            "input of this model holds them whole: remove such pairs (or shorten their sentences), or use a "
            "backbone with more positions")
