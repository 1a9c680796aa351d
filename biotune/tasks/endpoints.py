"""What a task mounts on the HTTP service: its endpoint (`Endpoint`), declared by the task
(`Task.endpoint`) and served by the task-free `biotune.serving` (the limits, the micro-batcher,
the model's name, /health).

An endpoint splits a request into items for the micro-batcher (`items`: texts for /tag, one
question for /qa, the request's records as one item for the records endpoint), says what an item
costs a batch (`cost`: characters), computes a batch of items from several requests in one call
(`predict`) and builds each request's answer from its items' results (`answer`). The default is
`records_endpoint`: the task's own prediction records over HTTP, ``{"records": [...]}`` in,
``{"results": [...], "model": ...}`` out, one result per record in order, what `biotune predict`
writes for them.

An endpoint whose task annotates documents (`documents=True`: NER's /tag) is handed the document
pipeline (`biotune.tasks.stages.DocumentPipeline`: its own stage first, then the stages of the
models and dictionary served beside it) in place of its predictor, so one request gets entities,
concept ids and relations from one call.

A bad request is a `RequestRefused` (the HTTP status and a detail naming the field); the service
answers it as `{"detail": ...}` before anything waits in a queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from biotune.errors import BiotuneError

if TYPE_CHECKING:
    from biotune.tasks.contract import Predictor, Task


class Limits(Protocol):
    """The per-request limits an endpoint checks its items against (`biotune.serving.limits.ServiceLimits`)."""

    @property
    def max_texts(self) -> int: ...

    @property
    def max_contexts(self) -> int: ...

    @property
    def max_chars(self) -> int: ...


class RequestRefused(Exception):
    """A request the endpoint refuses before it is queued: `status` (413 too large, 422 malformed) and `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Endpoint:
    """A task's POST endpoint (see the module docstring).

    `model` below is the loaded predictor, or for a `documents` endpoint the document pipeline.
    `items(request, limits)` the request's items (a `RequestRefused` for what the limits or the schema
    cannot say); `cost(item)` what an item costs a batch and the queue; `predict(model, items)` one
    result per item, in order, for items of several requests (a result may be a `BiotuneError`: that
    request is answered 422 with it); `answer(model, request, results)` the response body without
    `model`, which the service adds; `health(model, name, traffic)` what /health says of it at top
    level beside the `mounted` list (None: nothing more). `unit` names the items in /health's counts;
    `late` and `lighter` finish the messages of a request that waited too long ("the texts were not
    tagged", "send fewer texts"); `usage` is the request's shape, said when its JSON nests too deeply
    to parse.
    """

    path: str
    request: type[BaseModel]
    response: type[BaseModel]
    items: Callable[[Any, Limits], list[Any]]
    cost: Callable[[Any], int]
    predict: Callable[[Any, Sequence[Any]], list[Any]]
    answer: Callable[[Any, Any, Sequence[Any]], dict[str, Any]]
    usage: str
    unit: str = "answered"
    late: str = "the records were not predicted"
    lighter: str = "send fewer records"
    documents: bool = False
    health: Callable[[Any, str, Mapping[str, Any]], dict[str, Any]] | None = None


def check_text(name: str, text: str, limits: Limits) -> None:
    """Refuse a text over `max_chars` (413) or holding invalid Unicode (422), naming it `name`.

    A JSON string may hold an unpaired surrogate escape (`"\\ud800"`), which no tokenizer
    and no UTF-8 response can carry, so it is refused up front with its position.
    """
    if len(text) > limits.max_chars:
        raise RequestRefused(413, f"{name} has {len(text)} characters; the limit is {limits.max_chars} (max_chars)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RequestRefused(422, f"{name} holds an unpaired surrogate (U+{ord(text[error.start]):04X}) at character "
                                  f"{error.start}; send valid Unicode") from None


def check_count(count: int, what: str, limits: Limits) -> None:
    """Refuse a request of more than `max_texts` texts or records (422)."""
    if count > limits.max_texts:
        raise RequestRefused(422, f"the request has {count} {what}; the limit is {limits.max_texts} (max_texts)")


def text_cost(text: str) -> int:
    """What a text costs a batch: its characters (an empty text still costs one, so texts stay bounded)."""
    return max(len(text), 1)


class RecordsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, description="input records, as `biotune predict` reads "
                                          "them from JSON Lines (one object each)")


class RecordsResponse(BaseModel):
    results: list[dict[str, Any]] = Field(description="each input record with the task's predictions, in input order")
    model: str


def record_cost(record: Mapping[str, Any]) -> int:
    """What a record costs a batch: the characters of its JSON (at least one)."""
    return max(len(json.dumps(record, ensure_ascii=False)), 1)


def request_records(request: RecordsRequest, limits: Limits) -> list[list[dict[str, Any]]]:
    """The records of a request as one item (predicted together, never split), after the limits: at most
    `max_texts` records, each one's JSON within `max_chars`."""
    check_count(len(request.records), "records", limits)
    for i, record in enumerate(request.records):
        check_text(f"records[{i}]", json.dumps(record, ensure_ascii=False), limits)
    return [list(request.records)]


def predict_requests(task: Task, predictor: Predictor,
                     requests: Sequence[Sequence[dict[str, Any]]]) -> list[list[dict[str, Any]] | BiotuneError]:
    """The output records of each of a batch's requests, in order: one `predict_records` call for all
    of them; where that refuses a record (a `BiotuneError`), each request again on its own, so a
    malformed request gets its own error (naming its record's position in it) and the others their
    records."""
    flat = [record for request in requests for record in request]
    try:
        results = task.predict_records(predictor, flat)
    except BiotuneError as error:
        if len(requests) == 1:
            return [error]
        return [predict_requests(task, predictor, [request])[0] for request in requests]
    answers: list[list[dict[str, Any]] | BiotuneError] = []
    start = 0
    for request in requests:
        answers.append(results[start : start + len(request)])
        start += len(request)
    return answers


def records_endpoint(task: Task, path: str) -> Endpoint:
    """The generic endpoint of `task` at `path`: its prediction records in, its output records out."""
    return Endpoint(path=path, request=RecordsRequest, response=RecordsResponse, items=request_records,
                    cost=lambda records: max(sum(map(record_cost, records)), 1),
                    predict=lambda predictor, requests: predict_requests(task, predictor, requests),
                    answer=lambda model, request, results: {"results": list(results[0])},
                    usage=f'{path} takes {{"records": [{{...}}]}}')
