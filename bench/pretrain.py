"""Task-adaptive pretraining benchmark: MiniLM pretrained on the training text, then NER and RE fine-tuning.

1. `biotune.pretraining.pretrain` on `configs/pretrain/tapt_minilm.yaml`: the bundled MiniLM
   continues masked-LM pretraining on the unlabelled TRAINING text of ../shared/data (the BC5CDR
   training abstracts, the NCBI-disease and BC2GM training sentences, ChemProt / DDI / GAD training
   sentences, BioASQ factoid and PubMedQA training contexts; no dev or test split), held-out loss
   and perplexity on the BC5CDR development abstracts before and after;
2. fine-tuning on each corpus (NER: `configs/<corpus>.yaml`; ChemProt: `configs/re/chemprot.yaml`),
   each seed, from the unadapted MiniLM and from the pretrained folder (`model.backbone`),
   everything else equal;
3. a table of the test headline (span-F1; ChemProt micro-F1) mean ± std with and without, into
   BENCHMARKS.md (its own section) and the raw numbers under bench/runs/pretrain/.

MiniLM ships without an MLM head: `--head-warmup-steps N` trains the fresh head alone (encoder
frozen) for the first N of the `--max-steps`.

On a 2-core CPU the full recipe (one epoch of ~5.5M tokens, 3-epoch fine-tuning on whole corpora)
takes days; the options size it: `--max-steps` pretraining steps, `--epochs` and `--limit`
(sentences read from every split, test included) for the fine-tuning.

usage: python bench/pretrain.py [--max-steps 150] [--head-warmup-steps 0] [--corpora bc5cdr ncbi_disease chemprot]
                                [--seeds 1 2 3] [--epochs 1] [--lr 1e-4] [--limit 2000] [--dev-sequences 300]
                                [--print-only]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from biotune.config import load_config
from biotune.pretraining.config import load_pretraining_config
from biotune.pretraining.run import pretrain
from biotune.tables import markdown_table
from biotune.experiments.run import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_core import write_section  # noqa: E402  (bench scripts share the BENCHMARKS.md writer)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SECTION = "pretrain"
RE_CORPORA = ("chemprot", "ddi", "gad")  # fine-tuned with configs/re/<corpus>.yaml from data/re; the rest are NER


def finetune_config(corpus: str) -> tuple[Path, Path, str]:
    """The shipped config, the data folder and the headline's name of a corpus."""
    if corpus in RE_CORPORA:
        return ROOT / "configs" / "re" / f"{corpus}.yaml", DATA / "re", "micro-F1"
    return ROOT / "configs" / f"{corpus}.yaml", DATA / "corpora", "span-F1"


def run_pretraining(args: argparse.Namespace, runs: Path) -> dict:
    config = load_pretraining_config(ROOT / "configs" / "pretrain" / "tapt_minilm.yaml", {
        "output_dir": str(runs), "training.max_steps": args.max_steps, "dev.max_sequences": args.dev_sequences,
        "training.checkpoint_steps": args.max_steps, "training.logging_steps": math.gcd(args.head_warmup_steps or args.max_steps, max(1, args.max_steps // 15)),
        "training.head_warmup_steps": args.head_warmup_steps})
    started = time.perf_counter()
    result = pretrain(config, overwrite=True)
    return {"folder": str(result.folder), "record": result.record, "wall_seconds": time.perf_counter() - started,
            "config": config.model_dump(mode="json")}


def fine_tune(corpus: str, backbone: str, variant: str, seed: int, args: argparse.Namespace, runs: Path) -> dict:
    path, data_dir, _ = finetune_config(corpus)
    config = load_config(path, {
        "name": f"{corpus}_{variant}", "output_dir": str(runs / "finetune"), "model.backbone": backbone,
        "data.data_dir": str(data_dir), "data.limit": args.limit, "training.epochs": args.epochs,
        "training.learning_rate": args.lr, "training.seed": seed})
    started = time.perf_counter()
    result = train(config, overwrite=True)
    scores = {name: r.headline for name, r in result.results.items()}
    return {"corpus": corpus, "variant": variant, "seed": seed, "test_f1": scores["test"], "dev_f1": result.dev_score,
            "wall_seconds": time.perf_counter() - started}


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}"


def table(pre: dict, rows: list[dict], args: argparse.Namespace, minutes: float) -> str:
    record = pre["record"]
    before, after = record["dev"]["before"], record["dev"]["after"]
    cells = []
    for corpus in args.corpora:
        f1 = {v: [r["test_f1"] for r in rows if r["corpus"] == corpus and r["variant"] == v] for v in ("minilm", "tapt")}
        delta = 100 * (statistics.mean(f1["tapt"]) - statistics.mean(f1["minilm"]))
        cells.append([corpus, finetune_config(corpus)[2], mean_std(f1["minilm"]), mean_std(f1["tapt"]), f"{delta:+.2f}"])
    f1_table = markdown_table(["corpus", "test metric", "MiniLM", "MiniLM + TAPT", "Δ (points)"], cells)
    sources = ", ".join(f"{s['name']} ({s['documents']:,} documents, {s['tokens']:,} tokens)" for s in record["sources"])
    pre_table = markdown_table(
        ["pretraining steps (head only)", "batch", "tokens seen", "share of one epoch", "wall time", "tokens/s",
         "tokens/s head only / full", "dev MLM perplexity before", "dev MLM perplexity after"],
        [[f"{record['steps']} ({record['head_warmup_steps']})", str(record["batch_size"]), f"{record['tokens_seen']:,}",
          f"{record['epochs_of_text']:.3f}", f"{pre['wall_seconds'] / 60:.1f} min", f"{record['tokens_per_second']:.0f}",
          phase_rates(record), f"{before['perplexity']:,.1f}", f"{after['perplexity']:,.1f}"]])
    seeds = " ".join(map(str, args.seeds))
    return "\n".join([
        f1_table, "", pre_table, "",
        f"Command: `flock /tmp/bench.lock python bench/pretrain.py --max-steps {args.max_steps} --head-warmup-steps "
        f"{args.head_warmup_steps} --corpora "
        f"{' '.join(args.corpora)} --seeds {seeds} --epochs {args.epochs:g} --lr {args.lr:g} --limit {args.limit} "
        f"--dev-sequences {args.dev_sequences}`; {minutes:.1f} min in all.",
        f"- Pretraining: `configs/pretrain/tapt_minilm.yaml` (max_length {pre['config']['max_length']}, whole-word "
        f"masking {pre['config']['mlm_probability']:.0%}, lr {pre['config']['training']['learning_rate']:g}, warm-up "
        f"{pre['config']['training']['warmup']:g}), stopped at {record['steps']} steps, the first "
        f"{record['head_warmup_steps']} training the MLM head alone (encoder frozen); the MiniLM has no MLM head "
        f"(fresh head tied to the embeddings: {record['fresh_head']}). Training text (training splits only): {sources}. "
        f"Dev: the first {before['sequences']} sequences ({before['targets']} masked targets, fixed masks) of the "
        "BC5CDR development abstracts; losses "
        f"{before['loss']:.3f} -> {after['loss']:.3f}.",
        f"- Fine-tuning: `configs/<corpus>.yaml` (NER, softmax head) or `configs/re/<corpus>.yaml` (RE), "
        f"{args.epochs:g} epoch(s), lr {args.lr:g}, data.limit {args.limit} (the first {args.limit} examples of "
        f"train, dev and test), seeds {seeds}, the same for both backbones; test = the first examples of the test "
        "split, not the whole test set.",
        f"- Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"shared 2-core CPU, bf16 {'on' if record['bf16'] else 'off'}; run {datetime.date.today()}.",
    ])


def phase_rates(record: dict) -> str:
    """Mean logged tokens/s of the head-only steps and of the full steps ('-' where a phase has no log)."""
    rates = [[e["tokens_per_s"] for e in record["loss_history"] if "tokens_per_s" in e and (e["step"] <= record["head_warmup_steps"]) == head]
             for head in (True, False)]
    return " / ".join(f"{statistics.mean(r):.0f}" if r else "-" for r in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--head-warmup-steps", type=int, default=0)
    parser.add_argument("--corpora", nargs="+", default=["bc5cdr", "ncbi_disease", "chemprot"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--dev-sequences", type=int, default=300)
    parser.add_argument("--print-only", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    runs = ROOT / "bench" / "runs" / "pretrain"
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pre = run_pretraining(args, runs)
    (runs / "pretraining_result.json").write_text(json.dumps(pre, indent=1))
    print(f"pretraining: {pre['wall_seconds'] / 60:.1f} min, dev perplexity {pre['record']['dev']['before']['perplexity']:.1f}"
          f" -> {pre['record']['dev']['after']['perplexity']:.1f}", flush=True)
    rows = []
    for corpus in args.corpora:
        for seed in args.seeds:
            for variant, backbone in (("minilm", "minilm"), ("tapt", pre["folder"])):
                rows.append(fine_tune(corpus, backbone, variant, seed, args, runs))
                print(json.dumps(rows[-1]), flush=True)
                (runs / "finetune_results.json").write_text(json.dumps(rows, indent=1))
    minutes = (time.perf_counter() - started) / 60
    body = table(pre, rows, args, minutes)
    if not args.print_only:
        write_section(ROOT / "BENCHMARKS.md", SECTION,
                      "Task-adaptive pretraining of MiniLM, then NER and RE (`bench/pretrain.py`)", body)
    print(body)


if __name__ == "__main__":
    main()
