"""Reference peer for relation extraction: the plain Hugging Face sequence-classification recipe.

What a user of transformers' `run_glue.py` does with BLURB's pre-masked relation files, and
nothing more: the sentence goes in as plain text with its masks (`@GENE$`, `@CHEMICAL$`,
`@DRUG$`, `@DISEASE$`) left as ordinary words, the tokenizer pads to `max_seq_length` (128)
and truncates (run_glue's defaults: `pad_to_max_length=True`, `truncation=True`), and
`AutoModelForSequenceClassification` + `Trainer` train it in fp32 with the Trainer's default
AdamW, linear decay, no warm-up, no weight decay, seed 42. No model selection (run_glue trains
for the given epochs and keeps the last model). It anchors `bench/relation_extraction.py`'s F1 and speed.

usage: python bench/hf_re_recipe.py DATA_DIR OUT_JSON [--model DIR] [--epochs N] [--lr LR]
           [--bs N] [--eval-bs N] [--max-seq-length N] [--negative NAME] [--max-train N] [--max-test N]

DATA_DIR holds train.tsv and test.tsv (`sentence<TAB>label`, no header; the label is a name
or an id of `label2id.tsv` when the folder has one, e.g. ChemProt, DDI; else the labels found,
e.g. GAD's 0/1). Writes (and prints) a JSON with test precision/recall/F1 over the relation
classes (every label but `--negative`; micro-averaged by scikit-learn, which for GAD's single
positive class is the F1 of class 1), training sentences/s (train sentences x epochs /
`trainer.train()` seconds) and prediction sentences/s (test sentences / seconds to tokenise
and `trainer.predict` them), and how many sentences truncation cut.

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
from sklearn.metrics import precision_recall_fscore_support
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments


def read_label2id(folder: Path) -> dict[str, int] | None:
    """`name<TAB>id` lines of the folder's `label2id.tsv`, or None when it has none."""
    path = folder / "label2id.tsv"
    if not path.is_file():
        return None
    mapping = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, ident = line.split("\t")
            mapping[name] = int(ident)
    return mapping


def read_rows(path: Path, limit: int = 0) -> list[tuple[str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        sentence, sep, label = line.rpartition("\t")
        if not sep:
            raise SystemExit(f"{path}:{number}: expected sentence<TAB>label")
        rows.append((sentence, label.strip()))
    return rows[:limit] if limit else rows


def to_ids(rows: list[tuple[str, str]], label2id: dict[str, int], path: Path) -> list[int]:
    """Labels as ids: a label name of `label2id`, else an id it holds."""
    ids = set(label2id.values())
    out = []
    for sentence, label in rows:
        if label in label2id:
            out.append(label2id[label])
        elif label.isdigit() and int(label) in ids:
            out.append(int(label))
        else:
            raise SystemExit(f"{path}: label {label!r} is neither a name nor an id of the label set")
    return out


class Encoded(torch.utils.data.Dataset):
    """Tokenised sentences padded to max length (run_glue's default), with their labels."""

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
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default=None, help="backbone folder or hub id (default: biotune's bundled MiniLM)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--eval-bs", type=int, default=128)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--negative", default="0", help="label name of the no-relation class, excluded from the F1")
    ap.add_argument("--max-train", type=int, default=0, help="train on the first N sentences only (0 = all)")
    ap.add_argument("--max-test", type=int, default=0, help="test on the first N sentences only (0 = all)")
    a = ap.parse_args()
    if a.model is None:  # the default backbone, as biotune resolves it
        from biotune.models.backbones import resolve_backbone

        a.model = resolve_backbone("minilm")

    train_rows = read_rows(a.data / "train.tsv", a.max_train)
    test_rows = read_rows(a.data / "test.tsv", a.max_test)
    label2id = read_label2id(a.data)
    if label2id is None:
        names = sorted({label for _, label in train_rows + test_rows})
        label2id = {name: i for i, name in enumerate(names)}
    if a.negative not in label2id:
        raise SystemExit(f"--negative {a.negative!r} is not a label ({', '.join(label2id)})")
    id2label = {i: name for name, i in label2id.items()}
    positive = sorted(i for i in id2label if i != label2id[a.negative])
    y_train = to_ids(train_rows, label2id, a.data / "train.tsv")
    y_test = to_ids(test_rows, label2id, a.data / "test.tsv")

    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, num_labels=len(label2id), id2label=id2label, label2id=label2id)

    def encode(rows: list[tuple[str, str]]) -> dict[str, list[list[int]]]:
        return dict(tokenizer([s for s, _ in rows], padding="max_length", max_length=a.max_seq_length, truncation=True))

    train_ds = Encoded(encode(train_rows), y_train)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_re_recipe_"), num_train_epochs=a.epochs, learning_rate=a.lr,
        per_device_train_batch_size=a.bs, per_device_eval_batch_size=a.eval_bs, seed=42, bf16=False,
        save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds)

    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    test_ds = Encoded(encode(test_rows), y_test)
    logits = trainer.predict(test_ds).predictions
    predict_s = time.perf_counter() - start
    y_pred = np.argmax(logits, axis=-1)

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_test, y_pred, labels=positive, average="micro", zero_division=0)
    full_lengths = [len(ids) for ids in tokenizer([s for s, _ in test_rows])["input_ids"]]
    result = {
        "f1": float(f1), "precision": float(precision), "recall": float(recall),
        "positive_labels": [id2label[i] for i in positive], "negative_label": a.negative,
        "train_sentences": len(train_rows), "epochs": a.epochs, "train_s": train_s,
        "train_sents_per_s": len(train_rows) * a.epochs / train_s,
        "test_sentences": len(test_rows), "predict_s": predict_s, "predict_sents_per_s": len(test_rows) / predict_s,
        "test_truncated": sum(n > a.max_seq_length for n in full_lengths),
        "lr": a.lr, "batch_size": a.bs, "eval_batch_size": a.eval_bs, "max_seq_length": a.max_seq_length,
        "precision_mode": "fp32", "torch_threads": torch.get_num_threads(), "model": a.model,
    }
    a.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
