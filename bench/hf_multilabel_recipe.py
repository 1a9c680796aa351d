"""Reference peer for multi-label document classification (HoC): the plain Hugging Face recipe.

What a user of transformers' `run_glue.py` / the multi-label text-classification examples does
with BLURB's HoC files, and nothing more: each sentence (``labels<TAB>sentence<TAB>index`` rows,
header first; labels ``0_x,...,9_x`` with x = 1 where the sentence shows that hallmark) goes
through the tokenizer padded to `max_seq_length` (128) and truncated, and
`AutoModelForSequenceClassification` with ``problem_type="multi_label_classification"`` (one
sigmoid per hallmark, binary cross-entropy) trains in fp32 with the Trainer's defaults (AdamW,
linear decay, no warm-up, no weight decay), seed 42. A hallmark is predicted where its sigmoid
reaches 0.5 (`--threshold`; no tuning on dev, no model selection: the last model predicts).

Scoring reuses biotune's metric function (`biotune.tasks.multilabel.metrics.score_sets`): BLURB's
abstract-level micro-F1 (an abstract's labels are the union of its sentences', the abstract being
the ``index`` column before ``_s<n>``), with sentence-level scores and its one-label-set collapse
check, so both sides of `bench/blurb.py` are scored by the same code; nothing of biotune is on the
model or training path.

usage: python bench/hf_multilabel_recipe.py TRAIN_TSV TEST_TSV OUT_JSON [--model DIR] [--epochs N] [--lr LR]
           [--bs N] [--eval-bs N] [--max-seq-length N] [--threshold P]

Writes (and prints) a JSON with the scores (`abstract_micro.f1` is the headline), `collapse`,
training examples/s and subwords/s (training sentences, or their non-padding subwords, x epochs
run / `trainer.train()` seconds) and how many test sentences truncation cut.

Needs torch, transformers, accelerate and datasets.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

from biotune.tasks.multilabel.metrics import decide, score_sets

HEADER = ["labels", "sentence", "index"]


def read_sentences(path: Path) -> tuple[list[str], list[str], list[list[int]]]:
    """(abstract ids, sentences, 0/1 vectors over the hallmarks in label order) of a BLURB HoC file."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != HEADER:
        raise SystemExit(f"{path}: expected the header {' / '.join(HEADER)} (tab-separated)")
    abstracts, sentences, vectors = [], [], []
    for number, row in enumerate(rows[1:], 2):
        if len(row) != len(HEADER) or "_s" not in row[2]:
            raise SystemExit(f"{path}:{number}: expected labels<TAB>sentence<TAB><PMID>_s<n>")
        flags = [item.split("_") for item in row[0].split(",")]
        if [int(k) for k, _ in flags] != list(range(len(flags))) or any(x not in ("0", "1") for _, x in flags):
            raise SystemExit(f"{path}:{number}: expected labels 0_x,1_x,... in order, x 0 or 1")
        abstracts.append(row[2].rsplit("_s", 1)[0])
        sentences.append(row[1])
        vectors.append([int(x) for _, x in flags])
    if not sentences:
        raise SystemExit(f"{path}: no sentences")
    return abstracts, sentences, vectors


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
    ap.add_argument("--threshold", type=float, default=0.5, help="sigmoid probability at which a label is predicted")
    a = ap.parse_args()
    if a.model is None:  # the default backbone, as biotune resolves it
        from biotune.models.backbones import resolve_backbone

        a.model = resolve_backbone("minilm")

    _, train_sentences, train_vectors = read_sentences(a.train)
    test_abstracts, test_sentences, test_vectors = read_sentences(a.test)
    labels = [str(k) for k in range(len(train_vectors[0]))]
    set_seed(42)  # run_glue.py seeds before loading the model, so the new head starts the same every run
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, num_labels=len(labels), problem_type="multi_label_classification")

    def encode(sentences: list[str], vectors: list[list[int]]) -> Dataset:
        encodings = tokenizer(sentences, truncation=True, max_length=a.max_seq_length, padding="max_length")
        return Dataset.from_dict({**encodings, "labels": [[float(x) for x in v] for v in vectors]})

    train_ds = encode(train_sentences, train_vectors)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_multilabel_recipe_"), num_train_epochs=a.epochs, learning_rate=a.lr,
        per_device_train_batch_size=a.bs, per_device_eval_batch_size=a.eval_bs, seed=42, bf16=False,
        save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds)
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    logits = trainer.predict(encode(test_sentences, test_vectors)).predictions
    predict_s = time.perf_counter() - start
    probabilities = 1 / (1 + np.exp(-logits))
    predicted = [set(row) for row in decide(probabilities, labels, a.threshold)]
    gold = [{label for label, x in zip(labels, v) if x} for v in test_vectors]
    scores = score_sets(test_abstracts, gold, predicted, labels, a.threshold, "the recipe's")
    epochs_run = trainer.state.epoch
    full_lengths = [len(ids) for ids in tokenizer(test_sentences)["input_ids"]]
    result = {
        **scores.to_dict(), "collapse": scores.collapse, "train_file": str(a.train), "test_file": str(a.test),
        "train_examples": len(train_sentences), "epochs": a.epochs, "epochs_run": epochs_run, "train_s": train_s,
        "train_examples_per_s": len(train_sentences) * epochs_run / train_s,
        "train_subwords_per_s": sum(map(sum, train_ds["attention_mask"])) * epochs_run / train_s,
        "test_examples": len(test_sentences), "predict_s": predict_s,
        "predict_examples_per_s": len(test_sentences) / predict_s,
        "test_truncated": sum(n > a.max_seq_length for n in full_lengths),
        "lr": a.lr, "batch_size": a.bs, "eval_batch_size": a.eval_bs, "max_seq_length": a.max_seq_length,
        "precision_mode": "fp32", "seed": 42, "torch_threads": torch.get_num_threads(), "model": a.model,
    }
    a.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
