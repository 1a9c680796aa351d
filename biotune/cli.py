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

app = typer.Typer(help="Fine-tune, evaluate and run transformer encoders on biomedical NER and relation extraction.",
                  no_args_is_help=True,
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
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)  # paths stay unbroken
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console)


ConfigArg = Annotated[Path, typer.Argument(help="experiment config (YAML)")]
CheckpointOption = Annotated[Path, typer.Option(help="a best_model/ folder")]
RelationsOption = Annotated[Path | None, typer.Option(
    help="a relation model's best_model/ folder (trained on documents, re.pairs): relations between entities")]
LinkDictionaryOption = Annotated[Path | None, typer.Option(
    help="a term<TAB>id file: link the entities to concept ids (else relations group mentions by their text)")]
BatchSizeOption = Annotated[int, typer.Option(min=1, help="windows per batch")]
OverwriteOutputOption = Annotated[bool, typer.Option(help="replace existing output files")]
PrecisionOption = Annotated[str, typer.Option(help="auto (bf16 weights where supported, else fp32) | bf16 | int8 | fp32 | autocast")]


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
    console.print(Markdown(_render(cfg.task, result.results, title=f"{cfg.name} seed {cfg.training.seed}")))
    console.print(f"model: {result.paths.best_model}\nresults: {result.paths.results}")


def _render(task_name: str, results: dict[str, Any], title: str = "") -> str:
    """The task's Markdown of `{test set: Result}`."""
    from biotune.tasks import get_task

    data = {name: {**r.to_dict(), "headline_key": r.headline_key} for name, r in results.items()}
    return get_task(task_name).render(data, title)


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
    print(_render(checkpoint_task(checkpoint), results))


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
def tag(
    checkpoint: CheckpointOption,
    input: Annotated[Path, typer.Option(help="a document file, or a folder of them (searched recursively)")],
    output_dir: Annotated[Path, typer.Option(help="folder for the output shards and tag_manifest.json")],
    format: Annotated[str | None, typer.Option(help="input: text | jsonl | pubtator | bioc-xml | bioc-json (default: by extension)")] = None,
    output_format: Annotated[str, typer.Option(help="jsonl | pubtator | bioc-xml | bioc-json | conll | brat")] = "jsonl",
    shard_size: Annotated[int, typer.Option(help="documents per output shard (the unit of resumption)")] = 1000,
    precision: PrecisionOption = "auto",
    batch_size: BatchSizeOption = 32,
    ray: Annotated[bool, typer.Option("--ray", help="run on Ray Data, one model replica per worker")] = False,
    ray_address: Annotated[str | None, typer.Option(help="an existing Ray cluster (e.g. auto, ray://head:10001); default: local Ray")] = None,
    workers: Annotated[int, typer.Option(help="Ray workers (model replicas)", min=1)] = 2,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per Ray worker", min=0.0)] = 0.0,
    cpus_per_worker: Annotated[int, typer.Option(help="CPUs per Ray worker (its torch threads)", min=1)] = 1,
    overwrite: Annotated[bool, typer.Option(help="delete a previous job in --output-dir first")] = False,
    relations: RelationsOption = None,
    link_dictionary: LinkDictionaryOption = None,
) -> None:
    """Tag a corpus into sharded, resumable output; rerun the same command to finish an interrupted job."""
    from biotune.serving.tag_job import TagSettings, expected_documents, run_tag

    settings = TagSettings(input=input, output_dir=output_dir, checkpoint=checkpoint, input_format=format,
                           output_format=output_format, shard_size=shard_size, precision=precision, batch_size=batch_size,
                           relations=relations, link_dictionary=link_dictionary)
    with progress() as bar:
        task = bar.add_task("documents", total=expected_documents(settings))

        def advance(documents: int) -> None:
            bar.advance(task, documents)

        if ray:
            from biotune.serving.distributed import run_tag_ray

            summary = run_tag_ray(settings, ray_address, workers, gpus_per_worker, overwrite, advance, cpus_per_worker)
        else:
            summary = run_tag(settings, overwrite=overwrite, on_progress=advance)
    console.print(f"{summary.documents} documents in {summary.shards_written + summary.shards_skipped} shards "
                  f"({summary.shards_written} written, {summary.shards_skipped} already done) -> {output_dir}")


@app.command()
@friendly
def serve(
    model_dirs: Annotated[list[Path] | None, typer.Argument(
        metavar="[MODEL_DIR]...", help="best_model/ folders, each mounted by its task (one per task)",
        show_default=False)] = None,
    checkpoint: Annotated[list[Path] | None, typer.Option(
        help="a best_model/ folder (repeatable; the same as a MODEL_DIR)", show_default=False)] = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    precision: PrecisionOption = "auto",
    max_texts: Annotated[int, typer.Option(help="texts per request")] = 64,
    max_contexts: Annotated[int, typer.Option(help="contexts per /qa question")] = 64,
    max_chars: Annotated[int, typer.Option(help="characters per text (and per /qa question or context)")] = 100_000,
    max_request_bytes: Annotated[int, typer.Option(help="request body size")] = 2_000_000,
    max_batch_chars: Annotated[int, typer.Option(help="characters the batcher merges into one model call")] = 8_000,
    batch_wait_ms: Annotated[float, typer.Option(help="how long the batcher waits for more requests")] = 5.0,
    max_queue_chars: Annotated[int, typer.Option(
        help="characters waiting or being tagged (per model); a request past them gets 503, one larger than all "
             "of them 413")] = 500_000,
    request_timeout_s: Annotated[float, typer.Option(help="seconds a request may wait; then 504")] = 60.0,
    model_name: Annotated[str | None, typer.Option(help="name in answers (default: run/seed of the checkpoint)")] = None,
    relations: RelationsOption = None,
    link_dictionary: LinkDictionaryOption = None,
    qa: Annotated[Path | None, typer.Option(
        help="a QA model's best_model/ folder: POST /qa beside /tag (a QA --checkpoint alone serves /qa only)")] = None,
) -> None:
    """HTTP service, one endpoint per model by its task: POST /tag (NER), /qa (QA), /<task> (the task's records: re,
    yesno, similarity, multilabel); GET /health lists them, and the page at / has a panel for each."""
    from biotune.serving.service import ServiceLimits
    from biotune.serving.service import serve as run_service

    from pydantic import ValidationError

    try:
        limits = ServiceLimits(max_texts=max_texts, max_contexts=max_contexts, max_chars=max_chars,
                               max_request_bytes=max_request_bytes,
                               max_batch_chars=max_batch_chars, batch_wait_ms=batch_wait_ms,
                               max_queue_chars=max_queue_chars,
                               request_timeout_s=request_timeout_s)
    except ValidationError as error:
        problems = "; ".join(f"--{'-'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in error.errors())
        raise BiotuneError(f"invalid service limits: {problems}") from None
    folders = [*(checkpoint or []), *(model_dirs or [])]
    if not folders:
        raise BiotuneError("serve needs a model: give MODEL_DIR (one or more best_model/ folders) or --checkpoint")
    run_service(folders, host=host, port=port, precision=precision, limits=limits, model_name=model_name,
                relations=relations, link_dictionary=link_dictionary, qa=qa)


@app.command("check-data")
@friendly
def check_data(
    target: Annotated[str, typer.Argument(help="experiment config (.yaml) or corpus name/folder")],
    data_dir: Annotated[str | None, typer.Option(help="folder holding corpus folders")] = None,
    backbone: Annotated[str | None, typer.Option(help="tokenizer for window lengths (default: config's or MiniLM)")] = None,
    max_length: Annotated[int | None, typer.Option(help="window size in subwords")] = None,
    download: Annotated[bool, typer.Option(help="download a registry corpus that is not found locally")] = False,
) -> None:
    """Report what training would read, before training: counts per label, ill-formed input, long inputs, split overlap."""
    from pydantic import ValidationError

    from biotune.config import DataConfig, ExperimentConfig, load_config
    from biotune.corpora.splits import corpus_splits, corpus_task
    from biotune.models.backbones import load_tokenizer
    from biotune.tasks import get_task
    from biotune.training.preflight import check_task_inputs
    from biotune.logs import logger_level
    from biotune.training.sources import read_sources, refuse_test_text

    if target.endswith((".yaml", ".yml")):
        cfg = load_config(target, {"data.data_dir": data_dir, "data.download": download or None})
        specs = [cfg.data.train, *([cfg.data.dev] if cfg.data.dev else []), *cfg.data.test]  # as training reads them
        has_dev = bool(cfg.data.dev)
    else:
        cfg = ExperimentConfig(task=corpus_task(target), data=DataConfig(corpus=target, data_dir=data_dir,
                                                                         download=download))
        specs = corpus_splits(cfg.data)  # the dev file is optional
        has_dev = "dev" in specs
        if not has_dev:  # read as training would read it: without model selection
            cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"dev": None})})
    if max_length is not None:  # the config's rule for model.max_length
        try:
            cfg = ExperimentConfig.model_validate({**cfg.model_dump(), "model": {**cfg.model.model_dump(),
                                                                                  "max_length": max_length}})
        except ValidationError as error:
            raise BiotuneError(f"--max-length {max_length}: {error.errors()[0]['msg']}") from None
    refuse_test_text(cfg)  # as training does, first
    task = get_task(cfg.task)
    splits = [task.read_split(spec, cfg) for spec in specs]
    tokenizer = load_tokenizer(backbone or cfg.model.backbone)
    print(task.check_data({split.name: split for split in splits}, tokenizer, cfg))
    # what training would refuse, refused here the same way (naming file and line), exit 2
    dev = splits[1] if has_dev else None
    with logger_level(logging.WARNING):  # the report above already counts the training examples
        sources = read_sources(task, cfg)
    check_task_inputs(task, cfg, sources, dev, splits[1 + has_dev:], tokenizer)


@app.command()
@friendly
def silver(
    input: Annotated[Path, typer.Argument(help="corpus to label: .tsv, .jsonl, or .txt (one sentence a line)")],
    output: Annotated[Path, typer.Option(help="labelled corpus to write: .jsonl or .tsv")],
    dictionary: Annotated[list[str], typer.Option(
        "--dict", help="dictionary PATH[:KEY=VALUE,...], repeatable. KEYs are the options below (term_column, "
        "type_column, type, category_column, category, case_sensitive, min_length, stop_list, stop_words, "
        "default_stop_words) plus format=tsv|list; they override the options for this dictionary. Lists "
        "take '|': genes.tsv:type=GENE,category=protein_coding|lincRNA")],
    term_column: Annotated[str | None, typer.Option(help="TSV column with the terms (default: term)")] = None,
    type_column: Annotated[str | None, typer.Option(help="TSV column with the entity types (default: type)")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="one entity type for every term (overrides "
                                              "--type-column; needed for a plain term list)")] = None,
    category_column: Annotated[str | None, typer.Option(help="TSV column of categories (default: category)")] = None,
    category: Annotated[list[str] | None, typer.Option(help="keep only rows of this category; repeatable")] = None,
    case_sensitive: Annotated[bool | None, typer.Option("--case-sensitive/--ignore-case",
                                                        help="match exact case (default: ignore case)")] = None,
    min_length: Annotated[int | None, typer.Option(help="drop terms shorter than this (default: 2)")] = None,
    stop_list: Annotated[Path | None, typer.Option(help="file of extra stop words, one a line")] = None,
    stop_word: Annotated[list[str] | None, typer.Option(help="an extra stop word; repeatable")] = None,
    default_stop_words: Annotated[bool | None, typer.Option(
        "--default-stop-words/--no-default-stop-words",
        help="drop terms that are common English words (WAS, SET, MICE...) (default: on)")] = None,
    tag_field: Annotated[str, typer.Option(help="JSONL field for the new tags")] = "silver_tags",
    drop_tags: Annotated[bool, typer.Option(help="ignore the input's tags: labels from the dictionaries only")] = False,
    input_tag_field: Annotated[str | None, typer.Option(
        help="JSONL input: the field holding its tags, 'none' for untagged input (default: tags)")] = None,
    report: Annotated[Path | None, typer.Option(help="folder for the report (default: the output's folder)")] = None,
    top: Annotated[int, typer.Option(help="most frequent terms listed per type")] = 20,
    overwrite: OverwriteOutputOption = False,
    allow_test: Annotated[bool, typer.Option(help="label a test split anyway, only to score the dictionaries "
                                             "against its gold: the output is test text, never training text")] = False,
) -> None:
    """Label a corpus from dictionaries (distant supervision): silver tags where the input has O.

    Writes --output and a report (<output stem>.report.md/.json: labels per type, frequent
    terms, and the dictionary's P/R/F1 against the input's gold tags when it has them).
    """
    from biotune.silver.label import label_corpus
    from biotune.silver.spec import parse_spec

    shared = {"term_column": term_column, "type_column": type_column, "type": type_, "category_column": category_column,
              "category": category or None, "case_sensitive": case_sensitive, "min_length": min_length,
              "stop_list": stop_list, "stop_words": stop_word or None, "default_stop_words": default_stop_words}
    specs = [parse_spec(text, shared) for text in dictionary]
    options = {} if input_tag_field is None else {"tag_field": None if input_tag_field == "none" else input_tag_field}
    result = label_corpus(input, output, specs, tag_field=tag_field, drop_tags=drop_tags, input_options=options,
                          report_dir=report, top=top, overwrite=overwrite, allow_test=allow_test)
    print(result.report.render_markdown())
    console.print(f"{result.report.sentences} sentences, {result.report.labelled_sentences} with new labels"
                  f" -> {output}\nreport: {result.report_markdown}")


SeedsOpt = Annotated[list[int] | None, typer.Option("--seeds", help="seeds to run: --seeds 42 1337 2024 (default: the config's seed)")]
SEEDS_CONTEXT = {"allow_extra_args": True}  # `--seeds 42 1337 2024`: the values after the first arrive as extra args


def _seeds(first: list[int] | None, ctx: typer.Context, default: int) -> list[int]:
    """All seeds of `--seeds A B C` (typer takes A; B and C are extra arguments)."""
    rest = []
    for arg in ctx.args:
        if not arg.lstrip("-").isdigit():
            raise BiotuneError(f"unexpected argument {arg!r} (seeds are integers: --seeds 42 1337 2024)")
        rest.append(int(arg))
    seeds = [*(first or []), *rest] or [default]
    return list(dict.fromkeys(seeds))


def _print_outcome(outcome: object) -> None:
    from biotune.experiments.aggregate import render_markdown

    trained, skipped, failed = outcome.trained, outcome.skipped, outcome.failed  # type: ignore[attr-defined]
    console.print(f"trained seeds {trained}, skipped (finished) {skipped}, failed {sorted(failed)}")
    if outcome.aggregated is not None:  # type: ignore[attr-defined]
        console.print(Markdown(render_markdown(outcome.aggregated)))  # type: ignore[attr-defined]
        console.print(f"aggregated: {outcome.results_dir / 'aggregated_results.json'}")  # type: ignore[attr-defined]


@app.command(context_settings=SEEDS_CONTEXT)
@friendly
def run(
    ctx: typer.Context,
    config: ConfigArg,
    seeds: SeedsOpt = None,
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
    outcome = run_seeds(cfg, _seeds(seeds, ctx, cfg.training.seed), overwrite=overwrite)
    if outcome.main_process:
        _print_outcome(outcome)
    if outcome.failed:
        raise typer.Exit(1)


@app.command(context_settings=SEEDS_CONTEXT)
@friendly
def cv(
    ctx: typer.Context,
    config: ConfigArg,
    seeds: SeedsOpt = None,
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
    result = cross_validate(cfg, _seeds(seeds, ctx, cfg.training.seed), overwrite=overwrite,
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
    seeds: SeedsOpt = None,
    output_dir: Annotated[str | None, typer.Option(help="override output_dir")] = None,
    data_dir: Annotated[str | None, typer.Option(help="override data.data_dir")] = None,
    limit: Annotated[int | None, typer.Option(help="smoke/debug run: at most N sentences per split")] = None,
    overwrite: Annotated[bool, typer.Option(help="retrain seeds that already finished")] = False,
) -> None:
    """Run the config for each value of one key over the seeds; table and F1 plot (mean ± std)."""
    from biotune.config import load_config
    from biotune.experiments.seeds import parse_value, render_sweep, sweep as run_sweep

    cfg = load_config(config, {"output_dir": output_dir, "data.data_dir": data_dir, "data.limit": limit})
    result = run_sweep(cfg, key, [parse_value(v) for v in values], _seeds(seeds, ctx, cfg.training.seed), overwrite)
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
    ray: Annotated[bool, typer.Option("--ray", help="run the runs as Ray tasks")] = False,
    ray_address: Annotated[str | None, typer.Option(help="an existing Ray cluster (e.g. auto); default: local Ray")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="runs at once on Ray (local Ray: its size)")] = None,
    gpus_per_run: Annotated[float, typer.Option(min=0.0, help="GPUs per Ray run")] = 0.0,
    cpus_per_run: Annotated[float, typer.Option(min=0.01, help="CPUs per Ray run (its torch threads)")] = 1.0,
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
                              "seeds": _seeds(seeds, ctx, 0) if seeds or ctx.args else None})
    outcome = run_suite(restrict(spec, only or []), origin=str(suite), overrides=settings, overwrite=overwrite, ray=ray,
                        ray_address=ray_address, workers=workers, gpus_per_run=gpus_per_run, cpus_per_run=cpus_per_run,
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
    ray_address: Annotated[str | None, typer.Option(help="an existing Ray cluster (default: local Ray)")] = None,
    workers: Annotated[int, typer.Option(help="Ray workers, each running trials one after another")] = 2,
    gpus_per_trial: Annotated[float, typer.Option(help="GPUs per Ray worker")] = 0.0,
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs per Ray worker (its torch threads)")] = 1.0,
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
                              gpus_per_trial=gpus_per_trial, cpus_per_trial=cpus_per_trial)
    result = run_search(cfg, BIOBERT_GRID if space is None else load_space(space), settings, config_path=config)
    console.print(Markdown(render_summary(result.summary)))
    console.print(f"trials: {result.folder / 'trials.md'}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@friendly
def corpora() -> None:
    """List the corpus registry: names, entity types, download locations."""
    from biotune.corpora.registry import CORPORA

    for info in CORPORA.values():
        print(f"{info.name:14} {', '.join(info.entity_types):40} {info.url}")


def main() -> int:
    """The `biotune` command: click's usage errors (bad option values, unknown options) become the same
    one-line `error:` as every `BiotuneError`, exit 2, instead of typer's multi-line panel.

    Ctrl-C, SIGTERM and SIGHUP unwind the command (`biotune.interrupts`), so that no output is left
    half-written or as a temporary, and end it with one `interrupted` line and the shell's status for
    the signal, 128 + its number: 130 for Ctrl-C, 143 for SIGTERM."""
    from biotune.interrupts import Interrupted, catch_signals

    with catch_signals() as caught:
        try:
            code = _run_app()
        except Interrupted as exc:  # raised outside a command; typer turns one inside into status 130
            code = 128 + exc.signal
    if caught.received is not None:
        console.print(f"[bold red]interrupted[/] by {caught.received.name}", highlight=False)
        return 128 + caught.received
    return code


def _run_app() -> int:
    """The app's exit status, click's usage errors printed as one `error:` line (see `main`)."""
    try:
        code = app(prog_name="biotune", standalone_mode=False)
    except typer.Abort:
        console.print("[bold red]aborted[/]")
        return 1
    except typer.TyperException as exc:  # typer's own click: UsageError, BadParameter, NoSuchOption...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # empty for `biotune` alone, whose help is already printed
            console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
