"""(question, context) pairs -> model windows with a stride over the context, never truncated.

As Hugging Face's `run_qa.py` prepares features: the tokenizer's `truncation="only_second"`
with `return_overflowing_tokens` and `stride` cuts a long context into windows that overlap
by `stride` subwords, each window holding the whole question; `offset_mapping` maps every
context subword back to its characters. Unlike `run_qa.py`, a question too long to leave room
for the context in a window is an error naming the item, never a silently shortened question.

Training targets (`starts`/`ends`): every gold answer that lies wholly inside a window's
context part, as token positions; a window holding none points at the first token (``[CLS]``),
as SQuAD v1 training does for windows without the answer. An answer that straddles two windows
is a target of the window that holds it whole: the stride is what makes such a window exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: `example` indexes the pairs it was cut from; `offsets[i]` is the context
    character span of subword i, None for question and special tokens."""

    example: int
    input_ids: list[int]
    token_type_ids: list[int] | None
    offsets: list[tuple[int, int] | None]
    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()


def cut_windows(questions: Sequence[str], contexts: Sequence[str], tokenizer: PreTrainedTokenizerBase,
                max_length: int, stride: int, answers: Sequence[Sequence[tuple[int, int]]] | None = None,
                names: Sequence[str] | None = None) -> list[Window]:
    """Windows of every (question, context) pair, in pair order; `answers` (character spans per
    pair) fill the training targets. `names` label the pairs in errors (default: their index)."""
    if not questions:
        return []
    check_room(questions, tokenizer, max_length, stride, names)
    encoded = tokenizer(list(questions), list(contexts), truncation="only_second", max_length=max_length,
                        stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    windows = []
    for k, example in enumerate(encoded["overflow_to_sample_mapping"]):
        sequence_ids = encoded.sequence_ids(k)
        offsets = [tuple(span) if sequence == 1 else None for sequence, span in zip(sequence_ids, encoded["offset_mapping"][k])]
        starts, ends = _targets(offsets, answers[example]) if answers is not None else ((), ())
        windows.append(Window(example, encoded["input_ids"][k], encoded["token_type_ids"][k] if "token_type_ids" in encoded
                              else None, offsets, starts, ends))
    return windows


def check_room(questions: Sequence[str], tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int,
               names: Sequence[str] | None, positions: int | None = None) -> None:
    """Each window must hold the whole question, the special tokens and more context than the stride.

    The advice names only what this backbone allows: a larger max_length up to its `positions`,
    else a smaller stride, else that no window of this model holds the question.
    """
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    lengths = [len(ids) for ids in tokenizer(list(questions), add_special_tokens=False)["input_ids"]]
    for k, length in enumerate(lengths):
        room = max_length - specials - length
        if room <= stride:
            name = names[k] if names is not None else str(k)
            needed = length + specials + stride + 1
            if positions is None or needed <= positions:
                advice = f"raise model.max_length to at least {needed} or lower qa.stride"
            elif positions - specials - length > 1:
                advice = (f"this backbone reads at most {positions} positions: lower qa.stride below "
                          f"{positions - specials - length} (with model.max_length {positions})")
            else:
                advice = (f"no window of this backbone ({positions} positions) holds the question with any context: "
                          "shorten or remove it, or use a backbone with more positions")
            raise BiotuneError(f"item {name}: the question is {length} subwords, which leaves {max(room, 0)} of "
                               f"model.max_length {max_length} for the context, not more than qa.stride {stride}; "
                               f"{advice}")


def _targets(offsets: Sequence[tuple[int, int] | None], answers: Sequence[tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Token positions of the answers wholly inside this window; ((0,), (0,)) when none is."""
    inside = [i for i, span in enumerate(offsets) if span is not None]
    if not inside:
        return (0,), (0,)
    first, last = offsets[inside[0]], offsets[inside[-1]]
    starts, ends = [], []
    for start, end in answers:
        if start < first[0] or end > last[1]:  # type: ignore[index]
            continue
        token_start = next(i for i in inside if offsets[i][1] > start)  # type: ignore[index]
        token_end = next(i for i in reversed(inside) if offsets[i][0] < end)  # type: ignore[index]
        if token_start <= token_end and (token_start, token_end) not in zip(starts, ends):
            starts.append(token_start)
            ends.append(token_end)
    return (tuple(starts), tuple(ends)) if starts else ((0,), (0,))
