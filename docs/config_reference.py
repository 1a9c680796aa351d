"""The config reference pages, generated from the pydantic models' field descriptions.

A key's documentation is its `Field(description=...)` in the code that validates it, so the
reference can never drift from what biotune accepts. mkdocs runs this file at build time
(`mkdocs-gen-files`, see `mkdocs.yml`); `tests/docs/test_config_reference.py` imports it to fail
when a key has no description.
"""

from __future__ import annotations

import importlib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


@dataclass(frozen=True)
class Key:
    """One documented key: its dotted path, type, default and description."""

    path: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Page:
    """A section of the reference: a title, a sentence on where its keys are written, the root model."""

    title: str
    intro: str
    model: type[BaseModel]
    prefix: str = ""


def _load(target: str) -> type[BaseModel]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def pages() -> list[Page]:
    """Every config file kind biotune reads, and each task's own section (from the task registry)."""
    from biotune.config import ExperimentConfig
    from biotune.tasks import TASKS

    found = [Page("Experiment configs", "The file `biotune train`, `run`, `cv`, `sweep`, `search` and `check-data` "
                  "read (`configs/*.yaml`). Shared sections only; each task's own section follows.", ExperimentConfig)]
    for name in TASKS:
        spec = TASKS[name]
        if spec.settings is not None:
            found.append(Page(f"`{name}:` section", f"Read only when `task: {name}` ({spec.description}).",
                              _load(spec.settings), prefix=f"{name}."))
    for title, intro, target in (
        ("Pretraining configs", "The file `biotune pretrain` reads (`configs/pretrain/*.yaml`).",
         "biotune.pretraining.config:PretrainingConfig"),
        ("Suite configs", "The file `biotune benchmark` reads (`configs/suites/*.yaml`).",
         "biotune.experiments.suite:SuiteConfig"),
    ):
        found.append(Page(title, intro, _load(target)))
    return found


def _nested(annotation: object) -> type[BaseModel] | None:
    """The model a field holds (directly, in a list, or optionally), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        if (model := _nested(argument)) is not None:
            return model
    return None


def _container(annotation: object) -> str:
    """How a nested model's keys are written under their field: `sources[].name`, `datasets.<name>.config`."""
    origin = typing.get_origin(annotation)
    if origin is list:
        return "[]."
    if origin is dict:
        return ".<name>."
    for argument in typing.get_args(annotation):
        if _nested(argument) is not None and (inner := _container(argument)) != ".":
            return inner
    return "."


def _type_name(annotation: object) -> str:
    if annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) if not isinstance(a, bool) else str(a).lower() for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is not None:
        arguments = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{arguments}]"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " | ".join(repr(m.value) for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value!r}`" if not isinstance(value, str) else f"`{value}`"


def keys(model: type[BaseModel], prefix: str = "") -> Iterator[Key]:
    """Every key of `model`, sections expanded into their keys (`training.epochs`), in field order.
    A field holding a task's section (`settings`) is documented by the task's own page instead."""
    for name, field in model.model_fields.items():
        if name == "settings" and prefix == "":
            continue
        path = f"{prefix}{field.alias or name}"
        nested = _nested(field.annotation)
        if nested is not None:
            yield from keys(nested, path + _container(field.annotation))
            continue
        yield Key(path, _type_name(field.annotation), _default(field), (field.description or "").strip())


def undocumented() -> list[str]:
    """Keys without a description (`tests/docs/test_config_reference.py` wants none)."""
    return [f"{page.title}: {key.path}" for page in pages() for key in keys(page.model, page.prefix) if not key.description]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The whole reference page."""
    lines = ["# Config reference", "",
             "Generated from the `Field(description=...)` of the pydantic models that validate each file, so it "
             "lists exactly the keys biotune accepts. YAML; `extends: other.yaml` inherits (the child's keys merge "
             "over the parent's, section by section). An unknown or misspelled key is an error naming the key and "
             "the closest valid one; a key given twice in one mapping is an error naming both lines.", ""]
    for page in pages():
        lines += [f"## {page.title}", "", page.intro, "", "| key | type | default | meaning |", "|---|---|---|---|"]
        lines += [f"| `{key.path}` | {_cell(key.type)} | {_cell(key.default)} | {_cell(key.description)} |"
                  for key in keys(page.model, page.prefix)]
        lines.append("")
    return "\n".join(lines)


if __name__ == "<run_path>":  # run by mkdocs-gen-files at build time (runpy.run_path), not imported by a test
    import mkdocs_gen_files

    with mkdocs_gen_files.open("reference/config.md", "w") as out:
        out.write(markdown())
