"""A document's text -> sequences of at most `max_length` subwords, never crossing documents.

Choice: one document gives one or more sequences; sequences are never filled with a
neighbouring document's text. Concatenating short documents (as `run_mlm.py`'s `group_texts`
does) would make the model attend across unrelated abstracts and would blur the "within a
document" contract the NER document context relies on; the cost is padding, which the
collator keeps per batch. A document longer than the window is cut into consecutive
sequences at word boundaries (a word is never split between two sequences, so whole-word
masking sees whole words), except a single word longer than the window, which is cut hard.

Words are the tokenizer's pre-tokenizer words (`Encoding.word_ids`: for BERT, runs of
letters/digits and single punctuation marks), the unit Google's whole-word masking uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase

NO_WORD = -1  # word id of a special token


@dataclass(frozen=True, slots=True)
class Sequence:
    """One model input: token ids with special tokens, and each token's word number (NO_WORD for specials)."""

    input_ids: tuple[int, ...]
    word_ids: tuple[int, ...]


class Packer:
    """Cuts document texts into `Sequence`s for one tokenizer and window size."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        self.backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self.backend.no_truncation()  # a copy: the document is cut here, into several windows, not truncated;
        self.backend.no_padding()  # padding (sentence-transformers exports pad to 128) is the collator's
        self.prefix, self.suffix = _special_affixes(self.backend)
        self.body = max_length - len(self.prefix) - len(self.suffix)
        if self.body < 1:
            raise ValueError(f"max_length {max_length} leaves no room besides the special tokens")

    def sequences(self, text: str) -> Iterator[Sequence]:
        """The sequences of one document (none for a text without tokens)."""
        encoding = self.backend.encode(text, add_special_tokens=False)
        ids, words = encoding.ids, encoding.word_ids
        start = 0
        while start < len(ids):
            end = cut(words, start, self.body)
            yield self._sequence(ids[start:end], words[start:end])
            start = end

    def _sequence(self, ids: list[int], words: list[int | None]) -> Sequence:
        numbers = _renumber(words)
        return Sequence((*self.prefix, *ids, *self.suffix),
                        (*[NO_WORD] * len(self.prefix), *numbers, *[NO_WORD] * len(self.suffix)))


def _special_affixes(backend: Tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The special tokens a single sequence starts and ends with ([CLS] / [SEP], <s> / </s>), read off
    the tokenizer's own post-processor (transformers 5's fast tokenizers have no
    `build_inputs_with_special_tokens`)."""
    encoding = backend.encode("a", add_special_tokens=True)
    inside = [i for i, word in enumerate(encoding.word_ids) if word is not None]
    return tuple(encoding.ids[:inside[0]]), tuple(encoding.ids[inside[-1] + 1:])


def cut(words: list[int | None], start: int, body: int) -> int:
    """End of the sequence starting at `start`: at most `body` tokens, backed off to a word start."""
    end = min(start + body, len(words))
    if end == len(words) or words[end] is None or words[end] != words[end - 1]:
        return end
    back = end - 1
    while back > start and words[back - 1] == words[end]:
        back -= 1
    return back if back > start else end  # a word longer than the window is cut hard


def _renumber(words: list[int | None]) -> list[int]:
    """Word ids counted from 0 within one sequence (a token without a word is its own word)."""
    out, previous, number = [], object(), -1
    for word in words:
        if word is None or word != previous:
            number += 1
        out.append(number)
        previous = word
    return out
