"""NER core benchmark: biotune vs the plain Hugging Face recipe, same machine, same run.

For each corpus, with the default backbone (bundled MiniLM-L6), the same epochs, learning
rate and batch size:
  1. the plain recipe (`../shared/bench/hf_baseline.py`) trains and reports test span-F1
     (seqeval) and training sentences/s;
  2. `biotune.train` trains (dev-selected epoch) once per head (`--heads`: the default
     softmax head, like for like with the recipe, and the CRF head) and reports test span-F1
     and training sentences/s (training steps only; dev evaluation time is reported apart);
  3. on each biotune checkpoint, `pipeline("token-classification")` and biotune's `Tagger` tag
     the same test sentences; sentences/s of each.
Writes the table into BENCHMARKS.md (its own section) and raw JSON under bench/runs/.

usage: python bench/ner_core.py [--corpora bc5cdr ncbi_disease] [--heads softmax crf] [--epochs 3] [--lr 1e-4]
                                [--section NAME]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import pipeline

from biotune.config import validate
from biotune.formats.readers import read_corpus_file
from biotune.formats.text import tokenize
from biotune.tasks.ner.tagger import Tagger
from biotune.models.backbones import resolve_backbone
from biotune.tables import markdown_table
from biotune.experiments.run import train

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PIPELINE_SENTENCES = 500


def run_baseline(corpus_dir: Path, out: Path, epochs: float, lr: float, batch: int) -> dict:
    cmd = [sys.executable, str(SHARED / "bench" / "hf_baseline.py"), str(corpus_dir), resolve_backbone("minilm"),
           str(out), "--epochs", str(epochs), "--lr", str(lr), "--bs", str(batch)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def rate(func, n: int, repeats: int = 1) -> float:
    """Best-of-`repeats` sentences/s of `func()` over `n` sentences."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return n / best


def prediction_speed(checkpoint: Path, test_file: Path) -> dict:
    sentences = read_corpus_file(test_file)
    texts = [" ".join(s.tokens) for s in sentences[:PIPELINE_SENTENCES]]
    tagger = Tagger.from_checkpoint(checkpoint)
    nlp = pipeline("token-classification", model=str(checkpoint), aggregation_strategy="first", device=-1)
    nlp(texts[:32], batch_size=32)
    tagger.predict([[t for t, _, _ in tokenize(x)] for x in texts[:32]])
    pipe = rate(lambda: nlp(texts, batch_size=32), len(texts))
    ours = rate(lambda: tagger.predict([[t for t, _, _ in tokenize(x)] for x in texts]), len(texts), repeats=2)
    full = rate(lambda: tagger.predict([s.tokens for s in sentences]), len(sentences))
    return {"pipeline_sents_per_s": pipe, "biotune_sents_per_s": ours, "biotune_full_test_sents_per_s": full}


def bench_corpus(name: str, args: argparse.Namespace, runs: Path) -> list[dict]:
    """One row per head: the recipe's numbers (one run) beside biotune's with that head."""
    corpus_dir = SHARED / "data" / "corpora" / name
    baseline = run_baseline(corpus_dir, runs / f"{name}_hf_baseline.json", args.epochs, args.lr, args.batch)
    rows = []
    for head in args.heads:
        run_name = f"bench_{name}" if head == "softmax" else f"bench_{name}_{head}"
        config = validate({"name": run_name, "output_dir": str(runs), "data": {"corpus": str(corpus_dir)},
                           "model": {"head": head},
                           "training": {"epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch}},
                          "bench")
        result = train(config, overwrite=True)
        speed = prediction_speed(result.paths.best_model, corpus_dir / "test.tsv")
        row = {"corpus": name, "head": head, "baseline": baseline, "biotune": result.summary,
               "biotune_test": {k: v.to_dict() for k, v in result.results.items()}, "prediction": speed}
        (runs / f"{run_name}_result.json").write_text(json.dumps(row, indent=1, default=str))
        rows.append(row)
    return rows


def table(rows: list[dict], args: argparse.Namespace) -> str:
    headers = ("corpus", "biotune head", "test span-F1 HF recipe", "test span-F1 biotune", "ΔF1 (points)",
               "train sents/s HF", "train sents/s biotune", "ratio", "predict sents/s pipeline",
               "predict sents/s biotune", "ratio")
    cells = []
    for r in rows:
        b, s, p = r["baseline"], r["biotune"], r["prediction"]
        f1 = s["test"]["test"]
        cells.append([r["corpus"], r["head"], f"{100 * b['f1']:.2f}", f"{100 * f1:.2f}", f"{100 * (f1 - b['f1']):+.2f}",
                      f"{b['train_sents_per_s']:.1f}", f"{s['train_examples_per_second']:.1f}",
                      f"{s['train_examples_per_second'] / b['train_sents_per_s']:.2f}x",
                      f"{p['pipeline_sents_per_s']:.1f}", f"{p['biotune_sents_per_s']:.1f}",
                      f"{p['biotune_sents_per_s'] / p['pipeline_sents_per_s']:.2f}x"])
    lines = [markdown_table(headers, cells, ["left"] * 2 + ["right"] * 9)]
    epochs_note = ", ".join(f"{r['corpus']} {r['head']}: epoch {best_epoch(r)}" for r in rows)
    extra = [
        "",
        f"Settings: bundled MiniLM-L6, {args.epochs:g} epochs, learning rate {args.lr:g}, batch {args.batch}, "
        f"both sides; biotune keeps the best dev epoch ({epochs_note}).",
        "Training sents/s: training steps only, sentences x epochs / seconds (biotune's per-epoch dev evaluation, "
        + ", ".join(f"{r['corpus']} {r['head']} {r['biotune']['dev_eval_seconds']:.0f} s" for r in rows)
        + ", is excluded as the recipe does none; HF recipe: `trainer.train()` wall time).",
        f"Prediction: the first {PIPELINE_SENTENCES} test sentences as text through "
        "`pipeline(\"token-classification\", aggregation_strategy=\"first\", batch_size=32)` vs biotune's `Tagger` "
        "(tokenise + tag), both on biotune's checkpoint. biotune on the whole test set: "
        + ", ".join(f"{r['corpus']} {r['head']} {r['prediction']['biotune_full_test_sents_per_s']:.0f} sents/s" for r in rows) + ".",
        "The recipe trains once per corpus; its row repeats beside each biotune head. The CRF head's "
        "transition scores learn at `ner.crf_learning_rate` (default 0.01); everything else is the same.",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, bf16 {'on' if rows and rows[0]['biotune']['bf16'] else 'off'}; run {datetime.date.today()}.",
    ]
    return "\n".join(lines + extra)


def best_epoch(row: dict) -> str:
    history = row["biotune"]["dev_history"]
    best = max(history, key=lambda h: h["dev_score"]) if history else None
    return f"{best['epoch']:g}" if best else "-"


def write_section(path: Path, key: str, title: str, body: str) -> None:
    """Replace (or append) the `key` section of BENCHMARKS.md, leaving other sections alone."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery number here was produced by the script named in its section.\n"
    section = f"{start}\n## {title}\n\n{body}\n{end}"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", nargs="+", default=["bc5cdr", "ncbi_disease"])
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--heads", nargs="+", default=["softmax", "crf"], choices=["softmax", "crf"])
    ap.add_argument("--section", default="ner_core",
                    help="BENCHMARKS.md section to write (another name keeps the full table: a partial rerun)")
    args = ap.parse_args()
    runs = ROOT / "bench" / "runs" / "ner_core"
    runs.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.corpora for row in bench_corpus(name, args, runs)]
    body = table(rows, args)
    title = "NER core vs the plain Hugging Face recipe (`bench/ner_core.py`)"
    if args.section != "ner_core":
        title += f": rerun of {', '.join(args.corpora)} with {', '.join(args.heads)} (`--section {args.section}`)"
    write_section(ROOT / "BENCHMARKS.md", args.section, title, body)
    print(body)


if __name__ == "__main__":
    main()
