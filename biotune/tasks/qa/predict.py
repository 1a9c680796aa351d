"""The QA predictors: the objects the CLI, library API, training's dev evaluation and the service call.

- `QaPredictor` (task ``qa``): questions with one or more contexts -> ranked answers with
  character offsets (`postprocess`: n-best per window, merged per question). Factoid questions
  keep the top `top_k`; list questions every answer whose merged score reaches the list
  threshold (tuned on the dev split after training and recorded in the model), at least one.
- `DecisionPredictor` (task ``yesno``): a question and its context -> yes / no (/ maybe). A
  context longer than one window is read in stride windows and the label probabilities are
  averaged over them, so no part of a long context is cut away.

`precision` as for the other tasks (`biotune.models.precision`); window settings default to what
training recorded in the model's config.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biotune.models.batches import token_batches
from biotune.models.precision import place
from biotune.tasks import task_spec
from biotune.tasks.contract import Bundle
from biotune.tasks.qa.examples import DecisionExample, QaExample, RankedAnswer
from biotune.tasks.qa.metrics import cut_list
from biotune.tasks.qa.models import load_qa_model
from biotune.tasks.qa.postprocess import context_probabilities, merge_answers, window_candidates
from biotune.tasks.qa.settings import QaSettings
from biotune.tasks.qa.windows import Window, cut_windows




def collate_windows(windows: Sequence[Window], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` (and `token_type_ids` where the model has them)."""
    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)  # (batch, subwords)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    types = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        n = len(window.input_ids)
        ids[row, :n] = torch.tensor(window.input_ids)
        mask[row, :n] = 1
        if window.token_type_ids is not None:
            types[row, :n] = torch.tensor(window.token_type_ids)
    batch = {"input_ids": ids, "attention_mask": mask}
    if windows[0].token_type_ids is not None:
        batch["token_type_ids"] = types
    return batch


class _WindowModel:
    """A loaded model run over windows in length-sorted batches (little padding), outputs back in order.

    A batch holds at most `batch_size` windows and, where the model records one (`training.eval_batch_tokens`),
    at most that many padded subwords: 64 windows of 512 subwords would be 16 times the batch of 64 short ones."""

    def __init__(self, bundle: Bundle, precision: str, batch_size: int, device: torch.device | str | None) -> None:
        model, self.device, self.precision, self.bf16 = place(bundle.model, precision, device)
        self.bundle = Bundle(model, bundle.tokenizer)
        self.batch_size = batch_size
        recorded = getattr(model.config, "biotune", None) or {}
        defaults = {**QaSettings().model_dump(), "max_length": task_spec(recorded.get("task", "qa")).max_length}
        self.settings = {**defaults, **recorded}  # what training recorded; the config's defaults for the rest
        self.batch_tokens: int | None = recorded.get("eval_batch_tokens")
        self.seconds = 0.0  # time spent predicting, for throughput reports

    def run(self, windows: Sequence[Window]) -> Iterator[tuple[list[int], Any]]:
        """(window indexes, model outputs) per batch; dropout off, the model's mode restored after."""
        model = self.bundle.model
        was_training = model.training
        batches = token_batches([len(w.input_ids) for w in windows], self.batch_size, self.batch_tokens)
        model.eval()
        try:
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                for rows in batches:
                    batch = collate_windows([windows[i] for i in rows], self.bundle.tokenizer.pad_token_id or 0)
                    yield rows, model(**{name: t.to(self.device) for name, t in batch.items()})
        finally:
            model.train(was_training)


class QaPredictor(_WindowModel):
    """Extractive QA: ranked answers per question, merged over its contexts."""

    def __init__(self, bundle: Bundle, precision: str = "autocast", batch_size: int = 64,
                 device: torch.device | str | None = None) -> None:
        super().__init__(bundle, precision, batch_size, device)
        self.list_threshold: float | None = self.settings["list_threshold"]

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto", batch_size: int = 64,
                        device: torch.device | str | None = None) -> QaPredictor:
        return cls(load_qa_model(path, "qa"), precision=precision, batch_size=batch_size, device=device)

    @property
    def type(self) -> str:
        """``factoid`` or ``list``: how answers are cut (top k, or a score threshold)."""
        return self.settings["type"]

    def rank(self, examples: Sequence[QaExample]) -> dict[str, list[RankedAnswer]]:
        """Every merged answer of every question (question id -> best first), uncut."""
        started = time.perf_counter()
        s = self.settings
        windows = cut_windows([e.question for e in examples], [e.context for e in examples], self.bundle.tokenizer,
                              s["max_length"], s["stride"], names=[e.id for e in examples])
        questions: dict[str, list[int]] = {}  # question id -> its examples, in input order
        for k, example in enumerate(examples):
            questions.setdefault(example.question_id, []).append(k)
        position = {k: i for members in questions.values() for i, k in enumerate(members)}
        spans: list[list[tuple[int, int, float]]] = [[] for _ in examples]  # per pair: candidates of all its windows
        for rows, outputs in self.run(windows):
            starts = outputs.start_logits.float().cpu().numpy()  # (batch, subwords)
            ends = outputs.end_logits.float().cpu().numpy()
            for row, start_logits, end_logits in zip(rows, starts, ends):
                window = windows[row]
                spans[window.example] += window_candidates(window, start_logits, end_logits, s["n_best"],
                                                           s["max_answer_length"])
        read: dict[str, list[tuple[int, int, int, float]]] = {q: [] for q in questions}
        for k, example in enumerate(examples):
            read[example.question_id] += [(position[k], start, end, p) for start, end, p in context_probabilities(spans[k])]
        ranked = {q: merge_answers([examples[k].context for k in members], read[q]) for q, members in questions.items()}
        self.seconds += time.perf_counter() - started
        return ranked

    def cut(self, answers: Sequence[RankedAnswer], top_k: int | None = None, type: str | None = None) -> list[RankedAnswer]:
        """A question's answers to report: the top k (factoid), or those at the list threshold (list, at least one).

        `type` is the question's (default: the model's); a list question is cut at the threshold
        by a model that has one (a list model), else it gets the top k too."""
        if (type or self.type) == "list" and self.list_threshold is not None and top_k is None:
            kept = cut_list({"": [(a.text, a.score) for a in answers]}, self.list_threshold)[""]  # the metric's one rule
            return list(answers[:len(kept)])  # merged answers are distinct and best first: the kept are a prefix
        return list(answers[:top_k or self.settings["top_k"]])

    def answer_examples(self, examples: Sequence[QaExample]) -> dict[str, list[RankedAnswer]]:
        """Question id -> its reported answers (see `cut`)."""
        return {q: self.cut(answers) for q, answers in self.rank(examples).items()}

    def answer(self, questions: Sequence[tuple[str, Sequence[str]]], top_k: int | None = 5) -> list[list[RankedAnswer]]:
        """One ranked list per (question, contexts); occurrences index into that question's contexts."""
        examples = [QaExample(f"{q}_{c}", str(q), question, context) for q, (question, contexts) in enumerate(questions)
                    for c, context in enumerate(contexts)]
        ranked = self.rank(examples)
        return [self.cut(ranked.get(str(q), []), top_k) for q in range(len(questions))]


@dataclass(frozen=True, slots=True)
class DecisionPrediction:
    """One question's predicted label and the probability of every label."""

    example_id: str
    label: str
    scores: dict[str, float]


class DecisionPredictor(_WindowModel):
    """Yes / no (/ maybe) from (question, context), probabilities averaged over a long context's windows."""

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto", batch_size: int = 64,
                        device: torch.device | str | None = None) -> DecisionPredictor:
        return cls(load_qa_model(path, "yesno"), precision=precision, batch_size=batch_size, device=device)

    @property
    def labels(self) -> tuple[str, ...]:
        id2label = self.bundle.model.config.id2label
        return tuple(id2label[i] for i in range(len(id2label)))

    def probabilities(self, examples: Sequence[DecisionExample]) -> np.ndarray:
        """(examples, labels): each example's mean label probability over its windows."""
        started = time.perf_counter()
        windows = cut_windows([e.question for e in examples], [e.context for e in examples], self.bundle.tokenizer,
                              self.settings["max_length"], self.settings["stride"], names=[e.id for e in examples])
        totals = np.zeros((len(examples), len(self.labels)))
        counts = np.zeros(len(examples))
        for rows, outputs in self.run(windows):
            probabilities = outputs.logits.float().softmax(dim=-1).cpu().numpy()  # (batch, labels)
            for row, p in zip(rows, probabilities):
                totals[windows[row].example] += p
                counts[windows[row].example] += 1
        self.seconds += time.perf_counter() - started
        return totals / np.maximum(counts, 1)[:, None]

    def predict(self, examples: Sequence[DecisionExample]) -> list[DecisionPrediction]:
        if not examples:
            return []
        probabilities = self.probabilities(examples)
        return [DecisionPrediction(e.id, self.labels[int(row.argmax())],
                                   {label: round(float(p), 6) for label, p in zip(self.labels, row)})
                for e, row in zip(examples, probabilities)]
