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

from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoModelForSequenceClassification

from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer, resolve_backbone
from biotune.models.checkpoints import DROPOUT_KEYS, check_checkpoint
from biotune.tasks.contract import Bundle
from biotune.tasks import require_checkpoint_task

MODEL_CLASSES = {"qa": AutoModelForQuestionAnswering, "yesno": AutoModelForSequenceClassification}


def build_qa_model(task: str, backbone: str, head: str, labels: Sequence[str], dropout: float) -> Bundle:
    """A fresh model of `task` on `backbone` (the head's weights new, the encoder's pre-trained)."""
    path = resolve_backbone(backbone)
    options = {}
    if task == "yesno":
        options = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                   "label2id": {label: i for i, label in enumerate(labels)}}
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False, **options)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load backbone {backbone!r}: {exc}") from exc
    for key in DROPOUT_KEYS:
        if hasattr(config, key):
            setattr(config, key, dropout)
    config.biotune = {"task": task, "head": head, "dropout": dropout}
    model = MODEL_CLASSES[task].from_pretrained(path, config=config, trust_remote_code=False)
    return Bundle(model, load_tokenizer(path))


def save_qa_model(bundle: Bundle, folder: str | Path) -> None:
    bundle.model.save_pretrained(str(folder))
    bundle.tokenizer.save_pretrained(str(folder))


def load_qa_model(folder: str | Path, task: str) -> Bundle:
    """Load a folder written by `save_qa_model` in eval mode; a `BiotuneError` names what is wrong."""
    folder = check_checkpoint(folder)
    require_checkpoint_task(folder, task)
    config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    if (getattr(config, "biotune", None) or {}).get("task") != task:
        raise BiotuneError(f"checkpoint {folder} is not a biotune {task} model (its config.json has no biotune.task {task!r})")
    model, info = MODEL_CLASSES[task].from_pretrained(str(folder), config=config, trust_remote_code=False,
                                                      output_loading_info=True)
    if info.get("missing_keys"):
        raise BiotuneError(f"checkpoint {folder}: the weights lack {len(info['missing_keys'])} tensor(s) "
                           f"({', '.join(sorted(info['missing_keys'])[:3])}); it is not a trained {task} model")
    return Bundle(model.eval(), load_tokenizer(str(folder)))
