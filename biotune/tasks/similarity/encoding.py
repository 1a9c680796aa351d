"""Sentence pairs -> model inputs, as the head reads them, never truncated.

- ``cls`` (a cross-encoder) reads the pair as one input, ``[CLS] sentence1 [SEP] sentence2 [SEP]``,
  encoded as the tokenizer encodes a text pair (`transformers.pipeline` given ``{"text": ...,
  "text_pair": ...}`` builds the same ids), so a saved model reads in any pipeline exactly what
  training fed it.
- ``biencoder`` reads each sentence alone, ``[CLS] sentence [SEP]``, as sentence-transformers
  encodes a sentence: the two never attend to each other, and each is compared by its embedding.

Nothing is cut: the words a truncation would drop may be the very ones that make two sentences
differ, and there is no window to slide, since the score is of the whole pair. An input longer
than `max_length` (the pair for ``cls``, either sentence for ``biencoder``) is a `BiotuneError`
naming the first such pair, how many do not fit and what this backbone allows
(`too_long_message`): the max_length that holds them all when the backbone has that many
positions, else that no input of this model holds them whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.tasks.similarity.examples import SentencePair

# Whether each head reads the two sentences as separate inputs (`biencoder`) or as one text pair.
READS_SEPARATELY = {"cls": False, "biencoder": True}
# What a too-long input is called: the pair read as one input, or the sentence read alone.
PART_NAMES = {False: ("the sentence pair",), True: ("sentence1", "sentence2")}
# The suffix of each part's tensors in a batch (`predict.pad`) and so of the model's forward arguments:
# ``input_ids``, ``attention_mask``, ... for the first, ``input_ids_2``, ... for the second sentence.
PART_SUFFIXES = ("", "_2")


@dataclass(frozen=True, slots=True)
class TextInput:
    """One encoded input: its subword ids and, where the backbone has them, segment ids."""

    input_ids: list[int]
    token_type_ids: list[int] | None

    def fields(self) -> dict[str, list[int]]:
        """The fields `tokenizer.pad` reads."""
        return {"input_ids": self.input_ids, **({"token_type_ids": self.token_type_ids}
                                                 if self.token_type_ids is not None else {})}


@dataclass(frozen=True, slots=True)
class PairInput:
    """One pair as its head reads it: one text-pair input, or each sentence's own input (in order)."""

    parts: tuple[TextInput, ...]

    @property
    def input_ids(self) -> list[int]:
        """Every subword the model reads for the pair, parts in order: what training sorts, budgets
        and counts its batches by (the trainer reads a feature's `input_ids` for its length)."""
        return [i for part in self.parts for i in part.input_ids]

    def longest(self) -> tuple[str, int]:
        """The longest part's name (`PART_NAMES`; sentence1 on a tie) and its subwords: what must fit max_length."""
        names = PART_NAMES[len(self.parts) > 1]
        return max(zip(names, (len(part.input_ids) for part in self.parts)), key=lambda found: found[1])


def encode_pairs(pairs: Sequence[SentencePair], tokenizer: PreTrainedTokenizerBase, max_length: int | None,
                 positions: int | None, separately: bool) -> list[PairInput]:
    """Every pair's input, in order, the sentences `separately` or as one text pair; raises when an
    input is longer than `max_length` (None: no limit).

    `positions` is the most subwords the backbone reads (`models.backbones.position_limit`), so
    the advice never names a max_length the model cannot take."""
    if not pairs:
        return []
    if separately:
        firsts, seconds = (_encode(tokenizer, [getattr(p, key) for p in pairs]) for key in ("sentence1", "sentence2"))
        inputs = [PairInput((first, second)) for first, second in zip(firsts, seconds)]
    else:
        inputs = [PairInput((part,)) for part in _encode(tokenizer, [p.sentence1 for p in pairs],
                                                         [p.sentence2 for p in pairs])]
    if max_length is not None:
        longest = [item.longest() for item in inputs]
        too_long = [(pair, part, n) for pair, (part, n) in zip(pairs, longest) if n > max_length]
        if too_long:
            raise BiotuneError(too_long_message(too_long, len(pairs), max_length, positions))
    return inputs


def _encode(tokenizer: PreTrainedTokenizerBase, texts: list[str], pairs: list[str] | None = None) -> list[TextInput]:
    """Each text (with its `pairs` text as the second segment, if given) encoded whole, special tokens included."""
    encoded = tokenizer(texts, pairs, truncation=False, padding=False)
    types = encoded.get("token_type_ids")
    return [TextInput(ids, types[k] if types is not None else None) for k, ids in enumerate(encoded["input_ids"])]


def too_long_message(too_long: Sequence[tuple[SentencePair, str, int]], total: int, max_length: int,
                     positions: int | None) -> str:
    """Why pairs do not fit and what can be done with this backbone (never a max_length above `positions`).

    `too_long` holds each such pair with what of it is too long (`PairInput.longest`) and its subwords."""
    pair, part, length = too_long[0]
    needed = max(n for _, _, n in too_long)
    unit = "a pair" if part == PART_NAMES[False][0] else "a sentence"
    head = (f"{pair.where}: {part} is {length} subwords with its special tokens, more than max_length "
            f"{max_length}; {len(too_long)} of {total} pairs do not fit, and {unit} is never cut (the words cut "
            "could be the ones that make the sentences differ)")
    if positions is None or needed <= positions:
        return f"{head}: model.max_length {needed} fits them all, raise model.max_length"
    unreadable = sum(n > positions for _, _, n in too_long)
    fits = len(too_long) - unreadable
    raise_first = f"model.max_length {positions} (this backbone's most) fits {fits} of them; " if fits else ""
    return (f"{head}: {raise_first}{unreadable} are longer than the {positions} positions this backbone reads, so no "
            "input of this model holds them whole: remove such pairs (or shorten their sentences), or use a "
            "backbone with more positions")
