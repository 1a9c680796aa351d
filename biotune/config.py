"""Experiment configs: the only place YAML is parsed.

A config file is YAML, may name a parent with `extends:` (a path relative to the file; the
child's keys are merged over the parent's, section by section), and is validated once into
typed pydantic objects with `extra="forbid"`: an unknown or misspelled key is an error that
names it and suggests the closest valid key. Code below this layer only sees `ExperimentConfig`.
Every key has a default, documented in `Field(description=...)` and in the README.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, SerializerFunctionWrapHandler, ValidationError,
                      ValidationInfo, field_validator, model_serializer, model_validator)

from biotune.errors import BiotuneError
from biotune.registry import Registry, did_you_mean


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def check(self, config: ExperimentConfig) -> str | None:
        """A task section's checks against the rest of the config: the error message, or None."""
        return None


S = TypeVar("S", bound=Section)


class ModelConfig(Section):
    backbone: str = Field("minilm", description="hub id or local folder of the encoder; 'minilm' = the bundled MiniLM-L6")
    head: str = Field("softmax", description="head, by name; ner: softmax | crf (linear-chain CRF over words, learned "
                      "transitions); re: entity_start (the two entity-start markers' states, Zhou & Chen) | cls "
                      "(first token); qa: span (start/end scores); yesno: cls (the first token's pooled state) | mean "
                      "(the mean of every real token's state, as sentence-embedding backbones such as the bundled "
                      "MiniLM were trained; a folder biotune loads); similarity: cls (a cross-encoder: "
                      "one regression output over the pair) | biencoder (each sentence embedded alone, mean pooling, "
                      "cosine mapped to the gold scale by a learnt scale and shift; a sentence-transformers folder); "
                      "multilabel: sigmoid (a score per label from the first token's pooled state) | mean (a score "
                      "per label from the mean of every real token's state, as for yesno). Default: the task's first")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, allow_inf_nan=False, description="dropout before the classifier")
    attention_dropout: float = Field(0.0, ge=0.0, lt=1.0, allow_inf_nan=False, description="dropout on the encoder's "
                                     "attention probabilities while training; 0 lets SDPA run its fused kernel, which "
                                     "never holds the (heads, length, length) score matrix: any value > 0 falls back to "
                                     "the matrix path (on CPU about 3.7x the memory and 3x the time at 512 subwords)")
    max_length: int = Field(128, ge=8, description="window size in subwords incl. special tokens (ner default 128: "
                            "longer sentences are split into overlapping windows; re default 512: a pair that does "
                            "not fit gets a window centred on it; qa 384 and yesno 512: question + a stride "
                            "window of the context; similarity 512: the pair; multilabel 256: stride windows)")

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pack_sentences" in data:
            raise ValueError("model.pack_sentences was removed: sentences now read their document neighbours "
                             "through ner.context (subwords of context on each side, e.g. 64; 0 = none)")
        return data


class DataConfig(Section):
    corpus: str = Field(..., description="registry name (bc5cdr, ncbi_disease, ...) or a folder with train/devel/test files")
    data_dir: str | None = Field(None, description="folder holding corpus folders (else $BIOTUNE_DATA_DIR, then the download cache)")
    download: bool = Field(False, description="fetch a registry corpus into the cache when it is not found locally")
    format: str | None = Field(None, description="tsv | jsonl | pubtator | bioc, ... (ner reads a document format as sentences that keep their document; default: the corpus's, then the file extension)")
    tag_field: str = Field("tags", description="JSONL field holding the tags")
    scheme: Literal["auto", "bio", "iobes"] = Field("auto", description="tag scheme of the input files")
    train: str = Field("train", description="split used for training")
    dev: str | None = Field("dev", description="split used for model selection; refused when it is one of the test files, unless allow_test_as_dev")
    allow_test_as_dev: bool = Field(False, description="accept a dev split that is also a test split (model selection on the test set: its scores are then optimistic)")
    allow_test_as_train: bool = Field(False, description="accept a training source that is a test split (of data.test or of a registered corpus found locally): e.g. a release model trained on every split; its test scores then mean nothing")
    test: list[str] = Field(default_factory=lambda: ["test"], description="splits (train/dev/test, <corpus>:<split>, hf:<dataset>[:<config>]:<split>) or file paths to evaluate on")
    rename_types: dict[str, str] = Field(default_factory=dict, description="entity type renames applied to every split and source read, e.g. {GENE: Gene}, so corpora that spell a type differently share it")
    limit: int | None = Field(None, ge=1, description="read at most N sentences of each split and source (smoke/debug runs; such runs get their own folder)")


class TrainingConfig(Section):
    epochs: float = Field(3.0, gt=0, allow_inf_nan=False, description="training epochs")
    learning_rate: float = Field(5e-5, gt=0, allow_inf_nan=False, description="peak AdamW learning rate (linear decay)")
    batch_size: int = Field(32, ge=1, description="training sentences (windows) per step")
    eval_batch_size: int = Field(64, ge=1, description="windows per batch at evaluation/prediction")
    batch_tokens: int | None = Field(16384, ge=1, description="at most this many padded subwords (rows x longest row) "
                                     "per training batch, batch_size rows at most; batches are cut from length-sorted "
                                     "windows (group_by_length), else every batch has as many rows as the longest "
                                     "window allows; a window longer than the budget is a batch of its own, never "
                                     "cut; null = batch_size rows whatever their length")
    eval_batch_tokens: int | None = Field(32768, ge=1, description="the same budget for evaluation and prediction "
                                          "batches (eval_batch_size rows at most); null = eval_batch_size rows")
    max_steps: int | None = Field(None, ge=1, description="stop training after this many optimizer steps (a smoke or "
                                  "memory check; dev and test are still evaluated in full); null = the epochs")
    warmup: float = Field(0.1, ge=0, lt=1, allow_inf_nan=False, description="fraction of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, allow_inf_nan=False, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, allow_inf_nan=False, description="gradient clipping")
    seed: int = Field(42, description="random seed (model init, shuffling)")
    early_stopping_patience: int | None = Field(None, ge=1, description="stop after this many epochs without dev F1 gain")
    bf16: Literal["auto", True, False] = Field("auto", description="bf16 autocast: auto = where the CPU/GPU supports it")
    group_by_length: bool = Field(True, description="batch sentences of similar length (less padding)")
    logging_steps: int = Field(50, ge=1, description="log the loss every N steps")
    checkpoint_steps: int | None = Field(None, ge=1, description="save a resumable checkpoint (model, optimizer, scheduler, RNG, data position) every N steps; null = at the end of every epoch. A killed run resumes from the last one when rerun with the same command")
    strategy: Literal["single", "sequential", "joint"] = Field(
        "single", description="how `sources` are used: single (one source), sequential (one phase per source, "
        "in order, each starting from the previous phase's best model), joint (all sources in one shuffled stream)")


class SourceConfig(Section):
    """One training source: a split or file, the types it annotates, its loss weight."""

    name: str = Field(..., description="source name (used for sequential phase folders and reports)")
    split: str = Field(..., description="train/dev/test of data.corpus, <corpus>:<split> (hf:<dataset>[:<config>]:<split> too), or a file path")
    format: str | None = Field(None, description="tsv | jsonl (default: data.format, then the file extension)")
    tag_field: str | None = Field(None, description="JSONL tag field (default: data.tag_field)")
    types: list[str] | None = Field(None, description="entity types the source annotates (default: the registry's, else the types in its tags)")
    weight: float = Field(1.0, ge=0, allow_inf_nan=False, description="multiplies each of the source's examples' loss (noise-aware: silver < 1)")
    only_labelled: bool = Field(False, description="keep only sentences with at least one entity (for silver from a low-recall dictionary, whose other sentences teach mostly false O)")
    sample_ratio: float | None = Field(None, gt=0, allow_inf_nan=False, description="use ratio x (reference source's sentences) sentences, drawn with the seed; the reference is the first source without a sample_ratio; null = all")
    epochs: float | None = Field(None, gt=0, allow_inf_nan=False, description="sequential: this phase's epochs (default training.epochs)")
    learning_rate: float | None = Field(None, gt=0, allow_inf_nan=False, description="sequential: this phase's learning rate (default training.learning_rate)")


class ExperimentConfig(Section):
    task: str = Field("ner", description="the task, by name: ner | re | qa | yesno | similarity | multilabel (`biotune.tasks.TASKS`); it picks the heads, the readers and the metrics")
    name: str = Field("experiment", description="run name: outputs go under <output_dir>/*/<name>/seed_<seed>")
    output_dir: str = Field("outputs", description="root of checkpoints/, results/, logs/")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    sources: list[SourceConfig] = Field(default_factory=list, description="training sources; empty = data.train alone")
    settings: SerializeAsAny[Section] | None = Field(
        None, validate_default=True, description="the task's own section, written under the task's name (`ner:`, "
        "`re:`, `qa:`, `yesno:`) and validated by the model its `TaskSpec.settings` names; None: the task has none")

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        """Old layouts migrated (`migrate`); the task's section moved to `settings`, a section of another task
        refused; the task's own defaults for keys a config leaves out (its first head, its window size)."""
        from biotune.tasks import TASKS

        if not isinstance(data, dict) or data.get("task", "ner") not in TASKS:
            return data
        data = migrate(data)
        task = data.get("task", "ner")
        if "settings" in data and not isinstance(data["settings"], BaseModel):
            raise ValueError(f"unknown key 'settings' (the task's section is written under its name, {task!r})")
        for other in TASKS:
            if other != task and other in data:
                raise ValueError(f"{other}: only task {other} reads this section (task is {task!r})")
        for dotted, (owner, key) in MOVED_KEYS.items():
            shared, _, old = dotted.partition(".")
            if isinstance(data.get(shared), dict) and old in data[shared]:
                raise ValueError(f"{dotted}: only task {owner} reads it, as {owner}.{key} (task is {task!r})")
        if task in data:
            data = {key: value for key, value in data.items() if key != task} | {"settings": data[task]}
        spec = TASKS[task]
        model = data.get("model")
        if model is None or isinstance(model, dict):
            data = {**data, "model": {"head": spec.default_head, "max_length": spec.max_length, **(model or {})}}
        return data

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        from biotune.tasks import TASKS

        message = TASKS.unknown(value)
        if message:
            raise ValueError(message)
        return value

    @model_validator(mode="after")
    def _head_of_task(self) -> ExperimentConfig:
        from biotune.tasks import TASKS

        message = Registry(f"{self.task} head", dict.fromkeys(TASKS[self.task].heads)).unknown(self.model.head, "model.head")
        if message:
            raise ValueError(message)
        if self.settings is not None:
            message = self.settings.check(self)
            if message:
                raise ValueError(message)
        return self

    @field_validator("settings", mode="plain")
    @classmethod
    def _task_section(cls, value: Any, info: ValidationInfo) -> Section | None:
        """The task's section validated by its own model (`TaskSpec.settings`); errors keep their keys."""
        from biotune.tasks import TASKS, task_settings

        task = info.data.get("task")
        if task not in TASKS:
            return None  # the unknown task is the error
        model = task_settings(task)
        if model is None:
            if value:
                raise ValueError(f"task {task} has no section of its own: remove {task}:")
            return None
        return value if isinstance(value, model) else model.model_validate({} if value is None else value)

    def section(self, model: type[S]) -> S:
        """The task's section as `model` (its `TaskSpec.settings`): what a task's code reads its keys through."""
        if not isinstance(self.settings, model):
            raise BiotuneError(f"task {self.task} has no {model.__name__} section")
        return self.settings

    @model_serializer(mode="wrap")
    def _task_section_by_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`settings` is written under the task's name, where a config file gives it."""
        out = handler(self)
        settings = out.pop("settings", None)
        return out if settings is None else {**out, self.task: settings}

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not value or "/" in value or value.startswith("."):
            raise ValueError("must be a plain folder name")
        return value

    @model_validator(mode="after")
    def _strategy_fits_sources(self) -> ExperimentConfig:
        n = len(self.sources)
        if self.training.strategy == "single" and n > 1:
            raise ValueError(f"training.strategy 'single' takes one source, {n} are given (use sequential or joint)")
        if self.training.strategy in ("sequential", "joint") and n < 2:
            raise ValueError(f"training.strategy {self.training.strategy!r} needs at least two sources, {n} given")
        names = [source.name for source in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique: {names}")
        return self

    @property
    def run_name(self) -> str:
        """The run folder name: `name`, suffixed for a limited (smoke/debug) run so it never lands in a real run's folder."""
        return f"{self.name}__limit{self.data.limit}" if self.data.limit else self.name

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


# Keys that moved from the shared sections into a task's own (old dotted key -> task, key in its section).
MOVED_KEYS = {"model.context": ("ner", "context"), "training.crf_learning_rate": ("ner", "crf_learning_rate"),
              "training.unannotated_o": ("ner", "unannotated_o")}
# Sections renamed to the task that reads them (old name -> those tasks; the first when the config's task is none).
RENAMED_SECTIONS = {"relation": ("re",), "qa": ("qa", "yesno")}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A config or run snapshot written in an older layout, rewritten to today's so that it validates to
    the same config: NER-only keys of the shared sections (`model.context`, `training.crf_learning_rate`,
    `training.unannotated_o`) move into `ner:`, `relation:` becomes `re:`, a yesno config's `qa:` becomes
    `yesno:`; where both layouts give a key, the new one wins (a child config over an old parent). Older
    snapshots wrote every section, so what the config's task does not read is dropped when it holds the
    default; anything else is left where it is, for validation to refuse naming it."""
    from biotune.tasks import TASKS

    task = data.get("task", "ner")
    if task not in TASKS:
        return data
    out = copy.deepcopy(data)
    for dotted, (owner, key) in MOVED_KEYS.items():
        shared, _, old = dotted.partition(".")
        if not isinstance(out.get(shared), dict) or old not in out[shared]:
            continue
        if task == owner:
            if out.get(owner) is None:  # absent, or an empty `ner:` line
                out[owner] = {}
            if isinstance(out[owner], dict):
                out[owner].setdefault(key, out[shared].pop(old))
        elif out[shared][old] == _owned_section(owner).model_fields[key].default:
            del out[shared][old]
    for old, owners in RENAMED_SECTIONS.items():
        if old not in out or (task in owners and task == old):
            continue
        if task in owners:
            section = out.pop(old)
            new = out.get(task)
            out[task] = _merge(section, new) if isinstance(section, dict) and isinstance(new, dict) else section
        elif _is_default(out[old], _owned_section(owners[0])):
            del out[old]
        elif owners[0] != old:
            out[owners[0]] = out.pop(old)
    return out


def refuse_both_layouts(data: Mapping[str, Any], path: Path) -> None:
    """A `BiotuneError` for one file giving a key in both its old and its new place (`relation:` and `re:`,
    `model.context` and `ner.context`): `migrate` would keep the new one and silently drop the other.
    Across files (a child over an old parent) the new place wins, as `migrate` says."""
    pairs = [(old, new) for old, owners in RENAMED_SECTIONS.items() for new in owners if new != old]
    pairs += [(dotted, f"{owner}.{key}") for dotted, (owner, key) in MOVED_KEYS.items()]
    for old, new in pairs:
        if _has(data, old) and _has(data, new):
            raise BiotuneError(f"{path}: gives both {old} (its older name) and {new}; keep {new} only")


def _has(data: Mapping[str, Any], dotted: str) -> bool:
    section, _, key = dotted.partition(".")
    if not key:
        return section in data
    return isinstance(data.get(section), Mapping) and key in data[section]


def _owned_section(task: str) -> type[Section]:
    model = _task_section_model(task)
    assert model is not None, f"task {task} has a section"  # MOVED_KEYS and RENAMED_SECTIONS name such tasks
    return model


def _is_default(section: Any, model: type[Section]) -> bool:
    try:
        return isinstance(section, dict) and model.model_validate(section) == model()
    except ValidationError:
        return False


# Keys that say where things are, not what is computed: two runs that differ only here are the
# same experiment (a corpus folder moved, another output root, a corpus fetched with --download).
PATH_ONLY_KEYS = frozenset({"output_dir", "data.data_dir", "data.download"})


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> {dotted key: leaf value}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def differing_keys(configs: Sequence[Mapping[str, Any]], ignore: frozenset[str] = frozenset()) -> list[str]:
    """Dotted keys whose values differ between resolved configs, except those in `ignore` and `PATH_ONLY_KEYS`."""
    flat = [flatten(c) for c in configs]
    keys = set().union(*flat) - ignore - PATH_ONLY_KEYS
    return sorted(k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1)


class _StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping, at any depth.

    Plain YAML keeps the last of two equal keys without a word, so a suite listing `bc5cdr:` twice
    silently ran one of them, and a config's second `training:` section replaced the first whole.
    A merge key (`<<: *defaults`) is not a duplicate: the keys written beside it override it.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # a complex key is the base loader's to refuse (unhashable)
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise BiotuneError(f"{key_node.start_mark.name}:{line}: duplicate key {key!r} "
                                   f"(first at line {first_line[key]})")
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file strictly (`_StrictLoader`), naming the file in every error: experiment,
    suite and pretraining configs (through `read_yaml`), search spaces and run snapshots are read here."""
    loader = _StrictLoader(path.read_text(encoding="utf-8"))
    loader.name = str(path)  # the marks of errors name the file, not "<unicode string>"
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise BiotuneError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def read_snapshot(path: Path) -> dict[str, Any]:
    """A run's `config_snapshot.yaml` re-validated with today's schema, as a plain mapping, so a key
    added since (at its default) does not make an older run look different; a key that no longer
    exists is an error naming the file."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise BiotuneError(f"{path}: not a config snapshot")
    return validate(data, str(path)).model_dump(mode="json")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a config file with its `extends:` chain resolved (cycles are errors)."""
    path = path.resolve()
    if path in seen:
        raise BiotuneError(f"{path}: `extends` cycle: {' -> '.join(map(str, seen + (path,)))}")
    if not path.is_file():
        raise BiotuneError(f"config file {path} not found")
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise BiotuneError(f"{path}: a config must be a mapping of keys, got {type(data).__name__}")
    refuse_both_layouts(data, path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return _merge(read_yaml(path.parent / parent, seen + (path,)), data)


def _suggest(loc: tuple[Any, ...], model: type[BaseModel], root: str = "") -> str:
    """'did you mean' for a forbidden key, from the fields of the section it sits in (a list item's
    section is the list's item model: `sources.0.nmae` -> `sources.0.name`)."""
    keyed = False  # the part after a `dict[str, Section]` field is a key of the user's, not a field
    for part in loc[:-1]:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        field = model.model_fields.get(str(part))
        section, keyed = _section_of(field.annotation if field else None)
        if section is None:
            return ""
        model = section
    prefix = root + "".join(f"{part}." for part in loc[:-1])
    return did_you_mean(prefix + str(loc[-1]), [prefix + name for name in model.model_fields])


def _section_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The section model a field holds, directly, as list items, as dict values (keyed: True) or
    as one member of a union (`str | BackboneSpec`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        return _section_of(args[0])[0], False
    if origin is dict and len(args) == 2:
        return _section_of(args[1])[0], True
    for member in args if origin in (Union, UnionType) else ():
        section, keyed = _section_of(member)
        if section is not None:
            return section, keyed
    return None, False


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: dict[str, Any], origin: str, what: str = "config") -> M:
    """Validate a raw mapping into `model`; one line naming every bad dotted key and the source."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = err["loc"]
            within: tuple[Any, ...] = loc
            section: type[BaseModel] = model
            root = ""
            if issubclass(model, ExperimentConfig) and loc[:1] == ("settings",):  # written under the task's name
                task = str(data.get("task", "ner"))
                loc = (task, *loc[1:])
                within, section, root = loc[1:], _task_section_model(task) or Section, f"{task}."
            key = ".".join(map(str, loc)) or "config"
            if err["type"] == "extra_forbidden":
                lines.append(f"unknown key {key!r}{_suggest(within, section, root)}")
            else:
                lines.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
        raise BiotuneError(f"{origin}: invalid {what}: " + "; ".join(lines)) from None  # one line, every key


def _task_section_model(task: str) -> type[Section] | None:
    from biotune.tasks import TASKS, task_settings

    return task_settings(task) if task in TASKS else None


def validate(data: dict[str, Any], origin: str) -> ExperimentConfig:
    """Validate a raw experiment config mapping; errors name the dotted key and the source."""
    return validate_model(ExperimentConfig, data, origin)


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], keep_none: bool = False) -> dict[str, Any]:
    """Set dotted keys (`training.seed`, `sources.1.sample_ratio`) in a raw config mapping.

    A numeric part indexes a list (`sources.1` is the second source). None values are skipped
    unless `keep_none` (a sweep may set a key to null on purpose).
    """
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        if value is None and not keep_none:
            continue
        node: Any = out
        *parents, last = dotted.split(".")
        for part in parents:
            if isinstance(node, list):
                node = _list_item(node, part, dotted)
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise BiotuneError(f"override {dotted!r}: {part!r} is not a section")
        if isinstance(node, list):
            node[_index(node, last, dotted)] = value
        else:
            node[last] = value
    return out


def _index(items: list[Any], part: str, dotted: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise BiotuneError(f"override {dotted!r}: {part!r} is not an index of a list of {len(items)}")
    return int(part)


def _list_item(items: list[Any], part: str, dotted: str) -> Any:
    return items[_index(items, part, dotted)]


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load, resolve `extends:`, apply dotted overrides, validate. `name` defaults to the file stem."""
    path = Path(path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    return validate(apply_overrides(data, overrides or {}), str(path))
