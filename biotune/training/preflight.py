"""Everything about a training run that can be checked before its run folder is touched.

A run that fails on a missing backbone or a window longer than the backbone's positions must
fail before `--overwrite` deletes the previous run and before a new folder is made, so these
checks read only configs and files: the backbone's config (no weights), its tokenizer, every
split, whether a training source or the dev split is test text (`sources.refuse_test_text`,
checked first: before anything is read), and the task's own `check_inputs` (an
input no window of the model holds, an evaluation label the model cannot have), which
`check-data` runs too, so that both refuse the same data with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from biotune.config import ExperimentConfig
from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.models.backbones import backbone_config, load_tokenizer, position_limit
from biotune.tasks.contract import SourceExamples, Task
from biotune.training.sources import Source, read_sources, refuse_test_text


@dataclass(frozen=True)
class Inputs:
    """What a run reads, read and checked."""

    sources: list[Source]
    dev: Split | None
    tests: list[Split]
    tokenizer: PreTrainedTokenizerBase


def check_max_length(config: ExperimentConfig) -> None:
    limit = position_limit(backbone_config(config.model.backbone))
    if limit is not None and config.model.max_length > limit:
        raise BiotuneError(f"model.max_length {config.model.max_length} is above what backbone "
                           f"{config.model.backbone!r} can take ({limit} positions); use at most {limit}")


def check_inputs(task: Task, config: ExperimentConfig) -> Inputs:
    """Read every split and source through the task, load the tokenizer and the backbone's config; raise on any problem."""
    refuse_test_text(config)
    sources = read_sources(task, config)
    dev = task.read_split(config.data.dev, config) if config.data.dev else None
    tests = [task.read_split(spec, config) for spec in config.data.test]
    check_max_length(config)
    tokenizer = load_tokenizer(config.model.backbone)
    check_task_inputs(task, config, sources, dev, tests, tokenizer)
    return Inputs(sources, dev, tests, tokenizer)


def check_task_inputs(task: Task, config: ExperimentConfig, sources: Sequence[SourceExamples], dev: Split | None,
                      tests: Sequence[Split], tokenizer: PreTrainedTokenizerBase) -> None:
    """The task's checks of what training will featurise and score, with the label space training will build."""
    labels = task.label_space(sources, dev)
    evaluated = {split.name: split for split in ([dev] if dev else []) + list(tests)}
    task.check_inputs([e for source in sources for e in source.examples], evaluated, labels, tokenizer, config)
