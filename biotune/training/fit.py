"""`fit_phase`: one phase of a strategy fine-tuned by the Trainer, resumable from its checkpoints.

Steps, each a call into the task (`biotune.tasks.contract.Task`): build the model from `init` (a
backbone or the previous phase's best model) -> record how its evaluation computes -> featurise
the phase's examples -> fine-tune with the `TaskTrainer` and the task's loss, selecting the epoch
with the best dev headline score (on what the dev split can score for the phase; the last epoch
when it can score nothing) -> the task's settings tuned on dev. The result is the model in memory
and its training record (epochs, dev history, timings).

The only folder this knows is `work`, where the Trainer keeps its resumable `checkpoint-<step>/`
folders: a `work` that holds complete checkpoints is resumed from the last (model, optimizer,
scheduler, RNG, position in the data). Where `work` sits, where the model is saved, and its
evaluation, summary and card belong to the caller (`biotune.experiments.run`), above this layer.
Under torchrun / accelerate launch every rank fits; only the main process removes files.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transformers import EarlyStoppingCallback, TrainerCallback, TrainingArguments, set_seed

from biotune.config import ExperimentConfig
from biotune.corpora.splits import Split
from biotune.hardware import default_device
from biotune.models.batches import rows_within
from biotune.tasks.contract import Bundle, Task
from biotune.training.processes import wait_for_everyone
from biotune.training.strategies import Phase
from biotune.training.trainer import (SaveAtEpochEnd, TaskTrainer, complete_checkpoints,
                                      drop_incomplete_checkpoints)

log = logging.getLogger("biotune")


@dataclass
class Fitted:
    bundle: Bundle  # the selected model (the best dev epoch where dev can score the phase)
    record: dict[str, object]  # epochs, dev history, timings, the settings tuned on dev


def precision_name(bf16: bool) -> str:
    """How a model trained with (or without) bf16 autocast is evaluated: the precision it trained in."""
    return "autocast" if bf16 else "fp32"


def fit_phase(task: Task, config: ExperimentConfig, phase: Phase, init: str, labels: list[str], dev: Split | None,
              bf16: bool, work: Path, main: bool, callbacks: Sequence[TrainerCallback] = ()) -> Fitted:
    """Fit `phase` from `init`; `callbacks` join its Trainer (a search reports each dev evaluation to its pruner)."""
    set_seed(config.training.seed)
    examples = phase.examples
    bundle = task.build_model(init, labels, config, examples)
    task.record(bundle, config, precision_name(bf16))  # how the run's own evaluation computes: `biotune evaluate` defaults to it
    features = task.featurise(examples, bundle, labels, config)
    log.info("phase %s: %d examples -> %d features; labels %s", phase.name, len(examples), len(features), labels)
    scope = task.dev_scope(dev, phase.types) if dev else None
    if dev and scope is None:
        log.info("phase %s: dev cannot score %s; keeping the last epoch", phase.name, sorted(phase.types))
    record = _fit(task, config, phase, bundle, labels, features, scope, dev, bf16, work, main, callbacks)
    return Fitted(bundle, record)


def _training_args(config: ExperimentConfig, phase: Phase, out: Path, select: bool, bf16: bool,
                   longest: int) -> TrainingArguments:
    """The Trainer's arguments; `longest` is the longest training feature's length: batches drawn at random
    (no length grouping) get as many rows as the token budget allows for it."""
    t = config.training
    return TrainingArguments(
        output_dir=str(out),
        num_train_epochs=phase.epochs,
        max_steps=t.max_steps or -1,
        learning_rate=phase.learning_rate,
        per_device_train_batch_size=t.batch_size if t.group_by_length else rows_within(t.batch_size, t.batch_tokens,
                                                                                         longest),
        per_device_eval_batch_size=t.eval_batch_size,
        warmup_steps=t.warmup,
        lr_scheduler_type="linear",
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim="adamw_torch_fused",  # one fused kernel per step: the optimizer is a large share of a CPU step
        seed=t.seed,
        data_seed=t.seed,
        bf16=bf16,
        use_cpu=default_device().type == "cpu",
        eval_strategy="epoch" if select else "no",
        save_strategy="steps" if t.checkpoint_steps else "epoch",
        save_steps=t.checkpoint_steps or 500,
        save_total_limit=2 if select else 1,  # the latest (to resume) and the best epoch (rotation keeps it)
        restore_callback_states_from_checkpoint=True,  # early stopping's patience counter survives a resume
        load_best_model_at_end=select and not t.checkpoint_steps,  # with step saves `_fit` loads the best itself
        metric_for_best_model="selection" if select else None,  # the score, a collapsed epoch last (`TaskTrainer`)
        greater_is_better=True,
        logging_steps=t.logging_steps,
        remove_unused_columns=False,  # the weight and O-alternative columns must reach the loss
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        report_to=[],
        disable_tqdm=False,
    )


def _fit(task: Task, config: ExperimentConfig, phase: Phase, bundle: Bundle, labels: list[str],
         features: list[dict[str, object]], scope: tuple[str, ...] | None, dev: Split | None, bf16: bool,
         work: Path, main: bool, extra_callbacks: Sequence[TrainerCallback] = ()) -> dict[str, object]:
    """Train (or resume) the phase in `work`; leave the selected, dev-tuned model in `bundle`."""
    t = config.training
    select = scope is not None
    callbacks: list[TrainerCallback] = list(extra_callbacks)
    if t.early_stopping_patience and select:
        callbacks.append(EarlyStoppingCallback(t.early_stopping_patience))
    if t.checkpoint_steps and select:
        callbacks.append(SaveAtEpochEnd())
    lengths = [len(feature["input_ids"]) for feature in features]  # type: ignore[arg-type]
    args = _training_args(config, phase, work, select, bf16, max(lengths, default=1))
    trainer = TaskTrainer(
        model=bundle.model,
        args=args,
        train_dataset=features,
        eval_dataset=dev.examples if select and dev else None,
        data_collator=task.collator(bundle, labels),
        processing_class=bundle.tokenizer,
        callbacks=callbacks,
        task=task,
        config=config,
        dev=dev if select else None,
        dev_scope=scope or (),
    )
    if main and work.is_dir():
        drop_incomplete_checkpoints(work)
    wait_for_everyone()
    checkpoints = complete_checkpoints(work) if work.is_dir() else []
    resume = checkpoints[0] if checkpoints else None
    start_step = 0
    if resume is not None:
        start_step = int(resume.name.removeprefix("checkpoint-"))
        log.info("phase %s: resuming from step %d (%s)", phase.name, start_step, resume)
    start_epoch = _checkpoint_epoch(resume) if resume else 0.0
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    train_seconds = time.perf_counter() - start
    if select and not args.load_best_model_at_end and trainer.state.best_model_checkpoint:
        trainer._load_best_model()  # the Trainer's own loader, as with load_best_model_at_end
    epochs_now = float(trainer.state.epoch or 0) - start_epoch
    seconds = max(train_seconds - trainer.eval_seconds, 1e-9)
    budgeted = args.train_sampling_strategy == "group_by_length" and t.batch_tokens is not None
    padded = trainer.train_batches().padded_tokens() if budgeted else None  # the batches `get_train_dataloader` cuts
    record: dict[str, object] = {
        "train_examples": len(phase.examples),
        "train_features": len(features),
        "epochs_run": trainer.state.epoch,
        "resumed_from_step": start_step,
        "train_seconds": train_seconds,
        "dev_eval_seconds": trainer.eval_seconds,
        "train_examples_per_second": len(phase.examples) * epochs_now / seconds,
        # subwords of the features (padding excluded) per second of training; padding's share of what the
        # model computed, where batches are length-grouped
        "train_subwords_per_second": sum(lengths) * epochs_now / seconds,
        "train_padding_share": 1 - sum(lengths) / padded if padded else None,
        "dev_scope": list(scope or ()),
        "best_dev_score": _selected(trainer, "eval_score"),
        "selected_epoch": _selected(trainer, "epoch"),
        "dev_collapse": _selected_collapse(trainer),
        "dev_history": [{"epoch": e["epoch"], "dev_score": e["eval_score"]} for e in trainer.state.log_history
                        if "eval_score" in e],
    }
    bundle.model = trainer.model
    record["tuned"] = task.tune(bundle, dev, config)  # on dev only: the test sets come after the save
    return record


def _selected(trainer: TaskTrainer, key: str) -> float | None:
    """`key` (`eval_score`, `epoch`) of the selected evaluation (the best checkpoint's); None without selection."""
    best = trainer.state.best_model_checkpoint
    if not best:
        return None
    step = int(best.rsplit("-", 1)[-1])
    return next((e[key] for e in trainer.state.log_history if "eval_score" in e and e["step"] == step), None)


def _selected_collapse(trainer: TaskTrainer) -> str | None:
    """The collapse (`Result.collapse`) of the selected epoch's dev predictions: the best checkpoint's
    evaluation, else the last one; None when none collapsed or dev was never evaluated (in this process:
    a resumed run knows only the evaluations after its resume)."""
    best = trainer.state.best_model_checkpoint
    step = int(best.rsplit("-", 1)[-1]) if best else max(trainer.dev_collapses, default=None)
    return trainer.dev_collapses.get(step) if step is not None else None


def _checkpoint_epoch(checkpoint: Path) -> float:
    return float(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")).get("epoch") or 0.0)
