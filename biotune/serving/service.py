"""`biotune serve`: saved models behind one HTTP service, each mounted by the task its folder records
at the endpoint the task declares (`Task.endpoint`): NER's POST /tag (texts in, entities out), QA's
/qa (a question and its contexts in, ranked answers out), any other task's records endpoint
(`POST /<task>`), `GET /health` (which lists what is mounted) and a web page at `/` with a panel
per mounted model.

An endpoint that annotates documents (`Endpoint.documents`: /tag) gets the document pipeline
(`biotune.serving.pipeline`): its own model's stage, then the stages of the models that annotate
documents without an endpoint of their own (an RE model trained on documents: relations between the
entities, by mention) and of a linker (concept ids, each with the stage that linked it and its score).
So the service gives the same entities, with the same character offsets and ids, as `biotune tag` and
the library API.

What runs where: `biotune.serving.app` assembles the app (an endpoint per model behind its
micro-batcher, /health, the page); `limits` holds what a request may hold and parses it;
`admission` answers overload (503 + Retry-After, 413), timeouts (504) and disconnects; `server`
runs uvicorn and shuts down without cancelling a request mid-answer. Nothing here names a task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.serving.app import Mounted, create_app
from biotune.serving.limits import ServiceLimits
from biotune.serving.pipeline import load_pipeline
from biotune.serving.predict_job import load_predictor
from biotune.serving.server import run_server
from biotune.tasks import TASKS, checkpoint_task, get_task, task_spec
from biotune.tasks.endpoints import Endpoint


def model_name_of(checkpoint: Path) -> str:
    """The name answers and /health give the model: never the server's file path.

    For a training run's checkpoint (`<output_dir>/checkpoints/<run>/seed_<n>/best_model`) it
    is the run and seed below `checkpoints/` (`bc5cdr/seed_42`, or `.../phase_1_gold` for an
    earlier phase); for another folder, its name (its parent's when it is called `best_model`).
    """
    parts = checkpoint.resolve().parts
    if "checkpoints" in parts[:-1]:
        below = list(parts[len(parts) - parts[::-1].index("checkpoints") :])
        if below[-1] == "best_model" and len(below) > 1:
            below.pop()
        return "/".join(below)
    folder = checkpoint.resolve()
    return folder.parent.name if folder.name == "best_model" and folder.parent.name else folder.name


def recorded_settings(folder: Path) -> dict[str, Any]:
    """What a saved model folder's config records for prediction (`config.json` ``biotune``); empty if unreadable
    (the task's `load` then names what is wrong with the folder)."""
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8")).get("biotune") or {}
    except (OSError, ValueError, AttributeError):
        return {}


def serve(
    checkpoint: Path | Sequence[Path],
    host: str = "127.0.0.1",
    port: int = 8000,
    precision: str = "auto",
    limits: ServiceLimits = ServiceLimits(),
    model_name: str | None = None,
    stages: Sequence[Path] = (),
    link: Path | None = None,
) -> None:
    """Serve the models of `checkpoint` (a `best_model/` folder, or several) with uvicorn, one per task.

    Each folder is mounted by its recorded task at the task's endpoint. A model whose task mounts
    none for it (an RE model trained on documents), and each folder of `stages`, joins the document
    pipeline of the endpoint that annotates documents (/tag), as does `link` (a linker folder of `biotune link
    build`, or a term<TAB>id dictionary file: `biotune.serving.linking_stage`); every folder is checked, and
    refused naming it, before a model loads. Binds to loopback by default:
    the service has no authentication, so exposing it is a deliberate choice (`host="0.0.0.0"`).
    `model_name` names the first folder's model (default `model_name_of` it); the others are named
    `model_name_of` their folders.
    """
    folders = [Path(checkpoint)] if isinstance(checkpoint, (str, Path)) else [Path(f) for f in checkpoint]
    if not folders:
        raise BiotuneError("serve needs at least one model folder")
    given = [*folders, *map(Path, stages)]
    for folder in given:
        if not folder.is_dir():
            raise BiotuneError(f"checkpoint folder {folder} not found")
    if len({folder.resolve() for folder in given}) < len(given):
        raise BiotuneError(f"a model folder is given twice ({', '.join(map(str, given))}): each is served once")
    tasks = {folder: checkpoint_task(folder) for folder in given}
    for task in dict.fromkeys(tasks.values()):
        same = [str(folder) for folder, t in tasks.items() if t == task]
        if len(same) > 1:
            raise BiotuneError(f"{len(same)} {task} checkpoints ({', '.join(same)}): the service mounts one model "
                               f"per task; serve each on its own port")
    endpoints = {folder: get_task(tasks[folder]).endpoint(recorded_settings(folder)) for folder in folders}
    joining = [*(folder for folder, endpoint in endpoints.items() if endpoint is None), *map(Path, stages)]
    annotating = [folder for folder, endpoint in endpoints.items() if endpoint is not None and endpoint.documents]
    if not annotating:
        refuse_unmountable(folders[0], tasks, endpoints, joining, link)
    names = {folder: model_name_of(folder) for folder in given} | {folders[0]: model_name or model_name_of(folders[0])}
    mounted = []
    for folder, endpoint in endpoints.items():
        if endpoint is None:
            continue
        if endpoint.documents:
            task = get_task(tasks[folder])
            model = load_pipeline([folder, *joining], link, precision, by_mention=True, names=names)
        else:
            task, model = load_predictor(folder, precision)
        mounted.append(Mounted(task, model, endpoint, names[folder]))
    run_server(create_app(mounted, limits), host, port)


def refuse_unmountable(first: Path, tasks: dict[Path, str], endpoints: dict[Path, Endpoint | None],
                       joining: Sequence[Path], link: Path | None) -> None:
    """With no endpoint that annotates documents: refuse a model that has no endpoint of its own, a stage
    folder or a linker (which only annotate the documents of such an endpoint), naming where it goes."""
    alone = next((folder for folder, endpoint in endpoints.items() if endpoint is None), None)
    if alone is not None:
        raise BiotuneError(f"checkpoint {alone} is a {tasks[alone]} model, which serve does not mount on its own: it "
                           f"goes to {task_spec(tasks[alone]).takes}")
    if joining or link is not None:
        takers = [name for name in TASKS if (endpoint := get_task(name).endpoint({})) is not None and endpoint.documents]
        raise BiotuneError(f"checkpoint {first} is a {tasks[first]} model: relations and a linker annotate "
                           f"the documents of an endpoint that tags them, so they are served beside a "
                           f"{' or '.join(takers)} checkpoint")
