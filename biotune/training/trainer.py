"""Hugging Face Trainer with the task's loss and the task's dev evaluation.

Why a subclass:
- The loss is the task's (`Task.loss`), given each example's `weight` (a per-source weight
  for gold/silver mixing). The reference code this replaces lost its weights because the
  Trainer silently removed the unused column; here `remove_unused_columns=False` is forced and
  the weight is popped from the batch inside `compute_loss`, so it cannot be dropped.
- A task may give parameters their own learning rate (`Task.param_groups`: a CRF's
  transition scores start at zero and would barely move at the encoder's rate).
- Resumable checkpoints: the Trainer's own checkpoints hold the model, optimizer, scheduler and
  RNG states, and on resume it skips the batches already seen. The order of a length-grouped
  epoch is drawn from the global torch RNG when the epoch starts, which the Trainer restores
  only at epoch boundaries, so each checkpoint also keeps the RNG state of its epoch's start
  (`epoch_rng_state*.pth`), put back before a resumed epoch draws its order: a run resumed
  mid-epoch sees the same batches and the same dropout masks as one that never stopped.
- Evaluation on the dev split runs the task's real predictor and its headline score
  (`Task.predictor`, `Task.score`), so checkpoint selection uses exactly the metric that will
  be reported, never the test split. Its result's `collapse` (predictions of one class) is kept
  per evaluation, so the run can say when the selected epoch's dev predictions collapsed, and
  selection (`eval_selection`) puts a collapsed epoch below every other: at the majority-class
  rate it can tie or beat an epoch that learned something (PubMedQA's dev: 27 of 50 are yes).
- Length-grouped batches are cut by a token budget (`training.batch_tokens`,
  `biotune.training.batches`), so a batch of long windows is no larger than one of short ones.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import seed_worker

from biotune.config import ExperimentConfig
from biotune.corpora.splits import Split
from biotune.tasks.contract import Bundle, Task
from biotune.training.batches import TokenBudgetBatches

log = logging.getLogger("biotune")

# Every headline lies in [-1, 1] (ratios, Pearson): lowered by 2 for selection, a collapsed evaluation ranks
# below every other and collapsed ones keep their order among themselves (a run whose every epoch collapsed
# still selects, and reports, its best).
COLLAPSED_BELOW = 2.0
TRAINER_STATE = "trainer_state.json"  # written last into a Trainer checkpoint: its presence marks it complete


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


class TaskTrainer(Trainer):
    """Trainer with the task's per-example weighted loss and the task's dev evaluation."""

    def __init__(self, *args: Any, task: Task, config: ExperimentConfig, dev: Split | None = None,
                 dev_scope: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = task
        self.config = config
        self.dev = dev
        self.dev_scope = dev_scope
        self.eval_seconds = 0.0  # time spent in dev evaluation, reported apart from training time
        self.dev_collapses: dict[int, str | None] = {}  # global step of each dev evaluation -> its collapse
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

    def get_train_dataloader(self) -> DataLoader:
        """Length-sorted batches within `training.batch_tokens` (`TokenBudgetBatches`); the Trainer's own
        loader where batches are drawn at random (their rows are sized to the budget in `fit`) or there is
        no budget."""
        budget = self.config.training.batch_tokens
        if budget is None or self.args.train_sampling_strategy != "group_by_length":
            return super().get_train_dataloader()
        sampler = self.train_batches()
        loader = DataLoader(self.train_dataset, batch_sampler=sampler, collate_fn=self.data_collator,  # type: ignore[arg-type]
                            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory,
                            worker_init_fn=partial(seed_worker, num_workers=self.args.dataloader_num_workers,
                                                   rank=self.args.process_index))
        return self.accelerator.prepare(loader)

    def train_batches(self) -> TokenBudgetBatches:
        """The training batches within the budget (their count and padded size do not depend on the epoch)."""
        lengths = [len(feature["input_ids"]) for feature in self.train_dataset]  # type: ignore[union-attr]
        return TokenBudgetBatches(lengths, self.args.per_device_train_batch_size, self.config.training.batch_tokens)

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        weight = inputs.pop("weight")
        loss, outputs = self.task.loss(model, inputs, weight)
        return (loss, outputs) if return_outputs else loss

    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        """The Trainer's AdamW groups, with the task's own groups (`Task.param_groups`) moved out of them."""
        optimizer = super().create_optimizer(model)
        if any(group.get("task_group") for group in optimizer.param_groups):
            return optimizer
        for extra in self.task.param_groups(self.accelerator.unwrap_model(self.model), self.config):
            own = {id(p) for p in extra["params"]}
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in own]
            optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
            optimizer.add_param_group({**extra, "task_group": True})
        return optimizer

    def evaluate(self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval") -> dict[str, float]:
        assert self.dev is not None, "evaluate runs only with a dev split"  # the loop sets eval_strategy "no" otherwise
        started = time.perf_counter()
        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        predictor = self.task.predictor(Bundle(model, self.processing_class),  # type: ignore[arg-type]
                                        precision="autocast" if self.args.bf16 else "fp32",
                                        batch_size=self.config.training.eval_batch_size, device=self.args.device)
        result = self.task.score(predictor, self.dev, self.dev_scope)
        model.train(was_training)
        self.dev_collapses[self.state.global_step] = result.collapse
        selection = result.headline - (COLLAPSED_BELOW if result.collapse else 0.0)
        metrics = {f"{metric_key_prefix}_score": result.headline, f"{metric_key_prefix}_selection": selection}
        self.eval_seconds += time.perf_counter() - started
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
