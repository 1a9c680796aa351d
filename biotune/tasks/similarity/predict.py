"""The similarity predictor: the object training's dev evaluation, `score`, `predict_records` and
the library call.

Pairs are encoded whole, as the model's head reads them (`encoding`: one text-pair input, or each
sentence alone), and run in length-sorted batches (little padding), the scores put back in input
order. An input is refused only when it is longer than the positions the model reads: one that fits
the window training used is encoded exactly as training encoded it whatever the limit, so a longer
limit changes no prediction and lets a saved model read every pair its backbone can. `precision` as
for the other tasks (`biotune.models.precision`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from biotune.models.backbones import position_limit
from biotune.models.precision import place
from biotune.tasks.contract import Bundle
from biotune.tasks.similarity.encoding import PART_SUFFIXES, READS_SEPARATELY, PairInput, encode_pairs
from biotune.tasks.similarity.examples import SentencePair
from biotune.tasks.similarity.model import load_similarity_model, model_head


def pad(inputs: Sequence[PairInput], bundle: Bundle) -> dict[str, torch.Tensor]:
    """Each part of the pairs right-padded by the tokenizer's own `pad` (`input_ids`, `attention_mask`,
    `token_type_ids`), a second part's tensors named with its suffix (`encoding.PART_SUFFIXES`)."""
    batch: dict[str, torch.Tensor] = {}
    for k, suffix in enumerate(PART_SUFFIXES[:len(inputs[0].parts)]):
        padded = bundle.tokenizer.pad([item.parts[k].fields() for item in inputs], padding_side="right",
                                      return_tensors="pt")
        batch.update({f"{name}{suffix}": tensor for name, tensor in padded.items()})
    return batch


class SimilarityPredictor:
    """A score for each sentence pair, on the gold scale the model was trained on."""

    def __init__(self, bundle: Bundle, precision: str = "autocast", batch_size: int = 64,
                 device: torch.device | str | None = None) -> None:
        model, self.device, self.precision, self.bf16 = place(bundle.model, precision, device)
        self.bundle = Bundle(model, bundle.tokenizer)
        self.batch_size = batch_size
        self.positions = position_limit(model.config)
        self.separately = READS_SEPARATELY[model_head(model)]

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto", batch_size: int = 64,
                        device: torch.device | str | None = None) -> SimilarityPredictor:
        return cls(load_similarity_model(path), precision=precision, batch_size=batch_size, device=device)

    def predict(self, pairs: Sequence[SentencePair]) -> list[float]:
        """The predicted score of each pair, in input order; dropout off, the model's mode restored after."""
        inputs = encode_pairs(pairs, self.bundle.tokenizer, self.positions, self.positions, self.separately)
        scores = [0.0] * len(inputs)
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].input_ids))
        model = self.bundle.model
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                for begin in range(0, len(order), self.batch_size):
                    rows = order[begin:begin + self.batch_size]
                    batch = pad([inputs[i] for i in rows], self.bundle)
                    logits = model(**{name: t.to(self.device) for name, t in batch.items()}).logits  # (batch, 1)
                    for row, value in zip(rows, logits[:, 0].float().cpu().tolist()):
                        scores[row] = value
        finally:
            model.train(was_training)
        return scores
