"""The sequence classifiers a text-classification task trains (multi-label, yes/no), by head: the
stock one over the encoder's first token, or mean pooling over every real token.

- any head but ``mean`` (a task's ``sigmoid``, ``cls``): `AutoModelForSequenceClassification`, the
  encoder's pooler over [CLS] and a linear layer; a standard folder `pipeline("text-classification")`
  loads.
- ``mean`` (`MeanPoolClassifier`): the mean of the encoder's last hidden states over the attention
  mask (`mean_pool`, fp32), dropout (`model.dropout`), a linear layer to `num_labels`.

Why a second head: a sentence-embedding backbone (the bundled all-MiniLM-L6-v2) was trained with
mean pooling; its [CLS] state never stood for the sentence and its `pooler.dense` is untrained
(bias 0, weight std 0.009). On HoC the [CLS] head stayed at the base-rate loss through 3 epochs
(dev 32.2 after the first, what labelling everything earns; test abstract micro-F1 36.41), while
the frozen mean-pooled embedding under a logistic regression per label reached test 65.8.

Both give `SequenceClassifierOutput.logits` (batch, num_labels), so a task's loss and predictor
read either. The ``mean`` folder is the module's own `save_pretrained` (`config.json` with the
labels, `problem_type` and ``biotune.head: "mean"``; weights ``encoder.*`` and ``classifier.*``):
`load_classifier` rebuilds the head `config.json` records. transformers alone cannot load it as
this class: its `pipeline` would rebuild a [CLS] head with a new, random classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModel, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from biotune.errors import BiotuneError
from biotune.models.backbones import backbone_config
from biotune.models.head_models import HeadModel, build_head_model, load_head_model
from biotune.models.sentence_encoders import MeanPooledEncoder

MEAN_HEAD = "mean"
# What a model card says of a ``mean`` folder where a stock one shows `transformers.pipeline`.
MEAN_HEAD_FOLDER = """The folder holds biotune's mean-pooling classifier (`model.head: mean`,
`biotune.models.mean_classifier.MeanPoolClassifier`): the encoder's last hidden states averaged over
every real token, then dropout and a linear layer, its weights named `encoder.*` and `classifier.*`.
`pipeline("text-classification")` cannot load it (it would rebuild a [CLS] head with a new, random
classifier): load it with biotune."""


class MeanPoolClassifier(MeanPooledEncoder):
    """Encoder + mean pooling + dropout + linear; `logits` (batch, num_labels) as the stock head gives them.

    Built on a loaded encoder (`build_classifier`) or, by `from_pretrained` on its own folder, on an
    empty one of the config's architecture that the saved ``encoder.*`` weights fill."""

    def __init__(self, config: PretrainedConfig, encoder: PreTrainedModel | None = None) -> None:
        super().__init__(config, encoder if encoder is not None else AutoModel.from_config(config))
        self.dropout = nn.Dropout(config.biotune["dropout"])
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()  # a new classifier as transformers starts its own; a loaded encoder is left as it is

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> SequenceClassifierOutput:
        """The scores of each input; the mean is taken in fp32 and handed to the classifier in the weights'
        precision (bf16 weights take bf16; int8 quantised layers take fp32)."""
        pooled = self.embed(input_ids, attention_mask, token_type_ids)  # (batch, hidden), fp32
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled.to(self.dtype))))  # (batch, labels)


def build_classifier(task: str, init: str, head: str, labels: Sequence[str], dropout: float,
                     attention_dropout: float, **options: Any) -> HeadModel:
    """A classifier of `head` over `labels` (in id order: `config.id2label`) to train from `init`, `options`
    (`problem_type`) in its config as `build_head_model` says. From a backbone or a model of another head:
    its encoder (`AutoModel` reads any of them) under a new classifier; from an earlier phase's model of the
    same head: itself, classifier included. A ``mean`` model cannot start a stock head: that class would
    find none of its weights and start from random ones."""
    options |= {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                "label2id": {label: i for i, label in enumerate(labels)}}
    earlier = (getattr(backbone_config(init), "biotune", None) or {}).get("head")
    if head != MEAN_HEAD:
        if earlier == MEAN_HEAD:
            raise BiotuneError(f"model.head {head!r} cannot start from {init}: it was trained with head "
                               f"{MEAN_HEAD!r}, whose weights a {head!r} model does not read; keep model.head "
                               f"{MEAN_HEAD!r} or start from its backbone")
        model, tokenizer, _ = build_head_model(AutoModelForSequenceClassification, task, init, head, dropout,
                                               attention_dropout, **options)
        return model, tokenizer
    own = earlier == MEAN_HEAD
    model, tokenizer, _ = build_head_model(MeanPoolClassifier if own else AutoModel, task, init, head, dropout,
                                           attention_dropout, **options)
    return (model if own else MeanPoolClassifier(model.config, model)), tokenizer


def load_classifier(folder: str | Path, task: str,
                    accepts: Callable[[PretrainedConfig], str | None] = lambda config: None) -> HeadModel:
    """Load a folder of either head, as its `config.json` records, in eval mode; `load_head_model`'s checks."""
    return load_head_model(AutoModelForSequenceClassification, folder, task, accepts,
                           classes={MEAN_HEAD: MeanPoolClassifier})
