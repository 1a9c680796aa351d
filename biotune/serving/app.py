"""The service's app: each mounted model at its task's endpoint (`biotune.tasks.endpoints.Endpoint`),
behind a micro-batcher of its own, with the body limit, `GET /health` (what is mounted, the limits,
the traffic served) and the web page at `/` (a panel per mounted model, from /health).

Task-free: what a request holds, how it splits into items, what a batch of them computes and what
the answer says are the endpoint's; the app adds the limits, the queue (413, 503 + Retry-After,
504, disconnects: `biotune.serving.admission`), the model's name and /health. A registered task
whose endpoint is not mounted answers 404 saying what the service serves instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from biotune.errors import BiotuneError
from biotune.serving.admission import in_turn
from biotune.serving.batcher import MicroBatcher
from biotune.serving.limits import BodyLimit, ServiceLimits, parse_request, request_body
from biotune.tasks import TASKS, get_task, task_spec
from biotune.tasks.contract import Task
from biotune.tasks.endpoints import Endpoint, RequestRefused


@dataclass(frozen=True)
class Mounted:
    """A model served at its task's endpoint, named `name` in its answers and /health. `model` is what the
    endpoint computes with: the task's predictor, or for a `documents` endpoint the document pipeline."""

    task: Task
    model: Any
    endpoint: Endpoint
    name: str


def mount_endpoint(app: FastAPI, mounted: Mounted, limits: ServiceLimits) -> MicroBatcher:
    """Add POST `mounted.endpoint.path` to `app`; returns its micro-batcher, whose items are the endpoint's."""
    endpoint = mounted.endpoint
    batcher = MicroBatcher(partial(endpoint.predict, mounted.model), limits.max_batch_chars, limits.max_queue_chars,
                           limits.batch_wait_ms / 1000, cost=endpoint.cost, unit=endpoint.unit)

    async def predict(request: Request) -> Any:
        parsed = parse_request(await request.body(), endpoint.request, endpoint.usage)
        try:
            items = endpoint.items(parsed, limits)
        except RequestRefused as refused:
            raise HTTPException(refused.status, refused.detail) from None
        found = await in_turn(request, batcher, items, limits, late=endpoint.late, lighter=endpoint.lighter)
        if isinstance(found, Response):
            return found
        refused = next((result for result in found if isinstance(result, BiotuneError)), None)
        if refused is not None:
            raise HTTPException(422, str(refused))
        return {**endpoint.answer(mounted.model, parsed, found), "model": mounted.name}

    app.add_api_route(endpoint.path, predict, methods=["POST"], response_model=endpoint.response,
                      response_model_exclude_unset=True, openapi_extra=request_body(endpoint.request),
                      summary=f"{mounted.task.name}: {task_spec(mounted.task.name).description}")
    return batcher


def mount_missing(app: FastAPI, path: str, detail: str) -> None:
    """Answer POST `path` with 404 and `detail`: the endpoint's model is not loaded (kept out of the API schema)."""

    @app.post(path, include_in_schema=False)
    async def missing() -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=404)


def traffic(batcher: MicroBatcher) -> dict[str, Any]:
    """What /health says of a model's queue: the requests served so far and what waits now."""
    return {"served": dict(batcher.counts),
            "queue": {"requests": batcher.waiting, "characters": batcher.queued_chars}}


def create_app(mounted: Sequence[Mounted], limits: ServiceLimits = ServiceLimits()) -> FastAPI:
    """The service of `mounted`, each model at its endpoint.

    Each has its micro-batcher (`app.state.batchers`, by path, which a server closes when it starts
    shutting down), running while the app's lifespan does. Only their worker threads call the
    models, so do not use them elsewhere while the app is serving.
    """
    if not mounted:
        raise ValueError("the service needs a model: at least one mounted at its task's endpoint")
    paths = [m.endpoint.path for m in mounted]
    if len(set(paths)) < len(paths):
        raise ValueError(f"two models would answer the same endpoint: {', '.join(paths)}")
    page = (files("biotune.serving") / "web" / "index.html").read_text(encoding="utf-8")
    batchers: dict[str, MicroBatcher] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            for batcher in batchers.values():
                await batcher.start()
            yield
        finally:
            for batcher in batchers.values():
                await batcher.stop()

    app = FastAPI(title="biotune service", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes)
    app.state.batchers = batchers  # a caller may read their counters, or swap a batch function
    for model in mounted:
        batchers[model.endpoint.path] = mount_endpoint(app, model, limits)
    serves = ", ".join(f"POST {path}" for path in paths)
    for name in TASKS:
        endpoint = get_task(name).endpoint({})
        if endpoint is not None and endpoint.path not in batchers:
            mount_missing(app, endpoint.path, f"this service has no {name} model, so no {endpoint.path}: it serves "
                                              f"{serves}")

    @app.get("/health")
    async def health() -> JSONResponse:
        """Liveness plus what a client needs to know: the endpoints, models and types, the limits, traffic served."""
        running = all(batcher.running for batcher in batchers.values())
        body: dict[str, Any] = {"status": "ok" if running else "stopped", "endpoints": paths, "mounted": []}
        for model in mounted:
            counts = traffic(batchers[model.endpoint.path])
            body["mounted"].append({"path": model.endpoint.path, "task": model.task.name, "model": model.name,
                                    **counts})
            if model.endpoint.health is not None:
                body |= model.endpoint.health(model.model, model.name, counts)
        body["limits"] = limits.model_dump()
        return JSONResponse(body, status_code=200 if running else 503)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        """The web page: a panel per mounted model (tag text and see its entities and relations, ask a
        question of contexts, send a task's records)."""
        return page

    return app
