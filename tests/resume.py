"""A training run killed mid-epoch and run again, beside one that never stopped: what the resume tests of a
head compare (the Trainer's checkpoints must hold the whole module for the two to end the same)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def crashed_then_resumed(config: Path, step: int, reference_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(resumed, reference) `TrainResult`s of the experiment `config`: one run that dies at global step `step`
    and is then run again (it resumes from its last checkpoint), and one run in `reference_dir` that never
    stopped."""
    from transformers import TrainerCallback

    import biotune.training.trainer as trainer
    from biotune.config import load_config
    from biotune.experiments.run import train

    class Crash(TrainerCallback):
        def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
            if state.global_step == step:  # type: ignore[attr-defined]
                raise RuntimeError("power cut")

    init = trainer.TaskTrainer.__init__

    def crashing(self: trainer.TaskTrainer, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)
        self.add_callback(Crash())

    monkeypatch.setattr(trainer.TaskTrainer, "__init__", crashing)
    with pytest.raises(RuntimeError, match="power cut"):
        train(load_config(config))
    monkeypatch.undo()
    return train(load_config(config)), train(load_config(config, {"output_dir": str(reference_dir)}))


def same_weights(*folders: Path) -> bool:
    """Whether the model folders hold the same tensors under the same names (`model.safetensors`)."""
    from safetensors.torch import load_file

    first, *others = [load_file(str(folder / "model.safetensors")) for folder in folders]
    return all(other.keys() == first.keys() and all(other[k].equal(v) for k, v in first.items()) for other in others)
