"""Training commands: `train` one run, `run` every seed, `cv` cross-validation, `pretrain` an encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown

from biotune.cli.console import console, friendly, render
from biotune.cli.options import SEEDS_CONTEXT, ConfigArg, SeedsOption, all_seeds

app = typer.Typer()


@app.command()
@friendly
def train(
    config: ConfigArg,
    seed: Annotated[int | None, typer.Option(help="override training.seed")] = None,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    epochs: Annotated[float | None, typer.Option(help="override training.epochs")] = None,
    batch_size: Annotated[int | None, typer.Option(help="override training.batch_size")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="override training.learning_rate")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data.data_dir")] = None,
    download: Annotated[bool, typer.Option(help="download a registry corpus that is not found locally")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an existing run folder")] = False,
) -> None:
    """Fine-tune on the config's corpus, keep the best dev epoch, evaluate on its test sets."""
    from biotune.config import load_config
    from biotune.experiments.run import train as run_training

    cfg = load_config(config, {"training.seed": seed, "output_dir": output_dir, "training.epochs": epochs,
                               "training.batch_size": batch_size, "training.learning_rate": learning_rate,
                               "data.data_dir": data_dir, "data.download": download or None})
    result = run_training(cfg, overwrite=overwrite)
    if not result.main_process:  # torchrun / accelerate launch: the main process reports
        return
    console.print(Markdown(render(cfg.task, result.results, title=f"{cfg.name} seed {cfg.training.seed}")))
    console.print(f"model: {result.paths.best_model}\nresults: {result.paths.results}")


@app.command(context_settings=SEEDS_CONTEXT)
@friendly
def run(
    ctx: typer.Context,
    config: ConfigArg,
    seeds: SeedsOption = None,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data.data_dir")] = None,
    limit: Annotated[int | None, typer.Option(help="smoke/debug run: at most N sentences per split (own run folder)")] = None,
    epochs: Annotated[float | None, typer.Option(help="override training.epochs")] = None,
    overwrite: Annotated[bool, typer.Option(help="retrain seeds that already finished")] = False,
) -> None:
    """Train every seed (finished seeds are skipped, a failed seed does not stop the others), then aggregate."""
    from biotune.config import load_config
    from biotune.experiments.seeds import run_seeds

    cfg = load_config(config, {"output_dir": output_dir, "data.data_dir": data_dir, "data.limit": limit,
                               "training.epochs": epochs})
    outcome = run_seeds(cfg, all_seeds(seeds, ctx, cfg.training.seed), overwrite=overwrite)
    if outcome.main_process:
        _print_outcome(outcome)
    if outcome.failed:
        raise typer.Exit(1)


def _print_outcome(outcome: object) -> None:
    from biotune.experiments.aggregate import render_markdown

    trained, skipped, failed = outcome.trained, outcome.skipped, outcome.failed  # type: ignore[attr-defined]
    console.print(f"trained seeds {trained}, skipped (finished) {skipped}, failed {sorted(failed)}")
    if outcome.aggregated is not None:  # type: ignore[attr-defined]
        console.print(Markdown(render_markdown(outcome.aggregated)))  # type: ignore[attr-defined]
        console.print(f"aggregated: {outcome.results_dir / 'aggregated_results.json'}")  # type: ignore[attr-defined]


@app.command(context_settings=SEEDS_CONTEXT)
@friendly
def cv(
    ctx: typer.Context,
    config: ConfigArg,
    seeds: SeedsOption = None,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data.data_dir (where data.corpus's fold folder is)")] = None,
    limit: Annotated[int | None, typer.Option(help="smoke/debug run: at most N sentences per split (own run folders)")] = None,
    epochs: Annotated[float | None, typer.Option(help="override training.epochs")] = None,
    overwrite: Annotated[bool, typer.Option(help="retrain folds that already finished")] = False,
    allow_fold_gaps: Annotated[bool, typer.Option(help="cross-validate over the folds found when numbered folds "
                                                       "are missing (1, 2, 4)")] = False,
) -> None:
    """Cross-validation: train and test every fold (k/train.tsv, k/test.tsv) of data.corpus, as runs
    <name>__fold<k> (finished folds are skipped), then report mean ± std over the folds."""
    from biotune.config import load_config
    from biotune.experiments.cross_validation import RESULTS_STEM, cross_validate, render_markdown

    cfg = load_config(config, {"output_dir": output_dir, "data.data_dir": data_dir, "data.limit": limit,
                               "training.epochs": epochs})
    result = cross_validate(cfg, all_seeds(seeds, ctx, cfg.training.seed), overwrite=overwrite,
                            allow_gaps=allow_fold_gaps)
    if not result.main_process:
        return
    console.print(f"folds: {', '.join(result.folds)}")
    for fold, outcome in result.folds.items():
        console.print(f"fold {fold}: trained seeds {outcome.trained}, skipped (finished) {outcome.skipped}, "
                      f"failed {sorted(outcome.failed)}")
    if result.summary is not None:
        console.print(Markdown(render_markdown(result.summary, title=cfg.name)))
        console.print(f"cross-validation: {result.results_dir / f'{RESULTS_STEM}.json'}")
    if result.failed:
        console.print(f"no cross-validation summary: folds {', '.join(result.failed)} have failed seeds; "
                      "rerun the same command to retry them (finished folds are kept)")
        raise typer.Exit(1)


@app.command()
@friendly
def pretrain(
    config: Annotated[Path, typer.Argument(help="pretraining config (YAML, see configs/pretrain/)")],
    overwrite: Annotated[bool, typer.Option(help="replace a finished (or differently configured) run")] = False,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data_dir (where corpus sources are found)")] = None,
) -> None:
    """Continue masked-LM pretraining of an encoder on unlabelled text; rerun after an interruption to resume."""
    from biotune.pretraining.config import load_pretraining_config
    from biotune.pretraining.run import pretrain as run_pretrain

    cfg = load_pretraining_config(config, {"output_dir": output_dir, "data_dir": data_dir})
    result = run_pretrain(cfg, overwrite=overwrite)
    dev = result.record["dev"]
    if dev["before"] and dev["after"]:
        console.print(f"held-out perplexity {dev['before']['perplexity']:.2f} -> {dev['after']['perplexity']:.2f}")
    console.print(f"{result.record['steps']} steps, {result.record['tokens_seen']} tokens; "
                  f"model (use as model.backbone): {result.folder}")
