"""Document context benchmark: BC5CDR from its PubTator documents, sentence-only vs document context.

For each head (softmax, CRF) and seed, `biotune.train` fine-tunes the bundled MiniLM-L6 on the
`bc5cdr_documents` corpus (documents -> sentences -> BIO) twice, with `ner.context` 0 (each
sentence alone) and `--context` (subwords of the neighbouring sentences of the same abstract on
each side); everything else is equal. The test split is then tagged from the saved checkpoint
with `Tagger.from_checkpoint` (which takes the recorded context setting), timed, and scored
with biotune's span-F1. Runs without a dev split (the last epoch is kept), so every run costs
the same and the comparison is the context alone.

To fit a shared 2-core CPU, `--train-docs` and `--test-docs` keep the first N abstracts of the
released training and test files (whole documents, written as PubTator under bench/runs/context/).

usage: python bench/context.py [--seeds 1 2 3] [--heads softmax crf] [--context 64] [--epochs 1]
                               [--train-docs 500] [--test-docs 500] [--lr 1e-4] [--batch 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ner_core import write_section  # noqa: E402

from biotune.config import validate  # noqa: E402
from biotune.corpora.registry import corpus_info, resolve_corpus  # noqa: E402
from biotune.formats.pubtator import iter_pubtator, write_pubtator  # noqa: E402
from biotune.tables import markdown_table  # noqa: E402
from biotune.tasks.ner.context import document_keys  # noqa: E402
from biotune.tasks.ner.metrics import evaluate_tags  # noqa: E402
from biotune.tasks.ner.reading import read_split  # noqa: E402
from biotune.tasks.ner.tagger import Tagger  # noqa: E402
from biotune.experiments.run import train  # noqa: E402

CORPUS = "bc5cdr_documents"
SHARED_DOCUMENTS = ROOT.parent / "shared" / "data" / "documents"


def subset_corpus(target: Path, train_docs: int | None, test_docs: int | None) -> Path:
    """A data folder holding `bc5cdr_documents` with the first N training and test abstracts (whole documents)."""
    info = corpus_info(CORPUS)
    source = resolve_corpus(CORPUS, data_dir=SHARED_DOCUMENTS)
    folder = target / (info.folder or info.name)
    assert info.files is not None
    for path, name, limit in ((source.train, info.files[0], train_docs), (source.test, info.files[2], test_docs)):
        write_pubtator(islice(iter_pubtator(path), limit), folder / name)
    return target


def run(args: argparse.Namespace, data_dir: Path, head: str, context: int, seed: int, runs: Path) -> dict:
    config = validate({
        "name": f"bench_context_{head}_c{context}", "output_dir": str(runs / "checkpoints"),
        "model": {"head": head, "max_length": args.max_length}, "ner": {"context": context},
        "data": {"corpus": CORPUS, "data_dir": str(data_dir), "dev": None, "test": []},
        "training": {"epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch, "seed": seed},
    }, "bench/context.py")
    result = train(config, overwrite=True)
    test = read_split("test", config.data)
    tagger = Tagger.from_checkpoint(result.paths.best_model)
    assert tagger.context == context, "the checkpoint records its context setting"
    start = time.perf_counter()
    predicted = tagger.predict_tags([s.tokens for s in test.examples], document_keys(test.examples))
    predict_seconds = time.perf_counter() - start
    scores = evaluate_tags([s.tags or [] for s in test.examples], predicted, annotated_types=test.annotated_types)
    return {"head": head, "context": context, "seed": seed, "f1": scores.micro.f1,
            "per_type_f1": {t: s.f1 for t, s in scores.per_type.items()},
            "train_sents_per_s": result.summary["train_examples_per_second"],
            "train_seconds": result.summary["train_seconds"], "train_features": result.summary.get("train_features"),
            "train_examples": result.summary.get("train_examples"),
            "predict_sents_per_s": len(test.examples) / predict_seconds, "test_sentences": len(test.examples),
            "bf16": result.summary.get("bf16")}


def mean_std(values: list[float]) -> str:
    return f"{100 * statistics.mean(values):.2f} ± {100 * (statistics.stdev(values) if len(values) > 1 else 0.0):.2f}"


def section(rows: list[dict], args: argparse.Namespace, wall: float, command: str, counts: dict) -> str:
    headers = ("head", "mode", "test span-F1 (mean ± std)", "Chemical F1", "Disease F1", "Δ F1 vs sentence (points)",
               "train sents/s", "predict sents/s")
    cells = []
    for head in args.heads:
        base = [r["f1"] for r in rows if r["head"] == head and r["context"] == 0]
        for context in (0, args.context):
            mine = [r for r in rows if r["head"] == head and r["context"] == context]
            f1 = [r["f1"] for r in mine]
            delta = 100 * (statistics.mean(f1) - statistics.mean(base))
            cells.append([head, "sentence only" if context == 0 else f"document context {context}", mean_std(f1),
                          mean_std([r["per_type_f1"].get("Chemical", 0.0) for r in mine]),
                          mean_std([r["per_type_f1"].get("Disease", 0.0) for r in mine]),
                          "-" if context == 0 else f"{delta:+.2f}",
                          f"{statistics.mean(r['train_sents_per_s'] for r in mine):.1f}",
                          f"{statistics.mean(r['predict_sents_per_s'] for r in mine):.1f}"])
    deltas = {head: 100 * (statistics.mean(r["f1"] for r in rows if r["head"] == head and r["context"])
                           - statistics.mean(r["f1"] for r in rows if r["head"] == head and not r["context"]))
              for head in args.heads}
    verdict = "; ".join(f"{head} {d:+.2f} ({'met' if d >= 1.0 else 'not met'})" for head, d in deltas.items())
    notes = [
        "",
        f"- Target: document context at least +1.0 F1 over sentence-only: {verdict}.",
        f"- Data: `{CORPUS}` (BC5CDR as released, PubTator, documents -> sentences -> BIO): the first "
        f"{counts['train_docs']} training abstracts ({counts['train_sentences']:,} sentences) and the first "
        f"{counts['test_docs']} test abstracts ({counts['test_sentences']:,} sentences); no dev split (last epoch kept).",
        f"- Settings: bundled MiniLM-L6, {args.epochs:g} epoch(s), learning rate {args.lr:g}, batch {args.batch}, "
        f"max_length {args.max_length}, seeds {', '.join(map(str, args.seeds))}; the two modes differ only in "
        f"`ner.context` (0 vs {args.context} subwords of the same abstract's neighbouring sentences on each side, "
        "unlabelled, never across abstracts; long sentences still windowed, context only in the room left).",
        "- Test: tagged from each saved checkpoint with `Tagger.from_checkpoint` (the recorded context, default "
        "precision), sentences of one abstract given their document; span-F1 (micro, strict) over Chemical and Disease.",
        "- train sents/s: training sentences x epochs / training seconds; predict sents/s: test sentences / seconds "
        "of `Tagger.predict_tags` (tokenisation included). Context inputs are longer, so both are slower with context.",
        f"- Scope: {math.ceil(counts['train_sentences'] * args.epochs / args.batch)} optimizer steps per run, far "
        "from convergence (compare the full 3-epoch BC5CDR runs of `bench/ner_core.py`); the result speaks for short "
        "training on few abstracts, where each context input is ~3x longer and the model must also learn to read "
        "past the context, not for the converged regime in which FLERT reports its gains.",
        f"- Command: `{command}`; wall time {wall / 60:.1f} min.",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other jobs, "
        f"{args.threads} torch thread(s), torch {torch.__version__}, bf16 "
        f"{'on' if rows and rows[0]['bf16'] else 'off'}; run {datetime.date.today()}.",
    ]
    return "\n".join([markdown_table(headers, cells, ["left"] * 2 + ["right"] * 6)] + notes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--heads", nargs="+", default=["softmax", "crf"], choices=["softmax", "crf"])
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--train-docs", type=int, default=None, help="first N training abstracts (default: all 500)")
    ap.add_argument("--test-docs", type=int, default=None, help="first N test abstracts (default: all 500)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: on a shared CPU, OpenMP "
                    "spin-waiting makes 2 threads slower than 1)")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone (smoke runs)")
    ap.add_argument("--render", action="store_true", help="rewrite the section from the last run's results.json")
    args = ap.parse_args()
    runs = ROOT / "bench" / "runs" / "context"
    if args.render:
        saved = json.loads((runs / "results.json").read_text())
        args = argparse.Namespace(**saved["args"])
        report(args, saved["rows"], saved["wall_seconds"], saved["command"], saved["counts"])
        return
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data_dir = subset_corpus(runs / "data", args.train_docs, args.test_docs)
    probe = validate({"name": "probe", "data": {"corpus": CORPUS, "data_dir": str(data_dir), "dev": None}}, "bench")
    train_split, test_split = read_split("train", probe.data), read_split("test", probe.data)
    counts = {"train_docs": len({s.document for s in train_split.examples}), "train_sentences": len(train_split.examples),
              "test_docs": len({s.document for s in test_split.examples}), "test_sentences": len(test_split.examples)}
    rows = []
    for head in args.heads:
        for seed in args.seeds:
            for context in (0, args.context):
                row = run(args, data_dir, head, context, seed, runs)
                print(json.dumps(row), flush=True)
                rows.append(row)
    wall = time.perf_counter() - started
    command = "python bench/context.py " + " ".join(sys.argv[1:])
    (runs / "results.json").write_text(json.dumps({"args": vars(args), "counts": counts, "rows": rows,
                                                   "wall_seconds": wall, "command": command}, indent=1))
    report(args, rows, wall, command, counts)


def report(args: argparse.Namespace, rows: list[dict], wall: float, command: str, counts: dict) -> None:
    body = section(rows, args, wall, command, counts)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "context",
                      "Document context for NER: BC5CDR from its documents (`bench/context.py`)", body)
    print(body)


if __name__ == "__main__":
    main()
