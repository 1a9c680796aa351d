"""`search(config, space)`: hyperparameter search with Optuna over any dotted config keys.

Each trial is an ordinary training run (`biotune.experiments.run.train`) of the config with the
trial's values, in its own run folder `<name>__trial_<n>`, with no test split at all
(`data.test: []`): a trial reads and scores only train and dev, and its objective is the run's
best dev headline score. Every dev evaluation is reported to Optuna, so a pruner (median by
default) can stop a trial early; a pruned trial still ends as a finished run of the epochs it
trained. Only after the search does the best trial's config train with the final seeds and meet
the test split, once.

The study lives in an Optuna storage: an SQLite file in the search folder by default, or any
database URL several machines share. Reruns continue the study: `trials` is the total to reach,
counting complete, pruned and failed trials. A trial that raises is recorded as failed with its
error; the search goes on and the outcome says so. A rerun with another space, sampler or base
config onto a study is refused, naming what differs. With Ray, each worker runs `study.optimize`
against the shared storage.

One search process at a time owns a search folder: it holds an `flock` on `.search.lock` there
(the kernel drops it when the process dies, SIGKILL included) and every trial it starts records
the folder as its `search`. So a rerun that gets the lock knows that a trial of its folder still
RUNNING was left by a dead process (unless that trial's own worker process, a Ray worker, still
runs on this machine): it puts the very trial back in the queue, runs it first, and its run folder
resumes from the last Trainer checkpoint (or trains from the start when there is none; the log
says which). The trial keeps its number, values and reported dev scores and counts once, so the
study ends with exactly the trials asked for. A concurrent second search of the folder is refused.
Trials that cannot be known dead that way (another machine's, left RUNNING until their heartbeat
is `grace_period` seconds old) and trials interrupted with Ctrl-C end as failed without an error
and are re-queued as a copy with their values that resumes their run folder; re-queued trials run
even when the study already holds `trials` ended ones. A trial that ended for good has no use for
Trainer checkpoints: those a failed run left are removed at the end of each search call.

    <output_dir>/results/<name>__search/study.db          the Optuna study (default storage)
                                         trials.json, trials.md   every trial: state, values, dev score,
                                                                  epochs, seconds, error
                                         history.png, importance.png
                                         best_config.yaml  `extends` the original config + best values
                                         search_summary.json, search_summary.md
    <output_dir>/results/<name>__trial_<n>/seed_<seed>/   each trial's run folder (and checkpoints/, logs/)
    <output_dir>/results/<name>__best/                    the best config's final seeds, aggregated
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback

from biotune.config import ExperimentConfig, apply_overrides, differing_keys, flatten, load_config, validate
from biotune.errors import BiotuneError
from biotune.experiments.run_folder import RunPaths
from biotune.experiments.search_space import SAMPLERS, SearchSpace, check_space
from biotune.io import exclusive_lock, write_figure, write_json, write_text
from biotune.registry import Registry

log = logging.getLogger("biotune")

PRUNERS: Registry[None] = Registry("pruner", dict.fromkeys(("median", "none")))
SPACE_ATTR, CONFIG_ATTR, SAMPLER_ATTR = "biotune_space", "biotune_config", "biotune_sampler"
LOCK = ".search.lock"  # in the search folder: held by the one search process that owns it


@dataclass
class SearchSettings:
    """How to search; the defaults are what `biotune search` does without options."""

    trials: int | None = None  # total trials of the study to reach; None: the grid's size, else 20
    sampler: str | None = None  # tpe | random | grid; None: the space file's
    sampler_seed: int | None = None  # seeds the sampler (worker k of a Ray search uses seed + k)
    pruner: Any = "median"  # median | none, or an `optuna.pruners.BasePruner`
    timeout: float | None = None  # seconds after which no new trial starts (per worker)
    storage: str | None = None  # an Optuna storage URL; None: sqlite in the search folder
    study_name: str | None = None  # None: the config's run name
    final_seeds: int = 3  # seeds the best config trains with at the end (the config's seed and the next ones)
    overwrite: bool = False  # delete the study, its trial runs and the final runs first
    ray: bool = False
    ray_address: str | None = None
    workers: int = 2
    gpus_per_worker: float = 0.0  # per Ray worker, each running trials one after another
    cpus_per_worker: float = 1.0
    heartbeat_interval: int = 60  # seconds between a running trial's heartbeats in the storage
    grace_period: int = 180  # another machine's RUNNING trial whose heartbeat is older than this was killed: re-queued


@dataclass
class SearchResult:
    """What `search` did and wrote."""

    folder: Path
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    final: dict[str, Any] | None
    failed_trials: list[int] = field(default_factory=list)
    failed_seeds: dict[int, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed_trials and not self.failed_seeds and self.best is not None


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs to run trials (picklable: Ray ships it)."""

    base: ExperimentConfig
    space: SearchSpace
    sampler: str
    storage: str
    study_name: str
    target: int
    settings: SearchSettings
    owner: str  # `<host>:<search folder>`, recorded by every trial this search starts (see `_resume_orphans`)


def search_folder(config: ExperimentConfig) -> Path:
    return Path(config.output_dir) / "results" / f"{config.run_name}__search"


def trial_name(config: ExperimentConfig, number: int) -> str:
    return f"{config.name}__trial_{number}"


def _best_name(config: ExperimentConfig) -> str:
    return f"{config.name}__best"


def search(config: ExperimentConfig, space: SearchSpace, settings: SearchSettings | None = None,
           config_path: str | Path | None = None) -> SearchResult:
    """Run (or continue) the study until `settings.trials` trials ended, then write the reports and
    train the best config with the final seeds; `config_path` is the file the best config extends.
    The search folder's lock is held throughout: a second search of the folder meanwhile is refused."""
    settings = settings or SearchSettings()
    plan = _prepare(config, space, settings)
    folder = search_folder(config)
    started = time.perf_counter()
    study = _open_study(plan, worker=0)  # a storage that cannot be opened fails before any folder is made
    with _owning(folder):
        if settings.overwrite:
            _delete_previous(plan, folder)
            study = _open_study(plan, worker=0)
        _check_same_study(study, plan)
        _resume_orphans(study, plan)
        _requeue_interrupted(study)
        if _runs_left(study, plan.target):
            if settings.ray:
                _optimize_on_ray(plan)
            else:
                _optimize(plan, 0, study)
        search_seconds = time.perf_counter() - started
        study = _open_study(plan, worker=0)
        _drop_spent_checkpoints(study)
        return _report(study, plan, folder, config_path, search_seconds)


def _owning(folder: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the search folder's lock while the block runs; a `BiotuneError` naming the holder if
    another process holds it."""
    return exclusive_lock(folder / LOCK, f"{folder}: another `biotune search` is running on this search folder",
                          "wait for it to finish, or use another --output-dir")


def _prepare(config: ExperimentConfig, space: SearchSpace, settings: SearchSettings) -> _Plan:
    """Every check that needs no training: options, the space against the schema, the trials' inputs."""
    from biotune.tasks import get_task
    from biotune.training.preflight import check_inputs

    sampler = settings.sampler or space.sampler
    message = SAMPLERS.unknown(sampler, "--sampler")
    if message:
        raise BiotuneError(message)
    if isinstance(settings.pruner, str) and PRUNERS.unknown(settings.pruner, "--pruner"):
        raise BiotuneError(PRUNERS.unknown(settings.pruner, "--pruner") or "")
    if config.data.dev is None:
        raise BiotuneError("data.dev: a search selects on the dev split; the config has none")
    check_space(space, config)
    grid_size = None
    if sampler == "grid":
        grid_size = 1
        for values in space.grid().values():
            grid_size *= len(values)
    target = settings.trials if settings.trials is not None else grid_size or 20
    if target < 1:
        raise BiotuneError(f"--trials must be at least 1, not {target}")
    if settings.final_seeds < 0:
        raise BiotuneError(f"--final-seeds must be 0 or more, not {settings.final_seeds}")
    if settings.ray and settings.workers < 1:
        raise BiotuneError(f"--workers must be at least 1, not {settings.workers}")
    base = _without_test(config)
    check_inputs(get_task(base.task), base)  # reads train and dev only: a bad file fails before any trial
    storage = settings.storage or f"sqlite:///{(search_folder(config) / 'study.db').resolve()}"
    return _Plan(config, space, sampler, storage, settings.study_name or config.run_name, target, settings,
                 owner=f"{socket.gethostname()}:{search_folder(config).resolve()}")


def _without_test(config: ExperimentConfig) -> ExperimentConfig:
    return validate(apply_overrides(config.model_dump(mode="json"), {"data.test": []}), config.name)


def _delete_previous(plan: _Plan, folder: Path) -> None:
    """--overwrite: the study, the search folder (but the lock this process holds), every trial run
    and the final runs go first."""
    import optuna

    try:
        optuna.delete_study(study_name=plan.study_name, storage=plan.storage)
    except KeyError:  # no such study yet
        pass
    root = Path(plan.base.output_dir)
    best = _best_name(plan.base)
    for kind in ("checkpoints", "results", "logs"):
        if (root / kind).is_dir():
            for run in (root / kind).iterdir():
                if run.is_dir() and (run.name.startswith(f"{plan.base.name}__trial_") or
                                     run.name in (best, f"{best}__limit{plan.base.data.limit}")):
                    shutil.rmtree(run)
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        elif entry.name != LOCK:
            entry.unlink()


def _open_study(plan: _Plan, worker: int) -> Any:
    """The study in its storage (created on first use), with heartbeats so a killed trial is detected."""
    import optuna
    from optuna.storages import RDBStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    engine: dict[str, Any] = {}
    if plan.storage.startswith("sqlite:///"):
        Path(plan.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 120}}  # Ray workers and heartbeat threads wait for the file lock
    try:
        storage = RDBStorage(plan.storage, engine_kwargs=engine, heartbeat_interval=plan.settings.heartbeat_interval,
                             grace_period=plan.settings.grace_period, heartbeat_stale_trial_callback=requeue)
    except Exception as exc:  # a bad URL, a missing database driver, an unreachable server
        raise BiotuneError(f"--storage {plan.storage}: cannot open it: {type(exc).__name__}: {exc}") from None
    seed = None if plan.settings.sampler_seed is None else plan.settings.sampler_seed + worker
    if plan.sampler == "grid":
        sampler: Any = optuna.samplers.GridSampler(plan.space.grid(), seed=seed)
    elif plan.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = plan.settings.pruner
    if isinstance(pruner, str):
        pruner = optuna.pruners.MedianPruner() if pruner == "median" else optuna.pruners.NopPruner()
    return optuna.create_study(storage=storage, sampler=sampler, pruner=pruner, study_name=plan.study_name,
                               direction="maximize", load_if_exists=True)


def _check_same_study(study: Any, plan: _Plan) -> None:
    """Record what the study searches; refuse a rerun that searches something else, naming it."""
    expected = {SPACE_ATTR: plan.space.to_json(), CONFIG_ATTR: plan.base.model_dump(mode="json"),
                SAMPLER_ATTR: plan.sampler}
    stored = study.user_attrs
    if not stored and not study.trials:
        for key, value in expected.items():
            study.set_user_attr(key, value)
        return
    problems = []
    if stored.get(SAMPLER_ATTR) != plan.sampler:
        problems.append(f"sampler {stored.get(SAMPLER_ATTR)!r} -> {plan.sampler!r}")
    old_space, new_space = stored.get(SPACE_ATTR) or {}, expected[SPACE_ATTR]
    changed = sorted(k for k in set(old_space) | set(new_space) if old_space.get(k) != new_space.get(k))
    if changed:
        problems.append(f"search space params {', '.join(changed)}")
    keys = differing_keys([stored.get(CONFIG_ATTR) or {}, expected[CONFIG_ATTR]])
    if keys:
        problems.append(f"base config keys {', '.join(keys)}")
    if problems:
        raise BiotuneError(f"study {plan.study_name!r} in {plan.storage} searched something else (differs in "
                           f"{'; '.join(problems)}); pass --overwrite to start it again, or choose another "
                           "--study-name / --storage")


def _ended(trial: Any) -> bool:
    """A trial that counts toward `trials`: complete, pruned, or failed by its own error (not killed)."""
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "error" in trial.user_attrs)


def _ended_count(study: Any) -> int:
    return sum(_ended(t) for t in study.get_trials(deepcopy=False))


def _awaiting(trials: Sequence[Any]) -> list[Any]:
    """Trials whose values still owe a result: RUNNING, WAITING, and interrupted ones not yet re-queued."""
    requeued = {t.user_attrs["requeued_from"] for t in trials if "requeued_from" in t.user_attrs}
    return [t for t in trials if not _ended(t) and t.number not in requeued]


def _runs_left(study: Any, target: int) -> int:
    """How many trials a worker may still run: what the target lacks, or the queue if it is longer
    (a re-queued trial is owed its run even where fresh trials already filled the target)."""
    from optuna.trial import TrialState

    queued = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    return max(target - _ended_count(study), queued)


def requeue(study: Any, trial: Any) -> None:
    """Queue a WAITING copy of an interrupted trial with its values; `retry_of` names the trial whose
    run folder the copy resumes (the first of a chain of retries). The storage calls this for a
    trial it finds stale (killed: no heartbeat for `grace_period` seconds)."""
    import optuna

    log.info("trial %d was interrupted: re-queued with its values %s", trial.number, trial.params)
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        user_attrs={"retry_of": trial.user_attrs.get("retry_of", trial.number), "requeued_from": trial.number}))


def _requeue_interrupted(study: Any) -> None:
    """Trials that failed without an error of their own (Ctrl-C, or killed and found stale) and were
    not re-queued yet are re-queued."""
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    fail_stale_trials(study)  # stale RUNNING trials -> FAIL, re-queued by the storage's callback
    for trial in _awaiting(study.get_trials(deepcopy=False)):
        if trial.state == TrialState.FAIL:
            requeue(study, trial)


def _resume_orphans(study: Any, plan: _Plan) -> None:
    """Put each trial this search folder's dead process left RUNNING back in the queue, as itself.

    The caller holds the folder's lock, so no live search of the folder runs these trials; only a
    Ray worker that outlived its search could, and one still running on this machine is left alone.
    A trial queued again keeps its number, values, run folder and reported dev scores, so it counts
    once. Its heartbeat is renewed: another machine sharing the storage must not take it for stale
    in the moment between a worker taking it from the queue and that worker's first heartbeat.
    Optuna has no public call that queues a RUNNING trial again: the storage's own is used."""
    import optuna
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("search") != plan.owner or _runs_here(trial.user_attrs.get("worker")):
            continue
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.WAITING)
        except optuna.exceptions.UpdateFinishedTrialError:  # another machine found it stale first: its copy runs
            continue
        study._storage.record_heartbeat(trial._trial_id)
        log.info("trial %d was running when its search process died: it runs again first, %s",
                 trial.number, _resume_point(trial))


def _runs_here(worker: str | None) -> bool:
    """Whether the process a trial recorded as `<host>:<pid>` still runs on this machine (not this
    process: it has not started the trial). Another machine's process cannot be asked."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _run_paths(trial: Any) -> RunPaths | None:
    """The run folder a trial recorded when it started (None: it died before it got that far)."""
    if "run_folder" not in trial.user_attrs:
        return None
    root, name, seed = trial.user_attrs["run_folder"]
    return RunPaths(Path(root), name, seed)


def _trainer_dirs(paths: RunPaths) -> list[Path]:
    """The resumable Trainer checkpoint folders of a run and of its phases, those on this disk."""
    phases = [replace(paths, phase=p.name) for p in sorted(paths.checkpoint.glob("phase_*"))]
    return [p.trainer_dir for p in (paths, *phases) if p.trainer_dir.is_dir()]


def _resume_point(trial: Any) -> str:
    """What running a dead trial again does with its run folder, in words for the log."""
    from biotune.training.trainer import complete_checkpoints

    paths = _run_paths(trial)
    if paths is None:
        return "training from the start (it had not made its run folder)"
    if paths.status() == "finished":
        return f"reading back the scores of its run {paths.results}, which had finished"
    found = [checkpoint for work in _trainer_dirs(paths) for checkpoint in complete_checkpoints(work)]
    if found:
        return f"resuming its run {paths.results} from {found[0]}"
    return f"training its run {paths.results} again from the start (no complete checkpoint)"


def _drop_spent_checkpoints(study: Any) -> None:
    """Remove the Trainer checkpoints of runs no trial needs any more: every trial using the run
    folder ended for good. A finished run removed its own, so these are failed runs' (results and
    log stay); a folder a running, queued or interrupted trial may resume is kept."""
    trials = study.get_trials(deepcopy=False)
    needed = {t.user_attrs.get("retry_of", t.number) for t in _awaiting(trials)}
    for trial in trials:
        paths = _run_paths(trial)
        if paths is not None and _ended(trial) and trial.user_attrs.get("retry_of", trial.number) not in needed:
            for work in _trainer_dirs(paths):
                log.info("trial %d ended (%s): removing its checkpoints %s", trial.number, trial.state.name.lower(),
                         work)
                shutil.rmtree(work, ignore_errors=True)


class ReportToOptuna(TrainerCallback):
    """Reports each dev evaluation to the trial; when the pruner says so, training stops after this
    epoch (the run still ends as a finished run of what it trained). The pruner is asked only where
    the run has training left to save: a run that trained all its epochs is a complete trial.

    Step k is the run's k-th dev evaluation, over all its phases, also where the run resumes after
    a kill: the evaluations it holds from before (kept phases, `replay`; a resumed Trainer's own
    history, `on_train_begin`) take their steps first and are reported only where the trial lacks
    them (`reported`: a trial queued again as itself holds them already), without asking the pruner."""

    def __init__(self, trial: Any, reported: Sequence[int] = ()) -> None:
        self.trial = trial
        self.reported = set(reported)
        self.step = 0
        self.pruned_at: int | None = None

    def replay(self, scores: Sequence[float]) -> None:
        """The run's first dev scores, read from its folder, at steps 1, 2, ..."""
        for step, score in enumerate(scores, start=1):
            self._report(step, score)
        self.step = max(self.step, len(scores))

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        for entry in state.log_history:  # restored from the checkpoint a Trainer resumes from
            if "eval_score" in entry:
                self.step += 1
                self._report(self.step, entry["eval_score"])

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                    **kwargs: Any) -> None:
        if not metrics or "eval_score" not in metrics:
            return
        self.step += 1
        self._report(self.step, metrics["eval_score"])
        if state.global_step < state.max_steps and self.pruned_at is None and self.trial.should_prune():
            self.pruned_at = self.step
            control.should_training_stop = True

    def _report(self, step: int, score: float) -> None:
        if step not in self.reported:
            self.trial.report(score, step)
            self.reported.add(step)


def _objective(trial: Any, plan: _Plan) -> float:
    """One trial: an ordinary training run of the base config with the trial's values, no test split."""
    import optuna

    from biotune.experiments.run import check_same_config, train

    try:  # any error is the trial's, recorded with it: a trial failing without one would be retried
        trial.set_user_attr("search", plan.owner)  # first: a kill from here on is known for what it is
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which machine and process ran it
        values = {param.key: param.suggest(trial) for param in plan.space.params}
        number = trial.user_attrs.get("retry_of", trial.number)  # a re-queued trial resumes its original's folder
        config = validate(apply_overrides(_without_test(plan.base).model_dump(mode="json"),
                                          {**values, "name": trial_name(plan.base, number)}, keep_none=True),
                          f"trial {trial.number}")
        paths = RunPaths(Path(config.output_dir), config.run_name, config.training.seed)
        trial.set_user_attr("run", str(paths.results))
        trial.set_user_attr("run_folder", [str(paths.root), paths.name, paths.seed])
        reporter = ReportToOptuna(trial, _reported_steps(trial))
        if paths.summary.is_file():  # finished before the process was killed: nothing left to train
            check_same_config(paths, config)
            summary = json.loads(paths.summary.read_text(encoding="utf-8"))
        else:
            reporter.replay(_dev_scores([json.loads(p.read_text(encoding="utf-8"))  # phases kept from before a kill
                                         for p in _phase_summaries(paths)]))
            summary = train(config, callbacks=[reporter]).summary  # --overwrite deleted old trial runs first
        reporter.replay(_dev_scores(summary["phases"]))  # what no Trainer reported (a run evaluated, not trained)
        score = summary.get("best_dev_score")
        if score is None:
            raise BiotuneError(f"trial {trial.number}: the run recorded no dev score")
        trial.set_user_attr("dev_score", float(score))
        trial.set_user_attr("epochs_run", summary.get("epochs_run"))
    except Exception as exc:  # recorded with the trial; the search goes on (optimize catches it)
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
        raise
    if reporter.pruned_at is not None:
        raise optuna.TrialPruned(f"pruned after dev evaluation {reporter.pruned_at}")
    return float(score)


def _reported_steps(trial: Any) -> list[int]:
    """The steps a trial holds dev scores at already (one queued again as itself, after a kill)."""
    from optuna.trial import TrialState

    running = trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return next((list(t.intermediate_values) for t in running if t.number == trial.number), [])


def _phase_summaries(paths: RunPaths) -> list[Path]:
    """The summaries of a sequential run's finished phases, first phase first (see `biotune.experiments.run_folder`)."""
    found = paths.results.glob("phase_*/train_summary.json")
    return sorted(found, key=lambda p: int(p.parent.name.split("_")[1]))


def _dev_scores(phases: Sequence[dict[str, Any]]) -> list[float]:
    """A run's dev scores in the order it evaluated, over the phase summaries given."""
    return [entry["dev_score"] for phase in phases for entry in phase.get("dev_history", [])]


class _StopAtTarget:
    """Stops a worker once the study holds `target` ended trials and none is queued (workers
    elsewhere count too)."""

    def __init__(self, target: int) -> None:
        self.target = target

    def __call__(self, study: Any, trial: Any) -> None:
        if not _runs_left(study, self.target):
            study.stop()


def _optimize(plan: _Plan, worker: int, study: Any | None = None) -> int:
    """Run trials against the shared study until it holds `plan.target` ended trials and none is
    queued (or the timeout); optuna runs queued trials before it samples new ones."""
    study = study if study is not None else _open_study(plan, worker)
    runs = _runs_left(study, plan.target)
    if not runs:
        return 0
    before = len(study.get_trials(deepcopy=False))
    # n_trials bounds this worker even if trials kept ending in a state that does not count
    study.optimize(lambda trial: _objective(trial, plan), n_trials=runs,
                   timeout=plan.settings.timeout, catch=(Exception,), callbacks=[_StopAtTarget(plan.target)])
    return len(study.get_trials(deepcopy=False)) - before


def optimize_worker(plan: _Plan, worker: int) -> int:
    """A Ray task's body: this worker's trials (its sampler seeded `sampler_seed + worker`)."""
    return _optimize(plan, worker)


def _optimize_on_ray(plan: _Plan) -> None:
    from biotune.experiments.dispatch import run_jobs

    s = plan.settings
    jobs = [(f"worker_{k}", optimize_worker, (plan, k)) for k in range(s.workers)]
    for outcome in run_jobs(jobs, ray=True, ray_address=s.ray_address, workers=s.workers,
                            gpus_per_job=s.gpus_per_worker, cpus_per_job=s.cpus_per_worker):
        if outcome.error:  # a worker lost: its trial is re-queued by the next run; the others' stand
            log.error("search %s: %s", outcome.key, outcome.error)


def _trial_row(trial: Any) -> dict[str, Any]:
    seconds = trial.duration.total_seconds() if trial.duration is not None else None
    return {"number": trial.number, "state": trial.state.name, "params": trial.params,
            "dev_score": trial.user_attrs.get("dev_score"), "epochs_run": trial.user_attrs.get("epochs_run"),
            "seconds": seconds, "error": trial.user_attrs.get("error"),
            "retry_of": trial.user_attrs.get("retry_of"), "run": trial.user_attrs.get("run"),
            "worker": trial.user_attrs.get("worker")}


def _report(study: Any, plan: _Plan, folder: Path, config_path: str | Path | None,
            search_seconds: float) -> SearchResult:
    from optuna.trial import TrialState

    trials = [_trial_row(t) for t in study.get_trials(deepcopy=False)]
    write_json(folder / "trials.json", trials)
    write_text(folder / "trials.md", render_trials(trials, plan) + "\n")
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    import matplotlib

    matplotlib.use("Agg")  # files only, also on a machine without a display
    plots = {"history": plot_history(study, folder / "history.png")}
    plots["importance"], importances = plot_importance(study, folder / "importance.png")
    failed = [row["number"] for row in trials if row["state"] == "FAIL" and row["error"]]
    best: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    failed_seeds: dict[int, str] = {}
    if complete:
        trial = study.best_trial
        best_file = folder / "best_config.yaml"
        write_text(best_file, best_config_yaml(plan.base, trial, config_path, best_file))
        best = {"number": trial.number, "dev_score": trial.value, "params": trial.params, "config": str(best_file)}
        if plan.settings.final_seeds:
            final, failed_seeds = _final_seeds(best_file, plan)
    summary = {"study": plan.study_name, "storage": plan.storage, "sampler": plan.sampler,
               "sampler_seed": plan.settings.sampler_seed, "target_trials": plan.target,
               "states": {state: sum(r["state"] == state for r in trials) for state in sorted({r["state"] for r in trials})},
               "search_seconds": search_seconds, "best": best, "final": final, "failed_trials": failed,
               "failed_seeds": failed_seeds, "importances": importances, "plots": plots}
    write_json(folder / "search_summary.json", summary)
    write_text(folder / "search_summary.md", render_summary(summary) + "\n")
    return SearchResult(folder, trials, best, final, failed, failed_seeds, summary)


def plot_history(study: Any, out: Path) -> str:
    """The dev score of every complete trial and the best so far (Optuna's plot); the file, or why none."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return "none: no trial completed"
    from optuna.visualization.matplotlib import plot_optimization_history

    _save(plot_optimization_history(study, target_name="dev score"), out)
    return str(out)


def plot_importance(study: Any, out: Path) -> tuple[str, dict[str, float]]:
    """Each searched key's share of the dev score's variation (PED-ANOVA, Optuna's own, no extra
    dependency); it needs two complete trials and a key whose value varied among them."""
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    varied = [k for k in complete[0].params if len({json.dumps(t.params.get(k)) for t in complete}) > 1] if complete else []
    if len(complete) < 2 or not varied:
        return f"none: {len(complete)} complete trial(s){'' if len(complete) < 2 else ', no value varied'}", {}
    from optuna.visualization.matplotlib import plot_param_importances

    evaluator = PedAnovaImportanceEvaluator()
    importances = {k: float(v) for k, v in get_param_importances(study, evaluator=evaluator, params=varied).items()}
    _save(plot_param_importances(study, evaluator=evaluator, params=varied, target_name="dev score"), out)
    return str(out), importances


def _save(axes: Any, out: Path) -> None:
    write_figure(out, axes.figure, dpi=120, bbox_inches="tight")


def best_config_yaml(base: ExperimentConfig, trial: Any, config_path: str | Path | None, out: Path) -> str:
    """A config that `extends` the original file (relative to `out`) with the best values as nested
    keys, plus whatever the search's base config set beyond the file (command-line overrides), so
    that it loads to the base config with the best values. Without a file it is the whole config."""
    name = _best_name(base)
    values = dict(trial.params)
    header = (f"# best trial {trial.number} of the search of {base.name} (dev score {trial.value:.4f}); "
              "biotune run this file --seeds ... trains it again\n")
    if config_path is None:
        data = apply_overrides(base.model_dump(mode="json"), {**values, "name": name}, keep_none=True)
        return header + yaml.safe_dump(data, sort_keys=False)
    path = Path(config_path).resolve()
    from_file = flatten(load_config(path).model_dump(mode="json"))
    wanted = flatten(base.model_dump(mode="json"))
    extra = {k: v for k, v in wanted.items() if k != "name" and json.dumps(from_file.get(k)) != json.dumps(v)}
    nested = apply_overrides({}, {**extra, **values}, keep_none=True)
    data = {"extends": os.path.relpath(path, out.resolve().parent), "name": name, **nested}
    return header + yaml.safe_dump(data, sort_keys=False)


def _final_seeds(best_file: Path, plan: _Plan) -> tuple[dict[str, Any] | None, dict[int, str]]:
    """The best config, loaded from the file just written, trained with the final seeds and tested once."""
    from biotune.experiments.evaluate import headline_of
    from biotune.experiments.seeds import run_seeds

    best = load_config(best_file)
    first = best.training.seed
    outcome = run_seeds(best, [first + k for k in range(plan.settings.final_seeds)], overwrite=plan.settings.overwrite)
    if outcome.aggregated is None:
        return None, outcome.failed
    tests = {name: {"headline_key": r["headline_key"], **headline_of(r)}
             for name, r in outcome.aggregated["test_sets"].items()}
    return {"results_dir": str(outcome.results_dir), "seeds": outcome.aggregated["seeds"], "test": tests}, outcome.failed


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 else f"{value:.{digits}f}"
    return str(value)


def render_trials(trials: Sequence[dict[str, Any]], plan: _Plan) -> str:
    """One row per trial: its values (one column per searched key), state, dev score, epochs, seconds, error."""
    from biotune.tables import markdown_table

    keys = [p.key for p in plan.space.params]
    rows = [[str(t["number"]), t["state"], *(_cell(t["params"].get(k)) for k in keys), _cell(t["dev_score"]),
             _cell(t["epochs_run"], 2), _cell(t["seconds"], 1), t["error"] or ""] for t in trials]
    headers = ["trial", "state", *keys, "dev score", "epochs", "seconds", "error"]
    return (f"# Trials of {plan.study_name} ({plan.sampler})\n\n"
            + markdown_table(headers, rows, ["right", "left", *["right"] * (len(keys) + 3), "left"]))


def render_summary(summary: dict[str, Any]) -> str:
    states = ", ".join(f"{n} {state.lower()}" for state, n in summary["states"].items())
    lines = [f"# Search {summary['study']}", "",
             f"{states} trials ({summary['sampler']}, seed {summary['sampler_seed']}) in "
             f"{summary['search_seconds']:.0f} s (this call)"]
    best = summary["best"]
    if best is None:
        lines.append("\nno trial completed: no best config")
    else:
        values = ", ".join(f"{k}={_cell(v)}" for k, v in best["params"].items())
        lines.append(f"\nbest: trial {best['number']}, dev {best['dev_score']:.4f}: {values} -> {best['config']}")
    final = summary["final"]
    if final:
        for name, test in final["test"].items():
            lines.append(f"\ntest {name} ({test['headline_key']}, seeds {final['seeds']}): "
                         f"{100 * test['mean']:.2f} ± {100 * test['std']:.2f}")
    if summary["failed_trials"]:
        lines.append(f"\nfailed trials: {summary['failed_trials']} (errors in trials.md)")
    if summary["failed_seeds"]:
        lines.append(f"\nfailed final seeds: {summary['failed_seeds']}")
    return "\n".join(lines)
