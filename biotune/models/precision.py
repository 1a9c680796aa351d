"""Numeric precision of a Tagger's forward pass: one name picks how the model computes.

- ``autocast``: bf16 autocast where the hardware runs bf16 natively, fp32 elsewhere; the
  weights stay untouched, so training-time evaluation can share the model being trained.
- ``bf16``: the weights themselves are cast to bf16. Faster than autocast on CPU (no
  per-call casts: about 1.1x here) and costs about 0.1 F1 point; for a Tagger that owns
  its model (`Tagger.from_checkpoint`).
- ``int8``: dynamic quantisation of every linear layer (int8 weights per output channel,
  activations quantised per batch), CPU only; the fastest where bf16 is not native.
- ``fp32``: the reference.
- ``auto``: ``bf16`` where the hardware supports it, else ``fp32``.
"""

from __future__ import annotations

import warnings
from typing import Literal, NamedTuple

import torch
from transformers import PretrainedConfig, PreTrainedModel

from biotune.errors import BiotuneError
from biotune.hardware import bf16_supported, default_device

Precision = Literal["auto", "autocast", "bf16", "int8", "fp32"]
PRECISIONS: tuple[str, ...] = ("auto", "autocast", "bf16", "int8", "fp32")


# Training evaluates with "autocast" when it trains in bf16, else "fp32" (and records which in
# the checkpoint's `config.biotune["precision"]`); a checkpoint from before that record was
# trained with the default `training.bf16: auto`, i.e. autocast wherever bf16 is native.
DEFAULT_TRAINING_PRECISION = "autocast"


def training_precision(config: PretrainedConfig) -> str:
    """The precision a checkpoint was evaluated with during training: what reproduces its results."""
    return (getattr(config, "biotune", None) or {}).get("precision", DEFAULT_TRAINING_PRECISION)


def resolve(precision: str, device: torch.device) -> str:
    """What `precision` computes in on `device`: ``fp32``, ``autocast`` (bf16 autocast really on), ``bf16`` or ``int8``.

    Raises `BiotuneError` for an unknown name or int8 on a non-CPU device.
    """
    if precision not in PRECISIONS:
        raise BiotuneError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if precision == "autocast":
        return "autocast" if bf16_supported(device) else "fp32"
    if precision == "int8" and device.type != "cpu":
        raise BiotuneError("precision int8 (dynamic quantisation) runs on CPU only; use bf16 on a GPU")
    return precision


def prepare(model: PreTrainedModel, precision: str, device: torch.device) -> tuple[PreTrainedModel, bool]:
    """`(model ready for inference, whether to run it under bf16 autocast)`.

    `bf16` and `int8` change the model (cast or replace its linear layers): pass a model the
    caller owns. Raises `BiotuneError` as `resolve` does.
    """
    precision = resolve(precision, device)
    model = model.to(device).eval()
    if precision == "autocast":
        return model, True
    if precision == "bf16":
        return model.to(torch.bfloat16), False
    if precision == "int8":
        return _quantize_int8(model), False
    return model.float(), False


class Placed(NamedTuple):
    """A model ready for inference: what every task's predictor holds."""

    model: PreTrainedModel
    device: torch.device
    precision: str  # what the forward pass really computes in (`resolve`)
    bf16: bool  # whether to run it under bf16 autocast


def place(model: PreTrainedModel, precision: str, device: torch.device | str | None = None) -> Placed:
    """`model` prepared (`prepare`) for inference in `precision` on `device` (None: `default_device()`).

    The one setup every predictor shares, so that a task's predictor only adds its own settings.
    Raises `BiotuneError` as `resolve` does."""
    device = torch.device(device) if device is not None else default_device()
    resolved = resolve(precision, device)
    model, bf16 = prepare(model, precision, device)
    return Placed(model, device, resolved, bf16)


def _quantize_int8(model: PreTrainedModel) -> PreTrainedModel:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch marks eager-mode quantisation as legacy; it is still the CPU int8 path
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.float(), {torch.nn.Linear: per_channel_dynamic_qconfig})
