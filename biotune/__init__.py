"""biotune: fine-tune transformer encoders on biomedical text-mining tasks.

The library API mirrors the CLI (see README.md, "Python API"): `biotune.train(config, **overrides)`,
`biotune.load(folder)` (a model of any task: `.predict(records)`, `.predict_file(input, output)`)
and `biotune.evaluate(folder, tests=[...])`. They live in `biotune.api`, imported on first use,
so `import biotune` (and the CLI's start) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Model", "evaluate", "load", "train"]

if TYPE_CHECKING:
    from biotune.api import Model, evaluate, load, train


def __getattr__(name: str) -> Any:
    if name in __all__:
        from biotune import api

        return getattr(api, name)
    raise AttributeError(f"module 'biotune' has no attribute {name!r}")
