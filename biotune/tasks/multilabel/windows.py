"""Texts -> model windows, never truncated: a text longer than `max_length` subwords is read in
overlapping windows (the tokenizer's `return_overflowing_tokens` with a `stride` of shared
subwords), each with the special tokens.

Why windows and not a refusal: a hallmark shown anywhere in a text is shown by the text, so a
long text's label probabilities are the maximum over its windows (`predict`), the same union
rule that makes an abstract's labels from its sentences'. Training gives every window of a
long text the text's labels, its weight shared among them, so a long text counts once.
`check-data` says how many texts need more than one window; HoC's sentences fit 256 subwords.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True, slots=True)
class Window:
    """One model input; `example` indexes the texts it was cut from."""

    example: int
    input_ids: list[int]


def default_stride(max_length: int, tokenizer: PreTrainedTokenizerBase) -> int:
    """Subwords consecutive windows share: a quarter of a window's text part."""
    return (max_length - tokenizer.num_special_tokens_to_add(pair=False)) // 4


def cut_windows(texts: Sequence[str], tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int) -> list[Window]:
    """Every window of every text, in text order (a text's windows in reading order)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, stride=stride,
                        return_overflowing_tokens=True, padding=False)
    return [Window(example, ids) for example, ids in zip(encoded["overflow_to_sample_mapping"], encoded["input_ids"])]
