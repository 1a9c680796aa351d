"""Plots for papers: the headline score against a swept config value, mean ± std bands over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biotune.io import write_figure


def plot_sweep(result: dict[str, Any], path: str | Path) -> Path:
    """One line per test set (headline score mean), a shaded band of ± one sample std; PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = result["points"]
    x = list(range(len(points)))
    tests = sorted({t for p in points for t in p["test_sets"]})
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for test in tests:
        mean = [100 * p["test_sets"][test]["mean"] for p in points]
        std = [100 * p["test_sets"][test]["std"] for p in points]
        ax.plot(x, mean, marker="o", label=test)
        ax.fill_between(x, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], alpha=0.2)
    ax.set_xticks(x, [p["label"] for p in points])
    ax.set_xlabel(result["key"])
    headline = ", ".join(sorted({k for p in points for k in p["headline_keys"].values()}))
    ax.set_ylabel(f"{headline} (%)")
    ax.set_title(f"{headline} vs {result['key']} (mean ± std, {len(result['seeds'])} seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return write_figure(path, fig)

