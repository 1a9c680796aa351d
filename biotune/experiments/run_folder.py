"""The run folder contract that training writes and evaluation, prediction and aggregation read.

    <output_dir>/checkpoints/<name>/seed_<seed>/best_model/       Hugging Face folder (pipeline-ready)
    <output_dir>/results/<name>/seed_<seed>/config_snapshot.yaml  resolved config of the run
    <output_dir>/results/<name>/seed_<seed>/eval_<test_set>.json  metrics (+ .md table)
    <output_dir>/results/<name>/seed_<seed>/train_summary.json    dev F1 per epoch, timings
    <output_dir>/logs/<name>/seed_<seed>/train.log                log of the run

A sequential run keeps every earlier phase too, in a `phase_<k>_<source>/` folder inside each
of the seed folders above (same files; the last phase's are the run's own).

    <output_dir>/checkpoints/<name>/seed_<seed>/trainer/checkpoint-<step>/  resumable Trainer
                                   checkpoints while the run trains (removed once it finished)
    <output_dir>/checkpoints/<name>/seed_<seed>/training.json     epochs, dev history, timings of
                                   the finished Trainer run (read back by a rerun that only evaluates)

A run is finished when `train_summary.json` exists (written last). A run folder without it is
unfinished (a crash, a kill): rerunning the same config resumes it from its last checkpoint.
A folder that already holds a run is never overwritten unless the caller asks for it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from biotune.errors import BiotuneError


@dataclass(frozen=True)
class RunPaths:
    root: Path
    name: str
    seed: int
    phase: str = ""

    def _folder(self, kind: str) -> Path:
        folder = self.root / kind / self.name / f"seed_{self.seed}"
        return folder / self.phase if self.phase else folder

    def for_phase(self, phase: str) -> RunPaths:
        """The folders of an intermediate phase of this run (created on demand)."""
        paths = replace(self, phase=phase)
        for folder in paths.folders():
            folder.mkdir(parents=True, exist_ok=True)
        return paths

    @property
    def checkpoint(self) -> Path:
        return self._folder("checkpoints")

    @property
    def best_model(self) -> Path:
        return self.checkpoint / "best_model"

    @property
    def results(self) -> Path:
        return self._folder("results")

    @property
    def logs(self) -> Path:
        return self._folder("logs")

    @property
    def summary(self) -> Path:
        return self.results / "train_summary.json"

    @property
    def snapshot(self) -> Path:
        return self.results / "config_snapshot.yaml"

    @property
    def trainer_dir(self) -> Path:
        """The Trainer's resumable `checkpoint-<step>/` folders of this (phase of the) run."""
        return self.checkpoint / "trainer"

    def status(self) -> Literal["empty", "unfinished", "finished"]:
        """finished: the summary exists; unfinished: something else is in the run folders."""
        if self.summary.is_file():
            return "finished"
        return "unfinished" if any(p.exists() and any(p.iterdir()) for p in self.folders()) else "empty"

    def folders(self) -> tuple[Path, Path, Path]:
        return self.checkpoint, self.results, self.logs

    def prepare(self, overwrite: bool, resume: bool = False) -> None:
        """Create the run folders; refuse to touch an existing run unless `overwrite` (delete it) or
        `resume` (keep an unfinished run's folders to continue it)."""
        if resume and not overwrite and self.status() != "finished":
            for folder in self.folders():
                folder.mkdir(parents=True, exist_ok=True)
            return
        existing = [p for p in self.folders() if p.exists() and any(p.iterdir())]
        if existing and not overwrite:
            raise BiotuneError(
                f"run folder {existing[0]} already exists; pass --overwrite to replace it, "
                "or choose another --seed / --output-dir / name"
            )
        for folder in existing:
            shutil.rmtree(folder)
        for folder in self.folders():
            folder.mkdir(parents=True, exist_ok=True)
