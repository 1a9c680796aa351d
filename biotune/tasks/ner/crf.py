"""Linear-chain CRF over words: learned tag-transition scores on top of per-word emissions.

Why: a softmax head scores each word alone, so it can only be kept from invalid BIO
sequences at decoding time. A CRF trains the whole tag sequence (global normalisation) and
learns which tag follows which (`B-Chemical` -> `I-Chemical` is likely, `O` -> `I-Disease`
never occurs), so boundaries are learned jointly.

The chain runs over the words that carry a label in a training window (first subwords,
`labels != -100`), in order; the encoder's token-classification logits are the emissions.
Partial labels are native: the likelihood's numerator sums over every path that agrees with
each word's *set* of allowed tags (one tag for a labelled word; O or any type the source does
not annotate for an O of a partially annotated source), the denominator over all paths.
Document context (`ner.context`) adds unlabelled neighbour words to a window: they are not
in the chain, which always runs over the window's own sentence, in training as in prediction.

Saving: the scores are small (labels x labels), so a checkpoint keeps them in
`config.biotune["crf"]` rather than in the weights file; the folder stays a standard
token-classification model that `transformers.pipeline` loads (it then ignores transitions).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

SCORES = ("transitions", "start", "end")  # the CRF's parameters, by name, as a checkpoint stores them


class CRF(nn.Module):
    """Transition (`from`, `to`), start and end scores for `num_labels` tags."""

    def __init__(self, num_labels: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_labels, num_labels))  # (from, to)
        self.start = nn.Parameter(torch.zeros(num_labels))
        self.end = nn.Parameter(torch.zeros(num_labels))

    def scores(self) -> dict[str, list]:
        """The learned scores as plain lists (what a checkpoint's config stores)."""
        return {name: getattr(self, name).detach().float().cpu().tolist() for name in SCORES}

    @classmethod
    def from_scores(cls, scores: Mapping[str, list]) -> CRF:
        crf = cls(len(scores["start"]))
        with torch.no_grad():
            for name in SCORES:
                getattr(crf, name).copy_(torch.tensor(scores[name], dtype=torch.float32))
        return crf

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log sum over paths of exp(path score), per sequence: emissions (B, W, L), mask (B, W) -> (B,)."""
        trans = self.transitions.float()
        alpha = self.start.float() + emissions[:, 0]  # (B, L)
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + trans[None], dim=1) + emissions[:, t]  # (B, L)
            alpha = torch.where(mask[:, t, None], step, alpha)
        return torch.logsumexp(alpha + self.end.float(), dim=-1)

    def nll(self, logits: torch.Tensor, labels: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each window's allowed tag paths: (B,); 0 for a window with no labelled word.

        logits (B, T, L) over subwords; labels (B, T) with -100 where no word starts;
        allowed (B, T, L) bool, the tags each labelled subword may carry.
        """
        labelled = labels != -100  # (B, T)
        order = torch.sort((~labelled).to(torch.int8), dim=1, stable=True).indices  # labelled positions first, in order
        width = max(int(labelled.sum(dim=1).max()), 1)
        order = order[:, :width]  # (B, W)
        mask = torch.gather(labelled, 1, order)  # (B, W)
        emissions = torch.gather(logits.float(), 1, order[..., None].expand(-1, -1, logits.shape[-1]))  # (B, W, L)
        keep = torch.gather(allowed, 1, order[..., None].expand(-1, -1, allowed.shape[-1]))  # (B, W, L)
        keep = keep | ~mask[..., None]  # padding positions constrain nothing (and are skipped anyway)
        numerator = self._log_partition(emissions.masked_fill(~keep, -1e4), mask)
        denominator = self._log_partition(emissions, mask)
        return torch.where(mask[:, 0], denominator - numerator, torch.zeros_like(numerator))
