"""Training sources: read each configured source through its task, weight and subsample it.

The task reads a source (`Task.read_source`) and marks each example with the source's
`weight` and what it annotates, so the features, the loss and the label space can honour them
without knowing where an example came from.

Subsampling (`sample_ratio`) is relative to the reference source, the first one without a
`sample_ratio` (e.g. silver:gold = 2:1 is `sample_ratio: 2` on the silver source), drawn with
`random.Random(seed)`, so the same seed always trains on the same sample.

Test text is never training text (`refuse_test_text`): a source, or the dev split, whose file is a
test split (one of `data.test`, or a registered corpus's, by real path or by content: see
`biotune.corpora.leak_guard`) is refused before anything is read, unless the config says it
means it (`data.allow_test_as_train`, `data.allow_test_as_dev`).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.leak_guard import NEVER, files_of, leak_guard, split_path
from biotune.errors import BiotuneError
from biotune.tasks.contract import Task

log = logging.getLogger("biotune")


@dataclass(frozen=True)
class Source:
    """A read training source: its config and its (sampled, weighted, marked) examples."""

    config: SourceConfig
    examples: list[Any]
    types: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.config.name


def source_configs(config: ExperimentConfig) -> list[SourceConfig]:
    """The configured sources, or `data.train` as the single source `train`."""
    return list(config.sources) or [SourceConfig(name="train", split=config.data.train)]


TRAIN_ON_TEST = (f"{NEVER}; set data.allow_test_as_train: true to train on it on purpose (a release model on "
                 "every split: its test scores then mean nothing)")
SELECT_ON_TEST = ("model selection would read the test set; choose another dev split, or set "
                  "data.allow_test_as_dev: true to do it on purpose")


def refuse_test_text(config: ExperimentConfig) -> None:
    """A `BiotuneError` naming the file, its role, the corpus and the split when a training source or
    the dev split is test text: one of this config's `data.test` splits, or the test split of a
    registered corpus found in `data.data_dir`, `$BIOTUNE_DATA_DIR`, the cache or above the file."""
    data = config.data
    roles = [] if data.allow_test_as_train else [(f"source {s.name!r}", s.split, TRAIN_ON_TEST)
                                                  for s in source_configs(config)]
    if data.dev and not data.allow_test_as_dev:
        roles.append((f"data.dev {data.dev!r}", data.dev, SELECT_ON_TEST))
    located = [(role, file, why) for role, spec, why in roles for file in files_of(split_path(spec, data))]
    if not located:
        return
    guard = leak_guard([data.data_dir], [file for _, file, _ in located], [("this config", data)])
    for role, file, why in located:
        guard.refuse(file, role, why)


def read_sources(task: Task, config: ExperimentConfig) -> list[Source]:
    """Read, mark and subsample every source (errors name the source)."""
    sources: list[Source] = []
    for spec in source_configs(config):
        read = task.read_source(spec, config)
        sources.append(Source(spec, read.examples, read.types))
    reference = next((s for s in sources if s.config.sample_ratio is None), None)
    sampled = []
    for source in sources:
        ratio = source.config.sample_ratio
        if ratio is not None:
            if reference is None:
                raise BiotuneError("sample_ratio is relative to a source without one; every source has one")
            source = Source(source.config, _sample(source.examples, round(ratio * len(reference.examples)),
                                                   config.training.seed), source.types)
        log.info("source %s: %d examples, types %s, weight %g", source.name, len(source.examples),
                 list(source.types), source.config.weight)
        sampled.append(source)
    return sampled


def _sample(examples: list[Any], n: int, seed: int) -> list[Any]:
    """`n` examples drawn without replacement (all of them if there are fewer), in file order."""
    if n >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]
