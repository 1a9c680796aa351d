"""Question-answering benchmark: biotune vs the plain Hugging Face recipes, same machine, same run.

For each of BioASQ 7b factoid, BioASQ list (train 4b-6b batches 1-4, dev their 5th batches,
test 7b), BioASQ yes/no (BLURB split) and PubMedQA (BLURB split), with the default backbone
(bundled MiniLM-L6) and the same epochs, learning rate and batch size on both sides:
  1. the plain recipe trains once (seed 42, fp32) and predicts the test items:
     extractive `bench/hf_qa_recipe.py` (run_qa.py / utils_qa.py: n-best per item over ONE
     snippet, no merging) or classification `bench/hf_decision_recipe.py` (run_glue style);
  2. biotune trains `configs/qa/<dataset>.yaml` with seeds 1, 2, 3 through the library
     (`run_seeds`), and its prediction examples/s is timed on seed 1's checkpoint over the same
     test items through the task's predictor.
The recipe's per-item answers are scored here with biotune's BioASQ metrics
(`biotune.tasks.qa.metrics`), each ITEM standing as its own question against its question's
gold (the recipe has nothing to merge items with): factoid, the first 5 distinct answers of
its n-best; list, the n-best answers at or above a probability threshold tuned with
`best_list_threshold` on the recipe's own predictions for the dev items biotune tunes on.
Both sides read the same data: the recipe's list training file is written from biotune's own
list pair builder (`biotune.tasks.qa.lists`), and a `--limit` run writes both sides' first N
items. Yes/no and PubMedQA predictions are scored with `score_decisions`, as biotune's.

On this 2-core CPU machine the full splits at the configs' epochs take many hours (yes/no
contexts average ~700 subwords, which biotune reads whole in stride windows), so
`--train-subset`, `--dev-subset` and `--test-subset` draw fixed-seed random subsets (training
examples; dev and test questions, every snippet of a drawn question kept), written in formats
biotune reads and named in its config, the same files for both sides; the table notes say so.

Writes raw results to bench/runs/qa_<dataset>.json and the "Question answering" section of
BENCHMARKS.md (one table, each dataset from its own raw file, so a rerun of one dataset leaves
the others as they were measured). A `--limit N` run (smoke test: the first N items of every
split) writes `qa_<dataset>__limit<N>.json`, prints its table and never touches BENCHMARKS.md.

usage: python bench/qa.py [--datasets bioasq_factoid bioasq_list bioasq_yesno pubmedqa] [--epochs E] [--lr LR]
           [--batch-size N] [--train-subset N] [--dev-subset N] [--test-subset N] [--limit N] [--resume]
Run it under `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biotune.config import ExperimentConfig, load_config
from biotune.corpora.splits import Split, locate
from biotune.experiments.run_folder import RunPaths
from biotune.experiments.seeds import run_seeds
from biotune.io import write_json, write_text
from biotune.tables import markdown_table
from biotune.tasks import get_task
from biotune.tasks.qa.examples import DecisionExample, QaExample, QaQuestion
from biotune.tasks.qa.metrics import (best_list_threshold, cut_list, normalise_answer, score_decisions, score_factoid,
                                      score_list)
from biotune.tasks.qa.reading import default_gold_files
from biotune.tasks.qa.settings import QaSettings
from biotune.training.sources import source_configs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relation_extraction import machine, mean_std, verdict  # noqa: E402  (sibling scripts, not a package)
from ner_core import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "qa"
RUNS = ROOT / "bench" / "runs"
SEEDS = (1, 2, 3)
# issue 11's targets: factoid MRR >= recipe + 2 points; yes/no and PubMedQA accuracy >= recipe; training >= 2x
TARGETS = {"mrr_points": 2.0, "accuracy_points": 0.0, "train_ratio": 2.0}
DECISION_ORDER = ("yes", "no", "maybe")


@dataclass(frozen=True)
class Dataset:
    """One benchmark dataset: its config (`configs/qa/<name>.yaml`), its kind and its measures (result keys, names)."""

    name: str
    title: str
    kind: str  # factoid | list | decisions (the result's `kind`)
    measures: tuple[tuple[str, str], ...]  # (dotted key in the result's `to_dict()`, name)
    reference: str  # published figures from ../shared/data/README.md, for context


DATASETS = {d.name: d for d in (
    Dataset("bioasq_factoid", "BioASQ 7b factoid", "factoid",
            (("strict", "strict accuracy"), ("lenient", "lenient accuracy"), ("mrr", "MRR (top 5)")),
            "BioBERT (after SQuAD pre-training): strict / lenient accuracy and MRR in the 40s-60s"),
    Dataset("bioasq_list", "BioASQ 7b list", "list",
            (("mean.precision", "mean precision"), ("mean.recall", "mean recall"), ("mean.f1", "mean F1")), ""),
    Dataset("bioasq_yesno", "BioASQ yes/no (BLURB)", "decisions",
            (("accuracy", "accuracy"), ("macro_f1", "macro-F1")), "BLURB PubMedBERT 87.56 accuracy"),
    Dataset("pubmedqa", "PubMedQA (BLURB)", "decisions",
            (("accuracy", "accuracy"), ("macro_f1", "macro-F1")),
            "BLURB PubMedBERT 55.84 accuracy; human performance 78.0 (PubMedQA paper)"),
)}


# ---- configuration and data -------------------------------------------------------------------

def config_overrides(dataset: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """The bench's overrides of a shipped config: its run folder, the data folder, epochs, learning rate, batch, limit."""
    overrides: dict[str, Any] = {"name": f"bench_qa_{dataset.name}", "output_dir": str(RUNS / "qa"),
                                 "data.data_dir": str(DATA)}
    for key, value in (("training.epochs", args.epochs), ("training.learning_rate", args.lr),
                       ("training.batch_size", args.batch_size), ("data.limit", args.limit)):
        if value is not None:
            overrides[key] = value
    return overrides


def biotune_config(dataset: Dataset, args: argparse.Namespace) -> ExperimentConfig:
    """The shipped config, run under bench/runs/qa with the bench's overrides."""
    return load_config(ROOT / "configs" / "qa" / f"{dataset.name}.yaml", config_overrides(dataset, args))


SAMPLE_SEED = 0  # the fixed seed of every subset draw: the same files on every run and for both sides
SPLITS = ("train", "dev", "test")


def subset_config(dataset: Dataset, config: ExperimentConfig, args: argparse.Namespace
                  ) -> tuple[ExperimentConfig, dict[str, list[int]]]:
    """The config on fixed-seed random subsets (`--train-subset` etc.), and (used, total) per split.

    Training draws examples (SQuAD items, list pairs, yes/no questions); dev and test draw
    questions (every item of a drawn BioASQ question is kept, so merging sees all its snippets).
    The subsets are written, in formats biotune reads, outside the repository; the config then
    names those files (`data.train`, `data.dev`, `data.test`, and the BioASQ gold files for
    their answers), so both sides read exactly the drawn examples. Without subsets: `config` as is.
    """
    task = get_task(config.task)
    sizes = {"train": args.train_subset, "dev": args.dev_subset, "test": args.test_subset}
    splits = {"train": task.read_source(source_configs(config)[0], config).examples,
              "dev": task.read_split(config.data.dev, config).examples if config.data.dev else [],
              "test": task.read_split(config.data.test[0], config).examples}
    counts: dict[str, list[int]] = {}
    kept: dict[str, list[Any]] = {}
    for split, examples in splits.items():
        group = (lambda e: e.id) if split == "train" or dataset.kind == "decisions" else (lambda e: e.question_id)
        units = list(dict.fromkeys(group(e) for e in examples))
        drawn = (set(random.Random(SAMPLE_SEED).sample(units, sizes[split]))
                 if 0 < sizes[split] < len(units) else set(units))
        kept[split] = [e for e in examples if group(e) in drawn]
        counts[split] = [len(drawn), len(units)]
    if all(used == total for used, total in counts.values()):
        return config, counts
    tag = "".join(f"__{split}{used}" for split, (used, total) in counts.items() if used < total)
    folder = Path(tempfile.gettempdir()) / "biotune_bench_qa" / f"{dataset.name}{tag}"
    suffix = ".tsv" if dataset.kind == "decisions" else ".json"
    overrides: dict[str, Any] = {"name": f"{config.name}{tag}"}
    for split, examples in kept.items():
        if not examples:
            continue
        path = folder / f"{split}{suffix}"
        write_text(path, decisions_tsv(examples) if dataset.kind == "decisions" else squad_json(examples))
        overrides[f"data.{split}"] = [str(path)] if split == "test" else str(path)
    if dataset.kind != "decisions":  # the written dev/test items take their answers from the BioASQ gold files
        gold = config.section(QaSettings).gold or default_gold_files(locate(config.data.test[0], config.data)[1])
        overrides["qa.gold"] = [str(path) for path in gold]
    return load_config(ROOT / "configs" / "qa" / f"{dataset.name}.yaml",
                       {**config_overrides(dataset, args), **overrides}), counts


@dataclass(frozen=True)
class BenchData:
    """What both sides read, as biotune's task reads it: training examples, dev and test splits."""

    train: list[Any]
    dev: Split | None
    test: Split
    train_file: Path  # the training file as the recipe reads it (SQuAD JSON or BLURB TSV)
    predict_files: dict[str, Path]  # the files the recipe predicts, by name (test; dev for list)


def bench_data(dataset: Dataset, config: ExperimentConfig, tag: str) -> BenchData:
    """The splits through biotune's own readers; the recipe's files are the shared ones where they are
    what biotune reads (full factoid and yes/no runs), else written from biotune's examples outside
    the repository (list pairs, --limit runs)."""
    task = get_task(config.task)
    train = task.read_source(source_configs(config)[0], config).examples
    dev = task.read_split(config.data.dev, config) if config.data.dev else None
    test = task.read_split(config.data.test[0], config)
    source = locate(config.data.train, config.data)[1]
    folder = Path(tempfile.gettempdir()) / "biotune_bench_qa" / f"{dataset.name}{tag}"
    if dataset.kind == "decisions":
        if not config.data.limit:
            return BenchData(train, dev, test, source, {"test": test.path})
        write_text(folder / "train.tsv", decisions_tsv(train))
        write_text(folder / "test.tsv", decisions_tsv(test.examples))
        return BenchData(train, dev, test, folder / "train.tsv", {"test": folder / "test.tsv"})
    if dataset.kind == "factoid" and not config.data.limit:
        return BenchData(train, dev, test, source, {"test": test.path})
    splits = {"train": train, "test": test.examples, **({"dev": dev.examples} if dataset.kind == "list" and dev else {})}
    for name, examples in splits.items():
        write_text(folder / f"{name}.json", squad_json(examples))
    return BenchData(train, dev, test, folder / "train.json",
                     {name: folder / f"{name}.json" for name in splits if name != "train"})


def squad_json(examples: Sequence[QaExample]) -> str:
    """SQuAD v1 form, one paragraph per item (every answer span of a training pair; none at test)."""
    paragraphs = [{"context": e.context, "qas": [{"id": e.id, "question": e.question, "answers": [
        {"text": e.context[a.start:a.end], "answer_start": a.start} for a in e.answers]}]} for e in examples]
    return json.dumps({"version": "biotune bench", "data": [{"title": "bench", "paragraphs": paragraphs}]})


def decisions_tsv(examples: Sequence[DecisionExample]) -> str:
    """BLURB's ``question: ... context: ...<TAB>label`` lines."""
    return "".join(f"question: {e.question} context: {e.context}\t{e.label}\n" for e in examples)


# ---- the recipe ---------------------------------------------------------------------------------

def run_recipe(dataset: Dataset, config: ExperimentConfig, data: BenchData, out: Path, resume: bool) -> dict[str, Any]:
    """The plain recipe with biotune's epochs, learning rate and batch sizes; its output goes to a log.

    With --resume, a recipe result of the same files and settings is reused (the factoid recipe
    is the longest step of the benchmark).
    """
    t = config.training
    if dataset.kind == "decisions":
        cmd = [sys.executable, str(ROOT / "bench" / "hf_decision_recipe.py"), str(data.train_file),
               str(data.predict_files["test"]), str(out)]
    else:
        cmd = [sys.executable, str(ROOT / "bench" / "hf_qa_recipe.py"), str(data.train_file), str(out),
               *(f"--predict={name}={path}" for name, path in data.predict_files.items())]
    cmd += ["--epochs", str(t.epochs), "--lr", str(t.learning_rate), "--bs", str(t.batch_size),
            "--eval-bs", str(t.eval_batch_size)]
    if resume and out.is_file():
        done = json.loads(out.read_text(encoding="utf-8"))
        if done.get("command") == cmd[2:]:
            return done
    log = out.with_suffix(".log")
    with log.open("w", encoding="utf-8") as handle:
        if subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"the HF recipe failed on {dataset.name}: see {log}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["command"] = cmd[2:]
    write_json(out, result)
    return result


def item_questions(examples: Sequence[QaExample], questions: Mapping[str, QaQuestion]) -> list[QaQuestion]:
    """Each item as its own question, with its question's gold: how a recipe without merging is scored."""
    return [QaQuestion(e.id, questions[e.question_id].type, e.question, questions[e.question_id].answers)
            for e in examples]


def gold_of(split: Split) -> dict[str, QaQuestion]:
    return {q.id: q for q in split.documents or []}


def distinct_texts(nbest: Sequence[Mapping[str, Any]], k: int) -> list[str]:
    """The first `k` n-best texts, a text equal to an earlier one under BioASQ's normalisation dropped."""
    seen: set[str] = set()
    out = []
    for answer in nbest:
        key = normalise_answer(answer["text"])
        if key not in seen:
            seen.add(key)
            out.append(answer["text"])
    return out[:k]


def score_recipe(dataset: Dataset, recipe: dict[str, Any], data: BenchData, top_k: int) -> dict[str, Any]:
    """The recipe's test predictions scored with biotune's metric functions (see the module docstring)."""
    if dataset.kind == "decisions":
        predictions = recipe["predictions"]
        gold, predicted = [p["gold"] for p in predictions], [p["predicted"] for p in predictions]
        found = set(gold) | set(predicted) | set(recipe["labels"])
        labels = [label for label in DECISION_ORDER if label in found] + sorted(found - set(DECISION_ORDER))
        return score_decisions(gold, predicted, labels).to_dict()
    test = item_questions(data.test.examples, gold_of(data.test))
    nbest = recipe["predictions"]["test"]["nbest"]
    if dataset.kind == "factoid":
        return score_factoid(test, {q.id: distinct_texts(nbest[q.id], top_k) for q in test}, top_k=top_k).to_dict()
    if data.dev is None:
        raise SystemExit(f"{dataset.name}: list answers need a dev split to tune the recipe's threshold on")
    dev = item_questions(data.dev.examples, gold_of(data.dev))
    dev_nbest = recipe["predictions"]["dev"]["nbest"]
    threshold, dev_result = best_list_threshold(
        dev, {q.id: [(a["text"], a["probability"]) for a in dev_nbest[q.id]] for q in dev})
    cut = cut_list({q.id: [(a["text"], a["probability"]) for a in nbest[q.id]] for q in test}, threshold)
    return {**score_list(test, cut, threshold=threshold).to_dict(), "dev_f1": dev_result.f1}


# ---- biotune ------------------------------------------------------------------------------------

def seed_results(config: ExperimentConfig, seed: int) -> dict[str, Any]:
    paths = RunPaths(Path(config.output_dir), config.run_name, seed)
    test = json.loads((paths.results / "eval_test.json").read_text(encoding="utf-8"))
    return {"seed": seed, "test": test["test"], "summary": json.loads(paths.summary.read_text(encoding="utf-8")),
            "best_model": str(paths.best_model)}


def biotune_prediction_speed(dataset: Dataset, config: ExperimentConfig, checkpoint: Path, test: Split) -> dict[str, Any]:
    """Test items/s of biotune's predictor on seed 1's checkpoint, as `biotune predict` runs it.

    The task's predictor with precision ``auto``: it windows, runs the model and (extractive)
    merges every question's answers over its snippets. Reading files is not timed, as the
    recipe's is not. One warm-up batch first, as a served model has had. The timed predictions
    are scored too, so the table can show that the fast path gives the run's own scores.
    """
    task = get_task(config.task)
    batch_size = config.training.eval_batch_size
    predictor: Any = task.predictor(task.load(checkpoint), precision="auto", batch_size=batch_size)
    examples = test.examples
    if dataset.kind == "decisions":
        predictor.predict(examples[:batch_size])
        start = time.perf_counter()
        predicted = [p.label for p in predictor.predict(examples)]
        seconds = time.perf_counter() - start
        scores = score_decisions([e.label for e in examples], predicted, predictor.labels).to_dict()
    else:
        warm = {e.question_id for e in examples[:batch_size]}
        predictor.answer_examples([e for e in examples if e.question_id in warm])
        start = time.perf_counter()
        answers = predictor.answer_examples(examples)
        seconds = time.perf_counter() - start
        texts = {q: [a.text for a in found] for q, found in answers.items()}
        questions = list(gold_of(test).values())
        scores = (score_factoid(questions, texts, top_k=predictor.settings["top_k"]) if dataset.kind == "factoid"
                  else score_list(questions, texts, threshold=predictor.list_threshold)).to_dict()
    return {"test_items": len(examples), "predict_s": seconds, "predict_items_per_s": len(examples) / seconds,
            "precision": predictor.precision, "batch_size": batch_size, "checkpoint": str(checkpoint),
            "scores": scores}


# ---- one dataset --------------------------------------------------------------------------------

def bench_dataset(dataset: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Recipe, then biotune's seeds, then biotune's prediction speed; the raw results as one JSON."""
    config, counts = subset_config(dataset, biotune_config(dataset, args), args)
    tag = f"__limit{args.limit}" if args.limit else config.name.removeprefix(f"bench_qa_{dataset.name}")
    stem = f"qa_{dataset.name}{tag if args.limit else ''}"
    load = os.getloadavg()[0]
    start = time.perf_counter()
    data = bench_data(dataset, config, tag)
    recipe = run_recipe(dataset, config, data, RUNS / f"{stem}_hf_recipe.json", args.resume)
    recipe_scores = score_recipe(dataset, recipe, data, config.section(QaSettings).top_k)
    recipe_s = time.perf_counter() - start
    outcome = run_seeds(config, seeds=list(SEEDS), overwrite=not args.resume)
    if outcome.failed:
        raise SystemExit(f"biotune failed on {dataset.name}: {outcome.failed}")
    seeds = [seed_results(config, seed) for seed in SEEDS]
    prediction = biotune_prediction_speed(dataset, config, Path(seeds[0]["best_model"]), data.test)
    recipe_summary = {key: value for key, value in recipe.items() if key != "predictions"}
    if dataset.kind != "decisions":  # the n-best lists stay in the recipe's own file
        recipe_summary["predictions"] = {name: {k: v for k, v in p.items() if k != "nbest"}
                                         for name, p in recipe["predictions"].items()}
    row = {"dataset": dataset.name, "date": datetime.date.today().isoformat(), "machine": machine(),
           "load_average_at_start": load, "wall_s": time.perf_counter() - start, "recipe_wall_s": recipe_s,
           "limit": args.limit,
           "data": {"train_examples": len(data.train), "dev_items": len(data.dev.examples) if data.dev else 0,
                    "test_items": len(data.test.examples), "test_questions": len(data.test.documents or []),
                    "recipe_files": {"train": str(data.train_file), **{k: str(v) for k, v in data.predict_files.items()}},
                    "sample_seed": SAMPLE_SEED,
                    "drawn": counts},  # (used, total) per split: examples for train, questions for dev and test
           "config": config.model_dump(mode="json"), "recipe": recipe_summary, "recipe_scores": recipe_scores,
           "biotune": seeds, "biotune_prediction": prediction}
    write_json(RUNS / f"{stem}.json", row)
    return row


# ---- the table ----------------------------------------------------------------------------------

def recipe_rates(row: dict[str, Any]) -> tuple[float, float]:
    """The recipe's (training examples/s, test prediction examples/s)."""
    recipe = row["recipe"]
    if "train_items_per_s" in recipe:
        return recipe["train_items_per_s"], recipe["predictions"]["test"]["predict_items_per_s"]
    return recipe["train_examples_per_s"], recipe["predict_examples_per_s"]


def measures(row: dict[str, Any]) -> dict[str, tuple[float, list[float]]]:
    """Per measure key: (the recipe's value, biotune's per-seed values), as fractions."""
    dataset = DATASETS[row["dataset"]]
    return {key: (value_at(row["recipe_scores"], key), [value_at(s["test"], key) for s in row["biotune"]])
            for key, _ in dataset.measures}


def value_at(result: Mapping[str, Any], key: str) -> float:
    """A result's entry under a dotted key (``mean.f1``)."""
    node: Any = result
    for part in key.split("."):
        node = node[part]
    return float(node)


def rate_cell(recipe: float, biotune: float) -> str:
    return f"{recipe:.1f} / {biotune:.1f} / {biotune / recipe:.2f}x"


def table_rows(row: dict[str, Any]) -> list[list[str]]:
    """One line per measure; the dataset and its throughput on its first line."""
    dataset = DATASETS[row["dataset"]]
    train_recipe, predict_recipe = recipe_rates(row)
    train_biotune = statistics.mean(s["summary"]["train_examples_per_second"] for s in row["biotune"])
    predict_biotune = row["biotune_prediction"]["predict_items_per_s"]
    lines = []
    for i, (key, name) in enumerate(dataset.measures):
        recipe, values = measures(row)[key]
        first = i == 0
        lines.append([dataset.title if first else "", name, f"{100 * recipe:.2f}", mean_std(values, 100),
                      f"{100 * (statistics.mean(values) - recipe):+.2f}",
                      rate_cell(train_recipe, train_biotune) if first else "",
                      rate_cell(predict_recipe, predict_biotune) if first else ""])
    return lines


def target_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each of the issue's targets with the measured numbers and met / not met."""
    notes = []
    for row in rows:
        dataset = DATASETS[row["dataset"]]
        scores = measures(row)
        if dataset.kind == "factoid":
            recipe, values = scores["mrr"]
            gain = 100 * (statistics.mean(values) - recipe)
            notes.append(f"{dataset.title}: MRR {gain:+.2f} points over the recipe (target ≥ +{TARGETS['mrr_points']:g}): "
                         f"{verdict(gain, TARGETS['mrr_points'])}.")
        if dataset.kind == "decisions":
            recipe, values = scores["accuracy"]
            gain = 100 * (statistics.mean(values) - recipe)
            notes.append(f"{dataset.title}: accuracy {gain:+.2f} points against the recipe (target: at least the "
                         f"recipe's): {verdict(gain, TARGETS['accuracy_points'])}.")
    ratios = []
    for row in rows:
        train_recipe, _ = recipe_rates(row)
        ratio = statistics.mean(s["summary"]["train_examples_per_second"] for s in row["biotune"]) / train_recipe
        ratios.append(f"{DATASETS[row['dataset']].title} {ratio:.2f}x ({verdict(ratio, TARGETS['train_ratio'])})")
    notes.append(f"Training ≥ {TARGETS['train_ratio']:g}x the recipe's examples/s: " + "; ".join(ratios) + ".")
    return notes


def run_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """How each side ran and was scored, from the raw files."""
    notes = [
        "Both sides: bundled MiniLM-L6, the same epochs, learning rate and batch size per dataset (below). "
        "Throughput cells: recipe / biotune (mean of the seeds) / ratio, in examples/s: training pairs (or "
        "questions) x epochs over training seconds (biotune's dev evaluation excluded, as the recipe has none); "
        "prediction: test items over the seconds to predict them.",
        "HF recipe, extractive (`bench/hf_qa_recipe.py`): run_qa.py's features (max length 384, stride 128, padded "
        "to max length, the first answer of an item as its target), `AutoModelForQuestionAnswering` + `Trainer`, "
        "fp32, seed 42, last epoch kept; utils_qa.py's n-best (20, max answer length 30) per item over its ONE "
        "snippet. Scored here with biotune's BioASQ metrics, each item as its own question against its question's "
        "gold (no merging over snippets): factoid, the first 5 distinct n-best texts (lowercase-distinct, BioASQ's "
        "normalisation); list, the n-best answers at or above a probability threshold tuned with "
        "`best_list_threshold` on the recipe's predictions for biotune's dev items (4b-6b 5th batches), then the "
        "test items cut at it.",
        "HF recipe, yes/no and PubMedQA (`bench/hf_decision_recipe.py`): (question, context) pairs, "
        "`truncation=\"only_second\"`, max length 512, padded to max length, "
        "`AutoModelForSequenceClassification` + `Trainer`, fp32, seed 42, last epoch kept.",
    ]
    for row in rows:
        dataset = DATASETS[row["dataset"]]
        recipe, seeds, pred, config = row["recipe"], row["biotune"], row["biotune_prediction"], row["config"]
        own = f"{100 * value_at(seeds[0]['test'], dataset.measures[-1][0]):.2f}"
        timed = f"{100 * value_at(pred['scores'], dataset.measures[-1][0]):.2f}"
        tuned = ("; list thresholds tuned on dev: " + ", ".join(f"{s['test']['threshold']:.3g}" for s in seeds)
                 if dataset.kind == "list" else "")
        recipe_extra = (f"; recipe threshold {row['recipe_scores']['threshold']:.3g} (dev F1 "
                        f"{100 * row['recipe_scores']['dev_f1']:.2f})" if dataset.kind == "list" else "")
        truncated = (f"; the recipe cut {recipe['test_truncated']:,} of {recipe['test_examples']:,} test contexts"
                     if "test_truncated" in recipe else "")
        data, t = row["data"], config["training"]
        scored = (f" ({data['test_questions']:,} questions): the recipe is scored over the items, biotune over the "
                  "questions" if dataset.kind != "decisions" else "")
        notes.append(
            f"{dataset.title}: {t['epochs']:g} epoch(s), learning rate {t['learning_rate']:g}, batch "
            f"{t['batch_size']}, evaluation batch {t['eval_batch_size']}; {data['train_examples']:,} training "
            f"examples, {data['test_items']:,} test items{scored}{truncated}{recipe_extra}. biotune `configs/qa/{dataset.name}.yaml` "
            f"(max_length {config['model']['max_length']}, stride {config['qa']['stride']}, bf16 "
            f"{'on' if seeds[0]['summary'].get('bf16') else 'off'}{tuned}); prediction timed with seed "
            f"{seeds[0]['seed']}'s checkpoint (precision {pred['precision']}, {dataset.measures[-1][1]} {timed}; the "
            f"run's own evaluation: {own}). Run {row['date']}, {row['wall_s'] / 60:.1f} min "
            f"(recipe {row['recipe_wall_s'] / 60:.1f} min), load average {row['load_average_at_start']:.1f} at start.")
    for row in rows:
        drawn = {split: counts for split, counts in row["data"].get("drawn", {}).items() if counts[0] < counts[1]}
        if drawn:
            unit = {"train": "examples", "dev": "questions", "test": "questions"}
            if DATASETS[row["dataset"]].kind == "decisions":
                unit = {split: "examples" for split in unit}
            notes.append(f"{DATASETS[row['dataset']].title}: fixed random subsets (seed {row['data']['sample_seed']}), "
                         "the same files for both sides: " + ", ".join(
                             f"{split} {used:,} of {total:,} {unit[split]}" for split, (used, total) in drawn.items())
                         + ", to fit the run on this machine; scores on subsets are not comparable with full-split "
                         "results.")
    machines = sorted({row["machine"] for row in rows})
    notes.append(f"Machine: {'; '.join(machines)}, shared.")
    references = "; ".join(f"{d.title}: {d.reference}" for d in DATASETS.values() if d.reference)
    notes.append(f"Published references (GPU, base-size domain encoders): {references}. A 6-layer general-domain "
                 "MiniLM trained on a few thousand pairs without SQuAD pre-training, on a CPU, is far below them; "
                 "the comparison that matters here is biotune against the recipe on the same backbone.")
    return notes


def section(rows: Sequence[dict[str, Any]]) -> str:
    """The table and its notes for the given datasets' raw results, in dataset order."""
    headers = ["dataset", "measure (%)", "HF recipe (seed 42)", f"biotune (seeds {', '.join(map(str, SEEDS))})",
               "Δ points", "train ex/s recipe / biotune / ratio", "predict ex/s recipe / biotune / ratio"]
    lines = [line for row in rows for line in table_rows(row)]
    table = markdown_table(headers, lines, ["left", "left", "right", "right", "right", "right", "right"])
    intro = ("biotune (3 seeds, mean ± sample std) against the plain Hugging Face recipes (one seed), same data, "
             "epochs, machine and run per dataset (`bench/qa.py`).")
    notes = [*target_notes(rows), *run_notes(rows)]
    return f"{intro}\n\n{table}\n\n" + "\n".join(f"- {note}" for note in notes)


def saved_rows() -> list[dict[str, Any]]:
    return [json.loads((RUNS / f"qa_{name}.json").read_text(encoding="utf-8"))
            for name in DATASETS if (RUNS / f"qa_{name}.json").is_file()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--epochs", type=float, default=None, help="both sides (default: the configs' training.epochs)")
    ap.add_argument("--lr", type=float, default=None, help="both sides (default: the configs' training.learning_rate)")
    ap.add_argument("--batch-size", type=int, default=None, help="both sides (default: the configs' training.batch_size)")
    for split, unit in (("train", "examples"), ("dev", "questions"), ("test", "questions")):
        ap.add_argument(f"--{split}-subset", type=int, default=0, metavar="N",
                        help=f"use N {split} {unit} drawn with a fixed seed (0 = the whole split); "
                             "yes/no and PubMedQA draw examples")
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke run: the first N items of every split; not written to BENCHMARKS.md")
    ap.add_argument("--resume", action="store_true",
                    help="reuse biotune seeds that finished with the same config, and a recipe result of the same command")
    args = ap.parse_args()
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    if min(args.train_subset, args.dev_subset, args.test_subset) < 0:
        ap.error("a --*-subset size must be at least 0")
    if args.limit and (args.train_subset or args.dev_subset or args.test_subset):
        ap.error("--limit and --*-subset do not combine: a smoke run reads the first N items of every split")
    if args.epochs is not None and args.epochs <= 0:
        ap.error("--epochs must be positive")
    if args.lr is not None and args.lr <= 0:
        ap.error("--lr must be positive")
    if args.batch_size is not None and args.batch_size < 1:
        ap.error("--batch-size must be at least 1")
    RUNS.mkdir(parents=True, exist_ok=True)
    rows = [bench_dataset(DATASETS[name], args) for name in args.datasets]
    if args.limit:
        print(section(rows))
        print(f"\n(--limit {args.limit}: smoke numbers, not written to BENCHMARKS.md)")
        return
    body = section(saved_rows())
    write_section(ROOT / "BENCHMARKS.md", "qa", "Question answering vs the plain Hugging Face recipes (`bench/qa.py`)",
                  body)
    print(body)


if __name__ == "__main__":
    main()
