"""The two question-answering models, as standard Hugging Face folders.

- ``span`` (task ``qa``): `AutoModelForQuestionAnswering` (start and end logits over the window's
  subwords): a standard folder for `AutoModelForQuestionAnswering.from_pretrained` (transformers 5
  has no question-answering pipeline any more; `QaPredictor` does its n-best and merging).
- ``cls`` (task ``yesno``): `AutoModelForSequenceClassification` over (question, context), the
  labels in `config.id2label`, which `pipeline("text-classification")` loads.

`config.biotune` records the task, the head and the settings prediction must reproduce
(window, stride, answer search, a tuned list threshold): a saved folder predicts as the run did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import AutoModelForQuestionAnswering, AutoModelForSequenceClassification

from biotune.models.head_models import build_head_model, load_head_model, save_head_model
from biotune.tasks import require_checkpoint_task
from biotune.tasks.contract import Bundle

MODEL_CLASSES = {"qa": AutoModelForQuestionAnswering, "yesno": AutoModelForSequenceClassification}


def build_qa_model(task: str, backbone: str, head: str, labels: Sequence[str], dropout: float,
                   attention_dropout: float = 0.0) -> Bundle:
    """A fresh model of `task` on `backbone` (the head's weights new, the encoder's pre-trained)."""
    options = {}
    if task == "yesno":
        options = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                   "label2id": {label: i for i, label in enumerate(labels)}}
    model, tokenizer, _ = build_head_model(MODEL_CLASSES[task], task, backbone, head, dropout, attention_dropout,
                                           **options)
    return Bundle(model, tokenizer)


def save_qa_model(bundle: Bundle, folder: str | Path) -> None:
    save_head_model(bundle.model, bundle.tokenizer, folder)


def load_qa_model(folder: str | Path, task: str) -> Bundle:
    """Load a folder written by `save_qa_model` in eval mode; a `BiotuneError` names what is wrong."""
    require_checkpoint_task(folder, task)
    return Bundle(*load_head_model(MODEL_CLASSES[task], folder, task))
