"""The task registry: each task by name, with what config validation needs to know about it.

A task's code (model classes, torch) is imported only when the task is first used, so config
validation (`TaskSpec`: head names, defaults, the model of the task's config section, whose
`settings.py` imports no model code) never imports model code. Adding a task is its own folder
under `biotune/tasks/` plus one `TASKS` line.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from biotune.errors import BiotuneError
from biotune.registry import Registry

if TYPE_CHECKING:
    from biotune.config import Section
    from biotune.tasks.contract import Task


@dataclass(frozen=True)
class TaskSpec:
    """What the config layer knows of a task without importing it."""

    name: str
    implementation: str  # "module:Class" of its `Task`
    heads: tuple[str, ...]  # head names its `model.head` accepts; the first is the default
    max_length: int  # default `model.max_length`
    description: str
    takes: str  # the command options a saved model of the task goes to (said when it is given to another)
    family: str  # the benchmark family a suite averages it in (BLURB's: NER, RE, QA, similarity, classification)
    settings: str | None = None  # "module:Class" of its config section (a `Section`) under the task's name; None: none

    @property
    def default_head(self) -> str:
        return self.heads[0]


TASKS: Registry[TaskSpec] = Registry("task", {spec.name: spec for spec in (
    TaskSpec("ner", "biotune.tasks.ner.task:NerTask", ("softmax", "crf"), 128, "named entities (BIO tagging)",
             "--checkpoint of tag, serve, predict and evaluate", "NER", "biotune.tasks.ner.settings:NerSettings"),
    TaskSpec("re", "biotune.tasks.re.task:RelationTask", ("entity_start", "cls"), 512,
             "relation between two marked entities",
             "--relations of tag and serve (beside an NER --checkpoint), or --checkpoint of predict and evaluate", "RE",
             "biotune.tasks.re.settings:RelationSettings"),
    TaskSpec("qa", "biotune.tasks.qa.task:QaTask", ("span",), 384,
             "extractive question answering (BioASQ factoid and list), answers merged over a question's snippets",
             "--qa of serve, or --checkpoint of serve, predict and evaluate", "QA",
             "biotune.tasks.qa.settings:QaSettings"),
    # BLURB counts BioASQ yes/no and PubMedQA as question answering
    TaskSpec("yesno", "biotune.tasks.qa.task:DecisionTask", ("cls", "mean"), 512,
             "yes / no (/ maybe) answers from a question and its context (BioASQ yes/no, PubMedQA)",
             "--checkpoint of predict and evaluate, or a MODEL_DIR of serve (POST /yesno)", "QA",
             "biotune.tasks.qa.settings:QaSettings"),
    TaskSpec("similarity", "biotune.tasks.similarity.task:SimilarityTask", ("cls", "biencoder"), 512,
             "regression score of how similar two sentences are, as BIOSSES rates them",
             "--checkpoint of predict and evaluate, or a MODEL_DIR of serve (POST /similarity)", "Similarity"),
    TaskSpec("multilabel", "biotune.tasks.multilabel.task:MultiLabelTask", ("sigmoid", "mean"), 256,
             "multi-label text classification (HoC hallmarks of cancer), scored per abstract",
             "--checkpoint of tag, predict and evaluate, or a MODEL_DIR of serve (POST /multilabel)",
             "Classification"),
)})


def task_spec(name: str) -> TaskSpec:
    return TASKS.lookup(name, where="task")


@cache
def task_settings(name: str) -> type[Section] | None:
    """The model of the task's config section (imported on first use; its module imports no model code)."""
    path = task_spec(name).settings
    if path is None:
        return None
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


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


def require_checkpoint_task(folder: str | Path, expected: str) -> None:
    """Refuse a model folder of another task before its weights load, saying which task it is and where it goes.

    Loaded as the wrong task, transformers would report mismatched or missing weights: true,
    but it reads as a damaged checkpoint rather than one given to the wrong option.
    """
    try:
        recorded = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("biotune") or {}
    except (OSError, ValueError, AttributeError):
        return  # the task's own checkpoint checks name what is wrong with the folder
    found = recorded.get("task")
    if found is not None and found != expected and found in TASKS:
        spec = task_spec(found)
        raise BiotuneError(f"checkpoint {folder} is a {found} model ({spec.description}), not a {expected} model: "
                           f"it goes to {spec.takes}")
