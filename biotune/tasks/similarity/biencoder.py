"""The ``biencoder`` head: each sentence encoded alone, mean-pooled, compared by cosine, and the cosine
mapped to the gold scale by a learnt affine map, ``score = shift + scale * cos``.

Why a second head: a sentence-embedding backbone (the bundled all-MiniLM-L6-v2) was trained to
compare sentences exactly this way, so it starts where a cross-encoder must first get to. Measured
on BIOSSES: the backbone untrained, as a bi-encoder, scores Pearson 84.69 on test; fine-tuned as a
cross-encoder (``cls``) on the 64 training pairs, 28.64.

The affine map starts at the training scores' range: `scale` their max - min and `shift` their
min, so cosine 1 is the top of the scale and cosine 0 its bottom (a pair the backbone sees as
unrelated); both are trained with the encoder. `model.dropout` (the dropout before a classifier)
has no layer to act on here: there is no classifier, and the encoder keeps its own hidden dropout
(`model.attention_dropout` still applies to it).

Save format: the encoder alone, as the standard `AutoModel` folder it came from (its own weight
names), with ``biotune: {task, head: "biencoder", scale, shift, ...}`` in `config.json` and the
sentence-transformers files beside it (`biotune.models.sentence_encoders`): biotune's load
rebuilds this module from it, and `SentenceTransformer(folder)` loads the same encoder with mean
pooling (its cosine; the scale and shift are read from `config.json`). In training, the Trainer's
own checkpoints save this module whole (`encoder.*`, `scale`, `shift`), which is what it resumes
from and selects the best epoch with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import SequenceClassifierOutput

from biotune.models.backbones import backbone_config, position_limit
from biotune.models.head_models import build_head_model, load_head_model
from biotune.models.sentence_encoders import MeanPooledEncoder, write_sentence_transformers_files
from biotune.tasks.contract import Bundle
from biotune.tasks.similarity import TASK
from biotune.tasks.similarity.reading import SCORE_RANGE

HEAD = "biencoder"


class BiEncoderSimilarity(MeanPooledEncoder):
    """Encoder + mean pooling + cosine + ``shift + scale * cosine``; `logits` (batch, 1) is the score.

    `config.biotune` holds the affine map's recorded values; the encoder's config is shared as
    `MeanPooledEncoder` says, so the task's loss, the predictor and the precision options treat it
    as they treat the cross-encoder.
    """

    def __init__(self, encoder: PreTrainedModel) -> None:
        super().__init__(encoder.config, encoder)
        self.scale = nn.Parameter(torch.tensor(float(encoder.config.biotune["scale"])))
        self.shift = nn.Parameter(torch.tensor(float(encoder.config.biotune["shift"])))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Nothing to initialise: the encoder comes loaded, and the affine map from the config."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                input_ids_2: torch.Tensor | None = None, attention_mask_2: torch.Tensor | None = None,
                token_type_ids_2: torch.Tensor | None = None) -> SequenceClassifierOutput:
        """The score of each pair: sentence1's inputs unsuffixed, sentence2's with ``_2`` (`encoding.PART_SUFFIXES`)."""
        if input_ids_2 is None or attention_mask_2 is None:
            raise ValueError("BiEncoderSimilarity reads two sentences: pass input_ids_2 and attention_mask_2")
        first = self.embed(input_ids, attention_mask, token_type_ids)  # (batch, hidden)
        second = self.embed(input_ids_2, attention_mask_2, token_type_ids_2)  # (batch, hidden)
        cosine = nn.functional.cosine_similarity(first, second, dim=-1)  # (batch,)
        return SequenceClassifierOutput(logits=(self.shift.float() + self.scale.float() * cosine)[:, None])  # (batch, 1)

    def record_affine(self) -> None:
        """Write the trained scale and shift into `config.biotune`, so the saved config.json holds them."""
        self.config.biotune.update({"scale": self.scale.item(), "shift": self.shift.item()})


def initial_affine(scores: Sequence[float]) -> dict[str, float]:
    """The map that takes cosine 1 to the training scores' top and 0 to their bottom; the whole of
    `SCORE_RANGE` where they span nothing (no scores, or one score for all: a zero scale would stop
    every gradient to the encoder)."""
    low, high = (min(scores), max(scores)) if scores and max(scores) > min(scores) else SCORE_RANGE
    return {"scale": high - low, "shift": low}


def build_biencoder(init: str, dropout: float, attention_dropout: float, scores: Sequence[float]) -> Bundle:
    """A bi-encoder on `init`: a backbone (the affine map from `scores`, `initial_affine`) or an earlier
    phase's saved bi-encoder (its own trained map)."""
    earlier = getattr(backbone_config(init), "biotune", None) or {}
    affine = ({key: earlier[key] for key in ("scale", "shift")} if earlier.get("head") == HEAD
              else initial_affine(scores))
    encoder, tokenizer, _ = build_head_model(AutoModel, TASK, init, HEAD, dropout, attention_dropout)
    encoder.config.biotune.update(affine)
    return Bundle(BiEncoderSimilarity(encoder), tokenizer)


def save_biencoder(model: BiEncoderSimilarity, tokenizer: PreTrainedTokenizerBase, folder: str | Path) -> None:
    """The encoder's own folder, the affine map in its config, and the sentence-transformers files."""
    model.record_affine()
    model.encoder.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    write_sentence_transformers_files(folder, model.config.hidden_size, position_limit(model.config))


def load_biencoder(folder: str | Path) -> Bundle:
    """Load a folder written by `save_biencoder`, in eval mode; a `BiotuneError` names what is wrong."""
    encoder, tokenizer = load_head_model(AutoModel, folder, TASK, _records_affine)
    return Bundle(BiEncoderSimilarity(encoder).eval(), tokenizer)


def _records_affine(config: PretrainedConfig) -> str | None:
    """What a bi-encoder's config lacks: its affine map (`load_head_model`'s `accepts`)."""
    settings = getattr(config, "biotune", None) or {}
    if all(isinstance(settings.get(key), (int, float)) for key in ("scale", "shift")):
        return None
    return "its config.json records no biotune.scale and biotune.shift"
