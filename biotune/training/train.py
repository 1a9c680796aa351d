"""`train(config)`: the NER core's main job, from a validated config to a finished run folder.

Steps: read the sources and splits -> build one label space from every source and dev ->
plan the strategy's phases -> per phase: align, fine-tune with the Trainer, select the epoch
with the best dev span-F1 (on the dev types the phase's sources annotate; the last epoch when
there are none), save `best_model/` (a standard Hugging Face folder), evaluate on every test
set -> write results atomically. The summary file is written last, so its presence marks a
finished run.

Everything that can fail before training (config, files, tags, backbone and tokenizer, window
size, dev = test) is checked before the run folder is created or `--overwrite` deletes one.
A run folder without a summary is an unfinished run (killed, crashed): the same command resumes
it from the Trainer's last complete checkpoint (model, optimizer, scheduler, RNG, position in
the data), so it ends with the same results as a run that never stopped; finished phases of a
sequential run are kept. A different config onto an unfinished run is refused, naming the keys.
Under torchrun / accelerate launch only the main process writes or deletes run files; the
other ranks train and wait at barriers.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import EarlyStoppingCallback, TrainerCallback, TrainingArguments, set_seed

from biotune.config import ExperimentConfig, differing_keys, read_snapshot
from biotune.corpora.splits import Split
from biotune.tasks.ner.align import Aligner
from biotune.errors import BiotuneError
from biotune.experiments.evaluate import evaluate_splits
from biotune.tasks.ner.metrics import EvalResult
from biotune.hardware import default_device, use_bf16
from biotune.tasks.ner.tagger import Tagger
from biotune.io import write_json, write_text
from biotune.logs import log_to_file, logger_level
from biotune.tasks.ner.factory import build_model, load_model, save_model
from biotune.experiments.run_folder import RunPaths
from biotune.tasks.ner.features import PaddingCollator, encode, label_space
from biotune.training.preflight import Inputs, check_inputs
from biotune.training.processes import is_main_process, process_count, wait_for_everyone
from biotune.training.strategies import Phase, plan_phases
from biotune.training.trainer import (NerTrainer, SaveAtEpochEnd, complete_checkpoints,
                                      drop_incomplete_checkpoints)

log = logging.getLogger("biotune")

TRAINING_RECORD = "training.json"  # next to best_model/: what the summary needs from the finished Trainer


@dataclass
class TrainResult:
    paths: RunPaths
    dev_f1: float | None
    results: dict[str, EvalResult]  # empty on the non-main ranks of a multi-process run
    summary: dict[str, object]
    main_process: bool = field(default=True)


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
        save_strategy="steps" if t.checkpoint_steps else "epoch",
        save_steps=t.checkpoint_steps or 500,
        save_total_limit=2 if select else 1,  # the latest (to resume) and the best epoch (rotation keeps it)
        restore_callback_states_from_checkpoint=True,  # early stopping's patience counter survives a resume
        load_best_model_at_end=select and not t.checkpoint_steps,  # with step saves `_fit` loads the best itself
        metric_for_best_model="f1" if select else None,
        greater_is_better=True,
        logging_steps=t.logging_steps,
        remove_unused_columns=False,  # the weight and O-alternative columns must reach the loss
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        report_to=[],
        disable_tqdm=False,
    )


def train(config: ExperimentConfig, overwrite: bool = False) -> TrainResult:
    """Fine-tune with the configured strategy, select on dev, save, evaluate on the test sets.

    An unfinished run of the same config is resumed; a finished one is replaced only with `overwrite`.
    """
    paths = RunPaths(Path(config.output_dir), config.run_name, config.training.seed)
    inputs = check_inputs(config)
    status = paths.status()
    if status == "finished" and not overwrite:
        raise BiotuneError(f"run folder {paths.results} already holds a finished run; pass --overwrite to replace "
                           "it, or choose another --seed / --output-dir / name")
    resume = status == "unfinished" and not overwrite
    if resume:
        check_same_config(paths, config)
    main = is_main_process()
    if main:
        paths.prepare(overwrite, resume=resume)
    wait_for_everyone()
    log_file = paths.logs / "train.log"
    try:
        with log_to_file(log_file) if main else logger_level(logging.WARNING):  # a non-main rank: warnings only
            if resume:
                log.info("unfinished run found in %s: resuming it", paths.results)
            if main and not paths.snapshot.is_file():
                write_text(paths.snapshot, config.to_yaml())
            return _train(config, paths, inputs, main)
    except BaseException:
        if main:  # the traceback belongs to the run's log; the console gets the one-line message
            with open(log_file, "a", encoding="utf-8") as handle:
                handle.write(f"run failed:\n{traceback.format_exc()}")
        raise


def check_same_config(paths: RunPaths, config: ExperimentConfig) -> None:
    """Refuse to continue (or reuse) a run whose snapshot is another experiment, naming the keys."""
    if not paths.snapshot.is_file():
        return
    differing = differing_keys([read_snapshot(paths.snapshot), config.model_dump(mode="json")])
    if differing:
        kind = "finished" if paths.summary.is_file() else "unfinished"
        raise BiotuneError(f"{paths.results} holds a {kind} run of another config (differs in "
                           f"{', '.join(differing)}); pass --overwrite to replace it, or choose another "
                           "--seed / --output-dir / name")


def _train(config: ExperimentConfig, paths: RunPaths, inputs: Inputs, main: bool) -> TrainResult:
    sources, dev_split = inputs.sources, inputs.dev
    labels = label_space([s.sentences for s in sources] + ([dev_split.sentences] if dev_split else []),
                         extra_types=[t for s in sources for t in s.types])
    phases = plan_phases(config.training.strategy, sources, config.training)
    init = config.model.backbone
    phase_summaries: list[dict[str, object]] = []
    for k, phase in enumerate(phases, start=1):
        last = k == len(phases)
        out = paths if last else paths.for_phase(f"phase_{k}_{phase.name}")
        if not last and out.summary.is_file():  # finished before a crash of a later phase
            log.info("phase %d (%s) finished before: kept", k, phase.name)
            phase_summaries.append(json.loads(out.summary.read_text(encoding="utf-8")))
            init = str(out.best_model)
            continue
        result = _run_phase(config, phase, init, labels, inputs, out, main)
        summary = {"phase": k, "sources": [s.name for s in phase.sources], **result.summary}
        phase_summaries.append(summary)
        if not last and main:
            write_json(out.summary, summary)
        wait_for_everyone()
        init = str(out.best_model)
    summary = {**phase_summaries[-1], "strategy": config.training.strategy, "phases": phase_summaries}
    if main:
        write_json(paths.summary, summary)
    wait_for_everyone()
    return TrainResult(paths, result.dev_f1, result.results, summary, main)


def _run_phase(config: ExperimentConfig, phase: Phase, init: str, labels: list[str], inputs: Inputs,
               paths: RunPaths, main: bool) -> TrainResult:
    """One Trainer run from `init` (a backbone or the previous phase's best model), resumed from
    its last checkpoint when one exists; a phase whose best model was saved is only evaluated."""
    t = config.training
    tokenizer, dev_split = inputs.tokenizer, inputs.dev
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
    bf16 = use_bf16(t.bf16, default_device())
    record_file = paths.checkpoint / TRAINING_RECORD
    if paths.best_model.is_dir() and record_file.is_file():
        log.info("phase %s: trained before the interruption; evaluating %s", phase.name, paths.best_model)
        model = load_model(str(paths.best_model))
        record = json.loads(record_file.read_text(encoding="utf-8"))
    else:
        model, record = _fit(config, phase, init, labels, features, dev_split, dev_types, tokenizer, bf16, paths, main)
    if main:
        tagger = Tagger(model, tokenizer, max_length=config.model.max_length,  # type: ignore[arg-type]
                        batch_size=t.eval_batch_size, precision="autocast" if bf16 else "fp32",
                        pack=config.model.pack_sentences)
        results = evaluate_splits(tagger, inputs.tests, paths.results)
    else:
        results = {}
    summary: dict[str, object] = {
        "name": config.name,
        "seed": t.seed,
        "labels": labels,
        "train_sentences": len(sentences),
        "train_windows": len(features),
        **record,
        "bf16": bf16,
        "torch_threads": torch.get_num_threads(),
        "processes": process_count(),
        "test": {name: r.f1 for name, r in results.items()},
    }
    return TrainResult(paths, record["best_dev_f1"], results, summary, main)  # type: ignore[arg-type]


def _fit(config: ExperimentConfig, phase: Phase, init: str, labels: list[str], features: list[dict[str, object]],
         dev_split: Split | None, dev_types: tuple[str, ...], tokenizer: object, bf16: bool, paths: RunPaths,
         main: bool) -> tuple[torch.nn.Module, dict[str, object]]:
    """Train (or resume) the phase; save `best_model/` and the training record; return the model."""
    t = config.training
    model = build_model(init, labels, config.model.head, config.model.dropout)
    model.config.biotune = {"max_length": config.model.max_length, "pack": config.model.pack_sentences,
                            "word_tokenizer": "biotune.formats.text",
                            # how the run's own evaluation computes: `biotune evaluate` defaults to it
                            "precision": "autocast" if bf16 else "fp32", "eval_batch_size": t.eval_batch_size}
    work = paths.trainer_dir
    select = bool(dev_types)
    callbacks: list[TrainerCallback] = []
    if t.early_stopping_patience and select:
        callbacks.append(EarlyStoppingCallback(t.early_stopping_patience))
    if t.checkpoint_steps and select:
        callbacks.append(SaveAtEpochEnd())
    args = _training_args(config, phase, work, select, bf16)
    trainer = NerTrainer(
        model=model,
        args=args,
        train_dataset=features,
        eval_dataset=dev_split.sentences if select else None,
        data_collator=PaddingCollator(tokenizer.pad_token_id or 0, len(labels)),  # type: ignore[attr-defined]
        processing_class=tokenizer,
        callbacks=callbacks,
        dev_sentences=dev_split.sentences if select else (),
        dev_types=dev_types,
        eval_batch_size=t.eval_batch_size,
        max_length=config.model.max_length,
        crf_learning_rate=t.crf_learning_rate,
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
    record: dict[str, object] = {
        "epochs_run": trainer.state.epoch,
        "resumed_from_step": start_step,
        "train_seconds": train_seconds,
        "dev_eval_seconds": trainer.eval_seconds,
        "train_sentences_per_second": len(phase.sentences) * epochs_now / max(train_seconds - trainer.eval_seconds, 1e-9),
        "dev_types": list(dev_types),
        "best_dev_f1": trainer.state.best_metric,
        "dev_history": [{"epoch": e["epoch"], "dev_f1": e["eval_f1"]} for e in trainer.state.log_history if "eval_f1" in e],
    }
    if main:
        staging = paths.checkpoint / ".best_model.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        save_model(trainer.model, staging)
        tokenizer.save_pretrained(str(staging))  # type: ignore[attr-defined]
        shutil.rmtree(paths.best_model, ignore_errors=True)
        staging.rename(paths.best_model)
        write_json(paths.checkpoint / TRAINING_RECORD, record)
        shutil.rmtree(work, ignore_errors=True)
    wait_for_everyone()
    return trainer.model, record


def _checkpoint_epoch(checkpoint: Path) -> float:
    return float(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")).get("epoch") or 0.0)
