"""Hyperparameter search benchmark: does `biotune search` beat the shipped defaults on NCBI-disease?

1. `biotune.experiments.search.search` runs TPE (seeded) over learning rate, batch size, epochs,
   warm-up and dropout on `configs/ncbi_disease.yaml` (bundled MiniLM-L6), median pruning on the
   per-epoch dev F1; trials see train and dev only. The best trial's config then trains with
   seeds 42, 43, 44 and is tested once (the search's own final step).
2. The shipped config itself (its defaults: 3 epochs, learning rate 5e-5, batch 32, warm-up 0.1,
   dropout 0.3) trains with the same seeds on the same data (`run_seeds`).
Reported: test span-F1 of both (mean ± std over the seeds), the difference, the search's
wall time (trials) and the whole benchmark's.

On this shared 2-core CPU machine the full training split for 12 trials + 6 final runs does not
fit the time given to a benchmark, so `--train-subset N` trains every run (trials, best,
defaults) on the same fixed-seed random N training sentences (written to bench/runs/search/),
and `--epochs-high` bounds the searched epochs; dev and test are the corpus's full files. The
notes under the table say what was run.

usage: python bench/search.py [--trials 12] [--train-subset 500] [--epochs-low 1] [--epochs-high 2]
           [--sampler-seed 0] [--data-dir ../shared/data/corpora]
Run it under `flock /tmp/bench.lock` on a shared machine. Raw results: bench/runs/search.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch

from biotune.config import load_config
from biotune.experiments.evaluate import headline_of
from biotune.experiments.search import SearchSettings, search
from biotune.experiments.search_space import parse_space
from biotune.experiments.seeds import run_seeds
from biotune.formats.readers import read_corpus_file
from biotune.io import write_json, write_text
from biotune.tables import markdown_table

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "ncbi_disease.yaml"
SEARCHED = ("training.learning_rate", "training.batch_size", "training.epochs", "training.warmup", "model.dropout")


def space(args: argparse.Namespace):
    return parse_space({"sampler": "tpe", "params": {
        "training.learning_rate": {"type": "log", "low": 1.0e-5, "high": 3.0e-4},
        "training.batch_size": {"type": "categorical", "choices": [8, 16, 32]},
        "training.epochs": {"type": "int", "low": args.epochs_low, "high": args.epochs_high},
        "training.warmup": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.05},
        "model.dropout": {"type": "float", "low": 0.1, "high": 0.5, "step": 0.1},
    }}, "bench/search.py space")


def train_subset(data_dir: Path, n: int, out: Path) -> tuple[Path, int]:
    """A fixed-seed random `n` sentences of the training file, in corpus order, as TSV."""
    sentences = read_corpus_file(data_dir / "ncbi_disease" / "train.tsv")
    keep = sorted(random.Random(0).sample(range(len(sentences)), n))
    lines = []
    for index in keep:
        s = sentences[index]
        lines += [f"{token}\t{tag}" for token, tag in zip(s.tokens, s.tags or [])] + [""]
    write_text(out, "\n".join(lines) + "\n")
    return out, len(sentences)


def f1_cell(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def value_cell(value: object) -> str:
    return f"{value:.2e}" if isinstance(value, float) and value < 1e-2 else f"{value:g}" if isinstance(
        value, float) else str(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--train-subset", type=int, default=500)
    ap.add_argument("--epochs-low", type=int, default=1)
    ap.add_argument("--epochs-high", type=int, default=2)
    ap.add_argument("--sampler-seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "corpora")  # /work/shared
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke test: at most N sentences of every split (own folders; BENCHMARKS.md untouched)")
    args = ap.parse_args()
    stem = f"search_train{args.train_subset}" + (f"__limit{args.limit}" if args.limit else "")
    runs = ROOT / "bench" / "runs" / "search" / stem
    started = time.perf_counter()
    subset, train_total = train_subset(args.data_dir, args.train_subset, runs / f"train_{args.train_subset}.tsv")
    base = load_config(CONFIG, {"data.data_dir": str(args.data_dir), "data.train": str(subset),
                                "output_dir": str(runs / "outputs"), "data.limit": args.limit})
    seeds = [base.training.seed + k for k in range(3)]
    result = search(base, space(args), SearchSettings(trials=args.trials, sampler_seed=args.sampler_seed,
                                                      final_seeds=len(seeds)), config_path=CONFIG)
    search_seconds = time.perf_counter() - started
    defaults_start = time.perf_counter()
    defaults = run_seeds(base, seeds)
    defaults_seconds = time.perf_counter() - defaults_start
    total_seconds = time.perf_counter() - started
    if result.final is None or defaults.aggregated is None:
        sys.exit(f"no comparison: final {result.final}, defaults failed {defaults.failed}")
    tuned = result.final["test"]["test"]
    default = {"headline_key": defaults.aggregated["test_sets"]["test"]["headline_key"],
               **headline_of(defaults.aggregated["test_sets"]["test"])}
    best_params = result.best["params"]  # type: ignore[index]
    default_values = {key: base.model_dump()[key.split(".")[0]][key.split(".")[1]] for key in SEARCHED}
    raw = {"date": datetime.date.today().isoformat(), "args": {k: str(v) for k, v in vars(args).items()},
           "train_sentences": args.train_subset, "train_total": train_total, "seeds": seeds, "search": result.summary, "trials": result.trials,
           "defaults": {"values": default_values, "test": default, "seconds": defaults_seconds},
           "best": {"values": best_params, "test": tuned}, "search_seconds": search_seconds,
           "total_seconds": total_seconds}
    write_json(ROOT / "bench" / "runs" / f"{stem}.json", raw)
    print(render(raw, result.folder))
    if not args.limit:  # one table per training-subset size, each from its own raw file
        sys.path.insert(0, str(ROOT / "bench"))
        from ner_core import write_section  # bench/ is on sys.path when run as a script

        measured = sorted(ROOT.glob("bench/runs/search_train*.json"), key=lambda f: int(f.stem.split("train")[1]))
        tables = [json.loads(f.read_text()) for f in measured if "__limit" not in f.stem]
        write_section(ROOT / "BENCHMARKS.md", "search", "Hyperparameter search vs the shipped defaults "
                      "(`bench/search.py`)", "\n\n".join(
                          f"### {t['train_sentences']} training sentences\n\n"
                          f"{render(t, Path(t['search']['best']['config']).parent)}" for t in tables))


def render(raw: dict, folder: Path) -> str:
    headers = ["config", *SEARCHED, "test span-F1 (mean ± std)"]
    rows = [["shipped defaults", *(value_cell(raw["defaults"]["values"][k]) for k in SEARCHED),
             f1_cell(raw["defaults"]["test"])],
            [f"search best (trial {raw['search']['best']['number']})",
             *(value_cell(raw["best"]["values"][k]) for k in SEARCHED), f1_cell(raw["best"]["test"])]]
    delta = 100 * (raw["best"]["test"]["mean"] - raw["defaults"]["test"]["mean"])
    states = ", ".join(f"{n} {s.lower()}" for s, n in raw["search"]["states"].items())
    args = raw["args"]
    trial_rows = [[str(t["number"]), t["state"].lower(), *(value_cell(t["params"].get(k)) for k in SEARCHED),
                   "-" if t["dev_score"] is None else f"{100 * t['dev_score']:.2f}",
                   "-" if t["epochs_run"] is None else f"{t['epochs_run']:g}", f"{t['seconds']:.0f}"]
                  for t in raw["trials"]]
    return "\n".join([
        markdown_table(headers, rows, ["left"] + ["right"] * (len(SEARCHED) + 1)),
        "",
        f"Test F1 difference (search best − defaults): **{delta:+.2f} points**; search wall time "
        f"({args['trials']} trials + the best config's 3 seeds): {raw['search_seconds'] / 60:.1f} min; the defaults' 3 seeds: "
        f"{raw['defaults']['seconds'] / 60:.1f} min; whole benchmark {raw['total_seconds'] / 60:.1f} min.",
        "",
        f"Command: `flock /tmp/bench.lock python bench/search.py --trials {args['trials']} --train-subset "
        f"{args['train_subset']} --epochs-low {args['epochs_low']} --epochs-high {args['epochs_high']} "
        f"--sampler-seed {args['sampler_seed']}`. Trials ({states}; TPE seed {args['sampler_seed']}, median "
        "pruner on per-epoch dev F1, dev only):",
        "",
        markdown_table(["trial", "state", *SEARCHED, "dev F1", "epochs", "seconds"], trial_rows,
                       ["right", "left"] + ["right"] * (len(SEARCHED) + 3)),
        "",
        f"Settings: `configs/ncbi_disease.yaml` (bundled MiniLM-L6, max_length 128, softmax head); every run (trials, "
        f"best, defaults) trains on the same fixed-seed random {raw['train_sentences']} of the {raw['train_total']:,} training "
        "sentences (`--train-subset`, to fit a shared 2-core machine), selects its epoch on the full dev file "
        f"and the final runs are tested on the full test file, seeds {raw['seeds']}. Searched: learning rate "
        f"log-uniform 1e-5..3e-4, batch size 8/16/32, epochs {args['epochs_low']}..{args['epochs_high']}, warm-up "
        "0..0.2 step 0.05, dropout 0.1..0.5 step 0.1; the defaults train 3 epochs. Study, trials table and plots: "
        f"`{folder.relative_to(ROOT)}`.",
        *([f"Smoke run (`--limit {args['limit']}`): every split, dev and test too, cut to its first "
           f"{args['limit']} sentences."] if args["limit"] != "None" else []),
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"2 cores shared with other jobs; run {raw['date']}.",
    ])


if __name__ == "__main__":
    main()
