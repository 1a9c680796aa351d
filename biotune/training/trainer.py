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
- Resumable checkpoints: the Trainer's own checkpoints hold the model, optimizer, scheduler and
  RNG states, and on resume it skips the batches already seen. The order of a length-grouped
  epoch is drawn from the global torch RNG when the epoch starts, which the Trainer restores
  only at epoch boundaries, so each checkpoint also keeps the RNG state of its epoch's start
  (`epoch_rng_state*.pth`), put back before a resumed epoch draws its order: a run resumed
  mid-epoch sees the same batches and the same dropout masks as one that never stopped.
- Evaluation on the dev split runs the real `Tagger` (windows, first-subword rule,
  constrained BIO decoding) and span-level F1, so checkpoint selection uses exactly the
  metric that will be reported, never the test split.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from biotune.formats.sentence import Sentence
from biotune.tasks.ner.metrics import evaluate_tags
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.ner.crf import CRF

log = logging.getLogger("biotune")

TRAINER_STATE = "trainer_state.json"  # written last into a Trainer checkpoint: its presence marks it complete


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


def _epoch_rng_file(args: TrainingArguments) -> str:
    return "epoch_rng_state.pth" if args.world_size <= 1 else f"epoch_rng_state_{args.process_index}.pth"


class EpochStartRng(TrainerCallback):
    """Remembers the torch RNG state at each epoch's start; on a mid-epoch resume, restores it
    before the epoch's batch order is drawn (see the module docstring)."""

    def __init__(self) -> None:
        self.epoch = 0
        self.state: torch.Tensor | None = None
        self.resume_from: str | None = None

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        self.epoch = int(state.epoch or 0)
        saved = os.path.join(self.resume_from, _epoch_rng_file(args)) if self.resume_from else None
        self.resume_from = None
        if saved and os.path.isfile(saved):
            record = torch.load(saved, weights_only=True)
            if int(record["epoch"]) == self.epoch:  # resumed inside the epoch the checkpoint was saved in
                torch.random.set_rng_state(record["cpu"])
        self.state = torch.random.get_rng_state()


class SaveAtEpochEnd(TrainerCallback):
    """With step checkpoints (`training.checkpoint_steps`), also save where each epoch ends:
    best-epoch selection loads the best epoch's checkpoint, so it must exist."""

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        control.should_save = True


def complete_checkpoints(folder: Path) -> list[Path]:
    """The Trainer checkpoints in `folder` whose state file was written, newest first."""
    found = []
    for path in folder.glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and (path / TRAINER_STATE).is_file():
            try:
                json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
            except ValueError:
                continue
            found.append((int(step), path))
    return [path for _, path in sorted(found, reverse=True)]


def drop_incomplete_checkpoints(folder: Path) -> None:
    """Delete checkpoint folders a kill left half-written (no readable state file), naming them."""
    complete = set(complete_checkpoints(folder))
    for path in sorted(folder.glob("checkpoint-*")):
        if path.is_dir() and path not in complete:
            log.warning("removing incomplete checkpoint %s (interrupted while it was written)", path)
            shutil.rmtree(path, ignore_errors=True)


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
        self.epoch_rng = EpochStartRng()
        self.add_callback(self.epoch_rng)

    def train(self, resume_from_checkpoint: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        self.epoch_rng.resume_from = resume_from_checkpoint
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    def _save_rng_state(self, output_dir: str) -> None:
        """The Trainer's RNG states, plus the state at the start of the current epoch."""
        super()._save_rng_state(output_dir)
        if self.epoch_rng.state is not None:
            torch.save({"epoch": self.epoch_rng.epoch, "cpu": self.epoch_rng.state},
                       os.path.join(output_dir, _epoch_rng_file(self.args)))

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
