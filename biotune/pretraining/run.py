"""`pretrain(config)`: continued masked-LM pretraining with the Hugging Face Trainer, resumable.

The run folder `<output_dir>/<name>` becomes a standard Hugging Face model folder (model +
tokenizer: `model.backbone: <that folder>` fine-tunes from it) that also holds:

- `pretrain_config.yaml`, written when the run starts: a rerun onto an unfinished folder with
  a different config is refused naming the keys that differ (it would mix two runs);
- `checkpoints/checkpoint-N`, every `training.checkpoint_steps` steps: a run killed at any
  moment (kill -9 included) and rerun with the same command continues from the last complete
  checkpoint (a half-written one is removed), losing at most one interval; removed at the end;
- `dev_before.json`, the held-out loss of the starting model, measured once before step 1;
- `pretraining.json`, written last (atomically): its presence marks the run finished, and a
  finished run is not replaced without `overwrite`;
- `loss_curve.png`, the training loss against steps.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments, set_seed

from biotune.config import differing_keys, load_yaml
from biotune.errors import BiotuneError
from biotune.hardware import default_device, use_bf16
from biotune.io import write_json, write_text
from biotune.models.backbones import load_tokenizer, resolve_backbone
from biotune.pretraining.config import PretrainingConfig, TextSource
from biotune.pretraining.masking import masker_for
from biotune.pretraining.model import HeldOutLoss, freeze_encoder, held_out_loss, load_masked_lm, masked_lm_loss
from biotune.pretraining.packing import Packer
from biotune.pretraining.plot import plot_loss_curve
from biotune.pretraining.sources import refuse_test_text, source_texts
from biotune.pretraining.stream import MaskedStream, PadCollator, SourceCounts, TextCollection, dev_examples, scan
from biotune.training.trainer import complete_checkpoints, drop_incomplete_checkpoints

log = logging.getLogger("biotune")

RECORD = "pretraining.json"
SNAPSHOT = "pretrain_config.yaml"
DEV_BEFORE = "dev_before.json"
CHECKPOINTS = "checkpoints"
LOSS_CURVE = "loss_curve.png"


@dataclass
class PretrainResult:
    folder: Path  # the Hugging Face model folder
    record: dict[str, Any]


class TokensPerSecond(TrainerCallback):
    """Adds `tokens_per_s` (non-padding input tokens since the previous log) to each training log line.

    Placed before the progress callback, so the progress output shows it; it is also written into
    the state's log history, which checkpoints keep."""

    def __init__(self) -> None:
        self.last: tuple[float, int] | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        self.last = (time.perf_counter(), state.num_input_tokens_seen)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs is None or "loss" not in logs or self.last is None:
            return
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        rate = (tokens - self.last[1]) / max(now - self.last[0], 1e-9)
        self.last = (now, tokens)
        logs["tokens_per_s"] = round(rate, 1)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1]["tokens_per_s"] = logs["tokens_per_s"]


class HeadWarmup(TrainerCallback):
    """The encoder is frozen for the first `steps` optimizer steps, then trained with the head.

    Decided from the step count at every step, so a run resumed inside or after the warm-up
    freezes exactly the steps an uninterrupted run does."""

    def __init__(self, model: Any, steps: int) -> None:
        self.model, self.steps, self.frozen = model, steps, None

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                      **kwargs: Any) -> None:
        frozen = state.global_step < self.steps
        if frozen != self.frozen:
            freeze_encoder(self.model, frozen)
            self.frozen = frozen
            log.info("step %d: %s", state.global_step + 1, "masked-LM head only (encoder frozen)" if frozen
                     else "encoder and head")


class MaskedLmTrainer(Trainer):
    """The Trainer with the targets-only masked-LM loss (`model.masked_lm_loss`)."""

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        loss = masked_lm_loss(model, inputs)
        return (loss, None) if return_outputs else loss


def collections_of(sources: Sequence[TextSource], data_dir: str | None) -> list[TextCollection]:
    """Each source as a re-openable text collection."""
    return [TextCollection(source.label, lambda source=source: source_texts(source, data_dir)) for source in sources]


def pretrain(config: PretrainingConfig, overwrite: bool = False,
             callbacks: Sequence[TrainerCallback] = ()) -> PretrainResult:
    """Pretrain `config.backbone` on `config.sources`; resume an interrupted run of the same config.

    `callbacks` are extra Trainer callbacks (the tests use one to interrupt a run)."""
    folder = config.run_dir
    t = config.training
    refuse_test_text(config)  # before any reading, and before the run folder is touched
    train_collections = collections_of(config.sources, config.data_dir)
    dev_collections = collections_of(config.dev.sources, config.data_dir)
    _check_folder(folder, config, overwrite)
    tokenizer = load_tokenizer(config.backbone)
    packer = Packer(tokenizer, config.max_length)
    masker = masker_for(tokenizer, config.mlm_probability, config.whole_word_mask)
    counts = _counted(train_collections, packer)
    sequences = sum(c.sequences for c in counts)
    max_steps = t.max_steps or max(1, math.ceil(t.epochs * sequences / t.batch_size))
    device = default_device()
    bf16 = use_bf16(t.bf16, device)
    set_seed(t.seed)  # a fresh head's initialisation
    encoder = load_masked_lm(config.backbone)
    collate = PadCollator(tokenizer.pad_token_id or 0)
    dev = dev_examples(dev_collections, packer, masker, t.seed, config.dev.max_sequences) if dev_collections else []
    if config.dev.sources and not dev:
        raise BiotuneError("the dev sources hold no text")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / SNAPSHOT).is_file():
        write_text(folder / SNAPSHOT, config.to_yaml())
    before = _dev_before(folder, encoder.model, dev, collate, config, device, bf16)
    dataset = MaskedStream(train_collections, counts, packer, masker, t.seed, t.shuffle_buffer)
    work = folder / CHECKPOINTS
    args = _training_arguments(config, work, max_steps, bf16, device)
    if t.head_warmup_steps >= max_steps:
        raise BiotuneError(f"training.head_warmup_steps ({t.head_warmup_steps}) must be below the run's "
                           f"{max_steps} steps: the encoder would never train")
    warmup = [HeadWarmup(encoder.model, t.head_warmup_steps)] if t.head_warmup_steps else []
    trainer = MaskedLmTrainer(model=encoder.model, args=args, train_dataset=dataset, data_collator=collate,
                              processing_class=tokenizer, callbacks=[TokensPerSecond(), *warmup, *callbacks])
    resume = _last_checkpoint(work)
    tokens_before = _tokens_at(resume)  # read now: checkpoint rotation deletes `resume` during training
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    wall = time.perf_counter() - started
    tokens_now = trainer.state.num_input_tokens_seen - tokens_before
    trainer.save_model(str(folder))
    after = held_out_loss(encoder.model, dev, collate, config.dev.batch_size, device, bf16) if dev else None
    history = _loss_history(trainer.state)
    record = {
        "backbone": config.backbone,
        "backbone_path": resolve_backbone(config.backbone),
        "fresh_head": encoder.fresh_head,
        "missing_weights": list(encoder.missing),
        "sources": [c.to_dict() for c in counts],
        "dev": {"sources": [c.name for c in dev_collections], "before": before.to_dict() if before else None,
                "after": after.to_dict() if after else None},
        "max_length": config.max_length,
        "steps": trainer.state.global_step,
        "batch_size": t.batch_size,
        "head_warmup_steps": t.head_warmup_steps,
        "epochs_of_text": trainer.state.global_step * t.batch_size / sequences,
        "tokens_seen": trainer.state.num_input_tokens_seen,
        "resumed_from_step": int(resume.name.removeprefix("checkpoint-")) if resume else 0,
        "wall_seconds": wall,  # of this call (a resumed run: since the resume)
        "train_seconds": output.metrics.get("train_runtime"),
        "tokens_per_second": tokens_now / max(wall, 1e-9),
        "final_loss": history[-1]["loss"] if history else None,
        "loss_history": history,
        "bf16": bf16,
        "device": device.type,
    }
    if history:
        plot_loss_curve(history, folder / LOSS_CURVE, title=f"{config.name}: masked-LM training loss")
    write_json(folder / RECORD, record)
    shutil.rmtree(work, ignore_errors=True)
    log.info("pretrained model: %s", folder)
    return PretrainResult(folder, record)


def _counted(collections: list[TextCollection], packer: Packer) -> list[SourceCounts]:
    """Each source's documents, sequences and tokens (one streamed pass); an empty source is an error."""
    counts = [scan(collection, packer) for collection in collections]
    empty = [c.name for c in counts if not c.sequences]
    if empty:
        raise BiotuneError(f"pretraining source(s) {empty} hold no text")
    log.info("pretraining text: %s", "; ".join(f"{c.name}: {c.documents} documents, {c.sequences} sequences, "
                                                f"{c.tokens} tokens" for c in counts))
    return counts


def _training_arguments(config: PretrainingConfig, work: Path, max_steps: int, bf16: bool,
                        device: torch.device) -> TrainingArguments:
    t = config.training
    return TrainingArguments(
        output_dir=str(work),
        max_steps=max_steps,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        warmup_steps=t.warmup,
        lr_scheduler_type="linear",
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        seed=t.seed,
        data_seed=t.seed,
        bf16=bf16,
        use_cpu=device.type == "cpu",
        save_strategy="steps",
        save_steps=t.checkpoint_steps,
        save_total_limit=2,  # the newest may be half-written when killed: the one before it is whole
        logging_steps=t.logging_steps,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        dataloader_num_workers=0,  # one reader: the order is the stream's, whatever the machine
        report_to="none",
    )


def _loss_history(state: TrainerState) -> list[dict[str, float]]:
    """The logged training losses (with tokens/s where logged), the resumed part of a run included."""
    return [{"step": e["step"], "loss": e["loss"], **({"tokens_per_s": e["tokens_per_s"]} if "tokens_per_s" in e else {})}
            for e in state.log_history if "loss" in e]


def _check_folder(folder: Path, config: PretrainingConfig, overwrite: bool) -> None:
    """Refuse to replace a finished run or to mix two configs in one folder (`overwrite` empties it)."""
    snapshot = folder / SNAPSHOT
    if folder.exists() and any(folder.iterdir()):
        if not snapshot.is_file() and not (folder / RECORD).is_file():
            raise BiotuneError(f"{folder} exists and is not a pretraining run folder; choose another name or output_dir")
        if overwrite:
            shutil.rmtree(folder)
        elif (folder / RECORD).is_file():
            raise BiotuneError(f"{folder} holds a finished pretraining run; pass --overwrite to replace it")
        else:
            previous = load_yaml(snapshot)
            changed = differing_keys([previous, config.model_dump(mode="json")],
                                     ignore=frozenset({"data_dir", "exclude_test_of"}))  # where, and what to refuse
            if changed:
                raise BiotuneError(f"{folder} holds an unfinished run of another config (differs in: "
                                   f"{', '.join(changed)}); rerun with that config to resume it, or pass --overwrite")
            log.info("resuming the unfinished pretraining run in %s", folder)


def _dev_before(folder: Path, model: Any, dev: list[dict[str, list[int]]], collate: PadCollator,
                config: PretrainingConfig, device: torch.device, bf16: bool) -> HeldOutLoss | None:
    """The starting model's held-out loss, measured once: a resumed run reads it back."""
    path = folder / DEV_BEFORE
    if not dev:
        return None
    if path.is_file():
        return HeldOutLoss(**json.loads(path.read_text(encoding="utf-8")))
    measured = held_out_loss(model, dev, collate, config.dev.batch_size, device, bf16)
    log.info("held-out masked-LM loss before pretraining: %.4f (perplexity %.1f)", measured.loss, measured.perplexity)
    write_json(path, measured.to_dict())
    return measured


def _last_checkpoint(work: Path) -> Path | None:
    if not work.is_dir():
        return None
    drop_incomplete_checkpoints(work)
    found = complete_checkpoints(work)
    if found:
        log.info("resuming from %s", found[0])
    return found[0] if found else None


def _tokens_at(checkpoint: Path | None) -> int:
    """Input tokens the run had seen when `checkpoint` was saved (0 for a fresh start)."""
    if checkpoint is None:
        return 0
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("num_input_tokens_seen", 0))
