"""Reference peer for sentence similarity (BIOSSES): the plain Hugging Face regression recipe.

What a user of transformers' `run_glue.py` does for an STS-B-like task, and nothing more: each
``sentence1<TAB>sentence2<TAB>score`` row (header line first, as BLURB's files have it) goes
through the tokenizer as a pair, padded to `max_seq_length` (128) and truncated (run_glue's
defaults), and `AutoModelForSequenceClassification` with ``num_labels=1`` (a regression head:
the Trainer's loss is the mean squared error) trains in fp32 with the Trainer's defaults (AdamW,
linear decay, no warm-up, no weight decay), seed 42. No model selection: the last model predicts
the test file.

Scoring reuses biotune's metric function (`biotune.tasks.similarity.metrics.score_similarity`:
scipy's Pearson, BLURB's BIOSSES metric, with Spearman, MSE and its constant-prediction check), so
both sides of `bench/blurb.py` are scored and checked for collapse by the same code; nothing of
biotune is on the model or training path.

usage: python bench/hf_similarity_recipe.py TRAIN_TSV TEST_TSV OUT_JSON [--model DIR] [--epochs N] [--lr LR]
           [--bs N] [--eval-bs N] [--max-seq-length N]

Writes (and prints a summary of) a JSON with test Pearson / Spearman / MSE, `collapse` (None or
what the predictions collapsed to), every test pair's predicted score, training examples/s and
subwords/s (training pairs, or their non-padding subwords, x epochs run / `trainer.train()`
seconds) and how many test pairs truncation cut.

Needs torch, transformers, accelerate and datasets.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

from biotune.tasks.similarity.metrics import score_similarity

HEADER = ["sentence1", "sentence2", "score"]


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """(sentence1, sentence2, score) per row of a BLURB BIOSSES file (header first)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != HEADER:
        raise SystemExit(f"{path}: expected the header {' / '.join(HEADER)} (tab-separated)")
    pairs = []
    for number, row in enumerate(rows[1:], 2):
        if len(row) != len(HEADER):
            raise SystemExit(f"{path}:{number}: expected sentence1<TAB>sentence2<TAB>score")
        pairs.append((row[0], row[1], float(row[2])))
    if not pairs:
        raise SystemExit(f"{path}: no pairs")
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", type=Path)
    ap.add_argument("test", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default=None, help="backbone folder or hub id (default: biotune's bundled MiniLM)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--eval-bs", type=int, default=128)
    ap.add_argument("--max-seq-length", type=int, default=128)
    a = ap.parse_args()
    if a.model is None:  # the default backbone, as biotune resolves it
        from biotune.models.backbones import resolve_backbone

        a.model = resolve_backbone("minilm")

    train_pairs, test_pairs = read_pairs(a.train), read_pairs(a.test)
    set_seed(42)  # run_glue.py seeds before loading the model, so the new head starts the same every run
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=1)

    def encode(pairs: list[tuple[str, str, float]]) -> Dataset:
        encodings = tokenizer([p[0] for p in pairs], [p[1] for p in pairs], truncation=True,
                              max_length=a.max_seq_length, padding="max_length")
        return Dataset.from_dict({**encodings, "labels": [p[2] for p in pairs]})

    train_ds = encode(train_pairs)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_similarity_recipe_"), num_train_epochs=a.epochs, learning_rate=a.lr,
        per_device_train_batch_size=a.bs, per_device_eval_batch_size=a.eval_bs, seed=42, bf16=False,
        save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds)
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    predicted = trainer.predict(encode(test_pairs)).predictions.reshape(-1).tolist()
    predict_s = time.perf_counter() - start
    scores = score_similarity([p[2] for p in test_pairs], predicted)
    epochs_run = trainer.state.epoch
    full_lengths = [len(ids) for ids in tokenizer([p[0] for p in test_pairs], [p[1] for p in test_pairs])["input_ids"]]
    result = {
        **scores.to_dict(), "collapse": scores.collapse, "train_file": str(a.train), "test_file": str(a.test),
        "train_examples": len(train_pairs), "epochs": a.epochs, "epochs_run": epochs_run, "train_s": train_s,
        "train_examples_per_s": len(train_pairs) * epochs_run / train_s,
        "train_subwords_per_s": sum(map(sum, train_ds["attention_mask"])) * epochs_run / train_s,
        "test_examples": len(test_pairs), "predict_s": predict_s, "predict_examples_per_s": len(test_pairs) / predict_s,
        "test_truncated": sum(n > a.max_seq_length for n in full_lengths),
        "lr": a.lr, "batch_size": a.bs, "eval_batch_size": a.eval_bs, "max_seq_length": a.max_seq_length,
        "precision_mode": "fp32", "seed": 42, "torch_threads": torch.get_num_threads(), "model": a.model,
        "predictions": [{"gold": p[2], "predicted": score} for p, score in zip(test_pairs, predicted)],
    }
    a.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "predictions"}, indent=1))


if __name__ == "__main__":
    main()
