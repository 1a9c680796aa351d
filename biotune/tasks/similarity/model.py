"""The similarity model: a standard Hugging Face regression folder.

`AutoModelForSequenceClassification` with one output (`num_labels=1`) and
`problem_type="regression"`: the encoder's pooled first token, through a linear layer, is the
score on the gold scale. transformers reads `problem_type` to give that output as it is
(no sigmoid), so `pipeline("text-classification")` loads the folder and returns the score.
`config.biotune` records the task and head, and training's settings (`Task.record`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from biotune.models.head_models import build_head_model, load_head_model, save_head_model
from biotune.tasks import require_checkpoint_task
from biotune.tasks.contract import Bundle

TASK = "similarity"
OUTPUT = "similarity"  # the one output's name (`id2label`): what a pipeline shows as the label


def build_similarity_model(init: str, head: str, dropout: float, attention_dropout: float, mean_score: float) -> Bundle:
    """A model to train from `init` (a backbone: a new head; an earlier phase's model: its own head).

    A new head starts at `mean_score`, the training scores' mean (its output layer's bias; its
    weights start near zero, so every first prediction is about the mean) and the squared error
    at the scores' variance. Started at 0, the bias would crawl (AdamW moves it by about the
    learning rate a step: 160 steps at 5e-5 move it by under 0.01 towards BIOSSES's mean of 2.4)
    and the encoder would have to carry the offset: on BIOSSES with MiniLM the loss logged at
    epochs 6, 12 and 19 was 3.48, 1.14, 0.37 from 0 and 1.08, 0.19, 0.06 from the mean."""
    model, tokenizer, info = build_head_model(AutoModelForSequenceClassification, TASK, init, head, dropout, attention_dropout,
                                              num_labels=1, problem_type="regression", id2label={0: OUTPUT},
                                              label2id={OUTPUT: 0})
    name, output = [(name, m) for name, m in model.named_modules()
                    if isinstance(m, torch.nn.Linear) and m.out_features == 1][-1]  # the head's last layer
    if f"{name}.bias" in info.get("missing_keys", ()):
        with torch.no_grad():
            output.bias.fill_(mean_score)
    return Bundle(model, tokenizer)


def save_similarity_model(bundle: Bundle, folder: str | Path) -> None:
    save_head_model(bundle.model, bundle.tokenizer, folder)


def load_similarity_model(folder: str | Path) -> Bundle:
    """Load a folder written by `save_similarity_model` in eval mode; a `BiotuneError` names what is wrong."""
    require_checkpoint_task(folder, TASK)
    return Bundle(*load_head_model(AutoModelForSequenceClassification, folder, TASK,
                                   lambda config: None if config.num_labels == 1 else "one regression output"))
