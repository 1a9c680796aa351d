"""Which process of a multi-process launch (torchrun, accelerate launch) this is.

Under torchrun every rank runs the whole `train()`; only the main process may create, delete
or write run files, while the others wait at a barrier, so a run folder is written once and
never raced. The state is accelerate's `PartialState`, the one the Trainer itself uses, so the
ranks and barriers here are the Trainer's; in a single process it is rank 0 and barriers
return at once.
"""

from __future__ import annotations

from accelerate import PartialState

from biotune.hardware import default_device


def _state() -> PartialState:
    return PartialState(cpu=default_device().type == "cpu")


def is_main_process() -> bool:
    return _state().is_main_process


def process_count() -> int:
    return _state().num_processes


def wait_for_everyone() -> None:
    """Barrier: every rank waits here until all ranks arrive (no-op in one process)."""
    _state().wait_for_everyone()
