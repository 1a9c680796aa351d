"""This CPU's ceiling for fine-tuning the bundled MiniLM: subword tokens/s of bf16 forward + backward on
full batches (every row as long as the window, no padding), with and without the optimizer step.

Training reports `train_subwords_per_second` in `train_summary.json` (padding excluded); its share of
this ceiling at the dataset's window length says how much of a run goes to padding, evaluation and data
handling rather than to the model. The model is the one training builds (classification head, attention
dropout 0 so SDPA runs its fused kernel: `model.attention_dropout`), in train mode under bf16 autocast,
the optimizer the Trainer's fused AdamW.

    python bench/ceiling.py --lengths 128 512 --steps 5 [--write]

Every run also keeps its numbers in bench/results/ceiling.json, from which `bench/blurb.py` gives each
dataset's share of the ceiling at its window length.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from biotune.models.backbones import resolve_backbone
from biotune.models.checkpoints import set_attention_dropout

sys.path.insert(0, str(Path(__file__).parent))
from ner_core import write_section  # noqa: E402  (sibling scripts, not a package)
from relation_extraction import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench" / "results" / "ceiling.json"


def tokens_per_second(length: int, rows: int, steps: int, optimizer_step: bool) -> float:
    """Subwords per second over `steps` timed training steps of `rows` x `length` (after one untimed step)."""
    path = resolve_backbone("minilm")
    config = AutoConfig.from_pretrained(path, num_labels=2)
    set_attention_dropout(config, 0.0)
    model = AutoModelForSequenceClassification.from_pretrained(path, config=config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(1000, config.vocab_size, (rows, length))  # (batch, subwords)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (rows,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        if optimizer_step:
            optimizer.step()
        optimizer.zero_grad()

    step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return rows * length * steps / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[128, 512], help="window lengths in subwords")
    ap.add_argument("--batch-tokens", type=int, default=16384, help="rows x length per batch (training.batch_tokens)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="write the `ceiling` section of BENCHMARKS.md")
    args = ap.parse_args()
    started, load = time.perf_counter(), Path("/proc/loadavg").read_text().split()[0]
    rows, record = [], {}
    for length in args.lengths:
        batch = max(1, args.batch_tokens // length)
        both = [tokens_per_second(length, batch, args.steps, optimizer_step) for optimizer_step in (False, True)]
        rows.append(f"| {length} | {batch} | {both[0]:,.0f} | {both[1]:,.0f} |")
        record[str(length)] = {"rows": batch, "forward_backward": both[0], "with_optimizer_step": both[1]}
        print(rows[-1], flush=True)
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps({"date": str(datetime.date.today()), "load_average": float(load),
                                  "steps": args.steps, "lengths": record}, indent=2) + "\n")
    body = "\n".join([
        "bf16 forward + backward of the bundled MiniLM-L6 (22M parameters) on full batches, no padding, in subword "
        "tokens/s: the most a training run on this machine can reach.", "",
        "| window (subwords) | rows per batch | forward + backward | + fused AdamW step |",
        "|---:|---:|---:|---:|", *rows, "",
        f"- Command: `python bench/ceiling.py --lengths {' '.join(map(str, args.lengths))} --batch-tokens "
        f"{args.batch_tokens} --steps {args.steps} --write`; {args.steps} timed steps after one untimed.",
        f"- Run {datetime.date.today()}, {time.perf_counter() - started:.0f} s, load average {load} at start, "
        f"{machine()}; a shared machine: other jobs lower these numbers."])
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", "ceiling", "Training throughput ceiling (`bench/ceiling.py`)", body)


if __name__ == "__main__":
    main()
