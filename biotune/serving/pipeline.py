"""The document pipeline of saved models (`biotune.tasks.stages.DocumentPipeline`) behind `biotune tag`
and the service's document endpoint: each model folder loaded as its task's predictor and declared
a stage by its task (`Task.document_stage`: NER's entities, an RE model's relations, ...), and a
link dictionary as the linking stage. Nothing here names a task: the stages order themselves by
what they need and provide, and each checks what the stages before it give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from biotune.errors import BiotuneError
from biotune.linking import DictionaryLinker, read_dictionary
from biotune.serving.linking_stage import LinkingStage
from biotune.serving.predict_job import load_predictor
from biotune.tasks import task_spec
from biotune.tasks.stages import DocumentPipeline, Step

if TYPE_CHECKING:
    import torch


def load_pipeline(folders: Sequence[Path], dictionary: Path | None = None, precision: str = "auto",
                  batch_size: int = 32, by_mention: bool = False, names: Mapping[Path, str] | None = None,
                  device: torch.device | str | None = None) -> DocumentPipeline:
    """The pipeline of the models in `folders` and the link `dictionary` (read first: it is cheap to
    refuse). `by_mention` as `Task.document_stage` takes it; `names` the service's names of the
    models. A `BiotuneError` names a folder whose task annotates no documents, and what a stage
    needs that no other gives."""
    linker = DictionaryLinker(read_dictionary(dictionary)) if dictionary is not None else None
    steps = []
    for folder in folders:
        task, predictor = load_predictor(folder, precision, batch_size, device)
        stage = task.document_stage(predictor, str(folder), by_mention)
        if stage is None:
            raise BiotuneError(f"checkpoint {folder} is a {task.name} model, which annotates no documents: it goes to "
                               f"{task_spec(task.name).takes}")
        steps.append(Step(stage, f"checkpoint {folder}", (names or {}).get(folder),
                          f"it is a {task.name} model: it goes to {task_spec(task.name).takes}"))
    if linker is not None:
        steps.append(Step(LinkingStage(linker), f"link dictionary {dictionary}"))
    return DocumentPipeline(steps)
