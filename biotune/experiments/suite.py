"""Benchmark suites: every backbone x dataset x seed as an ordinary run, then one leaderboard.

A suite file (YAML, `extends:` allowed) names backbones, datasets and seeds:

    name: blurb_small                 # default: the file's stem
    output_dir: outputs
    data_dir: ../shared/data          # root of the datasets' data_dir (relative: to the working directory)
    seeds: [42, 1337, 2024]
    backbones: [minilm, {name: pubmedbert, backbone: microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract}]
    overrides: {training.epochs: 1}   # dotted keys for every run
    datasets:
      bc5cdr: {config: ../bc5cdr.yaml, data_dir: corpora}
      chemprot: {config: ../re/chemprot.yaml, data_dir: re, overrides: {training.batch_size: 16}}
      mine: {task: ner, settings: {data: {corpus: path/to/folder}}, family: NER, metric: micro.f1}
    families: [NER, RE, PICO]         # the benchmark's families: one without a dataset makes the score incomplete
    published: blurb_published.yaml  # published rows beside biotune's (a file relative to this one, or inline)

Each (backbone, dataset, seed) is one `biotune.experiments.run.train` run named
`<suite>__<backbone>__<dataset>` (plus `__limit<N>` for a limited run), in the usual run
folders, so `aggregate`, `evaluate` and `predict` work on it. Its config is the dataset's
config file (relative to the suite file) with the inline `settings` over it, then the suite's
`overrides`, then the dataset's, then the backbone, the run name, `output_dir` and `data_dir`.

Everything that can be checked without reading data is checked before anything runs: every
key of the suite and of each resolved run config (one line, with "did you mean"), every task,
backbone (a local folder must exist; a name that is not one must look like a hub id `org/name`,
or be `minilm`) and config file, and every run folder that already holds a run of another
config (named with the keys that differ; `overwrite` retrains those). Then finished runs are
skipped, unfinished ones resumed, the rest trained, in this process or as Ray tasks
(`biotune.experiments.dispatch`); a run that fails is recorded with its error and the others go
on. The outcome of every run goes to `results/<suite>/runs.json`, and the leaderboard
(`biotune.experiments.leaderboard`) to `results/<suite>/leaderboard.{md,json,png}`.

`published` holds numbers from papers (the source is required), never results: the leaderboard
shows them as labelled columns beside biotune's and averages them only among themselves.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from biotune.config import (ExperimentConfig, apply_overrides, differing_keys, flatten, read_snapshot, read_yaml, validate,
                            validate_model)
from biotune.errors import BiotuneError
from biotune.experiments.aggregate import aggregate
from biotune.experiments.model_card import rewrite_cards
from biotune.experiments.dispatch import JobOutcome, run_jobs
from biotune.experiments.leaderboard import Entry, Published, PublishedRow, build_leaderboard, write_leaderboard
from biotune.experiments.run_folder import RunPaths
from biotune.io import write_json
from biotune.registry import did_you_mean
from biotune.tasks import task_spec

log = logging.getLogger("biotune")

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
LABEL = re.compile(r"[\w.-]+")
DEFAULT_BACKBONE = "minilm"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackboneSpec(_Section):
    """A backbone of the suite; in YAML either its id alone or `{name, backbone}`."""

    backbone: str = Field(..., description="hub id (org/name), local folder, or minilm (the bundled MiniLM-L6)")
    name: str | None = Field(None, description="its label in run names and the leaderboard (default: the id's last part)")

    @property
    def label(self) -> str:
        return self.name or Path(self.backbone.rstrip("/")).name or self.backbone


class DatasetSpec(_Section):
    """A dataset of the suite: a config file and/or inline settings, its overrides, its family and metric."""

    config: str | None = Field(None, description="experiment config file (relative to the suite file)")
    settings: dict[str, Any] = Field(default_factory=dict, description="inline config keys, over the config file's")
    task: str | None = Field(None, description="a registered task: ner | re | qa | yesno | similarity | multilabel "
                             "(default: the config's)")
    data_dir: str | None = Field(None, description="its data folder, relative to the suite's data_dir")
    overrides: dict[str, Any] = Field(default_factory=dict, description="dotted config keys for its runs")
    family: str | None = Field(None, description="task family it counts for (default: the one its task declares: NER, "
                               "RE, QA, Similarity, Classification)")
    metric: str | None = Field(None, description="dotted key into its eval result (default: the task's headline)")
    test_set: str | None = Field(None, description="which test set the leaderboard reads (default: the run's first)")

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str | None) -> str | None:
        from biotune.tasks import TASKS

        message = TASKS.unknown(value) if value is not None else None
        if message:
            raise ValueError(message)
        return value

    @model_validator(mode="after")
    def _has_a_config(self) -> DatasetSpec:
        if self.config is None and not self.settings:
            raise ValueError("give a config file (config) or inline settings (settings)")
        return self


class PublishedModel(_Section):
    """One published model's row: what it is and its test scores (percent) by the suite's dataset names."""

    model: str = Field(..., description="what was fine-tuned (encoder, size, pretraining text)")
    scores: dict[str, float] = Field(..., description="dataset name (as in the suite) -> published test score (%)")
    blurb_score: float | None = Field(None, description="the paper's own BLURB score, over all of its families")


class PublishedTable(_Section):
    """Published rows shown beside the suite's (papers' numbers, not biotune results)."""

    source: str = Field(..., min_length=1, description="where the numbers come from (papers, tables)")
    note: str = Field(..., min_length=1, description="what the numbers are (hardware, model size, test split)")
    rows: dict[str, PublishedModel] = Field(..., min_length=1, description="column label -> the published row")

    def as_published(self) -> Published:
        return Published(self.source, self.note, tuple(PublishedRow(label, row.model, row.scores, row.blurb_score)
                                                       for label, row in self.rows.items()))


class SuiteConfig(_Section):
    """A benchmark suite: backbones x datasets x seeds."""

    name: str = Field("suite", description="suite name: runs are <name>__<backbone>__<dataset>")
    output_dir: str = Field("outputs", description="root of every run's folders and of results/<name>/")
    data_dir: str | None = Field(None, description="root of the datasets' data_dir (default: each config's own)")
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1, description="seeds of every run")
    backbones: list[BackboneSpec] = Field(default_factory=lambda: [BackboneSpec(backbone=DEFAULT_BACKBONE)],
                                          min_length=1, description="backbones to compare")
    overrides: dict[str, Any] = Field(default_factory=dict, description="dotted config keys for every run")
    datasets: dict[str, DatasetSpec] = Field(..., min_length=1, description="dataset name -> its spec")
    families: list[str] = Field(default_factory=list, description="the benchmark's families in order; one without a "
                                "dataset here is shown absent and makes the BLURB score incomplete (default: the "
                                "datasets' own)")
    published: PublishedTable | None = Field(None, description="published rows shown beside biotune's (a YAML file "
                                             "relative to the suite file, or inline)")

    @field_validator("backbones", mode="before")
    @classmethod
    def _plain_ids(cls, value: Any) -> Any:
        return [{"backbone": item} if isinstance(item, str) else item for item in value] \
            if isinstance(value, list) else value

    @model_validator(mode="after")
    def _names(self) -> SuiteConfig:
        for what, names in (("suite name", [self.name]), ("backbone name", [b.label for b in self.backbones]),
                            ("dataset name", list(self.datasets))):
            for name in names:
                if not LABEL.fullmatch(name):
                    raise ValueError(f"{what} {name!r}: use letters, digits, '.', '_' and '-' only")
            if len(set(names)) != len(names):
                raise ValueError(f"{what}s must be unique: {names}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be unique: {self.seeds}")
        for label, row in (self.published.rows if self.published else {}).items():
            for dataset in row.scores:
                if dataset not in self.datasets:
                    raise ValueError(f"published.rows.{label}.scores: no dataset {dataset!r} in the suite"
                                     f"{did_you_mean(dataset, self.datasets)}")
        return self


def validate_suite(data: dict[str, Any], origin: str) -> SuiteConfig:
    """A raw mapping as a `SuiteConfig`; one-line errors naming every bad key (with "did you mean")."""
    return validate_model(SuiteConfig, data, origin, "suite")


def load_suite(path: str | Path, overrides: dict[str, Any] | None = None) -> SuiteConfig:
    """Read a suite file (`extends:` resolved), set suite keys from `overrides` (`output_dir`, `data_dir`,
    `seeds`, ...; None values skipped), validate. `name` defaults to the file stem; relative dataset config
    paths and a `published` file are relative to this file (also those a suite inherits through `extends`)."""
    path = Path(path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    data.update({key: value for key, value in (overrides or {}).items() if value is not None})
    if isinstance(data.get("published"), str):
        data["published"] = read_yaml(path.parent / data["published"])
    datasets = data.get("datasets")
    if isinstance(datasets, dict):
        data["datasets"] = {name: {**spec, "config": str(path.parent / spec["config"])}
                            if isinstance(spec, dict) and isinstance(spec.get("config"), str) else spec
                            for name, spec in datasets.items()}
    return validate_suite(data, str(path))


def restrict(suite: SuiteConfig, only: Sequence[str]) -> SuiteConfig:
    """The suite with only the datasets and backbones named in `only` (a kind none of whose names is given stays
    whole); an unknown name is a `BiotuneError` with "did you mean"."""
    if not only:
        return suite
    known = [*suite.datasets, *(b.label for b in suite.backbones)]
    for name in only:
        if name not in known:
            raise BiotuneError(f"--only {name!r}: no such dataset or backbone in suite {suite.name!r}"
                               f"{did_you_mean(name, known)}; choose from: {', '.join(known)}")
    datasets = {n: d for n, d in suite.datasets.items() if n in only} or suite.datasets
    backbones = [b for b in suite.backbones if b.label in only] or suite.backbones
    return suite.model_copy(update={"datasets": datasets, "backbones": backbones})


def check_backbone(backbone: str) -> None:
    """A backbone must be `minilm`, an existing local folder, or look like a hub id (`org/name`)."""
    if backbone == DEFAULT_BACKBONE:
        return
    folder = Path(backbone).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise BiotuneError(f"backbone {backbone!r} is a file; give a model folder, a hub id or {DEFAULT_BACKBONE}")
        return
    looks_local = backbone.startswith((".", "/", "~")) or not HUB_ID.fullmatch(backbone)
    if looks_local:
        raise BiotuneError(f"unknown backbone {backbone!r}: no such local folder, and not a hub id (org/name)"
                           f"{did_you_mean(backbone, [DEFAULT_BACKBONE])}")


@dataclass(frozen=True)
class PlannedRun:
    """One (backbone, dataset, seed) of a suite, with its resolved config."""

    backbone: str
    dataset: str
    seed: int
    config: ExperimentConfig

    @property
    def key(self) -> str:
        return f"{self.backbone}/{self.dataset}/seed_{self.seed}"

    @property
    def paths(self) -> RunPaths:
        return RunPaths(Path(self.config.output_dir), self.config.run_name, self.seed)


def family_of(spec: DatasetSpec, task: str) -> str:
    """The suite's own `family:` for the dataset, else the one its task declares (`TaskSpec.family`)."""
    return spec.family or task_spec(task).family


def _dataset_data(suite: SuiteConfig, name: str, spec: DatasetSpec) -> dict[str, Any]:
    """The raw config of one dataset: its file, its settings, the suite's then its own overrides."""
    origin = f"datasets.{name}"
    data: dict[str, Any] = read_yaml(Path(spec.config)) if spec.config else {}
    data = apply_overrides(data, flatten(spec.settings), keep_none=True)
    if spec.task is not None:
        if "task" in data and data["task"] != spec.task:
            raise BiotuneError(f"{origin}: task {spec.task!r}, but its config is for task {data['task']!r}")
        data["task"] = spec.task
    data = apply_overrides(data, suite.overrides, keep_none=True)
    data = apply_overrides(data, spec.overrides, keep_none=True)
    if suite.data_dir is not None or spec.data_dir is not None:
        root = Path(suite.data_dir) if suite.data_dir is not None else Path()
        data = apply_overrides(data, {"data.data_dir": os.path.abspath(root / (spec.data_dir or ""))})
    return data


def plan_suite(suite: SuiteConfig, origin: str = "suite", overrides: dict[str, Any] | None = None) -> list[PlannedRun]:
    """Every run of the suite, checked (see the module docstring); nothing is read but configs.

    `overrides` (dotted keys, e.g. from the command line) apply to every run, after the suite's
    and the dataset's own.
    """
    for backbone in suite.backbones:
        check_backbone(backbone.backbone)
    output_dir = os.path.abspath(suite.output_dir)  # Ray workers may start elsewhere (a path-only key)
    runs = []
    for name, spec in suite.datasets.items():
        try:
            data = apply_overrides(_dataset_data(suite, name, spec), overrides or {}, keep_none=True)
        except BiotuneError as exc:
            raise BiotuneError(f"{origin}: datasets.{name}: {exc}") from None
        for backbone in suite.backbones:
            run = apply_overrides(data, {"name": f"{suite.name}__{backbone.label}__{name}", "output_dir": output_dir,
                                         "model.backbone": backbone.backbone})
            for seed in suite.seeds:
                config = validate(apply_overrides(run, {"training.seed": seed}),
                                  f"{origin}: datasets.{name} ({backbone.label})")
                runs.append(PlannedRun(backbone.label, name, seed, config))
    return runs


def stale_keys(run: PlannedRun) -> list[str]:
    """The keys in which the run folder's snapshot differs from the planned config (empty: the same, or no run)."""
    if not run.paths.snapshot.is_file():
        return []
    return differing_keys([read_snapshot(run.paths.snapshot), run.config.model_dump(mode="json")])


def train_run(config: ExperimentConfig, overwrite: bool) -> dict[str, Any]:
    """One suite run (a dispatch job): train, and return its test headlines."""
    from biotune.experiments.run import train

    return {"test": train(config, overwrite=overwrite).summary.get("test")}


@dataclass
class SuiteOutcome:
    """What `run_suite` did (run keys `backbone/dataset/seed_<seed>`) and the leaderboard it wrote."""

    results_dir: Path
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    leaderboard: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def run_suite(suite: SuiteConfig, *, origin: str = "suite", overrides: dict[str, Any] | None = None,
              overwrite: bool = False, ray: bool = False,
              ray_address: str | None = None, workers: int | None = None, gpus_per_worker: float = 0.0,
              cpus_per_worker: float = 1.0, on_done: Callable[[JobOutcome], None] | None = None) -> SuiteOutcome:
    """Plan and check the suite (`overrides` as for `plan_suite`), run what is not finished, record every run's
    outcome, write the leaderboard.

    A finished run of the same config is skipped; one of another config is refused before
    anything runs (naming the keys), or retrained with `overwrite`.
    """
    runs = plan_suite(suite, origin, overrides)
    jobs = []
    outcome = SuiteOutcome(Path(os.path.abspath(suite.output_dir)) / "results" / suite.name)
    for run in runs:
        differing = stale_keys(run)
        if differing and not overwrite:
            kind = run.paths.status()
            raise BiotuneError(f"{origin}: {run.paths.results} holds a {kind} run of another config (differs in "
                               f"{', '.join(differing)}); pass --overwrite to retrain it")
        if run.paths.status() == "finished" and not differing:
            outcome.skipped.append(run.key)
            continue
        jobs.append((run.key, train_run, (run.config, bool(differing))))
    log.info("suite %s: %d runs, %d finished before, %d to run", suite.name, len(runs), len(outcome.skipped), len(jobs))
    for done in run_jobs(jobs, ray=ray, ray_address=ray_address, workers=workers, gpus_per_job=gpus_per_worker,
                         cpus_per_job=cpus_per_worker, on_done=on_done):
        if done.error is None:
            outcome.trained.append(done.key)
        else:
            log.error("run %s failed: %s", done.key, done.error)
            outcome.failed[done.key] = done.error
    _aggregate_each(runs)
    write_json(outcome.results_dir / "runs.json", {"suite": suite.name, "runs": [
        {"backbone": r.backbone, "dataset": r.dataset, "seed": r.seed, "run": r.config.run_name,
         "status": "failed" if r.key in outcome.failed else "trained" if r.key in outcome.trained else "skipped",
         "error": outcome.failed.get(r.key)} for r in runs]})
    outcome.leaderboard = build_leaderboard(suite.name, entries(suite, runs, outcome.failed), suite.families,
                                            suite.published.as_published() if suite.published else None)
    outcome.files = write_leaderboard(outcome.leaderboard, outcome.results_dir)
    return outcome


def entries(suite: SuiteConfig, runs: Sequence[PlannedRun], failed: dict[str, str]) -> list[Entry]:
    """The leaderboard's (backbone, dataset) entries of the planned runs, with the errors of the failed ones."""
    out = []
    for backbone in dict.fromkeys(r.backbone for r in runs):
        for dataset in dict.fromkeys(r.dataset for r in runs):
            mine = [r for r in runs if r.backbone == backbone and r.dataset == dataset]
            spec, first = suite.datasets[dataset], mine[0]
            out.append(Entry(backbone, dataset, family_of(spec, first.config.task), Path(first.config.output_dir),
                             first.config.run_name, tuple(r.seed for r in mine), spec.metric, spec.test_set,
                             {r.seed: failed[r.key] for r in mine if r.key in failed},
                             {r.seed: ", ".join(keys) for r in mine if (keys := stale_keys(r))}))
    return out


def _aggregate_each(runs: Sequence[PlannedRun]) -> None:
    """`biotune aggregate`'s files and the seeds' model cards for every (backbone, dataset) with a finished seed,
    as `biotune run` leaves them."""
    folders = {r.paths.results.parent: r.config for r in runs if r.paths.status() == "finished"}
    for folder, config in folders.items():
        try:
            rewrite_cards(config, aggregate(folder))  # each seed's model card gets the seeds' mean ± std
        except BiotuneError as exc:  # e.g. older seeds of another config beside the suite's: the leaderboard is unaffected
            log.warning("not aggregated: %s", exc)
