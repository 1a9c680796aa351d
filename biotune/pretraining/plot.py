"""The pretraining loss curve (PNG), written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biotune.io import write_figure


def plot_loss_curve(history: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Training loss (each logged step) against the optimizer step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot([e["step"] for e in history], [e["loss"] for e in history], marker="." if len(history) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("masked-LM loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return write_figure(path, fig)
