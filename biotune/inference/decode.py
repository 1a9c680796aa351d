"""Constrained BIO decoding.

Per-word argmax can produce `I-X` after `O` or after another type; strict span scoring then
sees broken spans. Instead the best *valid* BIO sequence is found with Viterbi over the
words' log-probabilities, where `I-X` may only follow `B-X` or `I-X` (and cannot start a
sentence). With a softmax head the result equals argmax whenever argmax is already valid.

With a CRF head the same Viterbi adds the learned transition, start and end scores
(`LearnedScores`) to the words' scores, and `marginals` gives each word's posterior tag
probabilities under the chain (forward-backward). Word scores may be log-probabilities or raw
logits: a per-word constant shift changes neither the best path nor the marginals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LearnedScores:
    """A CRF head's transition (`from`, `to`), start and end scores."""

    transitions: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def from_mapping(cls, scores: Mapping[str, Sequence]) -> LearnedScores:
        return cls(*(np.asarray(scores[k], dtype=np.float64) for k in ("transitions", "start", "end")))


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


def _chain(allowed: np.ndarray, start: np.ndarray, learned: LearnedScores | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(transition, start, end) scores: the learned ones (or 0) where BIO allows, -inf elsewhere."""
    n = allowed.shape[0]
    trans, first, last = (learned.transitions, learned.start, learned.end) if learned else (np.zeros((n, n)), np.zeros(n), np.zeros(n))
    return np.where(allowed, trans, -np.inf), np.where(start, first, -np.inf), last


def viterbi(log_probs: np.ndarray, allowed: np.ndarray, start: np.ndarray, learned: LearnedScores | None = None) -> list[int]:
    """Best label index sequence under the mask (plus a CRF's learned scores). `log_probs` is (words, labels)."""
    n_words = log_probs.shape[0]
    if n_words == 0:
        return []
    penalty, first, last = _chain(allowed, start, learned)  # (labels, labels), (labels,), (labels,)
    score = first + log_probs[0]  # (labels,)
    back = np.zeros((n_words, log_probs.shape[1]), dtype=np.int64)
    for t in range(1, n_words):
        total = score[:, None] + penalty  # (prev, cur)
        back[t] = total.argmax(axis=0)
        score = total.max(axis=0) + log_probs[t]
    path = [int((score + last).argmax())]
    for t in range(n_words - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def marginals(scores: np.ndarray, allowed: np.ndarray, start: np.ndarray, learned: LearnedScores | None = None) -> np.ndarray:
    """(words, labels) posterior probability of each tag at each word, over the valid paths of the chain."""
    n_words = scores.shape[0]
    if n_words == 0:
        return np.zeros_like(scores)
    penalty, first, last = _chain(allowed, start, learned)
    alpha = np.empty_like(scores, dtype=np.float64)
    beta = np.empty_like(scores, dtype=np.float64)
    alpha[0] = first + scores[0]
    for t in range(1, n_words):
        alpha[t] = np.logaddexp.reduce(alpha[t - 1][:, None] + penalty, axis=0) + scores[t]
    beta[-1] = last
    for t in range(n_words - 2, -1, -1):
        beta[t] = np.logaddexp.reduce(penalty + (scores[t + 1] + beta[t + 1])[None, :], axis=1)
    joint = alpha + beta
    return np.exp(joint - np.logaddexp.reduce(joint, axis=1, keepdims=True))
