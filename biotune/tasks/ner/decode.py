"""Constrained BIO decoding.

Per-word argmax can produce `I-X` after `O` or after another type; strict span scoring then
sees broken spans. Instead the best *valid* BIO sequence is found with Viterbi over the
words' log-probabilities, where `I-X` may only follow `B-X` or `I-X` (and cannot start a
sentence). With a softmax head the result equals argmax whenever argmax is already valid.

With a CRF head the same Viterbi adds the learned transition, start and end scores
(`LearnedScores`) to the words' scores, and `marginals` gives each word's posterior tag
probabilities under the chain (forward-backward). Word scores may be log-probabilities or raw
logits: a per-word constant shift changes neither the best path nor the marginals.

`viterbi` and `marginals` decode one sentence in numpy: the reference. `decode_batch` runs
the same recursions in torch over a padded batch of sentences of any lengths, on any device,
so a GPU tagger decodes where its scores are instead of waiting on a per-sentence Python loop
(and on CPU one loop over word positions replaces one per sentence). It computes in float64
with the reference's order of operations and its first-maximum tie rule, so its paths are the
reference's exactly and its marginals equal them to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch


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


def _padded(scores: Sequence[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, words, labels) float64 scores, zero-padded, and the (batch,) lengths, on `device`."""
    width = max(len(s) for s in scores)
    padded = np.zeros((len(scores), width, scores[0].shape[1]), dtype=np.float64)
    for row, s in enumerate(scores):
        padded[row, : len(s)] = s
    lengths = torch.tensor([len(s) for s in scores], device=device)
    return torch.from_numpy(padded).to(device), lengths


def _viterbi_torch(scores: torch.Tensor, lengths: torch.Tensor, penalty: torch.Tensor, first: torch.Tensor,
                   last: torch.Tensor) -> torch.Tensor:
    """(batch, words) best paths of a padded batch (entries past a sentence's length are meaningless)."""
    batch, width, n = scores.shape
    score = first + scores[:, 0]  # (batch, labels)
    back = torch.zeros((batch, width, n), dtype=torch.long, device=scores.device)
    for t in range(1, width):
        best, back[:, t] = (score[:, :, None] + penalty).max(dim=1)  # over prev: (batch, cur)
        score = torch.where((t < lengths)[:, None], best + scores[:, t], score)
    current = (score + last).argmax(dim=1)  # (batch,): the tag at each sentence's last word
    path = torch.empty((batch, width), dtype=torch.long, device=scores.device)
    for t in range(width - 1, -1, -1):
        if t < width - 1:
            before = back[:, t + 1].gather(1, current[:, None]).squeeze(1)
            current = torch.where(t < lengths - 1, before, current)
        path[:, t] = current
    return path


def _marginals_torch(scores: torch.Tensor, lengths: torch.Tensor, penalty: torch.Tensor, first: torch.Tensor,
                     last: torch.Tensor) -> torch.Tensor:
    """(batch, words, labels) posteriors of a padded batch by forward-backward (padding rows meaningless)."""
    width = scores.shape[1]
    alpha = torch.empty_like(scores)
    beta = torch.empty_like(scores)
    alpha[:, 0] = first + scores[:, 0]
    for t in range(1, width):
        alpha[:, t] = torch.logsumexp(alpha[:, t - 1, :, None] + penalty, dim=1) + scores[:, t]
    beta[:, width - 1] = last
    for t in range(width - 2, -1, -1):
        after = torch.logsumexp(penalty + (scores[:, t + 1] + beta[:, t + 1])[:, None, :], dim=2)
        beta[:, t] = torch.where((t < lengths - 1)[:, None], after, last)
    joint = alpha + beta
    return torch.exp(joint - torch.logsumexp(joint, dim=2, keepdim=True))


def decode_batch(
    scores: Sequence[np.ndarray],
    allowed: np.ndarray,
    start: np.ndarray,
    learned: LearnedScores | None = None,
    with_marginals: bool = False,
    device: torch.device | str = "cpu",
    batch_size: int = 1024,
) -> list[tuple[list[int], np.ndarray]]:
    """For each (words, labels) score array: its best valid path and the probability of each chosen tag.

    The probability is the tag's marginal under the chain with `with_marginals` (a CRF head), else
    `exp(score)` (a softmax head's log-probabilities). Sentences are decoded `batch_size` at a
    time in length order (little padding) on `device`; empty sentences give `([], [])`.
    """
    device = torch.device(device)
    chain = [torch.as_tensor(a, dtype=torch.float64, device=device) for a in _chain(allowed, start, learned)]
    out: list[tuple[list[int], np.ndarray]] = [([], np.zeros(0)) for _ in scores]
    order = sorted((i for i, s in enumerate(scores) if len(s)), key=lambda i: len(scores[i]))
    for b in range(0, len(order), batch_size):
        rows = order[b : b + batch_size]
        padded, lengths = _padded([scores[i] for i in rows], device)
        paths = _viterbi_torch(padded, lengths, *chain)  # (batch, words)
        source = _marginals_torch(padded, lengths, *chain) if with_marginals else padded.exp()
        chosen = source.gather(2, paths[:, :, None]).squeeze(2).cpu().numpy()  # (batch, words)
        paths_cpu = paths.cpu().numpy()
        for row, i in enumerate(rows):
            n = len(scores[i])
            out[i] = (paths_cpu[row, :n].tolist(), chosen[row, :n])
    return out
