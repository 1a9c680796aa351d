"""Experiment configs: the only place YAML is parsed.

A config file is YAML, may name a parent with `extends:` (a path relative to the file; the
child's keys are merged over the parent's, section by section), and is validated once into
typed pydantic objects with `extra="forbid"`: an unknown or misspelled key is an error that
names it and suggests the closest valid key. Code below this layer only sees `ExperimentConfig`.
Every key has a default, documented in `Field(description=...)` and in the README.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from biotune.errors import BiotuneError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(Section):
    backbone: str = Field("minilm", description="hub id or local folder of the encoder; 'minilm' = the bundled MiniLM-L6")
    head: str = Field("softmax", description="classification head, by name (softmax)")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout before the classifier")
    max_length: int = Field(128, ge=8, description="window size in subwords incl. special tokens; longer sentences are split into overlapping windows")


class DataConfig(Section):
    corpus: str = Field(..., description="registry name (bc5cdr, ncbi_disease, ...) or a folder with train/devel/test files")
    data_dir: str | None = Field(None, description="folder holding corpus folders (else $BIOTUNE_DATA_DIR, then the download cache)")
    download: bool = Field(False, description="fetch a registry corpus into the cache when it is not found locally")
    format: str | None = Field(None, description="tsv | jsonl (default: from the file extension)")
    tag_field: str = Field("tags", description="JSONL field holding the tags")
    scheme: Literal["auto", "bio", "iobes"] = Field("auto", description="tag scheme of the input files")
    train: str = Field("train", description="split used for training")
    dev: str | None = Field("dev", description="split used for model selection (never the test split)")
    test: list[str] = Field(default_factory=lambda: ["test"], description="splits or file paths to evaluate on")


class TrainingConfig(Section):
    epochs: float = Field(3.0, gt=0, description="training epochs")
    learning_rate: float = Field(5e-5, gt=0, description="peak AdamW learning rate (linear decay)")
    batch_size: int = Field(32, ge=1, description="training sentences (windows) per step")
    eval_batch_size: int = Field(64, ge=1, description="windows per batch at evaluation/prediction")
    warmup: float = Field(0.1, ge=0, lt=1, description="fraction of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping")
    seed: int = Field(42, description="random seed (model init, shuffling)")
    early_stopping_patience: int | None = Field(None, ge=1, description="stop after this many epochs without dev F1 gain")
    bf16: Literal["auto", True, False] = Field("auto", description="bf16 autocast: auto = where the CPU/GPU supports it")
    group_by_length: bool = Field(True, description="batch sentences of similar length (less padding)")
    logging_steps: int = Field(50, ge=1, description="log the loss every N steps")


class ExperimentConfig(Section):
    name: str = Field("experiment", description="run name: outputs go under <output_dir>/*/<name>/seed_<seed>")
    output_dir: str = Field("outputs", description="root of checkpoints/, results/, logs/")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not value or "/" in value or value.startswith("."):
            raise ValueError("must be a plain folder name")
        return value

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise BiotuneError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BiotuneError(f"{path}: a config must be a mapping of keys, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return _merge(read_yaml(path.parent / parent, seen + (path,)), data)


def _suggest(loc: tuple[Any, ...]) -> str:
    """'did you mean' for a forbidden key, from the fields of the section it sits in."""
    model: type[BaseModel] = ExperimentConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    hint = difflib.get_close_matches(str(loc[-1]), model.model_fields, n=1)
    return f" (did you mean {'.'.join(map(str, loc[:-1] + (hint[0],)))!r}?)" if hint else ""


def validate(data: dict[str, Any], origin: str) -> ExperimentConfig:
    """Validate a raw mapping; errors name the dotted key and the source."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(map(str, err["loc"]))
            if err["type"] == "extra_forbidden":
                lines.append(f"unknown key {key!r}{_suggest(err['loc'])}")
            else:
                lines.append(f"{key}: {err['msg']}")
        raise BiotuneError(f"{origin}: invalid config:\n  " + "\n  ".join(lines)) from None


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys (`training.seed`) in a raw config mapping; None values are skipped."""
    out = _merge({}, data)
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BiotuneError(f"override {dotted!r}: {part!r} is not a section")
        node[last] = value
    return out


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load, resolve `extends:`, apply dotted overrides, validate. `name` defaults to the file stem."""
    path = Path(path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    return validate(apply_overrides(data, overrides or {}), str(path))
