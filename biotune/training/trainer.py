"""Hugging Face Trainer with biotune's loss and biotune's dev evaluation.

Why a subclass:
- The loss multiplies each example's token losses by its `weight` (a per-source weight for
  gold/silver mixing). The reference code this replaces lost its weights because the Trainer
  silently removed the unused column; here `remove_unused_columns=False` is forced and the
  weight is popped from the batch inside `compute_loss`, so it cannot be dropped.
  Reduction is per token: sum over labelled words of weight * cross-entropy, divided by the
  number of labelled words in the batch. It is the same for every training strategy, so
  losses are comparable across them. With a CRF head the sequence's negative log-likelihood
  replaces the sum of its words' cross-entropies, with the same weight and the same divisor.
- A CRF head's transition scores start at zero and get their own learning rate
  (`training.crf_learning_rate`): at the encoder's rate they would barely move in a few epochs.
- Evaluation on the dev split runs the real `Tagger` (windows, first-subword rule,
  constrained BIO decoding) and span-level F1, so checkpoint selection uses exactly the
  metric that will be reported, never the test split.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from transformers import Trainer

from biotune.data.sentence import Sentence
from biotune.evaluation.metrics import evaluate_tags
from biotune.inference.tagger import Tagger
from biotune.models.crf import CRF


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


class NerTrainer(Trainer):
    """Trainer with a per-example weighted loss and span-F1 dev evaluation."""

    def __init__(self, *args: Any, dev_sentences: Sequence[Sentence] = (), dev_types: Sequence[str] | None = None,
                 eval_batch_size: int = 64, max_length: int = 128, crf_learning_rate: float = 1e-2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crf_learning_rate = crf_learning_rate
        self.dev_sentences = list(dev_sentences)
        self.dev_types = dev_types
        self.eval_batch = eval_batch_size
        self.max_length = max_length
        self.eval_seconds = 0.0  # time spent in dev evaluation, reported apart from training time

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        weight = inputs.pop("weight")
        labels = inputs.pop("labels")
        o_allowed = inputs.pop("o_allowed", None)
        outputs = model(**inputs)
        crf = getattr(self.accelerator.unwrap_model(model), "crf", None)
        if crf is None:
            loss = weighted_token_loss(outputs.logits, labels, weight, o_allowed)
        else:
            loss = weighted_crf_loss(crf, outputs.logits, labels, weight, o_allowed)
        return (loss, outputs) if return_outputs else loss

    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        """The Trainer's AdamW groups, with a CRF's scores moved into a group of their own learning rate."""
        optimizer = super().create_optimizer(model)
        crf = getattr(self.accelerator.unwrap_model(self.model), "crf", None)
        if crf is not None and not any(group.get("crf") for group in optimizer.param_groups):
            own = {id(p) for p in crf.parameters()}
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in own]
            optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
            optimizer.add_param_group({"params": list(crf.parameters()), "lr": self.crf_learning_rate,
                                       "weight_decay": 0.0, "crf": True})
        return optimizer

    def evaluate(self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval") -> dict[str, float]:
        started = time.perf_counter()
        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        tagger = Tagger(model, self.processing_class, max_length=self.max_length, batch_size=self.eval_batch,
                        precision="autocast" if self.args.bf16 else "fp32", device=self.args.device)  # packing: read from model.config.biotune
        gold = [s.tags or [] for s in self.dev_sentences]
        pred = tagger.predict_tags([s.tokens for s in self.dev_sentences])
        model.train(was_training)
        result = evaluate_tags(gold, pred, annotated_types=self.dev_types)
        metrics = {
            f"{metric_key_prefix}_f1": result.micro.f1,
            f"{metric_key_prefix}_precision": result.micro.precision,
            f"{metric_key_prefix}_recall": result.micro.recall,
        }
        self.eval_seconds += time.perf_counter() - started
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
