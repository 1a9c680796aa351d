"""`place`: the one inference setup every task's predictor shares."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from biotune.errors import BiotuneError
from biotune.models.precision import place


@pytest.fixture
def model() -> BertForSequenceClassification:
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    return BertForSequenceClassification(config).train()


def test_a_placed_model_is_ready_on_its_device_in_the_precision_it_computes_in(model) -> None:
    placed = place(model, "fp32", "cpu")
    assert (placed.device, placed.precision, placed.bf16) == (torch.device("cpu"), "fp32", False)
    assert not placed.model.training and next(placed.model.parameters()).dtype == torch.float32
    cast = place(model, "bf16", torch.device("cpu"))
    assert (cast.precision, cast.bf16, next(cast.model.parameters()).dtype) == ("bf16", False, torch.bfloat16)


def test_no_device_is_the_default_device(model) -> None:
    from biotune.hardware import default_device

    assert place(model, "fp32").device == default_device()


def test_a_bad_precision_is_refused_before_the_model_moves(model) -> None:
    with pytest.raises(BiotuneError, match="unknown precision 'fp8'"):
        place(model, "fp8", "cpu")
    with pytest.raises(BiotuneError, match="int8 .* runs on CPU only"):
        place(model, "int8", "cuda")
