"""`train(config)`: the NER core's main job, from a validated config to a finished run folder.

Steps: read splits -> build the label space from train+dev -> align -> fine-tune with the
Trainer, selecting the epoch with the best dev span-F1 -> save `best_model/` (a standard
Hugging Face folder) -> evaluate on every test set -> write results atomically. The summary
file is written last, so its presence marks a finished run.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import EarlyStoppingCallback, TrainingArguments, set_seed

from biotune.config import ExperimentConfig
from biotune.corpus import Split, read_split
from biotune.data.align import Aligner
from biotune.evaluation.metrics import EvalResult
from biotune.evaluation.evaluate import evaluate_splits
from biotune.hardware import default_device, use_bf16
from biotune.inference.tagger import Tagger
from biotune.io import write_json, write_text
from biotune.logs import log_to_file
from biotune.models.backbones import load_tokenizer
from biotune.models.factory import build_model
from biotune.runs import RunPaths
from biotune.training.features import PaddingCollator, encode, label_space
from biotune.training.trainer import NerTrainer

log = logging.getLogger("biotune")


@dataclass
class TrainResult:
    paths: RunPaths
    dev_f1: float | None
    results: dict[str, EvalResult]
    summary: dict[str, object]


def _training_args(config: ExperimentConfig, out: Path, has_dev: bool, bf16: bool) -> TrainingArguments:
    t = config.training
    return TrainingArguments(
        output_dir=str(out),
        num_train_epochs=t.epochs,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
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
        eval_strategy="epoch" if has_dev else "no",
        save_strategy="epoch" if has_dev else "no",
        save_only_model=True,
        save_total_limit=1,
        load_best_model_at_end=has_dev,
        metric_for_best_model="f1" if has_dev else None,
        greater_is_better=True,
        logging_steps=t.logging_steps,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        report_to=[],
        disable_tqdm=False,
    )


def train(config: ExperimentConfig, overwrite: bool = False) -> TrainResult:
    """Fine-tune, select on dev, save, evaluate on the test sets. Returns the results."""
    t = config.training
    paths = RunPaths(Path(config.output_dir), config.name, t.seed)
    train_split = read_split(config.data.train, config.data)
    dev_split = read_split(config.data.dev, config.data) if config.data.dev else None
    test_splits = [read_split(spec, config.data) for spec in config.data.test]
    paths.prepare(overwrite)
    with log_to_file(paths.logs / "train.log"):
        return _train(config, paths, train_split, dev_split, test_splits)


def _train(config: ExperimentConfig, paths: RunPaths, train_split: Split, dev_split: Split | None,
           test_splits: list[Split]) -> TrainResult:
    t = config.training
    set_seed(t.seed)
    labels = label_space([train_split.sentences] + ([dev_split.sentences] if dev_split else []))
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = load_tokenizer(config.model.backbone)
    aligner = Aligner(tokenizer, config.model.max_length)
    features = encode(train_split.sentences, aligner, label2id)
    log.info("train: %d sentences -> %d windows; labels %s", len(train_split.sentences), len(features), labels)
    model = build_model(config.model.backbone, labels, config.model.head, config.model.dropout)
    model.config.biotune = {"max_length": config.model.max_length, "word_tokenizer": "biotune.data.text"}
    bf16 = use_bf16(t.bf16, default_device())
    work = paths.checkpoint / "trainer"
    trainer = NerTrainer(
        model=model,
        args=_training_args(config, work, dev_split is not None, bf16),
        train_dataset=features,
        eval_dataset=dev_split.sentences if dev_split else None,
        data_collator=PaddingCollator(tokenizer.pad_token_id or 0),
        processing_class=tokenizer,
        callbacks=[EarlyStoppingCallback(t.early_stopping_patience)] if t.early_stopping_patience and dev_split else [],
        dev_sentences=dev_split.sentences if dev_split else (),
        dev_types=dev_split.annotated_types if dev_split else None,
        eval_batch_size=t.eval_batch_size,
        max_length=config.model.max_length,
    )
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start

    staging = paths.checkpoint / ".best_model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))
    tokenizer.save_pretrained(str(staging))
    staging.rename(paths.best_model)
    shutil.rmtree(work, ignore_errors=True)

    write_text(paths.results / "config_snapshot.yaml", config.to_yaml())
    tagger = Tagger(trainer.model, tokenizer, max_length=config.model.max_length,
                    batch_size=t.eval_batch_size, bf16=bf16)
    results = evaluate_splits(tagger, test_splits, paths.results)
    history = [
        {"epoch": e["epoch"], "dev_f1": e["eval_f1"]} for e in trainer.state.log_history if "eval_f1" in e
    ]
    summary: dict[str, object] = {
        "name": config.name,
        "seed": t.seed,
        "labels": labels,
        "train_sentences": len(train_split.sentences),
        "train_windows": len(features),
        "epochs_run": trainer.state.epoch,
        "train_seconds": train_seconds,
        "dev_eval_seconds": trainer.eval_seconds,
        "train_sentences_per_second": len(train_split.sentences) * float(trainer.state.epoch or 0)
        / (train_seconds - trainer.eval_seconds),
        "best_dev_f1": trainer.state.best_metric,
        "dev_history": history,
        "bf16": bf16,
        "torch_threads": torch.get_num_threads(),
        "test": {name: r.f1 for name, r in results.items()},
    }
    write_json(paths.summary, summary)
    return TrainResult(paths, trainer.state.best_metric, results, summary)
