"""`train(config)`: the main job of every task, from a validated config to a finished run folder.

Steps, each a call into the config's task (`biotune.tasks.contract.Task`): read the sources
and splits -> build one label space from every source and dev -> plan the strategy's phases ->
per phase: fit it (`biotune.training.fit`: featurise, fine-tune with the Trainer and the task's
loss, select the epoch with the best dev headline score), save `best_model/` (a standard Hugging
Face folder), evaluate on every test set -> write results atomically, then the model card
(`best_model/README.md`, `biotune.experiments.model_card`). The summary file is written last, so
its presence marks a finished run (with its card). A split whose predictions collapsed to one
class (`Result.collapse`: the selected epoch's dev, a test set) is named in a console warning,
in the summary's `collapsed` and in the card.

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
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainerCallback

from biotune.config import ExperimentConfig, differing_keys, read_snapshot
from biotune.errors import BiotuneError
from biotune.experiments.evaluate import evaluate_splits
from biotune.experiments.model_card import describe_data, write_card
from biotune.experiments.run_folder import RunPaths
from biotune.hardware import default_device, use_bf16
from biotune.io import write_json, write_text
from biotune.logs import log_to_file, logger_level
from biotune.tasks import get_task
from biotune.tasks.contract import Bundle, Result, Task
from biotune.training.fit import fit_phase, precision_name
from biotune.training.preflight import Inputs, check_inputs
from biotune.training.processes import is_main_process, process_count, wait_for_everyone
from biotune.training.strategies import Phase, plan_phases

log = logging.getLogger("biotune")

TRAINING_RECORD = "training.json"  # next to best_model/: what the summary needs from the finished Trainer


@dataclass
class TrainResult:
    paths: RunPaths
    dev_score: float | None
    results: dict[str, Result]  # empty on the non-main ranks of a multi-process run
    summary: dict[str, object]
    main_process: bool = field(default=True)


def train(config: ExperimentConfig, overwrite: bool = False, callbacks: Sequence[TrainerCallback] = ()) -> TrainResult:
    """Fine-tune with the configured strategy, select on dev, save, evaluate on the test sets.

    An unfinished run of the same config is resumed; a finished one is replaced only with `overwrite`.
    `callbacks` join the Trainer of every phase (a search reports each dev evaluation to its pruner).
    """
    paths = RunPaths(Path(config.output_dir), config.run_name, config.training.seed)
    task = get_task(config.task)
    inputs = check_inputs(task, config)
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
            return _train(task, config, paths, inputs, main, callbacks)
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


def _train(task: Task, config: ExperimentConfig, paths: RunPaths, inputs: Inputs, main: bool,
           callbacks: Sequence[TrainerCallback] = ()) -> TrainResult:
    sources, dev_split = inputs.sources, inputs.dev
    labels = task.label_space(sources, dev_split)
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
        result = _run_phase(task, config, phase, init, labels, inputs, out, main, callbacks)
        summary = {"phase": k, "sources": [s.name for s in phase.sources], **result.summary}
        phase_summaries.append(summary)
        if not last and main:
            write_json(out.summary, summary)
        wait_for_everyone()
        init = str(out.best_model)
    summary = {**phase_summaries[-1], "strategy": config.training.strategy, "phases": phase_summaries,
               "data": describe_data(task, config, inputs.sources, inputs.dev, inputs.tests)}
    if main:
        write_card(paths, config, summary)  # before the summary: a finished run always has its card
        write_json(paths.summary, summary)
    wait_for_everyone()
    return TrainResult(paths, result.dev_score, result.results, summary, main)


def _run_phase(task: Task, config: ExperimentConfig, phase: Phase, init: str, labels: list[str], inputs: Inputs,
               paths: RunPaths, main: bool, callbacks: Sequence[TrainerCallback] = ()) -> TrainResult:
    """One phase fitted from `init` (a backbone or the previous phase's best model) in the run folder's
    Trainer folder (resumed from its last checkpoint when one exists), saved, then evaluated on the
    test sets; a phase whose best model was saved is only evaluated."""
    t = config.training
    bf16 = use_bf16(t.bf16, default_device())
    record_file = paths.checkpoint / TRAINING_RECORD
    if paths.best_model.is_dir() and record_file.is_file():
        log.info("phase %s: trained before the interruption; evaluating %s", phase.name, paths.best_model)
        bundle = task.load(paths.best_model)
        record = json.loads(record_file.read_text(encoding="utf-8"))
    else:
        fitted = fit_phase(task, config, phase, init, labels, inputs.dev, bf16, paths.trainer_dir, main, callbacks)
        bundle, record = fitted.bundle, fitted.record
        _save(task, bundle, record, paths, main)
    if main:
        predictor = task.predictor(bundle, precision=precision_name(bf16), batch_size=t.eval_batch_size)
        results = evaluate_splits(task, predictor, inputs.tests, paths.results)
    else:
        results = {}
    collapsed = {name: message for name, message in [("dev", record.get("dev_collapse")),
                                                      *((name, r.collapse) for name, r in results.items())] if message}
    for name, message in collapsed.items():
        log.warning("phase %s: the %s predictions collapsed to one class: %s", phase.name, name, message)
    summary: dict[str, object] = {
        "name": config.name,
        "task": task.name,
        "seed": t.seed,
        "labels": labels,
        **record,
        "bf16": bf16,
        "torch_threads": torch.get_num_threads(),
        "processes": process_count(),
        "test": {name: r.headline for name, r in results.items()},
        "collapsed": collapsed,  # split ("dev" or a test set) -> what its predictions collapsed to
    }
    return TrainResult(paths, record["best_dev_score"], results, summary, main)  # type: ignore[arg-type]


def _save(task: Task, bundle: Bundle, record: dict[str, object], paths: RunPaths, main: bool) -> None:
    """Save `best_model/` (staged, then renamed) and the training record, then drop the Trainer's checkpoints."""
    if main:
        staging = paths.checkpoint / ".best_model.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        task.save(bundle, staging)
        shutil.rmtree(paths.best_model, ignore_errors=True)
        staging.rename(paths.best_model)
        write_json(paths.checkpoint / TRAINING_RECORD, record)
        shutil.rmtree(paths.trainer_dir, ignore_errors=True)
    wait_for_everyone()
