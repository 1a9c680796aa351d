"""Batches bounded by a token budget: what every length-sorted batching loop cuts its batches with.

A batch costs memory and time in proportion to its padded size, rows x longest row (attention
adds a factor of the row length on top where it materialises its score matrix; see
`model.attention_dropout`). A fixed number of rows makes a batch of 512-subword windows 16 times
the size of one of 32-subword sentences; a budget on padded subwords keeps every batch of a
run, short or long, about equally large, so the peak memory is the budget's, whatever the data.

Rows are cut from windows sorted by length, so a batch holds windows of similar length and little
of it is padding. A window longer than the budget is a batch of its own: it is never cut.
"""

from __future__ import annotations

from collections.abc import Sequence


def token_batches(lengths: Sequence[int], max_rows: int, max_tokens: int | None) -> list[list[int]]:
    """Indexes of `lengths` in batches, in ascending length order (ties in index order): each batch has at
    most `max_rows` rows and, unless a single row exceeds it, at most `max_tokens` padded subwords (rows x
    its longest row); `max_tokens` None: `max_rows` rows each."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return cut_sorted(order, lengths, max_rows, max_tokens)


def cut_sorted(order: Sequence[int], lengths: Sequence[int], max_rows: int, max_tokens: int | None) -> list[list[int]]:
    """`order` (indexes of `lengths`, ascending by length) cut greedily into batches as `token_batches`
    describes: a batch grows while its rows times its newest (longest) row fit the budget. The cuts depend
    on the sequence of lengths only, so any order of equal-length windows gives the same batch sizes."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for index in order:
        rows = len(batch) + 1
        if batch and (rows > max_rows or (max_tokens is not None and rows * lengths[index] > max_tokens)):
            batches.append(batch)
            batch = []
        batch.append(index)
    if batch:
        batches.append(batch)
    return batches


def rows_within(max_rows: int, max_tokens: int | None, longest: int) -> int:
    """Rows per batch when batches are drawn at random rather than by length: as many as the budget allows
    for the longest window (at least one, at most `max_rows`), so that every batch keeps to it."""
    return max_rows if max_tokens is None else max(1, min(max_rows, max_tokens // max(longest, 1)))
