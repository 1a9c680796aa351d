"""The task registry: each task by name, with what config validation needs to know about it.

A task's code (model classes, torch) is imported only when the task is first used, so config
validation (`TaskSpec`: head names, defaults) never imports model code. Adding a task is its
own folder under `biotune/tasks/` plus one `TASKS` line.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from biotune.registry import Registry

if TYPE_CHECKING:
    from biotune.tasks.contract import Task


@dataclass(frozen=True)
class TaskSpec:
    """What the config layer knows of a task without importing it."""

    name: str
    implementation: str  # "module:Class" of its `Task`
    heads: tuple[str, ...]  # head names its `model.head` accepts; the first is the default
    max_length: int  # default `model.max_length`
    description: str

    @property
    def default_head(self) -> str:
        return self.heads[0]


TASKS: Registry[TaskSpec] = Registry("task", {spec.name: spec for spec in (
    TaskSpec("ner", "biotune.tasks.ner.task:NerTask", ("softmax", "crf"), 128, "named entities (BIO tagging)"),
    TaskSpec("re", "biotune.tasks.re.task:RelationTask", ("entity_start", "cls"), 512,
             "relation between two marked entities"),
    TaskSpec("qa", "biotune.tasks.qa.task:QaTask", ("span",), 384,
             "extractive question answering (BioASQ factoid and list), answers merged over a question's snippets"),
    TaskSpec("yesno", "biotune.tasks.qa.task:DecisionTask", ("cls",), 512,
             "yes / no (/ maybe) answers from a question and its context (BioASQ yes/no, PubMedQA)"),
)})


def task_spec(name: str) -> TaskSpec:
    return TASKS.lookup(name, where="task")


@cache
def get_task(name: str) -> Task:
    """The task object (imported on first use)."""
    module, _, attr = task_spec(name).implementation.partition(":")
    return getattr(importlib.import_module(module), attr)()


def checkpoint_task(folder: str | Path) -> str:
    """The task a saved model folder belongs to (`config.json` ``biotune.task``; older NER folders have none)."""
    config_file = Path(folder) / "config.json"
    try:
        recorded = json.loads(config_file.read_text(encoding="utf-8")).get("biotune") or {}
    except (OSError, ValueError):
        return "ner"  # the checkpoint checks of the task's `load` name what is wrong with the folder
    return recorded.get("task", "ner")
