"""The document pipeline of saved models (`biotune.tasks.stages.DocumentPipeline`) behind `biotune tag`
and the service's document endpoint: each model folder loaded as its task's predictor and declared
a stage by its task (`Task.document_stage`: NER's entities, an RE model's relations, ...), and a
linker folder or dictionary file as the linking stage (`biotune.serving.linking_stage`). Nothing
here names a task: the stages order themselves by what they need and provide, and each checks what
the stages before it give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from biotune.errors import BiotuneError
from biotune.linking import Linker
from biotune.serving.linking_stage import LinkingStage, dictionary_linker, read_link
from biotune.serving.predict_job import load_predictor
from biotune.tasks import task_spec
from biotune.tasks.stages import DocumentPipeline, Step

if TYPE_CHECKING:
    import torch


def load_pipeline(folders: Sequence[Path], link: Path | None = None, precision: str = "auto",
                  batch_size: int = 32, by_mention: bool = False, names: Mapping[Path, str] | None = None,
                  device: torch.device | str | None = None) -> DocumentPipeline:
    """The pipeline of the models in `folders` and the linker of `link` (a linker folder or a term<TAB>id
    dictionary, read first: it is cheap to refuse). `by_mention` as `Task.document_stage` takes it; `names`
    the service's names of the models. A `BiotuneError` names a folder whose task annotates no documents,
    what a stage needs that no other gives, and a `link` that is neither a linker folder nor a dictionary."""
    found = read_link(link) if link is not None else None
    steps = []
    for folder in folders:
        task, predictor = load_predictor(folder, precision, batch_size, device)
        stage = task.document_stage(predictor, str(folder), by_mention)
        if stage is None:
            raise BiotuneError(f"checkpoint {folder} is a {task.name} model, which annotates no documents: it goes to "
                               f"{task_spec(task.name).takes}")
        steps.append(Step(stage, f"checkpoint {folder}", (names or {}).get(folder),
                          f"it is a {task.name} model: it goes to {task_spec(task.name).takes}"))
    models = DocumentPipeline(steps)  # checked first: a dictionary links the entity types they predict
    if found is None:
        return models
    source = f"linker {link}" if isinstance(found, Linker) else f"link dictionary {link}"
    linker = found if isinstance(found, Linker) else dictionary_linker(found, entity_types(models.steps))
    return DocumentPipeline([*models.steps, Step(LinkingStage(linker, source), source)])


def entity_types(steps: Sequence[Step]) -> list[str]:
    """The entity types the stages of `steps` that add entities predict (what a typeless dictionary links)."""
    return list(dict.fromkeys(label for step in steps if step.stage.provides in LinkingStage.needs
                              for label in step.stage.labels))


def linker_fingerprint(pipeline: DocumentPipeline) -> str | None:
    """The fingerprint of the linker `pipeline` links with, or None when it links nothing: what a tag job
    records so that resuming it with another linker is refused."""
    return next((step.stage.linker.fingerprint for step in pipeline.steps if isinstance(step.stage, LinkingStage)),
                None)
