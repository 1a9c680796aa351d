"""Experiments: one config over several seeds, and sweeps of one config key.

`run_seeds` trains every seed that has no finished run yet (a finished run has its
`train_summary.json`; an unfinished folder left by a crash is resumed), keeps going when a
seed fails (its traceback goes into the seed's `train.log`, the console gets one line), then
aggregates what finished. A finished seed is reused only when its config snapshot is the
current config (path-only keys aside); otherwise the whole call is refused before anything
trains, naming the keys, and `--overwrite` retrains; once aggregated, every finished seed's model
card (`best_model/README.md`) gains the seeds' mean ± std. `sweep` does that for each value of one dotted
config key, in runs named `<name>__<key>=<value>` (the config's own value is the config's own
run), and plots the headline score against the value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biotune.config import ExperimentConfig, apply_overrides, validate
from biotune.errors import BiotuneError
from biotune.experiments.aggregate import aggregate
from biotune.experiments.model_card import rewrite_cards
from biotune.experiments.run_folder import RunPaths
from biotune.training.processes import is_main_process, wait_for_everyone

log = logging.getLogger("biotune")


@dataclass
class SeedsOutcome:
    """What `run_seeds` did: seeds trained now, skipped as finished, failed (with the error)."""

    results_dir: Path
    trained: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    aggregated: dict[str, Any] | None = None
    main_process: bool = True  # False on the other ranks of a torchrun launch, which write nothing


def with_seed(config: ExperimentConfig, seed: int) -> ExperimentConfig:
    return validate(apply_overrides(config.model_dump(mode="json"), {"training.seed": seed}), config.name)


def results_dir(config: ExperimentConfig) -> Path:
    return Path(config.output_dir) / "results" / config.run_name


def check_reusable(config: ExperimentConfig, seeds: list[int]) -> None:
    """Refuse, before training anything, seeds whose existing run folder holds another config."""
    from biotune.experiments.run import check_same_config

    for seed in seeds:
        seeded = with_seed(config, seed)
        check_same_config(RunPaths(Path(seeded.output_dir), seeded.run_name, seed), seeded)


def run_seeds(config: ExperimentConfig, seeds: list[int], overwrite: bool = False) -> SeedsOutcome:
    """Train each seed (skipping finished ones unless `overwrite`, resuming unfinished ones), then
    aggregate the finished runs."""
    import biotune.experiments.run as run

    if not overwrite:
        check_reusable(config, seeds)
    outcome = SeedsOutcome(results_dir(config))
    for seed in seeds:
        paths = RunPaths(Path(config.output_dir), config.run_name, seed)
        if paths.summary.is_file() and not overwrite:
            log.info("seed %d: finished run found, skipped", seed)
            outcome.skipped.append(seed)
            continue
        try:
            run.train(with_seed(config, seed), overwrite=overwrite)
            outcome.trained.append(seed)
        except Exception as exc:  # one seed's failure must not lose the others
            where = f" (traceback in {paths.logs / 'train.log'})" if (paths.logs / "train.log").is_file() else ""
            log.error("seed %d failed: %s: %s%s", seed, type(exc).__name__, exc, where)
            outcome.failed[seed] = f"{type(exc).__name__}: {exc}"
    outcome.main_process = is_main_process()
    if (outcome.trained or outcome.skipped) and outcome.main_process:
        outcome.aggregated = aggregate(outcome.results_dir)
        rewrite_cards(config, outcome.aggregated)  # each seed's model card gains the seeds' mean ± std
    wait_for_everyone()
    return outcome


def parse_value(text: str) -> Any:
    """A sweep value from the command line: YAML scalar, with `all` meaning null (no subsampling)."""
    import yaml

    return None if text.strip().lower() == "all" else yaml.safe_load(text)


def sweep(config: ExperimentConfig, key: str, values: list[Any], seeds: list[int],
          overwrite: bool = False) -> dict[str, Any]:
    """Run `run_seeds` for each value of `key`; write sweep JSON/Markdown and a plot of the headline score."""
    from biotune.experiments.evaluate import headline_of
    from biotune.experiments.plots import plot_sweep
    from biotune.io import write_json, write_text

    base = config.model_dump(mode="json")
    planned: list[tuple[Any, str, ExperimentConfig]] = []
    for value in values:
        label = "all" if value is None else str(value)
        data = apply_overrides(base, {key: value}, keep_none=True)
        if data == base:  # the config's own value: its own runs are this point (finished seeds are reused)
            point = config
        else:
            point = validate(apply_overrides(data, {"name": f"{config.name}__{key}={label}"}), f"{config.name} with {key}={label}")
        if not overwrite:
            check_reusable(point, seeds)  # every point before the first trains: no stale point found late
        planned.append((value, label, point))
    points: list[dict[str, Any]] = []
    for value, label, point in planned:
        outcome = run_seeds(point, seeds, overwrite)
        if not outcome.main_process:  # the main process aggregates and writes the sweep
            continue
        if outcome.aggregated is None:
            raise BiotuneError(f"sweep {key}={label}: every seed failed: {outcome.failed}")
        points.append({"value": value, "label": label, "results_dir": str(outcome.results_dir),
                       "test_sets": {t: headline_of(r) for t, r in outcome.aggregated["test_sets"].items()},
                       "headline_keys": {t: r["headline_key"] for t, r in outcome.aggregated["test_sets"].items()},
                       "failed": outcome.failed})
    out_dir = results_dir(config)
    stem = f"sweep_{key}"
    result = {"key": key, "seeds": seeds, "points": points}
    if not is_main_process():
        return result
    write_json(out_dir / f"{stem}.json", result)
    write_text(out_dir / f"{stem}.md", render_sweep(result))
    plot_sweep(result, out_dir / f"{stem}.png")
    return result


def render_sweep(result: dict[str, Any]) -> str:
    """One row per value, one column per test set: the headline score, mean ± std over the seeds."""
    from biotune.tables import markdown_table

    tests = sorted({t for p in result["points"] for t in p["test_sets"]})
    keys = sorted({k for p in result["points"] for k in p["headline_keys"].values()})
    rows = [[p["label"], *(f"{100 * p['test_sets'][t]['mean']:.2f} ± {100 * p['test_sets'][t]['std']:.2f}"
                           if t in p["test_sets"] else "-" for t in tests)] for p in result["points"]]
    return (f"# Sweep of `{result['key']}` ({', '.join(keys)}, mean ± std over seeds {result['seeds']})\n\n"
            + markdown_table(["value", *tests], rows, ["left"] + ["right"] * len(tests)) + "\n")
