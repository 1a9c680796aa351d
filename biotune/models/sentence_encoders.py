"""Sentence embeddings from any Hugging Face encoder, and the files that make its folder a
sentence-transformers bi-encoder.

`mean_pool` averages the encoder's last hidden states over the real tokens of each row (attention
mask 1), so a sentence's embedding does not depend on how much padding its batch gave it. It is the
pooling of all-MiniLM-L6-v2 (the bundled backbone) and of most sentence-transformers models:
an encoder trained that way compares sentences by the cosine of these means, untouched.

`MeanPooledEncoder` is the base of biotune's own head modules that read those means (the similarity
bi-encoder, the mean-pooling classifier of `biotune.models.mean_classifier`): an `AutoModel`
encoder wrapped as a `PreTrainedModel` of its own, so the Trainer saves, resumes and selects it
as it does a stock head model.

`write_sentence_transformers_files` writes, beside a standard `AutoModel` folder (config.json,
weights, tokenizer), the three files `SentenceTransformer(folder)` reads to rebuild the same
encoder + mean pooling: ``modules.json`` (a Transformer module on the folder itself, then a
Pooling module), ``sentence_bert_config.json`` and ``1_Pooling/config.json``. They are the files
`SentenceTransformer.save` writes, so the library need not be installed to write them.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from biotune.io import write_json

POOLING_FOLDER = "1_Pooling"
TRANSFORMER_MODULE = "sentence_transformers.models.Transformer"
POOLING_MODULE = "sentence_transformers.models.Pooling"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of `hidden` (batch, tokens, dim) over each row's tokens whose `attention_mask` is 1, in fp32
    (a bf16 sum over hundreds of tokens loses the digits a cosine compares); (batch, dim)."""
    mask = attention_mask.unsqueeze(-1).float()  # (batch, tokens, 1)
    return (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # (batch, dim)


class MeanPooledEncoder(PreTrainedModel):
    """An encoder under a head that reads its mean-pooled states.

    It shares the encoder's config (labels, ``biotune`` settings), so the task's loss, predictor and
    precision options treat it as a stock head model, and its weights are named ``encoder.*`` beside the
    head's own: what the Trainer's checkpoints hold, resume from and select the best epoch with.
    """

    base_model_prefix = "encoder"
    _supports_sdpa = True  # lets the encoder keep the attention kernel it was built with

    def __init__(self, config: PretrainedConfig, encoder: PreTrainedModel) -> None:
        super().__init__(config)
        self.encoder = encoder

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Each row's embedding, mean-pooled over its real tokens; (batch, hidden), fp32. Segment ids go in
        only where the tokenizer gives them: some encoders (DistilBERT) take no such argument."""
        segments = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              **segments).last_hidden_state  # (batch, tokens, hidden)
        return mean_pool(hidden, attention_mask)


def write_sentence_transformers_files(folder: str | Path, dimension: int, max_seq_length: int | None) -> None:
    """The sentence-transformers description of the encoder saved in `folder`: mean pooling over its
    `dimension`-wide states. `max_seq_length` is where sentence-transformers cuts an input (it cuts
    silently; biotune refuses what is longer): the model's positions, None where it has no limit."""
    folder = Path(folder)
    write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": TRANSFORMER_MODULE},
        {"idx": 1, "name": "1", "path": POOLING_FOLDER, "type": POOLING_MODULE},
    ])
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    (folder / POOLING_FOLDER).mkdir(parents=True, exist_ok=True)
    write_json(folder / POOLING_FOLDER / "config.json", {
        "word_embedding_dimension": dimension, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True,
    })
