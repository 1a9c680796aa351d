"""Reference peer for extractive QA: the plain Hugging Face question-answering recipe.

What a user of transformers' `examples/pytorch/question-answering/run_qa.py` does with a
SQuAD-form file, and nothing more: every item (one question, one context) is tokenised with
`run_qa.py`'s `prepare_train_features` / `prepare_validation_features` (max length 384, stride
128, padded to max length, contexts split into overlapping windows, the first answer of an item
as its target, CLS when a window does not hold it), `AutoModelForQuestionAnswering` + `Trainer`
train in fp32 with the Trainer's defaults (AdamW, linear decay, no warm-up, no weight decay),
seed 42, and `utils_qa.py`'s `postprocess_qa_predictions` (SQuAD v1: no null answer) reads
each item's n-best spans (n_best 20, max_answer_length 30) with their softmax probabilities
over that item's windows. Items are never merged: one item, one snippet, one n-best. No model
selection (run_qa trains for the given epochs and keeps the last model).

It scores nothing itself: it writes each predicted file's n-best per item (text, character
offsets, probability, best first) so that `bench/qa.py` scores factoid and list answers with
BioASQ's measures, exactly as it scores biotune's.

usage: python bench/hf_qa_recipe.py TRAIN_JSON OUT_JSON --predict NAME=FILE [--predict NAME=FILE ...]
           [--model DIR] [--epochs N] [--lr LR] [--bs N] [--eval-bs N] [--max-seq-length N] [--doc-stride N]
           [--n-best N] [--max-answer-length N]

TRAIN_JSON and each FILE are SQuAD v1 files (``data -> paragraphs -> qas``); test files may
have empty ``answers``. Writes (and prints a summary of) a JSON with, per predicted file, the
n-best of every item, items/s (items / seconds to tokenise, `trainer.predict` and post-process
them) and window counts; and training items/s (training items x epochs run / `trainer.train()`
seconds; the epochs run are the Trainer's, which rounds a fraction of an epoch up to whole steps).

Needs torch, transformers and accelerate.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (AutoModelForQuestionAnswering, AutoTokenizer, PreTrainedTokenizerBase, Trainer,
                          TrainingArguments, default_data_collator, set_seed)


def read_squad(path: Path) -> dict[str, list[Any]]:
    """A SQuAD v1 file as columns (``id, question, context, answers``), as `datasets`' squad loader gives it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"{path}: not a SQuAD file ({error})") from None
    columns: dict[str, list[Any]] = {"id": [], "question": [], "context": [], "answers": []}
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                columns["id"].append(qa["id"])
                columns["question"].append(qa["question"])
                columns["context"].append(paragraph["context"])
                columns["answers"].append({"text": [a["text"] for a in qa.get("answers", [])],
                                           "answer_start": [a["answer_start"] for a in qa.get("answers", [])]})
    if not columns["id"]:
        raise SystemExit(f"{path}: no questions")
    return columns


def tokenize(tokenizer: PreTrainedTokenizerBase, examples: dict[str, list[Any]], max_length: int, stride: int) -> Any:
    """run_qa.py's tokenizer call (question first: BERT pads on the right), questions left-stripped."""
    pad_on_right = tokenizer.padding_side == "right"
    questions = [q.lstrip() for q in examples["question"]]
    return tokenizer(
        questions if pad_on_right else examples["context"],
        examples["context"] if pad_on_right else questions,
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )


def prepare_train_features(tokenizer: PreTrainedTokenizerBase, examples: dict[str, list[Any]],
                           max_length: int, stride: int) -> dict[str, list[Any]]:
    """run_qa.py's `prepare_train_features`: one feature per window, start/end token of the first answer or CLS."""
    pad_on_right = tokenizer.padding_side == "right"
    tokenized = tokenize(tokenizer, examples, max_length, stride)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    offset_mapping = tokenized.pop("offset_mapping")
    tokenized["start_positions"] = []
    tokenized["end_positions"] = []
    for i, offsets in enumerate(offset_mapping):
        input_ids = tokenized["input_ids"][i]
        if tokenizer.cls_token_id in input_ids:
            cls_index = input_ids.index(tokenizer.cls_token_id)
        elif tokenizer.bos_token_id in input_ids:
            cls_index = input_ids.index(tokenizer.bos_token_id)
        else:
            cls_index = 0
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][sample_mapping[i]]
        if len(answers["answer_start"]) == 0:
            tokenized["start_positions"].append(cls_index)
            tokenized["end_positions"].append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start_index = 0
        while sequence_ids[token_start_index] != (1 if pad_on_right else 0):
            token_start_index += 1
        token_end_index = len(input_ids) - 1
        while sequence_ids[token_end_index] != (1 if pad_on_right else 0):
            token_end_index -= 1
        if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
            tokenized["start_positions"].append(cls_index)
            tokenized["end_positions"].append(cls_index)
        else:
            while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
                token_start_index += 1
            tokenized["start_positions"].append(token_start_index - 1)
            while offsets[token_end_index][1] >= end_char:
                token_end_index -= 1
            tokenized["end_positions"].append(token_end_index + 1)
    return dict(tokenized)


def prepare_validation_features(tokenizer: PreTrainedTokenizerBase, examples: dict[str, list[Any]],
                                max_length: int, stride: int) -> dict[str, list[Any]]:
    """run_qa.py's `prepare_validation_features`: windows with their item id and context-only offsets."""
    pad_on_right = tokenizer.padding_side == "right"
    tokenized = tokenize(tokenizer, examples, max_length, stride)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = []
    for i in range(len(tokenized["input_ids"])):
        sequence_ids = tokenized.sequence_ids(i)
        context_index = 1 if pad_on_right else 0
        tokenized["example_id"].append(examples["id"][sample_mapping[i]])
        tokenized["offset_mapping"][i] = [
            (o if sequence_ids[k] == context_index else None) for k, o in enumerate(tokenized["offset_mapping"][i])
        ]
    return dict(tokenized)


def postprocess_qa_predictions(examples: dict[str, list[Any]], features: dict[str, list[Any]],
                               predictions: tuple[np.ndarray, np.ndarray], n_best_size: int = 20,
                               max_answer_length: int = 30) -> dict[str, list[dict[str, Any]]]:
    """utils_qa.py's `postprocess_qa_predictions` for SQuAD v1: each item's n-best with softmax probabilities.

    The n-best keeps the character offsets (utils_qa pops them after reading the text) so the
    output says where each answer was read.
    """
    all_start_logits, all_end_logits = predictions
    if len(all_start_logits) != len(features["example_id"]):
        raise SystemExit(f"got {len(all_start_logits)} predictions for {len(features['example_id'])} features")
    example_id_to_index = {k: i for i, k in enumerate(examples["id"])}
    features_per_example = collections.defaultdict(list)
    for i, example_id in enumerate(features["example_id"]):
        features_per_example[example_id_to_index[example_id]].append(i)

    all_nbest: dict[str, list[dict[str, Any]]] = {}
    for example_index, example_id in enumerate(examples["id"]):
        prelim_predictions = []
        for feature_index in features_per_example[example_index]:
            start_logits = all_start_logits[feature_index]
            end_logits = all_end_logits[feature_index]
            offset_mapping = features["offset_mapping"][feature_index]
            start_indexes = np.argsort(start_logits)[-1: -n_best_size - 1: -1].tolist()
            end_indexes = np.argsort(end_logits)[-1: -n_best_size - 1: -1].tolist()
            for start_index in start_indexes:
                for end_index in end_indexes:
                    if (start_index >= len(offset_mapping) or end_index >= len(offset_mapping)
                            or offset_mapping[start_index] is None or offset_mapping[end_index] is None):
                        continue
                    if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                        continue
                    prelim_predictions.append({
                        "offsets": (offset_mapping[start_index][0], offset_mapping[end_index][1]),
                        "score": start_logits[start_index] + end_logits[end_index],
                    })
        predictions_ = sorted(prelim_predictions, key=lambda x: x["score"], reverse=True)[:n_best_size]
        context = examples["context"][example_index]
        for pred in predictions_:
            start, end = pred.pop("offsets")
            pred.update(text=context[start:end], start=int(start), end=int(end))
        if len(predictions_) == 0 or (len(predictions_) == 1 and predictions_[0]["text"] == ""):
            predictions_.insert(0, {"text": "empty", "start": 0, "end": 0, "score": 0.0})
        scores = np.array([pred.pop("score") for pred in predictions_])
        exp_scores = np.exp(scores - np.max(scores))
        probs = exp_scores / exp_scores.sum()
        all_nbest[example_id] = [{**pred, "probability": float(prob)} for prob, pred in zip(probs, predictions_)]
    return all_nbest


class Features(torch.utils.data.Dataset):
    """Tokenised windows (padded to max length) with the model's input columns only."""

    def __init__(self, features: dict[str, list[Any]], columns: tuple[str, ...]):
        self.features = {key: features[key] for key in columns if key in features}
        self.size = len(features["input_ids"])

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {key: values[i] for key, values in self.features.items()}


INPUTS = ("input_ids", "token_type_ids", "attention_mask")


def named_file(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE, got {text!r}")
    return name, Path(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--predict", type=named_file, action="append", required=True, metavar="NAME=FILE",
                    help="a SQuAD file to predict, under NAME in the output (repeatable)")
    ap.add_argument("--model", default=None, help="backbone folder or hub id (default: biotune's bundled MiniLM)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--eval-bs", type=int, default=128)
    ap.add_argument("--max-seq-length", type=int, default=384)
    ap.add_argument("--doc-stride", type=int, default=128)
    ap.add_argument("--n-best", type=int, default=20)
    ap.add_argument("--max-answer-length", type=int, default=30)
    a = ap.parse_args()
    if a.model is None:  # the default backbone, as biotune resolves it
        from biotune.models.backbones import resolve_backbone

        a.model = resolve_backbone("minilm")
    names = [name for name, _ in a.predict]
    if len(set(names)) != len(names):
        raise SystemExit(f"--predict names must differ: {names}")

    set_seed(42)  # run_qa.py seeds before loading the model, so the new QA head starts the same every run
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForQuestionAnswering.from_pretrained(a.model)
    max_length = min(a.max_seq_length, tokenizer.model_max_length)

    train = read_squad(a.train)
    train_features = prepare_train_features(tokenizer, train, max_length, a.doc_stride)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_qa_recipe_"), num_train_epochs=a.epochs, learning_rate=a.lr,
        per_device_train_batch_size=a.bs, per_device_eval_batch_size=a.eval_bs, seed=42, bf16=False,
        save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, data_collator=default_data_collator,
                      train_dataset=Features(train_features, (*INPUTS, "start_positions", "end_positions")))
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start

    predicted: dict[str, Any] = {}
    for name, path in a.predict:
        examples = read_squad(path)
        start = time.perf_counter()
        features = prepare_validation_features(tokenizer, examples, max_length, a.doc_stride)
        output = trainer.predict(Features(features, INPUTS))
        nbest = postprocess_qa_predictions(examples, features, output.predictions[:2], a.n_best, a.max_answer_length)
        seconds = time.perf_counter() - start
        predicted[name] = {"file": str(path), "items": len(examples["id"]), "windows": len(features["input_ids"]),
                           "predict_s": seconds, "predict_items_per_s": len(examples["id"]) / seconds, "nbest": nbest}

    result = {
        "train_file": str(a.train), "train_items": len(train["id"]), "train_windows": len(train_features["input_ids"]),
        "epochs": a.epochs, "epochs_run": trainer.state.epoch, "train_s": train_s,
        "train_items_per_s": len(train["id"]) * trainer.state.epoch / train_s,
        "lr": a.lr, "batch_size": a.bs, "eval_batch_size": a.eval_bs, "max_seq_length": max_length,
        "doc_stride": a.doc_stride, "n_best": a.n_best, "max_answer_length": a.max_answer_length,
        "precision_mode": "fp32", "seed": 42, "torch_threads": torch.get_num_threads(), "model": a.model,
        "predictions": predicted,
    }
    a.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    summary = {key: value for key, value in result.items() if key != "predictions"}
    summary["predictions"] = {name: {k: v for k, v in p.items() if k != "nbest"} for name, p in predicted.items()}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
