"""One factory builds every token-classification model, with the head chosen by name.

Contract of a head builder: given a backbone path, the label list and the head options, it
returns a `transformers.PreTrainedModel` whose forward takes `input_ids`/`attention_mask` and
returns `.logits` of shape (batch, subwords, labels), and whose config carries `id2label` /
`label2id`, so that a saved folder is self-describing and loads with
`transformers.pipeline("token-classification")`. A CRF head will register here.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence

from transformers import AutoConfig, AutoModelForTokenClassification, PreTrainedModel

from biotune.errors import BiotuneError
from biotune.models.backbones import resolve_backbone

log = logging.getLogger("biotune")

# Config attributes that the token-classification heads of transformers read for the dropout
# in front of the classifier (BERT/RoBERTa/ELECTRA/DeBERTa use the first, ALBERT the second).
DROPOUT_KEYS = ("classifier_dropout", "classifier_dropout_prob")


def build_softmax(backbone: str, labels: Sequence[str], dropout: float) -> PreTrainedModel:
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
    return AutoModelForTokenClassification.from_pretrained(path, config=config, trust_remote_code=False)


HEADS: dict[str, Callable[[str, Sequence[str], float], PreTrainedModel]] = {"softmax": build_softmax}


def build_model(backbone: str, labels: Sequence[str], head: str = "softmax", dropout: float = 0.3) -> PreTrainedModel:
    """Build a fresh token classifier for `labels` on `backbone` with the named head."""
    if head not in HEADS:
        hint = difflib.get_close_matches(head, HEADS, n=1)
        raise BiotuneError(f"unknown head {head!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {sorted(HEADS)}"))
    return HEADS[head](backbone, labels, dropout)


def load_model(checkpoint: str) -> PreTrainedModel:
    """Load a trained biotune (or any token-classification) checkpoint folder."""
    try:
        model = AutoModelForTokenClassification.from_pretrained(checkpoint, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load checkpoint {checkpoint!r}: {exc}") from exc
    return model.eval()
