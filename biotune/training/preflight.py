"""Everything about a training run that can be checked before its run folder is touched.

A run that fails on a missing backbone or a window longer than the backbone's positions must
fail before `--overwrite` deletes the previous run and before a new folder is made, so these
checks read only configs and files: the backbone's config (no weights), its tokenizer, every
split, and whether the dev split is one of the test files.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import AutoConfig, PretrainedConfig, PreTrainedTokenizerBase

from biotune.config import ExperimentConfig
from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer, resolve_backbone
from biotune.tasks.contract import Task
from biotune.training.sources import Source, read_sources

# Models whose position ids start after the padding index: `max_position_embeddings` counts
# those offset slots too (RoBERTa's 514 positions hold 512 tokens).
POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "longformer": 2}


@dataclass(frozen=True)
class Inputs:
    """What a run reads, read and checked."""

    sources: list[Source]
    dev: Split | None
    tests: list[Split]
    tokenizer: PreTrainedTokenizerBase


def backbone_config(name: str) -> PretrainedConfig:
    """The backbone's config (config.json only, no weights); a missing backbone is a user error."""
    try:
        return AutoConfig.from_pretrained(resolve_backbone(name), trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"model.backbone: cannot load backbone {name!r}: {exc}") from exc


def position_limit(config: PretrainedConfig) -> int | None:
    """The most subwords the backbone can take in one input, or None when it has no absolute limit."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or getattr(config, "position_biased_input", True) is False:
        return None
    return positions - POSITION_OFFSET.get(config.model_type, 0)


def check_max_length(config: ExperimentConfig) -> None:
    limit = position_limit(backbone_config(config.model.backbone))
    if limit is not None and config.model.max_length > limit:
        raise BiotuneError(f"model.max_length {config.model.max_length} is above what backbone "
                           f"{config.model.backbone!r} can take ({limit} positions); use at most {limit}")


def check_dev_is_not_test(config: ExperimentConfig, dev: Split | None, tests: list[Split]) -> None:
    """Selecting the epoch on a test file makes that file's score optimistic: refuse unless asked."""
    if dev is None or config.data.allow_test_as_dev:
        return
    for test in tests:
        if dev.path.resolve() == test.path.resolve():
            raise BiotuneError(f"data.dev {config.data.dev!r} is the test split {test.name!r} ({test.path}): model "
                               "selection would read the test set; choose another dev split, or set "
                               "data.allow_test_as_dev: true to do it on purpose")


def check_inputs(task: Task, config: ExperimentConfig) -> Inputs:
    """Read every split and source through the task, load the tokenizer and the backbone's config; raise on any problem."""
    sources = read_sources(task, config)
    dev = task.read_split(config.data.dev, config) if config.data.dev else None
    tests = [task.read_split(spec, config) for spec in config.data.test]
    check_dev_is_not_test(config, dev, tests)
    check_max_length(config)
    tokenizer = load_tokenizer(config.model.backbone)
    return Inputs(sources, dev, tests, tokenizer)
