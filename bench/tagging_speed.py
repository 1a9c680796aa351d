"""Tagging speed and F1: biotune's Tagger at each precision vs `transformers.pipeline`, same checkpoint, same run.

On BC5CDR test, every sentence is given as text (its tokens joined by spaces), as a user of
either tool would give it:
  - `pipeline("token-classification", aggregation_strategy="first")` (fp32, its default) tags
    the texts in batches of 32; its entities (character offsets) are mapped onto the corpus
    tokens they overlap, and span-F1 is scored against gold;
  - biotune tokenises each text (`biotune.formats.text.tokenize`) and tags it with `Tagger` at
    precision autocast, bf16 (weights), int8 and fp32; span-F1 is scored on the corpus tokens.
Sentences/s is wall-clock over the whole test set, text in to entities out (best of
`--repeats` for biotune; the pipeline runs once, its runs take minutes). Ratios are against
the pipeline. Writes its section of BENCHMARKS.md and raw JSON under bench/runs/.

usage: python bench/tagging_speed.py [--checkpoint DIR] [--limit N] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import torch
from transformers import pipeline

from biotune.formats.readers import read_corpus_file
from biotune.formats.sentence import Sentence
from biotune.formats.text import tokenize
from biotune.tasks.ner.metrics import evaluate_tags
from biotune.tables import markdown_table
from biotune.tasks.ner.tagger import Tagger

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CHECKPOINT = ROOT / "bench" / "runs" / "ner_core" / "checkpoints" / "bench_bc5cdr" / "seed_42" / "best_model"
PRECISIONS = ("autocast", "bf16", "int8", "fp32")


def token_tags(sentence: Sentence, text: str, entities: list[dict]) -> list[str]:
    """BIO tags of the corpus tokens that the pipeline's character-offset entities overlap."""
    starts, position = [], 0
    for token in sentence.tokens:
        starts.append(position)
        position += len(token) + 1
    tags = ["O"] * len(sentence.tokens)
    for entity in entities:
        inside = [i for i, s in enumerate(starts) if s < entity["end"] and entity["start"] < s + len(sentence.tokens[i])]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + entity["entity_group"]
    return tags


def f1(gold: list[Sentence], pred: list[list[str]]) -> float:
    return 100 * evaluate_tags([s.tags or [] for s in gold], pred).micro.f1


def bench_pipeline(checkpoint: Path, sentences: list[Sentence], texts: list[str]) -> dict:
    nlp = pipeline("token-classification", model=str(checkpoint), aggregation_strategy="first", device=-1)
    nlp(texts[:32], batch_size=32)
    start = time.perf_counter()
    out = nlp(texts, batch_size=32)
    seconds = time.perf_counter() - start
    pred = [token_tags(s, t, e) for s, t, e in zip(sentences, texts, out)]
    return {"sents_per_s": len(texts) / seconds, "f1": f1(sentences, pred), "dtype": str(nlp.model.dtype)}


def linear_flops_per_token(tagger: Tagger) -> int:
    """Multiply-adds x 2 of the encoder's linear layers for one token (attention scores excluded)."""
    config = tagger.model.config
    hidden, inner = config.hidden_size, config.intermediate_size
    return 2 * config.num_hidden_layers * (4 * hidden * hidden + 2 * hidden * inner)


def bench_tagger(checkpoint: Path, precision: str, sentences: list[Sentence], texts: list[str], repeats: int) -> dict:
    tagger = Tagger.from_checkpoint(checkpoint, precision=precision)
    tagger.predict([s.tokens for s in sentences[:64]])
    token_lists = [[t for t, _, _ in tokenize(text)] for text in texts]
    subwords = sum(len(window.input_ids) for window in tagger.aligner.windows(token_lists))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tagger.predict([[t for t, _, _ in tokenize(text)] for text in texts])
        best = min(best, time.perf_counter() - start)
    pred = tagger.predict_tags([s.tokens for s in sentences])
    return {"sents_per_s": len(texts) / best, "f1": f1(sentences, pred), "subwords_per_s": subwords / best,
            "linear_gflop_per_s": subwords * linear_flops_per_token(tagger) / best / 1e9}


def table(result: dict) -> str:
    pipe = result["pipeline"]
    cells = [["`transformers.pipeline` (batch 32)", "fp32", f"{pipe['sents_per_s']:.1f}", "1.00x", f"{pipe['f1']:.2f}",
              "-", "-", "-"]]
    for precision in PRECISIONS:
        row = result["biotune"][precision]
        cells.append(["biotune `Tagger`", precision, f"{row['sents_per_s']:.1f}",
                      f"{row['sents_per_s'] / pipe['sents_per_s']:.2f}x", f"{row['f1']:.2f}",
                      f"{row['f1'] - pipe['f1']:+.2f}", f"{row['subwords_per_s']:.0f}", f"{row['linear_gflop_per_s']:.0f}"])
    return markdown_table(("tagger", "precision", "sentences/s", "speed vs pipeline", "span-F1", "ΔF1 vs pipeline (points)",
                           "subword tokens/s", "linear-layer GFLOP/s"), cells, ["left"] * 2 + ["right"] * 6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=CHECKPOINT, help="default: the BC5CDR model of bench/ner_core.py")
    ap.add_argument("--test", type=Path, default=SHARED / "data" / "corpora" / "bc5cdr" / "test.tsv")
    ap.add_argument("--limit", type=int, default=None, help="first N sentences only (a quick check)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = ap.parse_args()
    if not args.checkpoint.is_dir():
        raise SystemExit(f"{args.checkpoint} not found: run bench/ner_core.py first, or pass --checkpoint")
    sentences = read_corpus_file(args.test)[: args.limit]
    texts = [" ".join(s.tokens) for s in sentences]
    result = {"pipeline": bench_pipeline(args.checkpoint, sentences, texts),
              "biotune": {p: bench_tagger(args.checkpoint, p, sentences, texts, args.repeats) for p in PRECISIONS},
              "sentences": len(sentences), "checkpoint": str(args.checkpoint), "date": str(datetime.date.today()),
              "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    body = table(result) + "\n\n" + (
        f"{len(sentences)} sentences of BC5CDR test, given as text; checkpoint: bench/ner_core.py's BC5CDR MiniLM model. "
        f"Machine: {result['machine']}, {result['threads']} threads (AVX512-BF16, no AMX); run {result['date']}. "
        "Sentences/s is text in to entities out, the whole test set; the pipeline's entities are mapped to the corpus "
        "tokens they overlap for its F1. Linear-layer GFLOP/s = subword tokens/s x the encoder's linear-layer FLOPs "
        "per token: the end-to-end rate of useful matrix math, which the CPU's bf16 peak bounds.")
    print(body)
    if not args.no_write:
        out = ROOT / "bench" / "runs" / "tagging_speed.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        from ner_core import write_section  # bench/ is on sys.path when run as a script

        write_section(ROOT / "BENCHMARKS.md", "tagging_speed", "Tagging speed vs `transformers.pipeline` (`bench/tagging_speed.py`)", body)


if __name__ == "__main__":
    main()
