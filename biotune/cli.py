"""Command line: a thin shell that parses arguments, calls the library, prints.

Every user error is a `BiotuneError`; it is printed without a traceback and the command exits
with status 2.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from biotune.errors import BiotuneError

app = typer.Typer(help="Fine-tune, evaluate and run transformer encoders on biomedical NER.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Print `BiotuneError`s as one red message and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])
        logging.getLogger("biotune").setLevel(logging.INFO)
        try:
            return func(*args, **kwargs)
        except BiotuneError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console)


ConfigArg = Annotated[Path, typer.Argument(help="experiment config (YAML)")]


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
    from biotune.evaluation.report import render_markdown
    from biotune.training.train import train as run_training

    cfg = load_config(config, {"training.seed": seed, "output_dir": output_dir, "training.epochs": epochs,
                               "training.batch_size": batch_size, "training.learning_rate": learning_rate,
                               "data.data_dir": data_dir, "data.download": download or None})
    result = run_training(cfg, overwrite=overwrite)
    console.print(Markdown(render_markdown(result.results, title=f"{cfg.name} seed {cfg.training.seed}")))
    console.print(f"model: {result.paths.best_model}\nresults: {result.paths.results}")


@app.command()
@friendly
def evaluate(
    checkpoint: Annotated[Path, typer.Option(help="a best_model/ folder")],
    test: Annotated[list[str], typer.Option(help="test set: <corpus>:<split> (e.g. bc5cdr:test) or a file; repeatable")],
    output_dir: Annotated[Path | None, typer.Option(help="write eval_<test>.json/.md here")] = None,
    data_dir: Annotated[str | None, typer.Option(help="folder holding corpus folders")] = None,
    batch_size: Annotated[int, typer.Option(help="windows per batch")] = 64,
) -> None:
    """Score a trained model on one or more test sets (span-level strict + token-level)."""
    from biotune.config import DataConfig
    from biotune.corpus import read_split
    from biotune.evaluation.evaluate import evaluate_splits
    from biotune.evaluation.report import render_markdown
    from biotune.inference.tagger import Tagger

    data = DataConfig(corpus=str(checkpoint), data_dir=data_dir)
    splits = [read_split(spec, data) for spec in test]
    tagger = Tagger.from_checkpoint(checkpoint, batch_size=batch_size)
    results = evaluate_splits(tagger, splits, output_dir)
    print(render_markdown(results))


@app.command()
@friendly
def predict(
    checkpoint: Annotated[Path, typer.Option(help="a best_model/ folder")],
    input: Annotated[Path, typer.Option(help="JSONL with tokens, plain text (one sentence per line) or TSV")],
    output: Annotated[Path, typer.Option(help="output JSONL")],
    format: Annotated[str | None, typer.Option(help="jsonl | text | tsv (default: by extension)")] = None,
    batch_size: Annotated[int, typer.Option(help="windows per batch")] = 64,
) -> None:
    """Tag a file into JSONL with entity spans, types, scores (and character offsets for text)."""
    from biotune.data.readers import EXTENSIONS
    from biotune.inference.predict import count_units, predict_file
    from biotune.inference.tagger import Tagger

    if not input.is_file():
        raise BiotuneError(f"input file {input} not found")
    tagger = Tagger.from_checkpoint(checkpoint, batch_size=batch_size)
    fmt = format or EXTENSIONS.get(input.suffix.lower(), "text")
    with progress() as bar:
        task = bar.add_task("tagging", total=count_units(input, fmt))
        n = predict_file(tagger, input, output, fmt, on_progress=lambda k: bar.advance(task, k))
    console.print(f"{n} sentences tagged -> {output}")


@app.command("check-data")
@friendly
def check_data(
    target: Annotated[str, typer.Argument(help="experiment config (.yaml) or corpus name/folder")],
    data_dir: Annotated[str | None, typer.Option(help="folder holding corpus folders")] = None,
    backbone: Annotated[str | None, typer.Option(help="tokenizer for window lengths (default: config's or MiniLM)")] = None,
    max_length: Annotated[int | None, typer.Option(help="window size in subwords")] = None,
    download: Annotated[bool, typer.Option(help="download a registry corpus that is not found locally")] = False,
) -> None:
    """Report sentences, spans per type, ill-formed tags, long sentences, split overlap — before training."""
    from biotune.config import DataConfig, ModelConfig, load_config
    from biotune.corpus import read_split
    from biotune.data.align import Aligner
    from biotune.data.checks import check_data as run_check
    from biotune.models.backbones import load_tokenizer

    if target.endswith((".yaml", ".yml")):
        cfg = load_config(target, {"data.data_dir": data_dir, "data.download": download or None})
        data, model = cfg.data, cfg.model
        specs = [data.train, *([data.dev] if data.dev else []), *data.test]
    else:
        data, model = DataConfig(corpus=target, data_dir=data_dir, download=download), ModelConfig()
        specs = ["train", "dev", "test"]
    aligner = Aligner(load_tokenizer(backbone or model.backbone), max_length or model.max_length)
    splits = {}
    for spec in specs:
        split = read_split(spec, data)
        splits[split.name] = split.sentences
    report = run_check(splits, subword_length=aligner.subword_length, max_length=aligner.max_length)
    print(report.render_markdown())


@app.command()
@friendly
def corpora() -> None:
    """List the corpus registry: names, entity types, download locations."""
    from biotune.data.registry import CORPORA

    for info in CORPORA.values():
        print(f"{info.name:14} {', '.join(info.entity_types):40} {info.url}")


def main() -> None:
    app(prog_name="biotune")


if __name__ == "__main__":
    sys.exit(main())
