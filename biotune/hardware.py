"""What the machine can do: device choice and bf16 support.

bf16 autocast is the single biggest speed lever on CPUs with AVX512-BF16/AMX and on recent
GPUs, and it costs no measurable F1 for fine-tuning these encoders, so `auto` turns it on
wherever the hardware has native support.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_supported(device: torch.device) -> bool:
    """True where bf16 matmuls run natively (not emulated) on `device`."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def use_bf16(setting: bool | str, device: torch.device) -> bool:
    """Resolve a config's `bf16: auto|true|false` for `device`."""
    return bf16_supported(device) if setting == "auto" else bool(setting)
