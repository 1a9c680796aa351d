"""The question-answering models, as Hugging Face folders.

- ``span`` (task ``qa``): `AutoModelForQuestionAnswering` (start and end logits over the window's
  subwords): a standard folder for `AutoModelForQuestionAnswering.from_pretrained` (transformers 5
  has no question-answering pipeline any more; `QaPredictor` does its n-best and merging).
- task ``yesno``, by head (`biotune.models.mean_classifier`), over (question, context) with the labels
  in `config.id2label`: ``cls``, a standard `AutoModelForSequenceClassification` folder over the [CLS]
  state that `pipeline("text-classification")` loads; ``mean``, mean pooling over every real token
  under the classifier (`MeanPoolClassifier`), which biotune's predictor loads.

`config.biotune` records the task, the head and the settings prediction must reproduce
(window, stride, answer search, a tuned list threshold): a saved folder predicts as the run did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import AutoModelForQuestionAnswering

from biotune.models.head_models import build_head_model, load_head_model, save_head_model
from biotune.models.mean_classifier import build_classifier, load_classifier
from biotune.tasks import require_checkpoint_task
from biotune.tasks.contract import Bundle

DECISION_TASK = "yesno"  # the sequence classifier; every other QA task extracts spans


def build_qa_model(task: str, backbone: str, head: str, labels: Sequence[str], dropout: float,
                   attention_dropout: float = 0.0) -> Bundle:
    """A fresh model of `task` and `head` on `backbone` (the head's weights new, the encoder's pre-trained)."""
    if task == DECISION_TASK:
        return Bundle(*build_classifier(task, backbone, head, labels, dropout, attention_dropout))
    model, tokenizer, _ = build_head_model(AutoModelForQuestionAnswering, task, backbone, head, dropout,
                                           attention_dropout)
    return Bundle(model, tokenizer)


def save_qa_model(bundle: Bundle, folder: str | Path) -> None:
    save_head_model(bundle.model, bundle.tokenizer, folder)


def load_qa_model(folder: str | Path, task: str) -> Bundle:
    """Load a folder written by `save_qa_model` (a yes/no one of either head) in eval mode; a `BiotuneError`
    names what is wrong."""
    require_checkpoint_task(folder, task)
    if task == DECISION_TASK:
        return Bundle(*load_classifier(folder, task))
    return Bundle(*load_head_model(AutoModelForQuestionAnswering, folder, task))
