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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from biotune.errors import BiotuneError
from biotune.registry import Registry, did_you_mean


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(Section):
    backbone: str = Field("minilm", description="hub id or local folder of the encoder; 'minilm' = the bundled MiniLM-L6")
    head: str = Field("softmax", description="head, by name; ner: softmax | crf (linear-chain CRF over words, learned "
                      "transitions); re: entity_start (the two entity-start markers' states, Zhou & Chen) | cls "
                      "(first token); qa: span (start/end scores); yesno: cls; similarity: cls (one regression "
                      "output); multilabel: sigmoid (a score per label). Default: the task's first")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, allow_inf_nan=False, description="dropout before the classifier")
    max_length: int = Field(128, ge=8, description="window size in subwords incl. special tokens (ner default 128: "
                            "longer sentences are split into overlapping windows; re default 512: a pair that does "
                            "not fit gets a window centred on it; qa 384 and yesno 512: question + a stride "
                            "window of the context; similarity 512: the pair; multilabel 256: stride windows)")
    context: int = Field(0, ge=0, description="ner: subwords of document context on each side (FLERT): a sentence's "
                         "window also holds its neighbours in the same document (-DOCSTART- blocks, a JSONL "
                         "'document' field, PubTator/BioC documents), unlabelled, never across documents; the "
                         "checkpoint records it and prediction uses it. 0 = the sentence alone")

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pack_sentences" in data:
            raise ValueError("model.pack_sentences was removed: sentences now read their document neighbours "
                             "through model.context (subwords of context on each side, e.g. 64; 0 = none)")
        return data


class RelationConfig(Section):
    """The `relation:` section (task: re)."""

    negative_label: str | None = Field("0", description="the no-relation label, excluded from the micro-F1 (ChemProt, "
                                       "DDI, GAD use 0); null when every label is a relation")
    label2id: str | None = Field(None, description="a name<TAB>id file: integer label cells are ids into it (default: "
                                 "label2id.tsv beside each split's file, when there is one)")
    pairs: list[tuple[str, str]] = Field(default_factory=list, description="document splits: the entity type pairs "
                                         "(head, tail) that become candidates, e.g. [[Chemical, Disease]]")
    scope: Literal["sentence", "document"] = Field("sentence", description="document splits: candidates within a "
                                                   "sentence, or one per concept pair of a document (closest mentions)")
    max_sentences: int | None = Field(None, ge=0, description="document scope: no candidate for a pair whose closest "
                                      "mentions are more sentence boundaries apart (counted in the report)")
    too_wide: Literal["error", "skip"] = Field("error", description="a training pair whose marked entities span more "
                                               "tokens than max_length: error (naming it) | skip (left out of "
                                               "training and counted); dev and test pairs must always fit")


class QaConfig(Section):
    """The `qa:` section (tasks qa and yesno): windows over long contexts, the answer search, BioASQ gold."""

    type: Literal["factoid", "list"] = Field("factoid", description="task qa: which BioASQ questions a gold file "
                                             "gives and how answers are cut and scored: factoid (top_k; strict, "
                                             "lenient, MRR) | list (merged score >= the threshold; mean P/R/F1)")
    stride: int = Field(128, ge=0, description="subwords shared by consecutive windows of a context longer than a "
                        "window (never truncated)")
    n_best: int = Field(20, ge=1, description="task qa: start and end positions paired per window")
    max_answer_length: int = Field(30, ge=1, description="task qa: longest answer, in subwords")
    top_k: int = Field(5, ge=1, description="task qa: answers per factoid question (BioASQ scores the top 5)")
    list_threshold: float | None = Field(None, ge=0, allow_inf_nan=False, description="task qa, list: a fixed "
                                         "merged-score threshold; null = tuned on the dev split after training")
    gold: list[str] = Field(default_factory=list, description="BioASQ gold files for SQuAD-form files without answers "
                            "(default: the *_golden.json in a golden/ folder beside the file's folder)")


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
    test: list[str] = Field(default_factory=lambda: ["test"], description="splits or file paths to evaluate on")
    rename_types: dict[str, str] = Field(default_factory=dict, description="entity type renames applied to every split and source read, e.g. {GENE: Gene}, so corpora that spell a type differently share it")
    limit: int | None = Field(None, ge=1, description="read at most N sentences of each split and source (smoke/debug runs; such runs get their own folder)")


class TrainingConfig(Section):
    epochs: float = Field(3.0, gt=0, allow_inf_nan=False, description="training epochs")
    learning_rate: float = Field(5e-5, gt=0, allow_inf_nan=False, description="peak AdamW learning rate (linear decay)")
    batch_size: int = Field(32, ge=1, description="training sentences (windows) per step")
    eval_batch_size: int = Field(64, ge=1, description="windows per batch at evaluation/prediction")
    warmup: float = Field(0.1, ge=0, lt=1, allow_inf_nan=False, description="fraction of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, allow_inf_nan=False, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, allow_inf_nan=False, description="gradient clipping")
    crf_learning_rate: float = Field(1e-2, gt=0, allow_inf_nan=False, description="learning rate of a CRF head's transition scores (they start at zero)")
    seed: int = Field(42, description="random seed (model init, shuffling)")
    early_stopping_patience: int | None = Field(None, ge=1, description="stop after this many epochs without dev F1 gain")
    bf16: Literal["auto", True, False] = Field("auto", description="bf16 autocast: auto = where the CPU/GPU supports it")
    group_by_length: bool = Field(True, description="batch sentences of similar length (less padding)")
    logging_steps: int = Field(50, ge=1, description="log the loss every N steps")
    checkpoint_steps: int | None = Field(None, ge=1, description="save a resumable checkpoint (model, optimizer, scheduler, RNG, data position) every N steps; null = at the end of every epoch. A killed run resumes from the last one when rerun with the same command")
    strategy: Literal["single", "sequential", "joint"] = Field(
        "single", description="how `sources` are used: single (one source), sequential (one phase per source, "
        "in order, each starting from the previous phase's best model), joint (all sources in one shuffled stream)")
    unannotated_o: Literal["marginal", "o"] = Field(
        "marginal", description="loss on an O tag of a source that does not annotate every type: marginal = the "
        "word is O or an entity of a type the source does not annotate (partial-label loss); o = plain O")


class SourceConfig(Section):
    """One training source: a split or file, the types it annotates, its loss weight."""

    name: str = Field(..., description="source name (used for sequential phase folders and reports)")
    split: str = Field(..., description="train/dev/test of data.corpus, <corpus>:<split>, or a file path")
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
    relation: RelationConfig = Field(default_factory=RelationConfig, description="task re: labels and the headline")
    qa: QaConfig = Field(default_factory=QaConfig, description="tasks qa and yesno: windows, answer search, gold files")

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        """The task's own defaults for keys a config leaves out (its first head, its window size)."""
        from biotune.tasks import TASKS

        if not isinstance(data, dict) or data.get("task", "ner") not in TASKS:
            return data
        spec = TASKS[data.get("task", "ner")]
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
        if self.task != "re" and self.relation != RelationConfig():
            raise ValueError(f"relation: only task re reads this section (task is {self.task!r})")
        if self.task not in ("qa", "yesno") and self.qa != QaConfig():
            raise ValueError(f"qa: only tasks qa and yesno read this section (task is {self.task!r})")
        if self.task == "qa" and self.qa.type == "list" and not self.data.dev and self.qa.list_threshold is None:
            raise ValueError("qa.type list needs data.dev to tune the answer threshold on, or a fixed qa.list_threshold")
        return self

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
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return _merge(read_yaml(path.parent / parent, seen + (path,)), data)


def _suggest(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
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
    prefix = "".join(f"{part}." for part in loc[:-1])
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
            key = ".".join(map(str, err["loc"])) or "config"
            if err["type"] == "extra_forbidden":
                lines.append(f"unknown key {key!r}{_suggest(err['loc'], model)}")
            else:
                lines.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
        raise BiotuneError(f"{origin}: invalid {what}: " + "; ".join(lines)) from None  # one line, every key


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
