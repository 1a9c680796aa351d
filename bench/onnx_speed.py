"""NER tagging speed: ONNX Runtime (fp32, int8) beside torch (fp32, bf16, int8 dynamic), same model, same run.

The bundled MiniLM-L6 with a token-classification head (`--checkpoint`: a trained biotune NER
folder; default: MiniLM with a fresh seeded head, which tags no better than chance but runs
exactly as fast) is exported with `biotune export --format onnx --int8`. Every backend tags
the same BC5CDR test sentences through biotune's `Tagger` (windows, length-sorted batches of
32, BIO-constrained decoding): the torch rows at the Tagger's precisions, the ONNX rows with
the Tagger's forward pass handed to an onnxruntime session, so only the network differs.
Sentences/s is words in to tags out, best of `--repeats`; agreement is the share of words
whose tag equals torch fp32's (span-F1 too with a trained `--checkpoint`). Writes its section
of BENCHMARKS.md and raw JSON under bench/runs/ unless --no-write.

usage: python bench/onnx_speed.py [--checkpoint DIR] [--limit N] [--repeats R] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from biotune.formats.readers import read_corpus_file
from biotune.formats.sentence import Sentence
from biotune.serving.onnx_export import INT8_FILE, MODEL_FILE, export_onnx, onnx_session
from biotune.tables import markdown_table
from biotune.tasks.ner.metrics import evaluate_tags
from biotune.tasks.ner.tagger import Tagger

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TORCH_PRECISIONS = ("fp32", "bf16", "int8")
BC5CDR_LABELS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


class OnnxForward:
    """The Tagger's `model(input_ids=, attention_mask=).logits`, computed by an onnxruntime session."""

    def __init__(self, path: Path) -> None:
        self.session = onnx_session(path)
        self.names = [i.name for i in self.session.get_inputs()]

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy(),
                "token_type_ids": np.zeros_like(input_ids.numpy())}  # BERT's default segment
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(None, {n: feed[n] for n in self.names})[0]))


def fresh_minilm(folder: Path) -> Path:
    """The bundled MiniLM with a seeded, untrained BC5CDR head: the speed of the real model, none of its skill."""
    from biotune.models.backbones import load_tokenizer, resolve_backbone
    from biotune.tasks.ner.factory import build_model, save_model

    torch.manual_seed(0)
    save_model(build_model("minilm", BC5CDR_LABELS), folder)
    load_tokenizer(resolve_backbone("minilm")).save_pretrained(str(folder))
    return folder


def tag(tagger: Tagger, sentences: list[Sentence], repeats: int) -> tuple[float, list[list[str]]]:
    """(sentences/s, tags) over `sentences`, best of `repeats` after a warm-up batch."""
    words = [s.tokens for s in sentences]
    tagger.predict_tags(words[:64])
    best, tags = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        tags = tagger.predict_tags(words)
        best = min(best, time.perf_counter() - start)
    return len(words) / best, tags


def run(checkpoint: Path, onnx_folder: Path, sentences: list[Sentence], repeats: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for precision in TORCH_PRECISIONS:
        rate, tags = tag(Tagger.from_checkpoint(checkpoint, precision=precision), sentences, repeats)
        rows[f"torch {precision}"] = {"sents_per_s": rate, "tags": tags}
    for name, file in (("onnxruntime fp32", MODEL_FILE), ("onnxruntime int8", INT8_FILE)):
        tagger = Tagger.from_checkpoint(checkpoint, precision="fp32")
        tagger.model = OnnxForward(onnx_folder / file)  # type: ignore[assignment]  # only the network changes
        rate, tags = tag(tagger, sentences, repeats)
        rows[name] = {"sents_per_s": rate, "tags": tags}
    reference = [t for tags in rows["torch fp32"]["tags"] for t in tags]
    for row in rows.values():
        flat = [t for tags in row.pop("tags") for t in tags]
        row["agreement"] = float(np.mean([a == b for a, b in zip(flat, reference, strict=True)]))
        row["tags_flat"] = flat
    return rows


def guidance(fastest: str, trained: bool) -> str:
    """Which backend to use where: what the rows show, and what they cannot (a fresh head's near-tie logits)."""
    caveat = ("int8's agreement and span-F1 above are a trained model's: measure your own model's the same way "
              "(`onnx_report.json`, or `--sample` on your own text) before deploying it." if trained else
              "a fresh head's near-tie logits make its agreement here a floor, not an estimate: check a trained "
              "model's int8 agreement in `onnx_report.json` (or with `--sample` on your own text) before deploying it.")
    return (f"Which to use where: the fastest row here was {fastest}. Inside Python (biotune's tag jobs, `serve`, "
            "`predict`) keep torch: `--precision bf16` where the CPU has native bf16, `int8` where it has not. ONNX "
            "Runtime fp32 gives torch fp32's tags (100% equal here) without torch or Python: for deployments in "
            "C#/Java/JavaScript/C++ runtimes and small images. ONNX int8 (`biotune export --int8`) is the speed "
            f"option on CPUs without bf16; {caveat}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None, help="a trained NER folder (default: fresh MiniLM head)")
    ap.add_argument("--test", type=Path, default=SHARED / "data" / "corpora" / "bc5cdr" / "test.tsv")
    ap.add_argument("--limit", type=int, default=1000, help="first N test sentences (0: all 4,797)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    sentences = read_corpus_file(args.test)[: args.limit or None]
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or fresh_minilm(Path(scratch) / "minilm_ner")
        export = export_onnx(checkpoint, Path(scratch) / "onnx", int8=True)
        rows = run(checkpoint, export.folder, sentences, args.repeats)
    gold = [s.tags or [] for s in sentences]
    base = rows["torch fp32"]["sents_per_s"]
    cells = []
    for name, row in rows.items():
        tags, position = [], 0
        for s in sentences:
            tags.append(row["tags_flat"][position: position + len(s.tokens)])
            position += len(s.tokens)
        row["f1"] = 100 * evaluate_tags(gold, tags).micro.f1 if args.checkpoint else None
        del row["tags_flat"]
        cells.append([name, f"{row['sents_per_s']:.1f}", f"{row['sents_per_s'] / base:.2f}x",
                      f"{100 * row['agreement']:.2f}%", "-" if row["f1"] is None else f"{row['f1']:.2f}"])
    checks = {file: {c.output: {"agreement": c.agreement, "max_abs_diff": c.max_abs_diff} for c in found}
              for file, found in export.checks.items()}
    result = {"rows": rows, "export_checks": checks, "sentences": len(sentences),
              "checkpoint": str(args.checkpoint or "minilm + fresh head"), "date": str(datetime.date.today()),
              "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    fp32, int8 = checks[MODEL_FILE]["logits"], checks[INT8_FILE]["logits"]
    body = markdown_table(("backend", "sentences/s", "vs torch fp32", "tags equal to torch fp32", "span-F1"), cells,
                          ["left"] + ["right"] * 4) + "\n\n" + (
        f"{len(sentences)} sentences of BC5CDR test through biotune's `Tagger` (batches of 32, length-sorted), best of "
        f"{args.repeats}; model: {result['checkpoint']} (MiniLM-L6). Export check on the built-in sample: fp32 "
        f"max |logit diff| {fp32['max_abs_diff']:.1e} ({100 * fp32['agreement']:.1f}% argmax agreement), int8 "
        f"{int8['max_abs_diff']:.1e} ({100 * int8['agreement']:.1f}%). Machine: {result['machine']}, "
        f"{result['threads']} torch threads, run {result['date']}, load average {load:.1f} at start (other jobs on "
        "the 2 cores lower the absolute rates; the ratios hold better).") + "\n\n" + guidance(
            max(rows, key=lambda n: rows[n]["sents_per_s"]), args.checkpoint is not None)
    print(body)
    if not args.no_write:
        out = ROOT / "bench" / "runs" / "onnx_speed.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        from ner_core import write_section  # bench/ is on sys.path when run as a script

        write_section(ROOT / "BENCHMARKS.md", "onnx_speed", "ONNX Runtime vs torch, NER tagging (`bench/onnx_speed.py`)",
                      body)


if __name__ == "__main__":
    main()
