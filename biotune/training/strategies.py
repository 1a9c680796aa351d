"""Training strategies: how the sources become one or more training phases, chosen by name.

- `single`: one source, one phase.
- `sequential`: one phase per source, in the configured order; each phase starts from the
  previous phase's best model and has its own epochs and learning rate (e.g. silver, then gold).
- `joint`: every source in one phase; their examples form one stream that the Trainer
  shuffles (grouped by length); per-source weights scale each example's loss.

All strategies share one label space (the union of the sources' types) and one loss with the
same per-token reduction, so their losses and scores are comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from biotune.config import TrainingConfig
from biotune.training.sources import Source


@dataclass(frozen=True)
class Phase:
    """One Trainer run: which sources, for how long, at which learning rate."""

    name: str
    sources: tuple[Source, ...]
    epochs: float
    learning_rate: float

    @property
    def examples(self) -> list[Any]:
        return [e for source in self.sources for e in source.examples]

    @property
    def types(self) -> frozenset[str]:
        return frozenset(t for source in self.sources for t in source.types)


def _one_phase(sources: Sequence[Source], training: TrainingConfig) -> list[Phase]:
    return [Phase("+".join(s.name for s in sources), tuple(sources), training.epochs, training.learning_rate)]


def _sequential(sources: Sequence[Source], training: TrainingConfig) -> list[Phase]:
    return [
        Phase(s.name, (s,), s.config.epochs or training.epochs, s.config.learning_rate or training.learning_rate)
        for s in sources
    ]


STRATEGIES: dict[str, Callable[[Sequence[Source], TrainingConfig], list[Phase]]] = {
    "single": _one_phase,
    "joint": _one_phase,
    "sequential": _sequential,
}


def plan_phases(strategy: str, sources: Sequence[Source], training: TrainingConfig) -> list[Phase]:
    """The phases of `strategy` over `sources` (the config validator checks source counts)."""
    return STRATEGIES[strategy](sources, training)
