"""Words -> subwords, labels on the first subword, sliding windows.

This is the single alignment used by training, evaluation and prediction, so the three can
never disagree (the code biotune replaces used three tokenizers and two alignments).

Rules:
- Every word gets at least one subword: a word the tokenizer maps to nothing (a zero-width
  character, a control character) is represented by the unknown token, so it still receives a
  prediction and the word count never changes.
- The label of a word sits on its first subword; later subwords are ignored by the loss
  (-100) and never contribute to the word's prediction.
- A sentence longer than the window (``max_length`` subwords including special tokens) is cut
  into overlapping windows. Each word is *owned* by exactly one window, the one in which it
  has context on both sides where possible; only owned words are labelled (so every word
  counts once in the loss) and only owned words take their prediction from that window.
  Nothing is ever truncated silently: only a single word longer than a whole window loses
  its trailing subwords, which never carry its label anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.models.backbones import require_fast

IGNORE_INDEX = -100


@dataclass(frozen=True, slots=True)
class Window:
    """One model input cut from a sentence.

    `positions[k]` is the index in `input_ids` of the first subword of word
    `own_start + k`; the window owns words `[own_start, own_end)`.
    """

    sentence_index: int
    input_ids: list[int]
    own_start: int
    own_end: int
    positions: list[int]

    def labels(self, word_labels: Sequence[int]) -> list[int]:
        """Per-subword training labels: the owned words' labels on their first subword."""
        out = [IGNORE_INDEX] * len(self.input_ids)
        for k, pos in enumerate(self.positions):
            out[pos] = word_labels[self.own_start + k]
        return out


def word_pieces(tokenizer: PreTrainedTokenizerBase, batch: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """Subword ids of every word of every sentence in `batch` (one tokenizer call for all)."""
    require_fast(tokenizer)
    sentences = [list(tokens) for tokens in batch]
    pieces: list[list[list[int]]] = [[[] for _ in s] for s in sentences]
    nonempty = [i for i, s in enumerate(sentences) if s]
    if nonempty:
        enc = tokenizer(
            [sentences[i] for i in nonempty],
            is_split_into_words=True,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        for row, i in enumerate(nonempty):
            for token_id, word in zip(enc["input_ids"][row], enc.word_ids(row)):
                if word is not None:
                    pieces[i][word].append(token_id)
    unk = tokenizer.unk_token_id
    if unk is None:
        unk = tokenizer.pad_token_id
    for sentence in pieces:
        for word in sentence:
            if not word:
                word.append(unk)
    return pieces


def plan_windows(lengths: Sequence[int], budget: int) -> list[tuple[int, int, int, int]]:
    """Cut words of the given subword `lengths` into windows of at most `budget` subwords.

    Returns `(start, end, own_start, own_end)` word ranges. Owned ranges partition the
    sentence in order. A quarter of the budget on each side is reserved for context, so an
    owned word far from the sentence edges always sees at least `budget // 4` subwords of
    context on both sides. A word longer than the budget gets a window of its own.
    """
    n = len(lengths)
    if sum(lengths) <= budget:
        return [(0, n, 0, n)]
    context = budget // 4
    plans = []
    own_start = 0
    while own_start < n:
        start, used = own_start, 0
        while start > 0 and used + lengths[start - 1] <= context:
            start -= 1
            used += lengths[start]
        if used + lengths[own_start] > budget:
            start, used = own_start, 0
        if used + sum(lengths[own_start:]) <= budget:
            plans.append((start, n, own_start, n))
            break
        own_end = own_start
        while own_end < n and (own_end == own_start or used + lengths[own_end] <= budget - context):
            used += lengths[own_end]
            own_end += 1
        end = own_end
        while end < n and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        plans.append((start, end, own_start, own_end))
        own_start = own_end
    return plans


class Aligner:
    """Turns token lists into model windows for one tokenizer and window size."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int = 128) -> None:
        require_fast(tokenizer)
        # The special tokens around a single sequence, read off the tokenizer's own template
        # (e.g. [CLS] ... [SEP] for BERT, <s> ... </s> for RoBERTa).
        probe = tokenizer(["a"], is_split_into_words=True, add_special_tokens=True)
        words = probe.word_ids()
        first = words.index(0)
        last = len(words) - 1 - words[::-1].index(0)
        self.prefix_ids: list[int] = probe["input_ids"][:first]
        self.suffix_ids: list[int] = probe["input_ids"][last + 1 :]
        self.n_special = len(self.prefix_ids) + len(self.suffix_ids)
        if max_length <= self.n_special:
            raise BiotuneError(f"max_length {max_length} leaves no room for text next to {self.n_special} special tokens")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.budget = max_length - self.n_special

    def windows(self, batch: Sequence[Sequence[str]], first_index: int = 0) -> list[Window]:
        """All windows of all sentences in `batch` (no document context); sentence indices start at `first_index`."""
        out: list[Window] = []
        for offset, pieces in enumerate(word_pieces(self.tokenizer, batch)):
            if not pieces:
                continue
            for plan in plan_windows(self.lengths(pieces), self.budget):
                out.append(self.window(first_index + offset, pieces, plan))
        return out

    def lengths(self, pieces: Sequence[Sequence[int]]) -> list[int]:
        """Subwords each word takes in a window (a word longer than the whole budget is cut to it)."""
        return [min(len(p), self.budget) for p in pieces]

    def window(self, sentence_index: int, pieces: Sequence[Sequence[int]], plan: tuple[int, int, int, int],
               left: Sequence[int] = (), right: Sequence[int] = ()) -> Window:
        """The model input of one `plan_windows` plan of a sentence's word `pieces`.

        `left` and `right` are context subwords placed before and after the sentence's text
        (`biotune.tasks.ner.context`); they own no word, so they get no label and no prediction.
        """
        start, end, own_start, own_end = plan
        ids: list[int] = list(left)
        positions = []
        for w in range(start, end):
            if own_start <= w < own_end:
                positions.append(len(self.prefix_ids) + len(ids))
            ids.extend(pieces[w][: self.budget])
        ids.extend(right)
        return Window(sentence_index=sentence_index, input_ids=self.prefix_ids + ids + self.suffix_ids,
                      own_start=own_start, own_end=own_end, positions=positions)

    def subword_length(self, tokens: Sequence[str]) -> int:
        """Subwords the sentence needs including special tokens (for `check-data`)."""
        return sum(len(p) for p in word_pieces(self.tokenizer, [tokens])[0]) + self.n_special
