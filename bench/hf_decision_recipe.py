"""Reference peer for yes/no(/maybe) QA: the plain Hugging Face sequence-classification recipe.

What a user of transformers' `run_glue.py` does with BLURB's yes/no files (BioASQ yes/no,
PubMedQA), and nothing more: each line ``question: ...<SPACE>context: ...<TAB>label`` is split
into its question and context, the pair goes through the tokenizer with
``truncation="only_second", max_length=512, padding="max_length"`` (the context is cut, the
question never), and `AutoModelForSequenceClassification` + `Trainer` train in fp32 with the
Trainer's defaults (AdamW, linear decay, no warm-up, no weight decay), seed 42. The labels are
those of the training file, sorted. No model selection: the last model predicts the test file.

usage: python bench/hf_decision_recipe.py TRAIN_TSV TEST_TSV OUT_JSON [--model DIR] [--epochs N] [--lr LR]
           [--bs N] [--eval-bs N] [--max-seq-length N]

Writes (and prints a summary of) a JSON with the predicted label of every test line (its
1-based line number as id, with the gold label), test accuracy and macro-F1 (scikit-learn,
over the labels in the gold or the predictions), training examples/s (training lines x epochs
run / `trainer.train()` seconds; the Trainer rounds a fraction of an epoch up to whole steps),
prediction examples/s (test lines / seconds to tokenise and `trainer.predict` them), and how
many test contexts truncation cut.

Needs torch, transformers, accelerate and scikit-learn (a dependency of this benchmark only).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

QUESTION, CONTEXT = "question: ", " context: "


def read_rows(path: Path) -> list[tuple[str, str, str, str]]:
    """(id, question, context, label) per non-blank line; the id is the line number."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("\t")
        question, found, context = text.partition(CONTEXT)
        if not sep or not found or not question.startswith(QUESTION):
            raise SystemExit(f"{path}:{number}: expected 'question: ... context: ...<TAB>label'")
        rows.append((str(number), question[len(QUESTION):].strip(), context.strip(), label.strip()))
    if not rows:
        raise SystemExit(f"{path}: no examples")
    return rows


class Encoded(torch.utils.data.Dataset):
    """Tokenised (question, context) pairs padded to max length, with their label ids."""

    def __init__(self, encodings: dict[str, list[list[int]]], labels: list[int]):
        self.encodings, self.labels = encodings, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {key: torch.tensor(values[i]) for key, values in self.encodings.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


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
    ap.add_argument("--max-seq-length", type=int, default=512)
    a = ap.parse_args()
    if a.model is None:  # the default backbone, as biotune resolves it
        from biotune.models.backbones import resolve_backbone

        a.model = resolve_backbone("minilm")

    train_rows, test_rows = read_rows(a.train), read_rows(a.test)
    labels = sorted({row[3] for row in train_rows})
    label2id = {name: i for i, name in enumerate(labels)}
    unknown = next((row for row in test_rows if row[3] not in label2id), None)
    if unknown:
        raise SystemExit(f"{a.test}:{unknown[0]}: label {unknown[3]!r} is not a training label ({', '.join(labels)})")

    set_seed(42)  # run_glue.py seeds before loading the model, so the new head starts the same every run
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)

    def encode(rows: list[tuple[str, str, str, str]]) -> Encoded:
        encodings = tokenizer([r[1] for r in rows], [r[2] for r in rows], truncation="only_second",
                              max_length=a.max_seq_length, padding="max_length")
        return Encoded(dict(encodings), [label2id[r[3]] for r in rows])

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_decision_recipe_"), num_train_epochs=a.epochs, learning_rate=a.lr,
        per_device_train_batch_size=a.bs, per_device_eval_batch_size=a.eval_bs, seed=42, bf16=False,
        save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=encode(train_rows))
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    logits = trainer.predict(encode(test_rows)).predictions
    predict_s = time.perf_counter() - start
    predicted = [labels[i] for i in np.argmax(logits, axis=-1)]
    gold = [r[3] for r in test_rows]
    full_lengths = [len(ids) for ids in tokenizer([r[1] for r in test_rows], [r[2] for r in test_rows])["input_ids"]]
    result = {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
        "labels": labels, "train_file": str(a.train), "test_file": str(a.test),
        "train_examples": len(train_rows), "epochs": a.epochs, "epochs_run": trainer.state.epoch, "train_s": train_s,
        "train_examples_per_s": len(train_rows) * trainer.state.epoch / train_s,
        "test_examples": len(test_rows), "predict_s": predict_s, "predict_examples_per_s": len(test_rows) / predict_s,
        "test_truncated": sum(n > a.max_seq_length for n in full_lengths),
        "lr": a.lr, "batch_size": a.bs, "eval_batch_size": a.eval_bs, "max_seq_length": a.max_seq_length,
        "precision_mode": "fp32", "seed": 42, "torch_threads": torch.get_num_threads(), "model": a.model,
        "predictions": [{"id": r[0], "gold": r[3], "predicted": p} for r, p in zip(test_rows, predicted)],
    }
    a.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "predictions"}, indent=1))


if __name__ == "__main__":
    main()
