"""Token-budget batches: rows x longest row within the budget, every index once, nothing cut."""

from __future__ import annotations

import pytest

from biotune.models.batches import cut_sorted, rows_within, token_batches

LENGTHS = [512, 30, 40, 512, 35, 600, 31, 200, 220, 33]


def padded(batch: list[int], lengths: list[int]) -> int:
    return len(batch) * max(lengths[i] for i in batch)


def test_batches_keep_to_the_budget_and_hold_every_index_once() -> None:
    batches = token_batches(LENGTHS, max_rows=4, max_tokens=1024)
    assert sorted(i for batch in batches for i in batch) == list(range(len(LENGTHS)))
    # sorted: 30 31 33 35 | 40 200 220 | 512 512 | 600: the row cap ends the first batch, the budget the others
    assert [padded(b, LENGTHS) for b in batches] == [4 * 35, 3 * 220, 2 * 512, 600]
    assert batches[0] == [1, 6, 9, 4]


def test_a_window_longer_than_the_budget_is_a_batch_of_its_own() -> None:
    assert token_batches([700, 10], max_rows=8, max_tokens=512) == [[1], [0]]


def test_without_a_budget_batches_have_max_rows() -> None:
    assert [len(b) for b in token_batches(LENGTHS, max_rows=4, max_tokens=None)] == [4, 4, 2]


def test_the_cuts_depend_on_the_lengths_only_not_on_the_order_of_ties() -> None:
    lengths = [10, 10, 10, 20, 20, 20, 20]
    one = cut_sorted([0, 1, 2, 3, 4, 5, 6], lengths, max_rows=8, max_tokens=60)
    other = cut_sorted([2, 0, 1, 6, 3, 5, 4], lengths, max_rows=8, max_tokens=60)
    assert [len(b) for b in one] == [len(b) for b in other] == [3, 3, 1]


@pytest.mark.parametrize(("rows", "budget", "longest", "expected"),
                         [(32, 16384, 512, 32), (32, 8192, 512, 16), (32, 100, 512, 1), (32, None, 512, 32)])
def test_random_batches_get_the_rows_the_longest_window_allows(rows: int, budget: int | None, longest: int,
                                                               expected: int) -> None:
    assert rows_within(rows, budget, longest) == expected
