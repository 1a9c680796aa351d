"""Relation extraction benchmark: biotune vs the plain Hugging Face recipe, same machine, same run.

For each of ChemProt, DDI and GAD (BLURB splits, `../shared/data/re`), with the default backbone
(bundled MiniLM-L6) and the same epochs, learning rate and batch size on both sides:
  1. the plain recipe (`bench/hf_re_recipe.py`, run_glue style, seed 42) trains once and
     reports test F1, training sentences/s and prediction sentences/s;
  2. biotune trains `configs/re/<dataset>.yaml` with seeds 1, 2, 3 through the library
     (`run_seeds`: dev-selected epoch, test evaluation), and its prediction sentences/s is
     timed on seed 1's checkpoint over the same test sentences.
F1 is the standard one: micro-F1 over the relation classes with the negative class `0`
excluded (ChemProt, DDI, as BLURB), F1 of class 1 for GAD.

On a small CPU machine the full splits take hours (ChemProt's test split alone is 15.7k
sentences, predicted four times), so `--train-subset`, `--dev-subset` and `--test-subset`
draw fixed-seed random subsets, the same files for both sides; the table notes say so.

Writes raw results to bench/runs/re_<dataset>.json and the "Relation extraction" section of
BENCHMARKS.md, one table per dataset, each from its own raw file (a rerun of one dataset
leaves the others' tables as they were measured, with their own date). A `--limit` run
(smoke test: the first N sentences of every split) writes `re_<dataset>__limit<N>.json` and
prints its tables; it never touches BENCHMARKS.md.

usage: python bench/relation_extraction.py [--datasets chemprot ddi gad] [--epochs E] [--lr LR] [--train-subset N]
           [--dev-subset N] [--test-subset N] [--limit N] [--resume]
Run it under `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from biotune.config import ExperimentConfig, load_config
from biotune.experiments.evaluate import headline_of
from biotune.experiments.run_folder import RunPaths
from biotune.experiments.seeds import run_seeds
from biotune.io import write_json, write_text
from biotune.tables import markdown_table
from biotune.tasks.re.settings import RelationSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_core import write_section  # noqa: E402  (a sibling script, not a package)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "re"
RUNS = ROOT / "bench" / "runs"
SEEDS = (1, 2, 3)
TARGETS = {"f1_points": 1.0, "train_ratio": 2.0, "predict_ratio": 3.0}  # issue 10's targets


@dataclass(frozen=True)
class Dataset:
    """One benchmark dataset: its config (`configs/re/<name>.yaml`), its folder under `DATA`, its metric."""

    name: str
    title: str
    folder: str
    metric: str
    pubmedbert: float  # BLURB (Gu et al. 2021), base-size domain encoder on GPU


DATASETS = {d.name: d for d in (
    Dataset("chemprot", "ChemProt", "chemprot", "micro-F1 over the 5 relation classes (false excluded)", 77.24),
    Dataset("ddi", "DDI", "ddi", "micro-F1 over the 4 interaction classes (false excluded)", 82.36),
    Dataset("gad", "GAD", "gad/blurb", "F1 of class 1", 82.34),
)}


SAMPLE_SEED = 0  # the fixed seed of every subset draw: the same files on every run and for both sides
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class BenchData:
    """The files both sides read: the shared folder itself, or a folder of per-split subsets of it.

    `rows` is (rows used, rows in the split) per split; `how` says how the rows were chosen
    (``all``, ``first`` for a --limit smoke run, ``random`` for fixed-seed subsets).
    """

    folder: Path
    tag: str
    rows: dict[str, tuple[int, int]]
    how: str

    @property
    def is_shared(self) -> bool:
        return self.tag == ""


def bench_data(dataset: Dataset, args: argparse.Namespace) -> BenchData:
    """The dataset as this run uses it; subsets are written (atomically) outside the repository."""
    source = DATA / dataset.folder
    lines = {split: [line for line in (source / f"{split}.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
                     if line.strip()] for split in SPLITS}
    sizes = {"train": args.train_subset, "dev": args.dev_subset, "test": args.test_subset}
    if args.limit:
        keep = {split: list(range(min(args.limit, len(rows)))) for split, rows in lines.items()}
        how, tag = "first", f"__limit{args.limit}"
    else:
        keep = {split: sorted(random.Random(SAMPLE_SEED).sample(range(len(rows)), sizes[split]))
                if 0 < sizes[split] < len(rows) else list(range(len(rows))) for split, rows in lines.items()}
        how = "random"
        tag = "".join(f"__{split}{len(keep[split])}" for split in SPLITS if len(keep[split]) < len(lines[split]))
    rows = {split: (len(keep[split]), len(lines[split])) for split in SPLITS}
    if not tag:
        return BenchData(source, "", rows, "all")
    folder = Path(tempfile.gettempdir()) / "biotune_bench_re" / f"{dataset.name}{tag}"
    for split in SPLITS:
        write_text(folder / f"{split}.tsv", "".join(lines[split][i] for i in keep[split]))
    if (source / "label2id.tsv").is_file():
        write_text(folder / "label2id.tsv", (source / "label2id.tsv").read_text(encoding="utf-8"))
    return BenchData(folder, tag, rows, how)


def biotune_config(dataset: Dataset, args: argparse.Namespace, data: BenchData) -> ExperimentConfig:
    """The shipped config, run under bench/runs/re with the bench's epochs and (for subsets) the subset folder."""
    overrides: dict[str, Any] = {"name": f"bench_re_{dataset.name}{data.tag}", "output_dir": str(RUNS / "re"),
                                 "data.data_dir": str(DATA), "training.epochs": args.epochs,
                                 "training.learning_rate": args.lr}
    if not data.is_shared:
        overrides["data.corpus"] = str(data.folder)
    return load_config(ROOT / "configs" / "re" / f"{dataset.name}.yaml", overrides)


def run_recipe(dataset: Dataset, config: ExperimentConfig, data: BenchData, out: Path) -> dict[str, Any]:
    """The plain recipe on the same files with biotune's epochs, learning rate and batch sizes; its output goes to a log."""
    t = config.training
    cmd = [sys.executable, str(ROOT / "bench" / "hf_re_recipe.py"), str(data.folder), str(out),
           "--epochs", str(t.epochs), "--lr", str(t.learning_rate), "--bs", str(t.batch_size),
           "--eval-bs", str(t.eval_batch_size), "--negative", config.section(RelationSettings).negative_label]
    log = out.with_suffix(".log")
    with log.open("w", encoding="utf-8") as handle:
        if subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"the HF recipe failed on {dataset.name}: see {log}")
    return json.loads(out.read_text(encoding="utf-8"))


def biotune_prediction_speed(checkpoint: Path, test_file: Path, batch_size: int) -> dict[str, Any]:
    """Sentences/s of biotune's prediction path over the test split, as `biotune predict` runs it.

    `RelationPredictor` with its defaults (precision ``auto``) marks, tokenises and classifies
    the examples; file reading is not timed, as the recipe's is not. One warm-up batch first,
    as a served model has had. The timed predictions are scored too, so the table can show
    that the fast path gives the run's F1.
    """
    from biotune.tasks.re.examples import read_examples, read_label2id
    from biotune.tasks.re.metrics import score_relations
    from biotune.tasks.re.task import RelationPredictor

    predictor = RelationPredictor.from_checkpoint(checkpoint, batch_size=batch_size)
    label2id = test_file.parent / "label2id.tsv"
    examples = read_examples(test_file, read_label2id(label2id) if label2id.is_file() else None)
    predictor.predict(examples[:batch_size])
    start = time.perf_counter()
    predicted = predictor.predict(examples)
    seconds = time.perf_counter() - start
    negative = predictor.relation_model.model.config.biotune.get("negative_label")
    scores = score_relations([e.label for e in examples], [p.label for p in predicted], predictor.labels,
                             negative if negative in predictor.labels else None)
    return {"test_sentences": len(examples), "predict_s": seconds, "predict_sents_per_s": len(examples) / seconds,
            "precision": predictor.precision, "batch_size": batch_size, "checkpoint": str(checkpoint),
            "f1": scores.headline, "headline_key": scores.headline_key}


def seed_results(config: ExperimentConfig, seed: int) -> dict[str, Any]:
    paths = RunPaths(Path(config.output_dir), config.run_name, seed)
    return {"seed": seed, "test": json.loads((paths.results / "eval_test.json").read_text(encoding="utf-8")),
            "summary": json.loads(paths.summary.read_text(encoding="utf-8")), "best_model": str(paths.best_model)}


def headline(test: dict[str, Any]) -> float:
    """The run's headline F1 from its `eval_test.json` (``{"test": result}``, the result naming its `headline_key`)."""
    return float(headline_of(test["test"]))


def bench_dataset(dataset: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Recipe, then biotune's seeds, then biotune's prediction speed; the raw results as one JSON."""
    data = bench_data(dataset, args)
    config = biotune_config(dataset, args, data)
    load = os.getloadavg()[0]
    stem = f"re_{dataset.name}{data.tag if args.limit else ''}"
    start = time.perf_counter()
    recipe = run_recipe(dataset, config, data, RUNS / f"{stem}_hf_recipe.json")
    outcome = run_seeds(config, seeds=list(SEEDS), overwrite=not args.resume)
    if outcome.failed:
        raise SystemExit(f"biotune failed on {dataset.name}: {outcome.failed}")
    seeds = [seed_results(config, seed) for seed in SEEDS]
    prediction = biotune_prediction_speed(Path(seeds[0]["best_model"]), data.folder / "test.tsv",
                                          config.training.eval_batch_size)
    row = {"dataset": dataset.name, "date": datetime.date.today().isoformat(), "machine": machine(),
           "load_average_at_start": load, "wall_s": time.perf_counter() - start, "limit": args.limit,
           "data": {"folder": str(data.folder), "how": data.how, "sample_seed": SAMPLE_SEED,
                    "rows": {split: list(counts) for split, counts in data.rows.items()}},
           "config": config.model_dump(mode="json"), "recipe": recipe, "biotune": seeds, "biotune_prediction": prediction}
    write_json(RUNS / f"{stem}.json", row)
    return row


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.is_file() else []
    return (f"{names[0] if names else platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")


def mean_std(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{scale * statistics.mean(values):.{digits}f} ± {scale * spread:.{digits}f}"


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "not met"


def data_note(row: dict[str, Any]) -> str:
    rows = row["data"]["rows"]
    counts = ", ".join(f"{split} {used:,}" + (f" of {total:,}" if used < total else "") for split, (used, total) in rows.items())
    if row["data"]["how"] == "all":
        return f"Data: the full BLURB splits ({counts} sentences)."
    if row["data"]["how"] == "first":
        return f"Data: the first sentences of each split ({counts}): a smoke run."
    return (f"Data: fixed random subsets (seed {row['data']['sample_seed']}), the same files for both sides: {counts} "
            "sentences (dev serves biotune's model selection only), to fit the run on this machine; F1 on subsets is "
            "not comparable with full-split results.")


def dataset_table(row: dict[str, Any]) -> str:
    """The dataset's table (F1, training and prediction speed, biotune vs the recipe) and its notes."""
    dataset = DATASETS[row["dataset"]]
    recipe, seeds, pred = row["recipe"], row["biotune"], row["biotune_prediction"]
    f1s = [headline(s["test"]) for s in seeds]
    train = [s["summary"]["train_examples_per_second"] for s in seeds]
    gain = 100 * (statistics.mean(f1s) - recipe["f1"])
    train_ratio = statistics.mean(train) / recipe["train_sents_per_s"]
    predict_ratio = pred["predict_sents_per_s"] / recipe["predict_sents_per_s"]
    rows = [
        ["test F1 (%)", f"{100 * recipe['f1']:.2f}", mean_std(f1s, 100), f"{gain:+.2f} points",
         f"≥ +{TARGETS['f1_points']:g} points: {verdict(gain, TARGETS['f1_points'])}"],
        ["training sentences/s", f"{recipe['train_sents_per_s']:.1f}", mean_std(train, digits=1), f"{train_ratio:.2f}x",
         f"≥ {TARGETS['train_ratio']:g}x: {verdict(train_ratio, TARGETS['train_ratio'])}"],
        ["prediction sentences/s", f"{recipe['predict_sents_per_s']:.1f}", f"{pred['predict_sents_per_s']:.1f}",
         f"{predict_ratio:.2f}x", f"≥ {TARGETS['predict_ratio']:g}x: {verdict(predict_ratio, TARGETS['predict_ratio'])}"],
    ]
    table = markdown_table(["", "HF recipe (seed 42)", f"biotune (seeds {', '.join(str(s['seed']) for s in seeds)})",
                            "biotune vs recipe", "target"], rows, ["left", "right", "right", "right", "left"])
    config = row["config"]
    t = config["training"]
    epochs = ", ".join(f"seed {s['seed']}: {best_epoch(s['summary'])}" for s in seeds)
    dev_seconds = ", ".join(f"{s['summary'].get('dev_eval_seconds', 0):.0f}" for s in seeds)
    notes = [
        f"Metric: {dataset.metric}. Published reference (BLURB, PubMedBERT, base-size domain encoder on GPU): "
        f"{dataset.pubmedbert:.2f}; MiniLM-L6 here is a 6-layer general-domain encoder on a CPU.",
        data_note(row),
        f"Both sides: bundled MiniLM-L6, {t['epochs']:g} epoch(s), learning rate {t['learning_rate']:g}, "
        f"batch {t['batch_size']}, evaluation batch {t['eval_batch_size']}.",
        f"HF recipe: masks as plain text, padded and truncated to {recipe['max_seq_length']} subwords "
        f"({recipe['test_truncated']:,} of {recipe['test_sentences']:,} test sentences were cut), fp32, the Trainer's "
        "default AdamW without warm-up or weight decay, last epoch kept; prediction = tokenise + `Trainer.predict`.",
        f"biotune: `configs/re/{dataset.name}.yaml` (head `{config['model']['head']}`, max_length "
        f"{config['model']['max_length']}, bf16 {'on' if seeds[0]['summary'].get('bf16') else 'off'}); the best dev "
        f"epoch is kept ({epochs}). Training sentences/s counts training steps only (dev evaluation, "
        f"{dev_seconds} s per seed, is excluded as the recipe does none). Prediction: `RelationPredictor` "
        f"(precision {pred['precision']}, as `biotune predict`) marks, tokenises and classifies every test sentence "
        f"with seed {seeds[0]['seed']}'s checkpoint; those predictions score F1 {100 * pred['f1']:.2f} (the run's "
        f"own evaluation: {100 * f1s[0]:.2f}).",
        f"Machine: {row['machine']}, shared (load average {row['load_average_at_start']:.1f} at start); "
        f"run {row['date']}, {row['wall_s'] / 60:.0f} min for this dataset.",
    ]
    return f"### {dataset.title}\n\n{table}\n\n" + "\n".join(f"- {note}" for note in notes)


def best_epoch(summary: dict[str, Any]) -> str:
    history = summary.get("dev_history") or []
    best = max(history, key=lambda h: h["dev_score"]) if history else None
    return f"{best['epoch']:g}" if best else "-"


def section() -> str:
    """The BENCHMARKS.md section from every dataset's raw results on disk, in dataset order."""
    tables = [dataset_table(json.loads((RUNS / f"re_{name}.json").read_text(encoding="utf-8")))
              for name in DATASETS if (RUNS / f"re_{name}.json").is_file()]
    intro = ("biotune (3 seeds, mean ± sample std) against the plain Hugging Face recipe (one seed) on BLURB's "
             "sentence-level splits, same epochs, machine and run per dataset (`bench/relation_extraction.py`).")
    return "\n\n".join([intro, *tables])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--epochs", type=float, default=None, help="both sides (default: the configs' training.epochs)")
    ap.add_argument("--lr", type=float, default=None, help="both sides (default: the configs' training.learning_rate)")
    for split in SPLITS:
        ap.add_argument(f"--{split}-subset", type=int, default=0, metavar="N",
                        help=f"use N {split} sentences drawn with a fixed seed (0 = the whole split)")
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke run: the first N sentences of every split; not written to BENCHMARKS.md")
    ap.add_argument("--resume", action="store_true", help="reuse biotune seeds that finished with the same config")
    args = ap.parse_args()
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    if min(args.train_subset, args.dev_subset, args.test_subset) < 0:
        ap.error("a --*-subset size must be at least 0")
    if args.epochs is not None and args.epochs <= 0:
        ap.error("--epochs must be positive")
    RUNS.mkdir(parents=True, exist_ok=True)
    rows = [bench_dataset(DATASETS[name], args) for name in args.datasets]
    if args.limit:
        print("\n\n".join(dataset_table(row) for row in rows))
        print(f"\n(--limit {args.limit}: smoke numbers, not written to BENCHMARKS.md)")
        return
    body = section()
    write_section(ROOT / "BENCHMARKS.md", "re", "Relation extraction vs the plain Hugging Face recipe (`bench/relation_extraction.py`)", body)
    print(body)


if __name__ == "__main__":
    main()
