"""The similarity models, by head (`HEADS`), with one save and one load for both.

- ``cls``, a cross-encoder: a standard Hugging Face regression folder,
  `AutoModelForSequenceClassification` with one output (`num_labels=1`) and
  `problem_type="regression"`: the encoder's pooled first token of the pair, through a linear layer,
  is the score on the gold scale. transformers reads `problem_type` to give that output as it is
  (no sigmoid), so `pipeline("text-classification")` loads the folder and returns the score.
- ``biencoder``: each sentence embedded alone, their cosine mapped to the gold scale
  (`biencoder.BiEncoderSimilarity`); its folder is the encoder's own, and a sentence-transformers one.

`config.biotune` records the task and head, and training's settings (`Task.record`); `load`
rebuilds the head it names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from biotune.models.head_models import build_head_model, load_head_model, save_head_model
from biotune.registry import Registry
from biotune.tasks import require_checkpoint_task
from biotune.tasks.contract import Bundle
from biotune.tasks.similarity import TASK
from biotune.tasks.similarity.biencoder import (HEAD as BIENCODER, BiEncoderSimilarity, build_biencoder, load_biencoder,
                                               save_biencoder)

OUTPUT = "similarity"  # the one output's name (`id2label`): what a pipeline shows as the label


def build_cross_encoder(init: str, dropout: float, attention_dropout: float, scores: Sequence[float]) -> Bundle:
    """A cross-encoder to train from `init` (a backbone: a new head; an earlier phase's model: its own head).

    A new head starts at the training scores' mean (its output layer's bias; its weights start
    near zero, so every first prediction is about the mean) and the squared error at the scores'
    variance. Started at 0, the bias would crawl (AdamW moves it by about the learning rate a
    step: 160 steps at 5e-5 move it by under 0.01 towards BIOSSES's mean of 2.4) and the encoder
    would have to carry the offset: on BIOSSES with MiniLM the loss logged at epochs 6, 12 and 19
    was 3.48, 1.14, 0.37 from 0 and 1.08, 0.19, 0.06 from the mean."""
    model, tokenizer, info = build_head_model(AutoModelForSequenceClassification, TASK, init, "cls", dropout,
                                              attention_dropout, num_labels=1, problem_type="regression",
                                              id2label={0: OUTPUT}, label2id={OUTPUT: 0})
    name, output = [(name, m) for name, m in model.named_modules()
                    if isinstance(m, torch.nn.Linear) and m.out_features == 1][-1]  # the head's last layer
    if f"{name}.bias" in info.get("missing_keys", ()):
        with torch.no_grad():
            output.bias.fill_(sum(scores) / len(scores) if scores else 0.0)
    return Bundle(model, tokenizer)


HEADS: Registry[Callable[[str, float, float, Sequence[float]], Bundle]] = Registry("similarity head", {
    "cls": build_cross_encoder,
    BIENCODER: build_biencoder,
})


def build_similarity_model(init: str, head: str, dropout: float, attention_dropout: float,
                           scores: Sequence[float]) -> Bundle:
    """A model of `head` to train from `init`; `scores` are the training pairs' gold scores (a new head starts from them)."""
    return HEADS.lookup(head, where="model.head")(init, dropout, attention_dropout, scores)


def model_head(model: PreTrainedModel) -> str:
    """The head a model was built with (`config.biotune`), which says how it reads a pair."""
    return (getattr(model.config, "biotune", None) or {}).get("head", "cls")


def save_similarity_model(bundle: Bundle, folder: str | Path) -> None:
    if isinstance(bundle.model, BiEncoderSimilarity):
        save_biencoder(bundle.model, bundle.tokenizer, folder)
    else:
        save_head_model(bundle.model, bundle.tokenizer, folder)


def load_similarity_model(folder: str | Path) -> Bundle:
    """Load a folder written by `save_similarity_model` in eval mode; a `BiotuneError` names what is wrong."""
    require_checkpoint_task(folder, TASK)
    if _recorded_head(folder) == BIENCODER:
        return load_biencoder(folder)
    return Bundle(*load_head_model(AutoModelForSequenceClassification, folder, TASK,
                                   lambda config: None if config.num_labels == 1 else "one regression output"))


def _recorded_head(folder: str | Path) -> str | None:
    """The head `config.json` records, read before any weights load; None where it cannot be read (the
    checkpoint checks of the load then name what is wrong with the folder)."""
    try:
        return (json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("biotune") or {}).get("head")
    except (OSError, ValueError, AttributeError):
        return None
