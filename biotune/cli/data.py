"""Commands on data: `check-data` before training, `silver` labels from dictionaries, the `corpora` registry."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from biotune.cli.console import console, friendly
from biotune.cli.options import OverwriteOutputOption
from biotune.errors import BiotuneError

app = typer.Typer()


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

    from biotune.config import ExperimentConfig, load_config
    from biotune.corpora.splits import corpus_config, corpus_splits
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
        cfg = corpus_config(target, data_dir, download)
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


corpora_app = typer.Typer(invoke_without_command=True)
app.add_typer(corpora_app, name="corpora")


@corpora_app.callback()
@friendly
def corpora(ctx: typer.Context) -> None:
    """List the corpus registry: names, entity types, download locations (`corpora export`: write one out)."""
    from biotune.corpora.registry import CORPORA

    if ctx.invoked_subcommand is None:
        for info in CORPORA.values():
            print(f"{info.name:14} {', '.join(info.entity_types):40} {info.url}")


@corpora_app.command("export")
@friendly
def corpora_export(
    name: Annotated[str, typer.Argument(help="a registered corpus, a corpus folder, or hf:<dataset>")],
    folder: Annotated[Path, typer.Argument(help="output folder (a datasets save_to_disk folder)")],
    to: Annotated[str, typer.Option(help="what to write: datasets")] = "datasets",
    data_dir: Annotated[str | None, typer.Option(help="folder holding corpus folders")] = None,
    download: Annotated[bool, typer.Option(help="download a registry corpus that is not found locally")] = False,
    overwrite: OverwriteOutputOption = False,
) -> None:
    """Write a corpus as a Hugging Face datasets dataset: documents in BigBIO's KB schema, NER files as
    tokens/ner_tags, any other registered corpus (relation pairs, QA, yes/no, sentence pairs, multi-label
    texts) as its task's gold records: the input `biotune predict` takes plus the gold, labels a ClassLabel."""
    if to != "datasets":
        raise BiotuneError(f"--to {to!r}: corpora export to datasets only")
    from biotune.tasks.gold_datasets import export_corpus

    written = export_corpus(name, folder, data_dir=data_dir, download=download, overwrite=overwrite)
    console.print(f"corpus {name} written to {written} (datasets.load_from_disk)")
