"""The encoder with a masked-LM head, and its held-out masked-LM loss.

Many encoders are shipped without their pretraining head: sentence-transformers exports such
as the bundled MiniLM keep only the encoder (`BertModel`), so `AutoModelForMaskedLM` reports
the `cls.predictions.*` weights as missing and initialises them at random. That is fine for
continued pretraining, but it must not go unnoticed: the head's loss starts near
log(vocabulary) rather than at the encoder's own level, and the first steps train the head. A
fresh head's decoder is tied to the input embeddings (as BERT's always was), so it adds no
vocabulary-sized matrix and predicts in the encoder's own embedding space; the vocabulary and
the tokenizer stay the encoder's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AutoModelForMaskedLM, PreTrainedModel

from biotune.errors import BiotuneError
from biotune.models.backbones import resolve_backbone
from biotune.pretraining.masking import IGNORE

log = logging.getLogger("biotune")


@dataclass(frozen=True)
class LoadedEncoder:
    model: PreTrainedModel
    fresh_head: bool  # the MLM head was initialised here, not loaded
    missing: tuple[str, ...]  # the weights the checkpoint lacked


def load_masked_lm(backbone: str) -> LoadedEncoder:
    """`AutoModelForMaskedLM` of a backbone; a missing head is made here and tied to the input embeddings."""
    path = resolve_backbone(backbone)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load a masked-LM model from {backbone!r}: {exc}") from exc
    missing = tuple(sorted(info["missing_keys"]))
    fresh = bool(missing)
    if fresh:
        output, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
        if output is not None and output.weight is not embeddings.weight:
            output.weight = embeddings.weight
            model.config.tie_word_embeddings = True
        log.warning("%s has no masked-LM head (missing: %s): a fresh head tied to its input embeddings is "
                    "trained from scratch (training.head_warmup_steps: N trains it alone for N steps first, so its "
                    "random gradients do not move the encoder)", backbone, ", ".join(missing))
    return LoadedEncoder(model, fresh, missing)


HEADS = ("cls", "lm_head")  # the MLM head's attribute: BERT family, RoBERTa family


def _mlm_head(model: PreTrainedModel) -> torch.nn.Module | None:
    """The masked-LM head module under a known name, or None."""
    return next((getattr(model, name) for name in HEADS if isinstance(getattr(model, name, None), torch.nn.Module)), None)


def freeze_encoder(model: PreTrainedModel, frozen: bool) -> None:
    """Freeze (or thaw) everything but the masked-LM head's own weights.

    A tied decoder shares the input embeddings, which belong to the encoder: they stay frozen
    too, so while frozen only the head's transform and output bias learn. Frozen weights get
    no gradient, so AdamW leaves them (and their weight decay) alone."""
    head = _mlm_head(model)
    if head is None:
        raise BiotuneError(f"{type(model).__name__} has no masked-LM head under {' or '.join(HEADS)}: "
                           "training.head_warmup_steps cannot freeze its encoder")
    shared = {id(p) for p in model.get_input_embeddings().parameters()}
    own = {id(p) for p in head.parameters()} - shared
    for parameter in model.parameters():
        parameter.requires_grad_(not frozen or id(parameter) in own)


def masked_lm_loss(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over the masked targets, the head applied to the targets' states only.

    The vocabulary projection is about half of a MiniLM-sized forward pass when it is applied to
    every position, as `*ForMaskedLM.forward` does; only ~15% of positions are targets, so
    projecting just those gives the same loss for a fraction of the work. Models whose head is
    not one module under a known name take the ordinary forward pass.
    """
    head = _mlm_head(model)
    base = getattr(model, model.base_model_prefix, None)
    if head is None or base is None or base is model:
        return model(**batch).loss
    labels = batch["labels"]
    hidden = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state  # (batch, tokens, hidden)
    picked = labels != IGNORE  # (batch, tokens)
    logits = head(hidden[picked])  # (targets, vocabulary)
    return torch.nn.functional.cross_entropy(logits.float(), labels[picked])


@dataclass(frozen=True)
class HeldOutLoss:
    loss: float  # mean cross-entropy per masked target
    perplexity: float
    targets: int
    sequences: int

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "perplexity": self.perplexity, "targets": self.targets, "sequences": self.sequences}


@torch.no_grad()
def held_out_loss(model: PreTrainedModel, examples: Sequence[dict[str, list[int]]], collate: Any,
                  batch_size: int, device: torch.device, bf16: bool) -> HeldOutLoss:
    """Masked-LM loss over every target of `examples` (a per-target mean, not a mean of batch means)."""
    was_training = model.training
    model.eval()
    model.to(device)
    total, targets = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(list(examples[start:start + batch_size])).items()}
        n = int((batch["labels"] != IGNORE).sum())
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = masked_lm_loss(model, batch)
        total += float(loss) * n
        targets += n
    model.train(was_training)
    mean = total / targets if targets else float("nan")
    return HeldOutLoss(mean, math.exp(mean) if targets else float("nan"), targets, len(examples))
