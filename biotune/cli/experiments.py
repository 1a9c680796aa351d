"""Commands over many runs: `aggregate` a config's seeds, `sweep` a key, `benchmark` a suite, `search`
hyperparameters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markdown import Markdown

from biotune.cli.console import console, friendly
from biotune.cli.options import (SEEDS_CONTEXT, ConfigArg, CpusPerWorkerOption, GpusPerWorkerOption, RayAddressOption,
                                 RayOption, SeedsOption, WorkersOption, all_seeds)
from biotune.errors import BiotuneError

app = typer.Typer()


@app.command()
@friendly
def aggregate(
    config: ConfigArg,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
) -> None:
    """Aggregate the finished seeds of a config: aggregated_results.json (raw, mean, std) and .md (mean ± std)."""
    from biotune.config import load_config
    from biotune.experiments.aggregate import aggregate as run_aggregate, render_markdown
    from biotune.experiments.seeds import results_dir

    cfg = load_config(config, {"output_dir": output_dir})
    out = run_aggregate(results_dir(cfg))
    console.print(Markdown(render_markdown(out)))


@app.command(context_settings=SEEDS_CONTEXT)
@friendly
def sweep(
    ctx: typer.Context,
    config: ConfigArg,
    key: Annotated[str, typer.Option(help="dotted config key, e.g. sources.1.sample_ratio")],
    values: Annotated[list[str], typer.Option("--value", help="a value of the key (repeatable); 'all' = null")],
    seeds: SeedsOption = None,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data.data_dir")] = None,
    limit: Annotated[int | None, typer.Option(help="smoke/debug run: at most N sentences per split")] = None,
    overwrite: Annotated[bool, typer.Option(help="retrain seeds that already finished")] = False,
) -> None:
    """Run the config for each value of one key over the seeds; table and F1 plot (mean ± std)."""
    from biotune.config import load_config
    from biotune.experiments.seeds import parse_value, render_sweep, sweep as run_sweep

    cfg = load_config(config, {"output_dir": output_dir, "data.data_dir": data_dir, "data.limit": limit})
    result = run_sweep(cfg, key, [parse_value(v) for v in values], all_seeds(seeds, ctx, cfg.training.seed), overwrite)
    console.print(Markdown(render_sweep(result)))


@app.command(context_settings=SEEDS_CONTEXT)
@friendly
def benchmark(
    ctx: typer.Context,
    suite: Annotated[Path, typer.Argument(help="benchmark suite (YAML): backbones, datasets, seeds")],
    seeds: Annotated[list[int] | None, typer.Option("--seeds", help="override the suite's seeds: --seeds 42 1337")] = None,
    output_dir: Annotated[str | None, typer.Option(help="override the suite's output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override the suite's data_dir")] = None,
    override: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (YAML value) for every run, over the suite's "
                                                             "and datasets' overrides, e.g. training.epochs=1; "
                                                             "repeatable")] = None,
    only: Annotated[list[str] | None, typer.Option(help="run only this dataset or backbone (by name); repeatable")] = None,
    overwrite: Annotated[bool, typer.Option(help="retrain runs whose folder holds another config")] = False,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Ray workers at once (default: as many as Ray "
                                                            "schedules; local Ray: its size)")] = None,
    gpus_per_worker: GpusPerWorkerOption = 0.0,
    cpus_per_worker: CpusPerWorkerOption = 1.0,
) -> None:
    """Train every backbone x dataset x seed of a suite (finished runs are skipped), then write its leaderboard."""
    from biotune.experiments.leaderboard import render_markdown
    from biotune.experiments.seeds import parse_value
    from biotune.experiments.suite import load_suite, restrict, run_suite

    settings: dict[str, Any] = {}
    for item in override or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BiotuneError(f"--override {item!r}: write KEY=VALUE, e.g. training.epochs=1")
        settings[key] = parse_value(value)
    spec = load_suite(suite, {"output_dir": output_dir, "data_dir": data_dir,
                              "seeds": all_seeds(seeds, ctx, 0) if seeds or ctx.args else None})
    outcome = run_suite(restrict(spec, only or []), origin=str(suite), overrides=settings, overwrite=overwrite, ray=ray,
                        ray_address=ray_address, workers=workers, gpus_per_worker=gpus_per_worker,
                        cpus_per_worker=cpus_per_worker,
                        on_done=lambda done: console.print(f"{done.key}: {'done' if done.ok else 'failed: ' + done.error}",
                                                           highlight=False))
    console.print(f"trained {len(outcome.trained)}, skipped (finished) {len(outcome.skipped)}, "
                  f"failed {len(outcome.failed)}")
    console.print(Markdown(render_markdown(outcome.leaderboard)))
    console.print(f"leaderboard: {outcome.files['md']} (.json, .png)")
    if outcome.failed:
        raise typer.Exit(1)


@app.command()
@friendly
def search(
    config: ConfigArg,
    space: Annotated[Path | None, typer.Option(help="search space YAML: params (dotted config key -> type "
                                                    "float|int|log|categorical, low/high/step or choices)")] = None,
    grid: Annotated[bool, typer.Option("--grid", help="BioBERT's grid: batch size 10/16/32/64 x learning rate "
                                                      "5e-5/3e-5/1e-5 (grid sampler)")] = False,
    trials: Annotated[int | None, typer.Option(help="trials the study should hold; a rerun continues up to it "
                                                    "(default: the grid's size, else 20)")] = None,
    sampler: Annotated[str | None, typer.Option(help="tpe | random | grid (default: the space file's, else tpe)")] = None,
    sampler_seed: Annotated[int | None, typer.Option(help="seed of the sampler (reproducible search)")] = None,
    pruner: Annotated[str, typer.Option(help="median | none: stop trials whose dev score lags")] = "median",
    timeout: Annotated[float | None, typer.Option(help="seconds after which no new trial starts")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL shared by machines, e.g. "
                                                     "postgresql://user@host/db (default: sqlite in the search folder)")] = None,
    study_name: Annotated[str | None, typer.Option(help="study in the storage (default: the config's name)")] = None,
    final_seeds: Annotated[int, typer.Option(help="seeds the best config trains with, then tested once (0: none)")] = 3,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data.data_dir")] = None,
    overwrite: Annotated[bool, typer.Option(help="delete the study, its trial runs and final runs first")] = False,
    ray: Annotated[bool, typer.Option("--ray", help="run trials on Ray workers against the shared storage")] = False,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = 2,
    gpus_per_worker: GpusPerWorkerOption = 0.0,
    cpus_per_worker: CpusPerWorkerOption = 1.0,
) -> None:
    """Hyperparameter search (Optuna) on the dev split; the best config then trains with the final seeds
    and is tested once. Rerun the same command to continue an interrupted or extended study."""
    from biotune.config import load_config
    from biotune.experiments.search import SearchSettings, render_summary, search as run_search
    from biotune.experiments.search_space import BIOBERT_GRID, load_space

    if (space is None) == (not grid):
        raise BiotuneError("give one of --space SPACE.yaml or --grid")
    cfg = load_config(config, {"output_dir": output_dir, "data.data_dir": data_dir})
    settings = SearchSettings(trials=trials, sampler=sampler, sampler_seed=sampler_seed, pruner=pruner,
                              timeout=timeout, storage=storage, study_name=study_name, final_seeds=final_seeds,
                              overwrite=overwrite, ray=ray, ray_address=ray_address, workers=workers,
                              gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker)
    result = run_search(cfg, BIOBERT_GRID if space is None else load_space(space), settings, config_path=config)
    console.print(Markdown(render_summary(result.summary)))
    console.print(f"trials: {result.folder / 'trials.md'}")
    if not result.ok:
        raise typer.Exit(1)
