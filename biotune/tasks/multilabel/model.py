"""The multi-label model as a standard Hugging Face folder: `AutoModelForSequenceClassification`
with ``problem_type="multi_label_classification"`` (one sigmoid score per label) and the label
names in `config.id2label`, so `pipeline("text-classification", top_k=None)` loads it and
applies the sigmoid itself.

`config.biotune` records the task, the head and what prediction must reproduce: the window
(`max_length`, `stride`) and the decision threshold tuned on dev (`Task.tune`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import AutoModelForSequenceClassification

from biotune.models.head_models import build_head_model, load_head_model, save_head_model
from biotune.tasks import require_checkpoint_task
from biotune.tasks.contract import Bundle

TASK = "multilabel"
PROBLEM_TYPE = "multi_label_classification"


def build_model(backbone: str, head: str, labels: Sequence[str], dropout: float,
                attention_dropout: float = 0.0) -> Bundle:
    """A fresh multi-label model on `backbone` (the classifier new, the encoder pre-trained)."""
    model, tokenizer, _ = build_head_model(AutoModelForSequenceClassification, TASK, backbone, head, dropout, attention_dropout,
                                           num_labels=len(labels), id2label=dict(enumerate(labels)),
                                           label2id={label: i for i, label in enumerate(labels)},
                                           problem_type=PROBLEM_TYPE)
    return Bundle(model, tokenizer)


def save_model(bundle: Bundle, folder: str | Path) -> None:
    save_head_model(bundle.model, bundle.tokenizer, folder)


def load_model(folder: str | Path) -> Bundle:
    """Load a folder written by `save_model` in eval mode; a `BiotuneError` names what is wrong."""
    require_checkpoint_task(folder, TASK)
    return Bundle(*load_head_model(AutoModelForSequenceClassification, folder, TASK,
                                   lambda config: None if config.problem_type == PROBLEM_TYPE
                                   else f"problem_type {PROBLEM_TYPE!r}"))
