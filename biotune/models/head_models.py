"""Tasks whose saved folder is a stock Hugging Face head model (`AutoModelForQuestionAnswering`,
`AutoModelForSequenceClassification` for yes/no, similarity and multi-label): one way to build
one on a backbone, save it and load it back with biotune's checks.

The folders stay standard (`transformers.pipeline` and `from_pretrained` read them); what a task
adds lives in `config.json`: its head options (`num_labels`, `problem_type`, `id2label`) and
``biotune: {task, head, dropout, ...}``. Each task keeps only what differs: its model class, those
options, and what its loaded config must hold. A head module of biotune's own (`mean_classifier`) is
saved the same way, by its own `save_pretrained`, and loaded as the class `load_head_model` finds for
the head `config.json` records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from transformers import AutoConfig, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer, resolve_backbone
from biotune.models.checkpoints import DROPOUT_KEYS, check_checkpoint, set_attention_dropout

HeadModel = tuple[PreTrainedModel, PreTrainedTokenizerBase]


def build_head_model(model_class: Any, task: str, backbone: str, head: str, dropout: float, attention_dropout: float,
                     **options: Any) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, dict[str, Any]]:
    """A model of `model_class` on `backbone` (the head new unless `backbone` is an earlier phase's
    folder, the encoder pre-trained), its tokenizer, and transformers' loading info (which weights
    were missing: a task may initialise a new head its own way). `options` go into the config;
    `attention_dropout` as `set_attention_dropout` says."""
    path = resolve_backbone(backbone)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False, **options)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load backbone {backbone!r}: {exc}") from exc
    for key in DROPOUT_KEYS:
        if hasattr(config, key):
            setattr(config, key, dropout)
    set_attention_dropout(config, attention_dropout)
    config.biotune = {"task": task, "head": head, "dropout": dropout}
    model, info = model_class.from_pretrained(path, config=config, trust_remote_code=False, output_loading_info=True)
    return model, load_tokenizer(path), info


def save_head_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: str | Path) -> None:
    """A standard Hugging Face folder: weights, config (labels and ``biotune`` settings) and tokenizer."""
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def load_head_model(model_class: Any, folder: str | Path, task: str,
                    accepts: Callable[[PretrainedConfig], str | None] = lambda config: None,
                    classes: Mapping[str, Any] | None = None) -> HeadModel:
    """Load a folder written by `save_head_model` in eval mode, as `model_class` or, where `config.json` records
    a head that `classes` names, as that head's class. A `BiotuneError` names what is wrong: not a folder of
    `task` (`config.json` lacks ``biotune.task``), a config `accepts` refuses (it returns what is missing, or
    None), or weights that do not cover the model."""
    folder = check_checkpoint(folder)
    config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    problem = (f"its config.json has no biotune.task {task!r}"
               if (getattr(config, "biotune", None) or {}).get("task") != task else accepts(config))
    if problem:
        raise BiotuneError(f"checkpoint {folder} is not a biotune {task} model ({problem})")
    model_class = (classes or {}).get(config.biotune.get("head"), model_class)
    model, info = model_class.from_pretrained(str(folder), config=config, trust_remote_code=False,
                                              output_loading_info=True)
    if info.get("missing_keys"):
        raise BiotuneError(f"checkpoint {folder}: the weights lack {len(info['missing_keys'])} tensor(s) "
                           f"({', '.join(sorted(info['missing_keys'])[:3])}); it is not a trained {task} model")
    return model.eval(), load_tokenizer(str(folder))
