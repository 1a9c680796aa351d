"""Training batches cut by a token budget (`training.batch_tokens`) from length-sorted windows.

Every epoch the windows are sorted by length, ties in a random order, and cut into batches of at
most `batch_size` rows and `batch_tokens` padded subwords (`biotune.models.batches`); the batches
then come in a random order. The cuts depend only on the sorted sequence of lengths, so every epoch
has the same number of batches of the same sizes (the Trainer sizes its schedule from it), while
which windows of a length share a batch changes from epoch to epoch.

The order is drawn from the global torch RNG when an epoch starts, as the Trainer's own
length-grouped sampler does, so a resumed run that restores the epoch's RNG state
(`biotune.training.trainer.EpochStartRng`) sees the same batches as one that never stopped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from biotune.models.batches import cut_sorted, token_batches


class TokenBudgetBatches(Sampler[list[int]]):
    """Batches of feature indexes within a row and token budget, shuffled per epoch (module docstring)."""

    def __init__(self, lengths: Sequence[int], max_rows: int, max_tokens: int | None) -> None:
        self.lengths = list(lengths)
        self.max_rows = max_rows
        self.max_tokens = max_tokens
        self.count = len(token_batches(self.lengths, max_rows, max_tokens))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[list[int]]:
        ties = torch.randperm(len(self.lengths)).tolist()
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], ties[i]))
        batches = cut_sorted(order, self.lengths, self.max_rows, self.max_tokens)
        for k in torch.randperm(len(batches)).tolist():
            yield batches[k]

    def padded_tokens(self) -> int:
        """Subwords one epoch feeds the model, padding included (rows x longest row, summed over batches)."""
        return sum(len(batch) * self.lengths[batch[-1]] for batch in token_batches(self.lengths, self.max_rows,
                                                                                     self.max_tokens))
