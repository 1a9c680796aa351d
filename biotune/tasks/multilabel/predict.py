"""The multi-label predictor: the object training's dev evaluation, `evaluate`, the library and
`Task.predict_records` call.

Texts -> windows (`windows`) -> one sigmoid probability per label and window -> the maximum
over a text's windows -> the labels whose probability reaches the threshold the model recorded
(tuned on dev after training; `DEFAULT_THRESHOLD` for a model that has none). Windows run in
length-sorted batches (little padding) and come back in input order, so batching never changes
a result. `precision` as for the other tasks (`biotune.models.precision`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from biotune.models.precision import place
from biotune.tasks import task_spec
from biotune.tasks.contract import Bundle
from biotune.tasks.multilabel.metrics import DEFAULT_THRESHOLD, decide
from biotune.tasks.multilabel.model import TASK, load_model
from biotune.tasks.multilabel.windows import Window, cut_windows, default_stride


@dataclass(frozen=True, slots=True)
class LabelPrediction:
    """One text's predicted labels (in label order) and every label's probability."""

    labels: tuple[str, ...]
    scores: dict[str, float]


class MultiLabelPredictor:
    """Labels for texts with a trained multi-label model (see the module docstring)."""

    def __init__(self, bundle: Bundle, precision: str = "autocast", batch_size: int = 64,
                 device: torch.device | str | None = None) -> None:
        model, self.device, self.precision, self.bf16 = place(bundle.model, precision, device)
        self.bundle = Bundle(model, bundle.tokenizer)
        self.batch_size = batch_size
        recorded = getattr(model.config, "biotune", None) or {}
        self.max_length: int = recorded.get("max_length", task_spec(TASK).max_length)
        self.stride: int = recorded.get("stride", default_stride(self.max_length, bundle.tokenizer))
        self.recorded_threshold: float | None = recorded.get("threshold")  # None until `Task.tune` sets it
        id2label = model.config.id2label
        self.labels = tuple(id2label[i] for i in range(len(id2label)))
        self.seconds = 0.0  # time spent predicting, for throughput reports

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto", batch_size: int = 64,
                        device: torch.device | str | None = None) -> MultiLabelPredictor:
        return cls(load_model(path), precision=precision, batch_size=batch_size, device=device)

    @property
    def threshold(self) -> float:
        """The probability a label must reach: the recorded one, else `DEFAULT_THRESHOLD`."""
        return DEFAULT_THRESHOLD if self.recorded_threshold is None else self.recorded_threshold

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, labels): each label's highest probability over the text's windows."""
        started = time.perf_counter()
        windows = cut_windows(texts, self.bundle.tokenizer, self.max_length, self.stride)
        best = np.zeros((len(texts), len(self.labels)))
        for rows, probabilities in self._run(windows):
            for row, p in zip(rows, probabilities):
                text = windows[row].example
                best[text] = np.maximum(best[text], p)
        self.seconds += time.perf_counter() - started
        return best

    def predict(self, texts: Sequence[str]) -> list[LabelPrediction]:
        if not texts:
            return []
        probabilities = self.probabilities(texts)
        return [LabelPrediction(labels, {label: round(float(p), 6) for label, p in zip(self.labels, row)})
                for labels, row in zip(decide(probabilities, self.labels, self.threshold), probabilities)]

    def _run(self, windows: Sequence[Window]) -> list[tuple[list[int], np.ndarray]]:
        """(window indexes, their (batch, labels) probabilities) per batch; dropout off, the mode restored after."""
        model = self.bundle.model
        was_training = model.training
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        pad = self.bundle.tokenizer.pad_token_id or 0
        out = []
        model.eval()
        try:
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                for begin in range(0, len(order), self.batch_size):
                    rows = order[begin:begin + self.batch_size]
                    batch = pad_windows([windows[i].input_ids for i in rows], pad)
                    logits = model(**{name: t.to(self.device) for name, t in batch.items()}).logits
                    out.append((rows, torch.sigmoid(logits.float()).cpu().numpy()))  # (batch, labels)
        finally:
            model.train(was_training)
        return out


def pad_windows(input_ids: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids` and their `attention_mask`."""
    width = max(len(ids) for ids in input_ids)
    ids = torch.full((len(input_ids), width), pad_id, dtype=torch.long)  # (batch, subwords)
    mask = torch.zeros((len(input_ids), width), dtype=torch.long)
    for row, window in enumerate(input_ids):
        ids[row, :len(window)] = torch.tensor(window, dtype=torch.long)
        mask[row, :len(window)] = 1
    return {"input_ids": ids, "attention_mask": mask}
