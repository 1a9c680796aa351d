"""Commands on a saved model of any task: `evaluate` it on test sets, `predict` a file, `export` it to ONNX,
`push` it to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biotune.cli.console import console, friendly, progress, render
from biotune.cli.options import BatchSizeOption, CheckpointOption, OverwriteOutputOption, PrecisionOption
from biotune.errors import BiotuneError

app = typer.Typer()


@app.command()
@friendly
def evaluate(
    checkpoint: CheckpointOption,
    test: Annotated[list[str], typer.Option(help="test set: <corpus>:<split> (e.g. bc5cdr:test) or a file; repeatable")],
    output_dir: Annotated[Path | None, typer.Option(help="write eval_<test>.json/.md here")] = None,
    data_dir: Annotated[str | None, typer.Option(help="folder holding corpus folders")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="windows per batch (default: training's)")] = None,
    precision: Annotated[str | None, typer.Option(help="as for predict (default: the one training evaluated "
                                                       "with, which reproduces the run's eval files)")] = None,
    overwrite: OverwriteOutputOption = False,
) -> None:
    """Score a trained model (any task) on one or more test sets with its task's metrics."""
    from biotune.config import DataConfig
    from biotune.experiments.evaluate import evaluate_checkpoint
    from biotune.tasks import checkpoint_task

    data = DataConfig(corpus=str(checkpoint), data_dir=data_dir)
    results = evaluate_checkpoint(checkpoint, test, data, output_dir, batch_size, precision, overwrite)
    print(render(checkpoint_task(checkpoint), results))


@app.command()
@friendly
def predict(
    checkpoint: CheckpointOption,
    input: Annotated[Path, typer.Option(help="the file to predict, in a form the checkpoint's task reads (README: "
                                             "biotune predict); read and checked whole before the model loads")],
    output: Annotated[Path, typer.Option(help="the output file, in the task's output format (default JSONL, one "
                                              "record a line)")],
    format: Annotated[str | None, typer.Option(help="an input format of the checkpoint's task (default: by the "
                                                    "input's extension or content), else one of its output formats "
                                                    "(default: its first); an unknown one names those it has")] = None,
    batch_size: BatchSizeOption = 32,
    precision: PrecisionOption = "auto",
    overwrite: OverwriteOutputOption = False,
) -> None:
    """Predict a file with a model of any task: each input record out with its predictions (entities,
    a relation label, answers, ...; README: biotune predict)."""
    from biotune.serving.predict_job import load_predictor, plan_prediction, run_prediction
    from biotune.tasks import checkpoint_task, get_task

    plan = plan_prediction(get_task(checkpoint_task(checkpoint)), input, output, format, overwrite,
                           option="--format", what="--output")  # before the model loads
    _, predictor = load_predictor(checkpoint, precision, batch_size)
    with progress() as bar:
        task = bar.add_task("predicting", total=plan.records)
        n = run_prediction(plan, predictor, on_progress=lambda k: bar.advance(task, k))
    console.print(f"{n} records predicted -> {output}")


@app.command()
@friendly
def export(
    model_dir: Annotated[Path, typer.Argument(help="a saved model folder of any task (a run's best_model/)")],
    format: Annotated[str, typer.Option(help="what to export to: onnx")] = "onnx",
    int8: Annotated[bool, typer.Option(help="also write model.int8.onnx (onnxruntime dynamic quantisation)")] = False,
    out: Annotated[Path | None, typer.Option(help="output folder (default: MODEL_DIR-onnx beside it)")] = None,
    sample: Annotated[Path | None, typer.Option(help="text file, one input a line, for the check against PyTorch")] = None,
    overwrite: OverwriteOutputOption = False,
) -> None:
    """Export a saved model to ONNX (with its tokenizer and labels) and check it against PyTorch."""
    if format != "onnx":
        raise BiotuneError(f"--format {format!r}: biotune exports to onnx only")
    from biotune.serving.onnx_export import export_onnx

    done = export_onnx(model_dir, out, int8=int8, sample=sample, overwrite=overwrite)
    for name, checks in done.checks.items():
        for check in checks:
            agreement = "no decision" if check.agreement is None else f"{100 * check.agreement:.2f}% of {check.decisions}"
            console.print(f"{name} {check.output}: agreement {agreement}, max |logit diff| {check.max_abs_diff:.2e}")
    console.print(f"{done.task} model exported to {done.folder} (report: {done.report.name})")


@app.command()
@friendly
def push(
    model_dir: Annotated[Path, typer.Argument(help="a biotune model folder with its card (a run's best_model/)")],
    repo_id: Annotated[str, typer.Argument(help="the Hub model repo, user/name or org/name (created if missing)")],
    private: Annotated[bool, typer.Option(help="create the repo private (an existing repo keeps its visibility)")] = False,
    revision: Annotated[str | None, typer.Option(help="branch to commit to (created from main if missing)")] = None,
    commit_message: Annotated[str | None, typer.Option(help="the commit's message")] = None,
) -> None:
    """Upload a saved model and its model card to the Hugging Face Hub, without the trainer's files."""
    from biotune.serving.hub import push_model

    done = push_model(model_dir, repo_id, private=private, revision=revision, commit_message=commit_message)
    if done.left_out:
        console.print(f"left out the trainer's files: {', '.join(done.left_out)}", highlight=False, soft_wrap=True)
    console.print(f"pushed {len(done.files)} files to {done.url}", highlight=False, soft_wrap=True)
