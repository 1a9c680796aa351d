"""NER's loss: per-token cross-entropy (softmax head) or CRF negative log-likelihood, weighted
per example, with the partial-label O of sources that do not annotate every type.

Reduction is per token: sum over labelled words of weight * loss, divided by the number of
labelled words in the batch. It is the same for every training strategy, so losses are
comparable across them. With a CRF head the sequence's negative log-likelihood replaces the
sum of its words' cross-entropies, with the same weight and the same divisor.
"""

from __future__ import annotations

import torch

from biotune.tasks.ner.crf import CRF


def weighted_token_loss(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor,
                        o_allowed: torch.Tensor | None = None, o_id: int = 0) -> torch.Tensor:
    """Mean over labelled tokens of weight[example] * negative log-likelihood.

    logits (B, T, L), labels (B, T) with -100 = ignored, weight (B,), o_allowed (B, L) bool.
    A token labelled `o_id` scores -log P(any label in o_allowed[example]) (the partial-label
    loss of `features.o_alternatives`); with o_allowed = {O} that is plain cross-entropy.
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (B, T, L)
    labelled = labels != -100
    nll = -log_probs.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)  # (B, T)
    if o_allowed is not None:
        masked = log_probs.masked_fill(~o_allowed[:, None, :], float("-inf"))  # (B, T, L)
        nll = torch.where(labels == o_id, -torch.logsumexp(masked, dim=-1), nll)
    weighted = nll * weight.to(nll.dtype)[:, None]
    return weighted[labelled].sum() / labelled.sum().clamp(min=1)


def weighted_crf_loss(crf: CRF, logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor,
                      o_allowed: torch.Tensor | None = None, o_id: int = 0) -> torch.Tensor:
    """Sum over windows of weight[example] * CRF negative log-likelihood, per labelled token.

    The allowed tags of a word are its label; for a word labelled `o_id`, `o_allowed[example]`
    (partial labels, as in `weighted_token_loss`).
    """
    allowed = torch.nn.functional.one_hot(labels.clamp(min=0), logits.shape[-1]).bool()  # (B, T, L)
    if o_allowed is not None:
        allowed = torch.where((labels == o_id)[..., None], o_allowed[:, None, :], allowed)
    nll = crf.nll(logits, labels, allowed)  # (B,)
    return (nll * weight.to(nll.dtype)).sum() / (labels != -100).sum().clamp(min=1)
