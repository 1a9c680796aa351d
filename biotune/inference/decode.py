"""Constrained BIO decoding.

Per-word argmax can produce `I-X` after `O` or after another type; strict span scoring then
sees broken spans. Instead the best *valid* BIO sequence is found with Viterbi over the
words' log-probabilities, where `I-X` may only follow `B-X` or `I-X` (and cannot start a
sentence). With a softmax head the result equals argmax whenever argmax is already valid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def transition_mask(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(allowed[prev, cur], allowed_at_start[cur]) for BIO labels."""
    n = len(labels)
    allowed = np.ones((n, n), dtype=bool)
    start = np.ones(n, dtype=bool)
    for j, cur in enumerate(labels):
        if cur.startswith("I-"):
            start[j] = False
            for i, prev in enumerate(labels):
                allowed[i, j] = prev[2:] == cur[2:] and prev[:2] in ("B-", "I-")
    return allowed, start


def viterbi(log_probs: np.ndarray, allowed: np.ndarray, start: np.ndarray) -> list[int]:
    """Best label index sequence under the mask. `log_probs` is (words, labels)."""
    n_words = log_probs.shape[0]
    if n_words == 0:
        return []
    penalty = np.where(allowed, 0.0, -np.inf)  # (labels, labels)
    score = np.where(start, log_probs[0], -np.inf)  # (labels,)
    back = np.zeros((n_words, log_probs.shape[1]), dtype=np.int64)
    for t in range(1, n_words):
        total = score[:, None] + penalty  # (prev, cur)
        back[t] = total.argmax(axis=0)
        score = total.max(axis=0) + log_probs[t]
    path = [int(score.argmax())]
    for t in range(n_words - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]
