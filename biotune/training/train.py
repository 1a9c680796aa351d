"""`train(config)`: the NER core's main job, from a validated config to a finished run folder.

Steps: read the sources and splits -> build one label space from every source and dev ->
plan the strategy's phases -> per phase: align, fine-tune with the Trainer, select the epoch
with the best dev span-F1 (on the dev types the phase's sources annotate; the last epoch when
there are none), save `best_model/` (a standard Hugging Face folder), evaluate on every test
set -> write results atomically. The summary file is written last, so its presence marks a
finished run. Everything that can be checked (config, files, tags) is checked before the run
folder is created.
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
from biotune.models.factory import build_model, save_model
from biotune.runs import RunPaths
from biotune.training.features import PaddingCollator, encode, label_space
from biotune.training.sources import Source, read_sources
from biotune.training.strategies import Phase, plan_phases
from biotune.training.trainer import NerTrainer

log = logging.getLogger("biotune")


@dataclass
class TrainResult:
    paths: RunPaths
    dev_f1: float | None
    results: dict[str, EvalResult]
    summary: dict[str, object]


def _training_args(config: ExperimentConfig, phase: Phase, out: Path, select: bool, bf16: bool) -> TrainingArguments:
    t = config.training
    return TrainingArguments(
        output_dir=str(out),
        num_train_epochs=phase.epochs,
        learning_rate=phase.learning_rate,
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
        eval_strategy="epoch" if select else "no",
        save_strategy="epoch" if select else "no",
        save_only_model=True,
        save_total_limit=1,
        load_best_model_at_end=select,
        metric_for_best_model="f1" if select else None,
        greater_is_better=True,
        logging_steps=t.logging_steps,
        remove_unused_columns=False,  # the weight and O-alternative columns must reach the loss
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        report_to=[],
        disable_tqdm=False,
    )


def train(config: ExperimentConfig, overwrite: bool = False) -> TrainResult:
    """Fine-tune with the configured strategy, select on dev, save, evaluate on the test sets."""
    paths = RunPaths(Path(config.output_dir), config.run_name, config.training.seed)
    sources = read_sources(config)
    dev_split = read_split(config.data.dev, config.data) if config.data.dev else None
    test_splits = [read_split(spec, config.data) for spec in config.data.test]
    paths.prepare(overwrite)
    with log_to_file(paths.logs / "train.log"):
        write_text(paths.results / "config_snapshot.yaml", config.to_yaml())
        return _train(config, paths, sources, dev_split, test_splits)


def _train(config: ExperimentConfig, paths: RunPaths, sources: list[Source], dev_split: Split | None,
           test_splits: list[Split]) -> TrainResult:
    labels = label_space([s.sentences for s in sources] + ([dev_split.sentences] if dev_split else []),
                         extra_types=[t for s in sources for t in s.types])
    phases = plan_phases(config.training.strategy, sources, config.training)
    tokenizer = load_tokenizer(config.model.backbone)
    init = config.model.backbone
    phase_summaries: list[dict[str, object]] = []
    for k, phase in enumerate(phases, start=1):
        last = k == len(phases)
        out = paths if last else paths.for_phase(f"phase_{k}_{phase.name}")
        result = _run_phase(config, phase, init, labels, tokenizer, dev_split, test_splits, out)
        summary = {"phase": k, "sources": [s.name for s in phase.sources], **result.summary}
        phase_summaries.append(summary)
        if not last:
            write_json(out.summary, summary)
        init = str(out.best_model)
    summary = {**phase_summaries[-1], "strategy": config.training.strategy, "phases": phase_summaries}
    write_json(paths.summary, summary)
    return TrainResult(paths, result.dev_f1, result.results, summary)


def _run_phase(config: ExperimentConfig, phase: Phase, init: str, labels: list[str], tokenizer: object,
               dev_split: Split | None, test_splits: list[Split], paths: RunPaths) -> TrainResult:
    """One Trainer run from `init` (a backbone or the previous phase's best model)."""
    t = config.training
    set_seed(t.seed)
    label2id = {label: i for i, label in enumerate(labels)}
    aligner = Aligner(tokenizer, config.model.max_length)  # type: ignore[arg-type]
    sentences = phase.sentences
    features = encode(sentences, aligner, label2id, marginal_o=t.unannotated_o == "marginal",
                      pack=config.model.pack_sentences)
    log.info("phase %s: %d sentences -> %d windows; labels %s", phase.name, len(sentences), len(features), labels)
    dev_types = tuple(sorted(set(dev_split.annotated_types) & phase.types)) if dev_split else ()
    if dev_split and not dev_types:
        log.info("phase %s: dev annotates none of %s; keeping the last epoch", phase.name, sorted(phase.types))
    model = build_model(init, labels, config.model.head, config.model.dropout)
    model.config.biotune = {"max_length": config.model.max_length, "pack": config.model.pack_sentences,
                            "word_tokenizer": "biotune.data.text"}
    bf16 = use_bf16(t.bf16, default_device())
    work = paths.checkpoint / "trainer"
    select = bool(dev_types)
    trainer = NerTrainer(
        model=model,
        args=_training_args(config, phase, work, select, bf16),
        train_dataset=features,
        eval_dataset=dev_split.sentences if select else None,
        data_collator=PaddingCollator(tokenizer.pad_token_id or 0, len(labels)),  # type: ignore[attr-defined]
        processing_class=tokenizer,
        callbacks=[EarlyStoppingCallback(t.early_stopping_patience)] if t.early_stopping_patience and select else [],
        dev_sentences=dev_split.sentences if select else (),
        dev_types=dev_types,
        eval_batch_size=t.eval_batch_size,
        max_length=config.model.max_length,
        crf_learning_rate=t.crf_learning_rate,
    )
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start

    staging = paths.checkpoint / ".best_model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    save_model(trainer.model, staging)
    tokenizer.save_pretrained(str(staging))  # type: ignore[attr-defined]
    staging.rename(paths.best_model)
    shutil.rmtree(work, ignore_errors=True)

    tagger = Tagger(trainer.model, tokenizer, max_length=config.model.max_length,  # type: ignore[arg-type]
                    batch_size=t.eval_batch_size, precision="autocast" if bf16 else "fp32", pack=config.model.pack_sentences)
    results = evaluate_splits(tagger, test_splits, paths.results)
    history = [
        {"epoch": e["epoch"], "dev_f1": e["eval_f1"]} for e in trainer.state.log_history if "eval_f1" in e
    ]
    summary: dict[str, object] = {
        "name": config.name,
        "seed": t.seed,
        "labels": labels,
        "train_sentences": len(sentences),
        "train_windows": len(features),
        "epochs_run": trainer.state.epoch,
        "train_seconds": train_seconds,
        "dev_eval_seconds": trainer.eval_seconds,
        "train_sentences_per_second": len(sentences) * float(trainer.state.epoch or 0)
        / (train_seconds - trainer.eval_seconds),
        "dev_types": list(dev_types),
        "best_dev_f1": trainer.state.best_metric,
        "dev_history": history,
        "bf16": bf16,
        "torch_threads": torch.get_num_threads(),
        "test": {name: r.f1 for name, r in results.items()},
    }
    return TrainResult(paths, trainer.state.best_metric, results, summary)
