"""One factory builds every token-classification model, with the head chosen by name.

Contract of a head builder: given a backbone path, the label list and the head options, it
returns a `transformers.PreTrainedModel` whose forward takes `input_ids`/`attention_mask` and
returns `.logits` of shape (batch, subwords, labels), and whose config carries `id2label` /
`label2id`, so that a saved folder is self-describing and loads with
`transformers.pipeline("token-classification")`. The `crf` head is the softmax model plus a
`crf` submodule (`biotune.tasks.ner.crf`); `save_model` moves its scores into the config and
`load_model` puts them back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from transformers import AutoConfig, AutoModelForTokenClassification, PretrainedConfig, PreTrainedModel

from biotune.formats.schemes import invalid_tags
from biotune.errors import BiotuneError
from biotune.models.backbones import resolve_backbone
from biotune.models.checkpoints import BROKEN_WEIGHTS, DROPOUT_KEYS, check_checkpoint, set_attention_dropout
from biotune.registry import Registry
from biotune.tasks.ner.crf import CRF
from biotune.tasks import require_checkpoint_task

log = logging.getLogger("biotune")



def build_softmax(backbone: str, labels: Sequence[str], dropout: float, attention_dropout: float) -> PreTrainedModel:
    """Backbone + dropout + linear layer, trained with cross-entropy (softmax over tags)."""
    path = resolve_backbone(backbone)
    try:
        config = AutoConfig.from_pretrained(
            path,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            trust_remote_code=False,
        )
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load backbone {backbone!r}: {exc}") from exc
    used = [key for key in DROPOUT_KEYS if hasattr(config, key)]
    for key in used:
        setattr(config, key, dropout)
    if not used:
        log.warning("%s has no classifier dropout setting; dropout %.2f not applied", type(config).__name__, dropout)
    set_attention_dropout(config, attention_dropout)
    return AutoModelForTokenClassification.from_pretrained(path, config=config, trust_remote_code=False)


def build_crf(backbone: str, labels: Sequence[str], dropout: float, attention_dropout: float) -> PreTrainedModel:
    """The softmax model's emissions under a linear-chain CRF (sequence-level loss, learned transitions).

    Starting from a biotune CRF checkpoint with the same `id2label` (a sequential strategy's next
    phase), the learned transition scores carry over; otherwise they start at zero. The same
    label count is not enough: a transition score belongs to a pair of labels, not of indices.
    """
    model = build_softmax(backbone, labels, dropout, attention_dropout)
    previous = _crf_scores(model.config)  # the config read from `backbone` keeps its `biotune` entry
    model.crf = CRF.from_scores(previous) if previous is not None and _saved_labels(backbone) == list(labels) \
        else CRF(len(labels))
    return model


def _saved_labels(backbone: str) -> list[str]:
    """The label list a checkpoint was saved with (`build_softmax` replaces it in the model's config)."""
    id2label = AutoConfig.from_pretrained(resolve_backbone(backbone), trust_remote_code=False).id2label
    return [label for _, label in sorted((int(i), label) for i, label in id2label.items())]


HEADS: Registry[Callable[[str, Sequence[str], float, float], PreTrainedModel]] = Registry(
    "head", {"softmax": build_softmax, "crf": build_crf})


def build_model(backbone: str, labels: Sequence[str], head: str = "softmax", dropout: float = 0.3,
                attention_dropout: float = 0.0) -> PreTrainedModel:
    """Build a fresh token classifier for `labels` on `backbone` with the named head (`attention_dropout`:
    `biotune.models.checkpoints.set_attention_dropout`)."""
    return HEADS.lookup(head)(backbone, labels, dropout, attention_dropout)


def load_model(checkpoint: str | Path) -> PreTrainedModel:
    """Load a trained biotune (or any BIO token-classification) checkpoint folder.

    Every problem is a `BiotuneError` naming the folder: see `check_checkpoint`; weights that
    do not load (truncated, damaged) or do not cover the model (a backbone without its
    classifier would tag at random); labels that are not BIO tags (`LABEL_0`: not a NER model).
    """
    folder = check_checkpoint(checkpoint)
    require_checkpoint_task(folder, "ner")
    try:
        model, info = AutoModelForTokenClassification.from_pretrained(str(folder), trust_remote_code=False,
                                                                      output_loading_info=True)
    except BROKEN_WEIGHTS as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BiotuneError(f"cannot load checkpoint {folder}: its weights or config are damaged ({reason})") from None
    labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    bad = invalid_tags(labels, "bio")
    if bad:
        shown = ", ".join(label for _, label in bad[:3])
        raise BiotuneError(f"checkpoint {folder} is not a biotune NER model: its labels ({shown}"
                           f"{', ...' if len(bad) > 3 else ''}) are not O / B-TYPE / I-TYPE tags")
    missing = info.get("missing_keys") or []
    if missing:
        raise BiotuneError(f"checkpoint {folder}: the weights lack {len(missing)} tensor(s) of the model "
                           f"({', '.join(sorted(missing)[:3])}); it is not a trained token classifier")
    scores = _crf_scores(model.config)
    if scores is not None:
        model.crf = CRF.from_scores(scores)
    return model.eval()


def save_model(model: PreTrainedModel, folder: str | Path) -> None:
    """Write `model` as a standard Hugging Face folder; a CRF's scores go into `config.biotune["crf"]`."""
    crf = getattr(model, "crf", None)
    state = model.state_dict()
    if isinstance(crf, CRF):
        model.config.biotune = {**(getattr(model.config, "biotune", None) or {}), "crf": crf.scores()}
        state = {k: v for k, v in state.items() if not k.startswith("crf.")}
    model.save_pretrained(str(folder), state_dict=state)


def _crf_scores(config: PretrainedConfig) -> dict | None:
    return (getattr(config, "biotune", None) or {}).get("crf")
