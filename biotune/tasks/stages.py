"""The document pipeline: each model (or dictionary) a stage that adds one kind of annotation to
documents, run in the order their needs give. `biotune tag` and the service's document endpoint
(NER's /tag) both run it, so a text gets the same entities, concept ids and relations from either.

A task declares its stage through the contract (`Task.document_stage`): NER adds ``entities``, a
relation model trained on documents adds ``relations`` between them, a dictionary linker
(`biotune.serving.linking_stage`, not a task) adds ``linking`` (concept ids). A stage says what it
`provides`, what it `needs` before it (refused when nothing given provides it) and what it `uses`
when present (it runs after that: relations group mentions by the concept ids linking gives).
The machinery that runs the pipeline (shards, Ray, resume, the service) knows no stage by name:
it calls `annotate`, adds up `counts`, reports `describe` and writes `probe` documents to check
that the output format holds every label a stage can write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import Document


class DocumentStage(ABC):
    """One step of the document pipeline (see the module docstring)."""

    provides: str  # the kind it adds ("entities", "linking", "relations"): its key in counts and /health
    needs: tuple[str, ...] = ()  # kinds that must be there before it
    uses: tuple[str, ...] = ()  # kinds it reads when there: it runs after their stages

    @property
    def labels(self) -> tuple[str, ...]:
        """The types of what it adds (entity types, relation types), which later stages check against."""
        return ()

    def check(self, given: Mapping[str, Sequence[str]]) -> None:
        """A `BiotuneError` when what the earlier stages give (`{kind: labels}`) is not what this stage
        was trained on (a relation model pairing entity types no NER model predicts). Default: fine."""

    @abstractmethod
    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        """The documents with this stage's annotations added, in order."""

    def counts(self) -> dict[str, int]:
        """What it has counted so far (mentions by how they were linked, pairs too wide to classify)."""
        return {}

    @classmethod
    def report(cls, counts: Mapping[str, int]) -> str | None:
        """A warning worth one line at the end of a job, from what the job's stages counted; default none.
        A class method: a Ray job's driver reports on counts its workers' stages made."""
        return None

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What /health and the tag job say of it (its types, its dictionary's size)."""

    def probe(self) -> list[Document]:
        """Documents holding every label it can write (a relation of each type), which a job writes to a
        scratch file in its output format first, so that a label the format cannot hold is an error
        before any shard. Default: none."""
        return []


@dataclass(frozen=True)
class Step:
    """A stage with where it came from: `source` for errors ("checkpoint runs/re/best_model"),
    `model` the name the service gives its model (None: a dictionary, no model), `hint` what an error
    about it adds (where such a model goes)."""

    stage: DocumentStage
    source: str
    model: str | None = None
    hint: str | None = None


class DocumentPipeline:
    """Stages in an order where each comes after what it needs and uses; checked when built.

    Not thread-safe (the models are not): the service calls it from one worker thread.
    """

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = ordered(steps)
        given: dict[str, Sequence[str]] = {}
        for step in self.steps:
            missing = [kind for kind in step.stage.needs if kind not in given]
            if missing:
                raise BiotuneError(f"{step.source} adds {step.stage.provides} to documents' {', '.join(missing)}, "
                                   f"which nothing given provides" + (f"; {step.hint}" if step.hint else ""))
            step.stage.check(given)
            given[step.stage.provides] = step.stage.labels

    @property
    def provides(self) -> tuple[str, ...]:
        """The kinds of annotation the pipeline adds, in order."""
        return tuple(step.stage.provides for step in self.steps)

    def model(self, kind: str) -> str | None:
        """The name of the model that adds `kind`, or None (no such stage, or one without a model)."""
        return next((step.model for step in self.steps if step.stage.provides == kind), None)

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        out = list(documents)
        for step in self.steps:
            out = step.stage.annotate(out)
        return out

    def counts(self) -> dict[str, int]:
        return {key: value for step in self.steps for key, value in step.stage.counts().items()}

    def describe(self) -> dict[str, dict[str, Any]]:
        """`{kind: {"model": name (where there is one), ...the stage's description}}`, in order."""
        return {step.stage.provides: {**({"model": step.model} if step.model is not None else {}),
                                      **step.stage.describe()} for step in self.steps}


def ordered(steps: Sequence[Step]) -> list[Step]:
    """The steps so that each follows those providing what it needs or uses (otherwise in the order
    given); a `BiotuneError` for two steps providing one kind."""
    by_kind: dict[str, Step] = {}
    for step in steps:
        kind = step.stage.provides
        if kind in by_kind:
            raise BiotuneError(f"{by_kind[kind].source} and {step.source} both add {kind}: give one")
        by_kind[kind] = step
    out: list[Step] = []
    placing: set[str] = set()

    def place(step: Step) -> None:
        kind = step.stage.provides
        if step in out:
            return
        if kind in placing:
            raise BiotuneError(f"{step.source} needs what it provides ({kind}), through other stages")
        placing.add(kind)
        for before in (*step.stage.needs, *step.stage.uses):
            if before in by_kind:
                place(by_kind[before])
        out.append(step)

    for step in steps:
        place(step)
    return out
