"""Search spaces: which dotted config keys a hyperparameter search varies, and over what.

A space file is YAML:

    sampler: tpe                 # optional default: tpe | random | grid (the command line may override it)
    params:
      training.learning_rate: {type: log, low: 1.0e-5, high: 1.0e-4}
      training.batch_size: {type: categorical, choices: [16, 32]}
      training.epochs: {type: int, low: 1, high: 4}
      model.dropout: {type: float, low: 0.1, high: 0.5, step: 0.1}

Types: `float` (uniform, optional `step`), `log` (float, log-uniform), `int` (optional `step`,
or `log: true`), `categorical` (`choices`). Every key is checked against the experiment config
schema before anything runs: each endpoint and each choice is set into the base config and
validated, so an unknown key gets the config's "did you mean", and a value the schema refuses
(a warm-up fraction of 1, a batch size of 0) is named with the schema's own message. Keys that
choose what is measured or where (the test and dev splits, the run name, the output folder)
cannot be searched. The `grid` preset is BioBERT's grid (batch size 10/16/32/64 x learning rate
5e-5/3e-5/1e-5), searched with Optuna's GridSampler.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from biotune.config import ExperimentConfig, apply_overrides, load_yaml, validate
from biotune.errors import BiotuneError
from biotune.registry import Registry, did_you_mean

ParamType = Literal["float", "int", "log", "categorical"]
PARAM_TYPES: Registry[None] = Registry("parameter type", dict.fromkeys(("float", "int", "log", "categorical")))
SAMPLERS: Registry[None] = Registry("sampler", dict.fromkeys(("tpe", "random", "grid")))
# What a trial measures and where it writes are not hyperparameters: searching them would select on
# the test split, or scatter trials outside the search's folders.
UNSEARCHABLE = ("name", "output_dir", "data.test", "data.dev", "data.allow_test_as_dev", "data.allow_test_as_train",
                "data.data_dir")
Choice = bool | int | float | str | None


class _ParamSpec(BaseModel):
    """One entry of `params:` as written; checked for shape here, for meaning against the config later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Choice] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _ParamSpec:
        message = PARAM_TYPES.unknown(self.type, "type")
        if message:
            raise ValueError(message)
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty `choices` list")
            if len({json.dumps(c) for c in self.choices}) != len(self.choices):
                raise ValueError(f"choices repeat a value: {self.choices}")
            if any(v is not None for v in (self.low, self.high, self.step)) or self.log:
                raise ValueError("categorical takes `choices` only (no low/high/step/log)")
            return self
        if self.choices is not None:
            raise ValueError(f"{self.type} takes low/high, not `choices` (use type: categorical)")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs `low` and `high`")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.type == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"int needs whole low/high, got {self.low} and {self.high}")
        if self.type == "log" or self.log:
            if self.low <= 0:
                raise ValueError(f"a log scale needs low > 0, got {self.low}")
            if self.step is not None:
                raise ValueError("a log scale takes no `step`")
        if self.log and self.type != "int":
            raise ValueError("`log: true` is for int; a log-uniform float is type: log")
        if self.step is not None and (self.step <= 0 or (self.type == "int" and not float(self.step).is_integer())):
            raise ValueError(f"step must be a positive {'whole number' if self.type == 'int' else 'number'}, "
                             f"got {self.step}")
        return self


@dataclass(frozen=True)
class Param:
    """One searched key: its dotted config key and its distribution."""

    key: str
    type: ParamType
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Choice, ...] | None = None

    def probes(self) -> list[Choice]:
        """The values whose validity stands for the whole range: both endpoints, or every choice."""
        if self.type == "categorical":
            return list(self.choices or ())
        if self.type == "int":
            return [int(self.low or 0), int(self.high or 0)]
        return [self.low, self.high]

    def suggest(self, trial: Any) -> Choice:
        """The trial's value for this key (`trial` is an `optuna.Trial`)."""
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices or ()))
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low or 0), int(self.high or 0),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low or 0), float(self.high or 0), step=self.step,
                                   log=self.type == "log")


@dataclass(frozen=True)
class SearchSpace:
    """The searched keys, in file order, and the space file's default sampler."""

    params: tuple[Param, ...]
    sampler: str = "tpe"
    origin: str = "search space"

    def grid(self) -> dict[str, list[Choice]]:
        """GridSampler's search space: every key must be categorical (a grid lists its values)."""
        loose = [p.key for p in self.params if p.type != "categorical"]
        if loose:
            raise BiotuneError(f"{self.origin}: the grid sampler needs categorical params (the values to try); "
                               f"not categorical: {', '.join(loose)}")
        return {p.key: list(p.choices or ()) for p in self.params}

    def to_json(self) -> dict[str, Any]:
        """The space as stored with a study, to refuse a rerun that searches another one."""
        space = {p.key: {k: v for k, v in asdict(p).items() if k != "key" and v not in (None, False)}
                 for p in self.params}
        return json.loads(json.dumps(space))  # as the storage gives it back (lists, not tuples)


def parse_space(data: Any, origin: str) -> SearchSpace:
    """A raw space mapping -> `SearchSpace`; any problem is one `BiotuneError` line naming `origin` and the key."""
    if not isinstance(data, dict):
        raise BiotuneError(f"{origin}: a search space is a mapping with `params:`, got {type(data).__name__}")
    extra = sorted(set(data) - {"params", "sampler"})
    if extra:
        raise BiotuneError(f"{origin}: unknown key {extra[0]!r}{did_you_mean(extra[0], ['params', 'sampler'])}; "
                           "a space has `params` and optionally `sampler`")
    sampler = str(data.get("sampler", "tpe"))
    message = SAMPLERS.unknown(sampler, f"{origin}: sampler")
    if message:
        raise BiotuneError(message)
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise BiotuneError(f"{origin}: `params` must map dotted config keys to distributions, e.g. "
                           "training.learning_rate: {type: log, low: 1.0e-5, high: 1.0e-4}")
    parsed = []
    for key, spec in params.items():
        if key in UNSEARCHABLE:
            raise BiotuneError(f"{origin}: params.{key} cannot be searched (trials select on the dev split and "
                               f"write into the search's folders; unsearchable: {', '.join(UNSEARCHABLE)})")
        if not isinstance(spec, dict):
            raise BiotuneError(f"{origin}: params.{key}: a distribution is a mapping (type, low, high, step, choices)")
        try:
            checked = _ParamSpec.model_validate(spec)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(map(str, err["loc"]))
            if err["type"] == "extra_forbidden":
                detail = f"unknown field {field!r}{did_you_mean(field, _ParamSpec.model_fields)}"
            else:
                detail = f"{field + ': ' if field else ''}{err['msg'].removeprefix('Value error, ')}"
            raise BiotuneError(f"{origin}: params.{key}: {detail}") from None
        values = checked.model_dump()
        choices = values.pop("choices")
        parsed.append(Param(key=str(key), choices=tuple(choices) if choices is not None else None, **values))
    return SearchSpace(tuple(parsed), sampler, origin)


def load_space(path: str | Path) -> SearchSpace:
    path = Path(path)
    if not path.is_file():
        raise BiotuneError(f"search space file {path} not found")
    return parse_space(load_yaml(path), str(path))


# BioBERT (Lee et al. 2020, section 4.2): each task tuned over these batch sizes and learning rates.
BIOBERT_GRID = parse_space({"sampler": "grid", "params": {
    "training.batch_size": {"type": "categorical", "choices": [10, 16, 32, 64]},
    "training.learning_rate": {"type": "categorical", "choices": [5.0e-5, 3.0e-5, 1.0e-5]},
}}, "the BioBERT grid preset")


def check_space(space: SearchSpace, config: ExperimentConfig) -> None:
    """Refuse, before anything runs, a key the config schema does not have or a value it refuses."""
    base = config.model_dump(mode="json")
    for param in space.params:
        for value in param.probes():
            try:
                validate(apply_overrides(base, {param.key: value}, keep_none=True), f"params.{param.key}={value!r}")
            except BiotuneError as exc:
                raise BiotuneError(f"{space.origin}: {exc}") from None
