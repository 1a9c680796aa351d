"""The model card of a finished run: `best_model/README.md`, the page the Hugging Face Hub shows.

After the cards users know from the Hub (SciBERT fine-tuned on JNLPBA): the task and the data
with each split's label distribution, the backbone, the hyperparameters the run used, the
selected epoch with the dev history, the test metrics, the seeds' mean ± std for a run of
`biotune run`, how to use the model, and YAML front matter (`model-index` with the test
results) that the Hub renders. The front matter is built with `huggingface_hub`'s
`ModelCardData` / `EvalResult` (offline: nothing here touches the network), so the folder is
ready for `biotune push` (`biotune.serving.hub`) or `hf upload` as it stands.

A card is built only from the run's own records: the resolved config, the summary (its `data`
entry holds each split's label counts, `describe_data`), the `eval_<test>.json` files and the
saved model's `config.json`. So training writes it before the summary (a crash while writing it
leaves an unfinished run, which the rerun completes, card included), and `run_seeds` rebuilds
every finished seed's card once the seeds are aggregated (`rewrite_cards`). It knows no task:
the pipeline tag, the label counts and the usage snippet come from the task contract, the
metric tables from aggregation's walk over precision/recall/F1 blocks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import EvalResult, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id

from biotune.config import ExperimentConfig, SourceConfig, flatten, read_snapshot, validate
from biotune.corpora.hf_datasets import HF_PREFIX, is_hf_spec
from biotune.corpora.registry import CORPORA
from biotune.corpora.splits import DEV_NAMES, corpus_split
from biotune.errors import BiotuneError
from biotune.experiments.aggregate import (METRICS, MIN_SUPPORT, is_number, metric_tables, other_metrics, read_evals,
                                          render_test_sets, score_blocks)
from biotune.experiments.evaluate import headline_of, result_names
from biotune.experiments.run_folder import RunPaths
from biotune.io import write_text
from biotune.models.backbones import DEFAULT_BACKBONE, DEFAULT_BACKBONE_HUB_ID
from biotune.tables import markdown_table
from biotune.tasks import get_task, task_spec
from biotune.tasks.contract import Task

if TYPE_CHECKING:
    from biotune.corpora.splits import Split
    from biotune.training.sources import Source

log = logging.getLogger("biotune")

CARD_FILE = "README.md"
SPLIT_NAMES = ("train", *DEV_NAMES, "test")
MISSING = "–"  # a row the task did not count in that split


# ---- the data section, recorded at training time ---------------------------------------------

def describe_data(task: Task, config: ExperimentConfig, sources: Sequence[Source], dev: Split | None,
                  tests: Sequence[Split]) -> list[dict[str, Any]]:
    """Each split the run read (training sources as sampled, dev, each test set under its result
    name) with where it came from and the task's label counts: the summary's `data` entry."""
    rows = [_split_record("train", source.name, source.config.split, config, task.label_counts(source.examples))
            for source in sources]
    if dev is not None and config.data.dev:
        rows.append(_split_record("dev", dev.name, config.data.dev, config, task.label_counts(dev.examples)))
    for spec, name, split in zip(config.data.test, result_names(tests), tests):
        rows.append(_split_record("test", name, spec, config, task.label_counts(split.examples)))
    return rows


def _split_record(role: str, name: str, spec: str, config: ExperimentConfig, counts: dict[str, int]) -> dict[str, Any]:
    corpus, split = _corpus_split(spec, config)
    return {"role": role, "name": name, "spec": spec, "corpus": corpus, "split": split, "counts": counts}


def _corpus_split(spec: str, config: ExperimentConfig) -> tuple[str | None, str]:
    """(corpus, split) of a split spec, as `corpora.splits.locate` reads it; a file has no corpus."""
    if spec in SPLIT_NAMES:
        return config.data.corpus, spec
    return corpus_split(spec) or (None, Path(spec).stem)


def _corpus_name(corpus: str) -> str:
    """A registry corpus by its name, a corpus folder by its folder name, an `hf:` dataset by its
    repo id (the Hub links a card's `datasets:` entries by it) or its local folder's name."""
    if is_hf_spec(corpus):
        target = corpus.removeprefix(HF_PREFIX)
        return Path(target).name if Path(target).is_dir() else target.partition(":")[0]
    return corpus if corpus in CORPORA and not Path(corpus).is_dir() else Path(corpus).name


def base_model_id(backbone: str) -> str | None:
    """The backbone's Hub id: the one `minilm` packages, a hub id as given; None for a local folder."""
    if backbone == DEFAULT_BACKBONE:
        return DEFAULT_BACKBONE_HUB_ID
    if Path(backbone).expanduser().exists():
        return None
    try:
        validate_repo_id(backbone)
    except HFValidationError:
        return None
    return backbone


# ---- writing and rewriting ---------------------------------------------------------------------

def write_card(paths: RunPaths, config: ExperimentConfig, summary: Mapping[str, Any],
               aggregated: Mapping[str, Any] | None = None) -> Path:
    """Write `best_model/README.md` of the run in `paths` (atomically) from its records; returns the path."""
    evals = {name: result for name, result in read_evals(paths.results).items() if name in summary.get("test", {})}
    settings = json.loads((paths.best_model / "config.json").read_text(encoding="utf-8")).get("biotune") or {}
    path = paths.best_model / CARD_FILE
    write_text(path, build_card(config, summary, evals, settings, str(paths.best_model), aggregated))
    return path


def rewrite_cards(config: ExperimentConfig, aggregated: Mapping[str, Any]) -> list[Path]:
    """Rebuild the card of every aggregated seed of `config` with the seeds' mean ± std.

    A seed whose records cannot be read (a folder moved or pruned by hand) keeps its card and is
    named in a warning: the aggregation it belongs to is already written."""
    written = []
    for seed in aggregated["seeds"]:
        paths = RunPaths(Path(config.output_dir), config.run_name, seed)
        try:
            seeded = validate(read_snapshot(paths.snapshot), str(paths.snapshot))
            summary = json.loads(paths.summary.read_text(encoding="utf-8"))
            written.append(write_card(paths, seeded, summary, aggregated))
        except (OSError, ValueError, BiotuneError) as exc:
            log.warning("seed %d: model card not rewritten with the seeds' results: %s", seed, exc)
    return written


# ---- the card ----------------------------------------------------------------------------------

def build_card(config: ExperimentConfig, summary: Mapping[str, Any], evals: Mapping[str, Mapping[str, Any]],
               settings: Mapping[str, Any], model: str, aggregated: Mapping[str, Any] | None = None) -> str:
    """The card's text: YAML front matter, then the Markdown sections (see the module docstring).

    `evals` maps test set names to their metrics dictionaries (`eval_<test>.json`), `settings`
    is the saved model's `config.biotune`, `model` the folder the usage snippets load."""
    task = get_task(config.task)
    data = summary.get("data", [])
    metadata = card_metadata(config, task, data, evals)
    sections = [_introduction(config, task, summary), *_collapse_section(summary), _data_section(config, data),
                _training_section(config, summary, settings), _test_section(evals)]
    if aggregated is not None:
        sections.append(_seeds_section(summary, aggregated))
    usage = (f"`{model}` is this folder. Once uploaded, transformers loads the Hub id `<user>/<repo>` in its place; "
             "biotune loads a local folder (`hf download <user>/<repo> --local-dir <folder>`).")
    sections += [f"## Usage\n\n{usage}\n\n{task.card_usage(model, settings).strip()}", _upload_section(model)]
    return f"---\n{metadata.to_yaml()}\n---\n\n" + "\n\n".join(s.strip() for s in sections) + "\n"


def card_metadata(config: ExperimentConfig, task: Task, data: Sequence[Mapping[str, Any]],
                  evals: Mapping[str, Mapping[str, Any]]) -> ModelCardData:
    """The front matter: library, pipeline tag, base model, tags, datasets, metrics and `model-index`."""
    by_test = {row["name"]: row for row in data if row["role"] == "test"}
    results = []
    for name, result in evals.items():
        row = by_test.get(name, {"corpus": None, "split": name})
        dataset = _corpus_name(row["corpus"]) if row["corpus"] else name
        for key, value in model_index_metrics(result):
            results.append(EvalResult(task_type=task.pipeline_tag, task_name=task_spec(task.name).description,
                                      dataset_type=dataset, dataset_name=dataset, dataset_split=row["split"],
                                      metric_type=key.rsplit(".", 1)[-1], metric_value=value, metric_name=key))
    corpora = dict.fromkeys(_corpus_name(row["corpus"]) for row in data if row["corpus"])
    return ModelCardData(
        library_name="transformers", pipeline_tag=task.pipeline_tag, base_model=base_model_id(config.model.backbone),
        tags=["biotune", "biomedical", task.name, task.pipeline_tag], datasets=list(corpora) or None,
        metrics=sorted({r.metric_type for r in results}) or None, model_name=config.name, eval_results=results or None)


def model_index_metrics(result: Mapping[str, Any]) -> list[tuple[str, float]]:
    """(dotted key, value) of a test set's numbers for `model-index`: the headline, then every
    precision/recall/F1 of the top-level blocks (micro, macro, word level: not per type or class),
    then the other top-level scores (floats: the counts and settings beside them are integers)."""
    found = {result["headline_key"]: float(headline_of(result))}
    for block, values in score_blocks(result, is_number):
        if "." not in block:
            found.update({f"{block}.{m}": float(values[m]) for m in METRICS})
    blocks = {block for block, _ in score_blocks(result, is_number)}
    for key, value in other_metrics(result, is_number):
        if "." not in key and isinstance(value, float) and key not in blocks:
            found.setdefault(key, value)
    return list(found.items())


def _introduction(config: ExperimentConfig, task: Task, summary: Mapping[str, Any]) -> str:
    backbone = config.model.backbone
    hub = base_model_id(backbone)
    source = f"[`{hub}`](https://huggingface.co/{hub})" if hub else f"`{Path(backbone).name}` (a local folder)"
    corpora = dict.fromkeys(_corpus_name(row["corpus"]) for row in summary.get("data", []) if row["corpus"])
    on = f" on {', '.join(f'`{c}`' for c in corpora)}" if corpora else ""
    description = task_spec(task.name).description
    return (f"# {config.name}\n\n{description[:1].upper()}{description[1:]} (biotune task `{task.name}`, head "
            f"`{config.model.head}`): {source} fine-tuned{on} with biotune, seed {summary.get('seed', config.training.seed)}.")


def _data_section(config: ExperimentConfig, data: Sequence[Mapping[str, Any]]) -> str:
    if not data:
        return "## Data\n\nThe run recorded no label counts."
    lines = ["## Data", ""]
    for corpus in dict.fromkeys(row["corpus"] for row in data if row["corpus"]):
        info = CORPORA.get(corpus) if not Path(corpus).is_dir() else None
        kind = " (a Hugging Face dataset, BigBIO KB schema)" if is_hf_spec(corpus) else " (a corpus folder)"
        lines.append(f"- `{_corpus_name(corpus)}`" + (f": {info.description} {info.citation} <{info.url}>" if info else
                                                       kind))
    for row in data:
        where = f"`{row['split']}` of `{_corpus_name(row['corpus'])}`" if row["corpus"] else f"file `{row['spec']}`"
        lines.append(f"- {_column(row)}: {where}")
    columns = [_column(row) for row in data]
    labels = list(dict.fromkeys(label for row in data for label in row["counts"]))
    table = [[label, *(str(row["counts"][label]) if label in row["counts"] else MISSING for row in data)]
             for label in labels]
    lines += ["", "Label distribution (the first row counts the split's examples; "
              f"{MISSING}: not counted in that split):", "",
              markdown_table(["", *columns], table, ["left", *["right"] * len(columns)])]
    return "\n".join(lines)


def _column(row: Mapping[str, Any]) -> str:
    """A split's column name: `train`, `train: <source>`, `dev`, `test: <name>`."""
    if row["role"] == "dev" or row["name"] == row["role"]:
        return row["role"]
    return f"{row['role']}: {row['name']}"


def _training_section(config: ExperimentConfig, summary: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    resolved = config.model_dump(mode="json")
    hyper = [[key, _value(value)] for section in ("model", "training")
             for key, value in flatten(resolved[section], f"{section}.").items()]
    lines = ["## Training", "", f"Backbone: `{config.model.backbone}`"
             + (f" ([`{base_model_id(config.model.backbone)}`](https://huggingface.co/{base_model_id(config.model.backbone)}))"
                if base_model_id(config.model.backbone) not in (None, config.model.backbone) else "")
             + f". Strategy `{config.training.strategy}`.", "",
             "Hyperparameters (the resolved config):", "", markdown_table(["key", "value"], hyper)]
    if config.sources:
        defaults = SourceConfig(name="-", split="-").model_dump(mode="json")
        rows = [[s["name"], f"`{s['split']}`", ", ".join(f"{k}={_value(v)}" for k, v in s.items()
                                                        if k not in ("name", "split") and v != defaults[k]) or "defaults"]
                for s in resolved["sources"]]
        lines += ["", "Sources:", "", markdown_table(["source", "split", "settings"], rows)]
    recorded = [[key, _value(value)] for key, value in settings.items() if not isinstance(value, Mapping)]
    if recorded:
        lines += ["", "Recorded in the model (`config.json` → `biotune`, what prediction reproduces):", "",
                  markdown_table(["key", "value"], recorded)]
    if summary.get("tuned"):
        lines += ["", "Tuned on dev after training: " + ", ".join(f"`{k}` = {_value(v)}" for k, v in summary["tuned"].items())]
    phases = summary.get("phases", [summary])
    for phase in phases:
        title = f"### Phase {phase.get('phase', 1)} ({', '.join(phase.get('sources', []))})" if len(phases) > 1 else ""
        lines += ["", *([title, ""] if title else []), _selection(phase)]
    lines += ["", f"{'The last phase' if len(phases) > 1 else 'Training'} ran {_epoch(summary.get('epochs_run') or 0)} "
                  f"epochs over {summary.get('train_examples')} examples in {summary.get('train_seconds', 0):.0f} s "
                  f"({summary.get('processes', 1)} process(es), bf16 {summary.get('bf16')})."]
    return "\n".join(lines)


def _selection(phase: Mapping[str, Any]) -> str:
    """The selected epoch and the dev history of one phase (the Trainer's best dev score, first reached)."""
    history = phase.get("dev_history", [])
    selected = selected_epoch(phase)
    if selected is None:
        return f"No dev selection: the last epoch ({_epoch(phase.get('epochs_run') or 0)}) is kept."
    scope = phase.get("dev_scope") or []
    lines = [f"Selected epoch: **{_epoch(selected)}** (best dev score {phase['best_dev_score']:.4f}"
             + (f", scored on {', '.join(scope)}" if scope else "") + ").", "",
             markdown_table(["epoch", "dev score", ""], [[_epoch(h["epoch"]), f"{h['dev_score']:.4f}",
                                                         "selected" if h["epoch"] == selected else ""] for h in history],
                            ["right", "right", "left"])]
    return "\n".join(lines)


def selected_epoch(phase: Mapping[str, Any]) -> float | None:
    """The epoch whose model was kept (recorded; in runs from before it was, the first with the best dev
    score); None without dev selection."""
    if "selected_epoch" in phase:
        return phase["selected_epoch"]
    best = phase.get("best_dev_score")
    return next((h["epoch"] for h in phase.get("dev_history", []) if h["dev_score"] == best), None) if best is not None else None


def _collapse_section(summary: Mapping[str, Any]) -> list[str]:
    """A warning, right under the introduction, for each split whose predictions collapsed to one class."""
    collapsed = summary.get("collapsed") or {}
    if not collapsed:
        return []
    lines = ["## Warning: collapsed predictions", "", "On these splits the model predicts one class for every "
             "example: it has learned nothing of them, whatever its score (a majority-class rate is no result)."]
    lines += ["", *(f"- {split}: {message}" for split, message in collapsed.items())]
    return ["\n".join(lines)]


def _test_section(evals: Mapping[str, Mapping[str, Any]]) -> str:
    if not evals:
        return "## Test results\n\nThe run has no test set."
    lines = ["## Test results", "", "Precision, recall and F1 in percent; each block as the eval file holds it "
             "(`eval_<test>.json` of the run)."]
    for name, result in evals.items():
        lines += ["", f"### {name}", "", f"Headline (`{result['headline_key']}`): **{100 * headline_of(result):.2f}**", "",
                  metric_tables(result, is_number, cell=lambda v: f"{100 * v:.2f}", number=_number, min_support=0,
                                value_header="value")]
    return "\n".join(lines)


def _seeds_section(summary: Mapping[str, Any], aggregated: Mapping[str, Any]) -> str:
    seeds = aggregated["seeds"]
    lines = ["## Results over seeds", "", f"This model is seed {summary.get('seed')} of a multi-seed run (`biotune run` or a suite) over seeds "
             f"{', '.join(map(str, seeds))} (n = {len(seeds)}): mean ± sample std in percent; N/A: fewer than "
             f"{MIN_SUPPORT} gold units."]
    return "\n".join(lines + render_test_sets(aggregated, level="###"))


def _upload_section(model: str) -> str:
    return f"""## Upload

The folder is a complete Hugging Face model folder (weights, tokenizer, labels, this card):

```bash
hf auth login
biotune push {model} <user>/<repo>
```

or with huggingface_hub alone: `hf upload <user>/<repo> {model}`, or from Python
`huggingface_hub.HfApi().upload_folder(repo_id="<user>/<repo>", folder_path="{model}")`."""


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _epoch(epoch: float) -> str:
    return str(int(epoch)) if float(epoch).is_integer() else f"{epoch:.2f}"
