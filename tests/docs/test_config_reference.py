"""The generated config reference (`docs/config_reference.py`): every key documented, every file kind covered."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parents[2]


def _reference():
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "docs" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_config_key_has_a_description():
    assert _reference().undocumented() == []


def test_reference_lists_shared_task_pretraining_and_suite_keys():
    page = _reference().markdown()
    for key in ("`training.learning_rate`", "`sources[].weight`", "`ner.context`", "`re.negative_label`",
                "`qa.stride`", "`datasets.<name>.config`", "`backbones[].backbone`"):
        assert key in page, key
    row = next(line for line in page.splitlines() if line.startswith("| `training.epochs`"))
    assert row.split(" | ")[1:3] == ["float", "`3.0`"]


def test_a_key_without_description_is_reported():
    class Inner(BaseModel):
        documented: int = Field(1, description="has one")
        bare: str = "x"

    class Outer(BaseModel):
        inner: Inner = Field(default_factory=Inner)
        items: list[Inner] = Field(default_factory=list, description="a list of sections")

    found = {key.path: key for key in _reference().keys(Outer)}
    assert sorted(found) == ["inner.bare", "inner.documented", "items[].bare", "items[].documented"]
    assert found["inner.bare"].description == "" and found["inner.documented"].default == "`1`"
