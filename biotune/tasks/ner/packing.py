"""Sentence packing: consecutive sentences share one model input, so each sees its neighbours.

Why: in an abstract the sentence before often explains a mention (an abbreviation defined
earlier, a drug named in full once); a model that sees neighbouring sentences recognises more
(cross-sentence context, Luoma and Pyysalo 2020). Packing consecutive windows (in input order)
until the window is full gives that context at no extra compute: the real subwords are the same,
padding shrinks, and attention over 128 positions is a small share of a step. Every sentence is
still owned once: its words take their labels and predictions from the one input it sits in.

Training, dev evaluation and prediction pack the same way (the checkpoint records it), so a
sentence is always seen with the kind of context it was trained with. Only windows with the
same `key` (e.g. the same source weight) are packed together.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass

from biotune.tasks.ner.align import IGNORE_INDEX, Aligner, Window


@dataclass(frozen=True, slots=True)
class Packed:
    """One model input holding the text of one or more consecutive windows.

    `shifts[k]` is added to `members[k].positions` to find that window's owned first subwords
    in `input_ids`.
    """

    input_ids: list[int]
    members: tuple[Window, ...]
    shifts: tuple[int, ...]

    def owned(self) -> Iterator[tuple[Window, list[int]]]:
        """(window, first-subword positions of its owned words in `input_ids`) per member."""
        for window, shift in zip(self.members, self.shifts):
            yield window, [p + shift for p in window.positions]

    def labels(self, word_labels: Sequence[Sequence[int]]) -> list[int]:
        """Per-subword training labels; `word_labels[k]` are the word labels of member k's sentence."""
        out = [IGNORE_INDEX] * len(self.input_ids)
        for (window, positions), labels in zip(self.owned(), word_labels):
            for k, pos in enumerate(positions):
                out[pos] = labels[window.own_start + k]
        return out


def pack_windows(windows: Sequence[Window], aligner: Aligner, enabled: bool = True,
                 key: Callable[[Window], Hashable] | None = None) -> list[Packed]:
    """Greedily merge consecutive windows while their text fits `aligner.max_length`.

    With `enabled=False` every window is its own input (no cross-sentence context).
    """
    n_prefix, n_suffix = len(aligner.prefix_ids), len(aligner.suffix_ids)
    out: list[Packed] = []
    group: list[Window] = []
    used = 0
    for window in windows:
        inner = len(window.input_ids) - n_prefix - n_suffix
        if group and (not enabled or used + inner > aligner.budget or (key is not None and key(window) != key(group[0]))):
            out.append(_merge(group, aligner))
            group, used = [], 0
        group.append(window)
        used += inner
    if group:
        out.append(_merge(group, aligner))
    return out


def _merge(group: Sequence[Window], aligner: Aligner) -> Packed:
    if len(group) == 1:
        return Packed(group[0].input_ids, (group[0],), (0,))
    n_prefix, n_suffix = len(aligner.prefix_ids), len(aligner.suffix_ids)
    ids = list(aligner.prefix_ids)
    shifts = []
    for window in group:
        shifts.append(len(ids) - n_prefix)
        ids.extend(window.input_ids[n_prefix : len(window.input_ids) - n_suffix])
    return Packed(ids + list(aligner.suffix_ids), tuple(group), tuple(shifts))
