"""Training batches within `training.batch_tokens`: a fixed count per epoch (the Trainer's schedule), every
feature once an epoch, new company among equal lengths from epoch to epoch, and the order drawn from the
global torch RNG (what a resumed epoch restores)."""

from __future__ import annotations

import torch

from biotune.training.batches import TokenBudgetBatches

LENGTHS = [8] * 12 + [16] * 6 + [64, 64]


def test_every_epoch_has_the_same_batch_sizes_and_every_feature_once() -> None:
    sampler = TokenBudgetBatches(LENGTHS, max_rows=4, max_tokens=64)
    torch.manual_seed(0)
    epochs = [list(sampler) for _ in range(3)]
    for batches in epochs:
        assert len(batches) == len(sampler) == 3 + 2 + 2  # 12 of 8 in fours, 6 of 16 in fours and twos, 64s alone
        assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
        assert all(len(b) * max(LENGTHS[i] for i in b) <= 64 for b in batches)
        assert sorted(len(b) for b in batches) == [1, 1, 2, 4, 4, 4, 4]
    assert {frozenset(b) for b in epochs[0]} != {frozenset(b) for b in epochs[1]}  # ties regrouped


def test_the_order_follows_the_global_torch_rng() -> None:
    sampler = TokenBudgetBatches(LENGTHS, max_rows=4, max_tokens=64)
    torch.manual_seed(5)
    first = list(sampler)
    torch.manual_seed(5)
    assert list(sampler) == first


def test_padded_tokens_count_rows_times_the_longest() -> None:
    assert TokenBudgetBatches([3, 5, 9], max_rows=2, max_tokens=None).padded_tokens() == 2 * 5 + 9
