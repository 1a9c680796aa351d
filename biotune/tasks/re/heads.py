"""The two relation-classification heads, on any Hugging Face encoder, with save and load.

- ``cls``: classification of the first token (`AutoModelForSequenceClassification`). Its
  folder is a standard sequence-classification model with `id2label`, so
  `transformers.pipeline("text-classification")` loads it and, given a marked text
  (`markers.mark`), scores exactly what biotune scores.
- ``entity_start``: Zhou & Chen's improved baseline: the encoder's hidden states at the two
  entity-start markers, concatenated, dropout, linear (`EntityStartClassifier`).

Both read marked input (`markers.featurise`) with the marker and mask tokens added to the
tokenizer; the embedding matrix is resized to the tokenizer, and since `config.vocab_size`
follows the resize, the grown matrix is what a saved folder holds and what loads back.

Save format: one standard folder (`save_pretrained`: config.json, model.safetensors, the
tokenizer with its added tokens). `config.json` carries ``biotune: {task: "re", head,
markers: {types, masks}, dropout}``; `load_relation_model` reads the head name there and
rebuilds the same class. `EntityStartClassifier` is a `PreTrainedModel` whose state holds
`encoder.*` and `classifier.*`, so its head weights live in the one weights file and
save -> load gives identical predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import (AutoConfig, AutoModel, AutoModelForSequenceClassification, PretrainedConfig,
                          PreTrainedModel, PreTrainedTokenizerBase)
from transformers.modeling_outputs import SequenceClassifierOutput

from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer, resolve_backbone
from biotune.models.batches import token_batches
from biotune.models.checkpoints import DROPOUT_KEYS, check_checkpoint, set_attention_dropout
from biotune.registry import Registry
from biotune.tasks.re.markers import MarkerScheme, RelationFeature, add_marker_tokens, collate
from biotune.tasks import require_checkpoint_task


class EntityStartClassifier(PreTrainedModel):
    """Encoder + classifier over the concatenated hidden states at the E1 and E2 start markers.

    The config is the encoder's own (BertConfig, RobertaConfig, ...) plus `num_labels`,
    `id2label` and `config.biotune["dropout"]`; the encoder is rebuilt from it with
    `AutoModel.from_config`, so any encoder works without a model class per architecture.
    """

    base_model_prefix = "encoder"
    _supports_sdpa = True  # lets the encoder keep the attention kernel it was built with when loading

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__(config)
        self.encoder = AutoModel.from_config(config)
        self.dropout = nn.Dropout(config.biotune["dropout"])
        self.classifier = nn.Linear(2 * config.hidden_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.encoder.set_input_embeddings(value)

    def _init_weights(self, module: nn.Module) -> None:
        """Only the classifier is ours to initialise; the encoder's weights come from its checkpoint."""
        if module is self.classifier:
            nn.init.normal_(module.weight, std=self.config.initializer_range)
            nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                entity_starts: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> SequenceClassifierOutput:
        if entity_starts is None:
            raise ValueError("EntityStartClassifier needs entity_starts (batch, 2): collate(..., entity_starts=True)")
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (batch, tokens, hidden)
        rows = torch.arange(hidden.shape[0], device=hidden.device)[:, None]  # (batch, 1)
        pair = hidden[rows, entity_starts].flatten(1)  # (batch, 2 * hidden)
        logits = self.classifier(self.dropout(pair))  # (batch, labels)
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def _build_cls(path: str, config: PretrainedConfig) -> PreTrainedModel:
    return AutoModelForSequenceClassification.from_pretrained(path, config=config, trust_remote_code=False)


def _build_entity_start(path: str, config: PretrainedConfig) -> PreTrainedModel:
    """Load the encoder through `AutoModel`, which knows every checkpoint's key layout (`bert.*`, bare, ...)."""
    model = EntityStartClassifier(config)
    model.encoder.load_state_dict(AutoModel.from_pretrained(path, config=config, trust_remote_code=False).state_dict())
    return model


HEADS: Registry[Callable[[str, PretrainedConfig], PreTrainedModel]] = Registry("relation head", {
    "cls": _build_cls,
    "entity_start": _build_entity_start,
})
READS_ENTITY_STARTS = {"cls": False, "entity_start": True}


@dataclass(slots=True)
class RelationModel:
    """What training and prediction pass around: the model, its tokenizer (with markers) and its marker scheme."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    scheme: MarkerScheme

    @property
    def head(self) -> str:
        return self.model.config.biotune["head"]

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names in id order (`config.id2label`)."""
        id2label = self.model.config.id2label
        return tuple(id2label[i] for i in range(len(id2label)))

    def collate(self, features: Sequence[RelationFeature]) -> dict[str, torch.Tensor]:
        """A padded batch with exactly the inputs this head's forward takes."""
        return collate(features, self.tokenizer.pad_token_id, READS_ENTITY_STARTS[self.head])


def build_relation_model(backbone: str, head: str, labels: Sequence[str], scheme: MarkerScheme,
                         dropout: float = 0.1, attention_dropout: float = 0.0) -> RelationModel:
    """A fresh relation classifier for `labels` on `backbone` with the named head and the scheme's tokens added."""
    build = HEADS.lookup(head)
    path = resolve_backbone(backbone)
    tokenizer = load_tokenizer(path)
    vocabulary = tokenizer.get_vocab()
    pieces = {token: tokenizer(token, add_special_tokens=False)["input_ids"] for token in scheme.tokens()
              if token not in vocabulary}
    add_marker_tokens(tokenizer, scheme)
    try:
        config = AutoConfig.from_pretrained(path, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                            label2id={label: i for i, label in enumerate(labels)},
                                            trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load backbone {backbone!r}: {exc}") from exc
    for key in DROPOUT_KEYS:
        if hasattr(config, key):
            setattr(config, key, dropout)
    set_attention_dropout(config, attention_dropout)  # 0: the fused attention kernel (see there)
    config.biotune = {"task": "re", "head": head, "markers": scheme.to_dict(), "dropout": dropout}
    model = build(path, config)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    _start_from_pieces(model, tokenizer, pieces)
    return RelationModel(model, tokenizer, scheme)


def _start_from_pieces(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pieces: dict[str, list[int]]) -> None:
    """Each added marker or mask starts as the mean embedding of the subwords its text was split into.

    `@GENE$` then starts where the backbone's own reading of "@ gene $" is, and `[E1:GENE]` near
    "[ e1 : gene ]": what the plain recipe reads from pre-trained embeddings, the marker model
    starts from too, instead of from random vectors that a few epochs of training must first
    move. A token whose text the backbone cannot read (only unknown subwords) keeps its random start.
    """
    weight = model.get_input_embeddings().weight  # (vocabulary, hidden)
    with torch.no_grad():
        for token, ids in pieces.items():
            known = [i for i in ids if i != tokenizer.unk_token_id]
            if known:
                weight[tokenizer.convert_tokens_to_ids(token)] = weight[known].mean(dim=0)


def save_relation_model(relation_model: RelationModel, folder: str | Path) -> None:
    """Write model and tokenizer into `folder` as one standard Hugging Face folder (see the module docstring)."""
    relation_model.model.save_pretrained(str(folder))
    relation_model.tokenizer.save_pretrained(str(folder))


def load_relation_model(folder: str | Path) -> RelationModel:
    """Load a folder written by `save_relation_model`, in eval mode; a `BiotuneError` names what is wrong."""
    folder = check_checkpoint(folder)
    require_checkpoint_task(folder, "re")
    config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    settings = getattr(config, "biotune", None) or {}
    if settings.get("task") != "re" or settings.get("head") not in HEADS:
        raise BiotuneError(f"checkpoint {folder} is not a biotune relation model (its config.json has no "
                           "biotune.task 're' with a known head)")
    model_class = AutoModelForSequenceClassification if settings["head"] == "cls" else EntityStartClassifier
    model, info = model_class.from_pretrained(str(folder), config=config, trust_remote_code=False,
                                              output_loading_info=True)
    if info.get("missing_keys"):
        raise BiotuneError(f"checkpoint {folder}: the weights lack {len(info['missing_keys'])} tensor(s) "
                           f"({', '.join(sorted(info['missing_keys'])[:3])}); it is not a trained relation model")
    tokenizer = load_tokenizer(str(folder))
    scheme = MarkerScheme.from_dict(settings["markers"])
    absent = [token for token in scheme.tokens() if tokenizer.convert_tokens_to_ids(token) == tokenizer.unk_token_id]
    if absent:
        raise BiotuneError(f"checkpoint {folder}: its tokenizer lacks the marker tokens {', '.join(absent[:3])}")
    return RelationModel(model.eval(), tokenizer, scheme)


def predict_probabilities(relation_model: RelationModel, features: Sequence[RelationFeature],
                          batch_size: int = 64, batch_tokens: int | None = None) -> torch.Tensor:
    """Class probabilities (examples, labels) on the CPU, in the order of `features`.

    Batches are formed from features sorted by length, so little compute goes to padding, with at
    most `batch_size` rows and `batch_tokens` padded subwords (`biotune.models.batches`); the rows
    are put back in input order. Dropout is off while predicting, and the model's
    train/eval mode is restored afterwards, so dev evaluation inside a training loop does
    not leave the rest of training without dropout.
    """
    model = relation_model.model
    was_training = model.training
    device = next(model.parameters()).device
    batches = token_batches([len(feature.input_ids) for feature in features], batch_size, batch_tokens)
    probabilities = torch.empty((len(features), len(relation_model.labels)))
    model.eval()
    try:
        with torch.inference_mode():
            for rows in batches:
                batch = relation_model.collate([features[i] for i in rows])
                batch.pop("labels", None)
                logits = model(**{name: tensor.to(device) for name, tensor in batch.items()}).logits  # (batch, labels)
                probabilities[rows] = logits.float().softmax(dim=-1).cpu()
    finally:
        model.train(was_training)
    return probabilities
