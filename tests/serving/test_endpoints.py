"""Every task's endpoint through the service (`Task.endpoint`): each registered task's tiny checkpoint
(built by the task itself, as in tests/tasks/test_prediction_contract.py) is mounted by `serve` from
its recorded task, and answers a request with what the library predicts for the same records.

The limits, overload (503 + Retry-After), timeouts (504) and disconnects are the micro-batcher's and
the service's, tested once (test_batcher.py, test_admission.py), not per task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import biotune
from biotune.cli import app as cli
from biotune.errors import BiotuneError
from biotune.serving import service
from biotune.serving.app import Mounted, create_app
from biotune.serving.limits import ServiceLimits
from biotune.serving.service import serve
from biotune.tasks import TASKS, get_task
from biotune.tasks.endpoints import predict_requests, records_endpoint
from tests.tasks.test_prediction_contract import CASES, close, predicting_tasks, tiny_checkpoint, write_input

# The endpoints that keep a schema of their own (declared in tasks/ner/endpoint.py, tasks/qa/endpoint.py).
DEDICATED = {
    "ner": ("/tag", {"texts": ["The patient developed acute bleeding after heparin."]}),
    "qa": ("/qa", {"question": "patient developed", "contexts": ["the patient developed acute tremor after aspirin ."]}),
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("endpoint_checkpoints")
    return {name: tiny_checkpoint(name, word_backbone, root / name) for name in CASES}


@pytest.fixture(scope="module")
def app(checkpoints: dict[str, Path]) -> Any:
    """One service with every task's checkpoint, mounted as `biotune serve MODEL_DIR...` does."""
    apps: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "run_server", lambda app, *_: apps.append(app))
        serve(list(checkpoints.values()), precision="fp32", limits=ServiceLimits(batch_wait_ms=0))
    return apps[0]


def input_records(name: str, folder: Path) -> list[dict[str, Any]]:
    task = get_task(name)
    return list(task.read_records(write_input(CASES[name], folder)))


def test_every_registered_task_is_covered_here() -> None:
    assert set(CASES) == set(TASKS) == set(predicting_tasks())


@pytest.mark.parametrize("name", list(CASES))
def test_each_tasks_checkpoint_is_mounted_by_its_task_and_answers(name: str, app: Any, checkpoints: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    with TestClient(app) as client:
        mounted = {m["task"]: m for m in client.get("/health").json()["mounted"]}
        if name in DEDICATED:
            path, body = DEDICATED[name]
            response = client.post(path, json=body)
            assert response.status_code == 200, response.text
            assert response.json()["model"] == name
        else:
            records = input_records(name, tmp_path)
            response = client.post(f"/{name}", json={"records": records})
            assert response.status_code == 200, response.text
            expected = biotune.load(checkpoints[name], precision="fp32").predict(records)
            assert close(response.json(), {"results": expected, "model": name})
    assert mounted[name]["path"] == DEDICATED.get(name, (f"/{name}",))[0] and mounted[name]["model"] == name


def test_health_lists_every_mounted_model_and_the_schema_documents_each(app: Any) -> None:
    with TestClient(app) as client:
        health = client.get("/health").json()
        schema = client.get("/openapi.json").json()
    assert sorted(health["endpoints"]) == sorted(["/tag", "/qa", "/re", "/yesno", "/similarity", "/multilabel"])
    assert sorted(m["task"] for m in health["mounted"]) == sorted(CASES)
    assert set(health["endpoints"]) <= set(schema["paths"])
    assert "records" in json.dumps(schema["paths"]["/similarity"]["post"]["requestBody"])


def test_a_bad_record_is_a_422_naming_it_and_the_service_serves_on(app: Any, tmp_path: Path) -> None:
    good = input_records("similarity", tmp_path)
    with TestClient(app) as client:
        bad = client.post("/similarity", json={"records": [good[0], {"sentence1": "a"}]})
        assert bad.status_code == 422 and "sentence2" in bad.json()["detail"], bad.text
        empty = client.post("/similarity", json={"records": []})
        assert empty.status_code == 422 and empty.json()["detail"].startswith("records:")
        assert client.post("/similarity", json={"records": good}).status_code == 200


class EchoTask:
    """A task whose predictions are the length of each record's text; refuses a record without one."""

    name = "multilabel"

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        predictor.append(len(records))
        for i, record in enumerate(records):
            if "text" not in record:
                raise BiotuneError(f"record {i}: missing field 'text'")
        return [{**record, "length": len(record["text"])} for record in records]


def test_requests_are_predicted_together_and_a_bad_one_alone_gets_its_error() -> None:
    calls: list[int] = []
    good, bad = [{"text": "ab"}, {"text": "c"}], [{"text": "x"}, {"no": 1}]
    answers = predict_requests(EchoTask(), calls, [good, [{"text": ""}]])  # type: ignore[arg-type]
    assert answers == [[{"text": "ab", "length": 2}, {"text": "c", "length": 1}], [{"text": "", "length": 0}]]
    assert calls == [3]
    calls.clear()
    answers = predict_requests(EchoTask(), calls, [good, bad])  # type: ignore[arg-type]
    assert answers[0] == [{"text": "ab", "length": 2}, {"text": "c", "length": 1}]
    assert isinstance(answers[1], BiotuneError) and str(answers[1]) == "record 1: missing field 'text'"
    assert calls == [4, 2, 2]


def test_a_mounted_model_holds_to_the_service_limits() -> None:
    task = EchoTask()
    mounted = Mounted(task, [], records_endpoint(task, "/multilabel"), "echo")  # type: ignore[arg-type]
    with TestClient(create_app([mounted], ServiceLimits(max_texts=2, max_chars=30))) as client:
        assert client.post("/multilabel", json={"records": [{"text": "a"}]}).json() == {
            "results": [{"text": "a", "length": 1}], "model": "echo"}
        many = client.post("/multilabel", json={"records": [{"text": "a"}] * 3})
        assert (many.status_code, many.json()["detail"]) == (422, "the request has 3 records; the limit is 2 (max_texts)")
        long = client.post("/multilabel", json={"records": [{"text": "x" * 40}]})
        assert long.status_code == 413 and long.json()["detail"].startswith("records[0] has 52 characters")
        assert client.post("/multilabel", content=b"[" * 100_000).status_code == 422
        tag = client.post("/tag", json={"texts": ["a"]})
        assert (tag.status_code, tag.json()["detail"]) == (
            404, "this service has no ner model, so no /tag: it serves POST /multilabel")
        health = client.get("/health").json()
    assert health["mounted"] == [{"path": "/multilabel", "task": "multilabel", "model": "echo",
                                  "served": {"requests": 1, "batches": 1, "answered": 1, "refused": 0, "timed_out": 0,
                                             "disconnected": 0},
                                  "queue": {"requests": 0, "characters": 0}}]


def test_two_models_of_one_task_or_one_folder_twice_are_refused(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "config.json").write_text((checkpoints["similarity"] / "config.json").read_text())
    with pytest.raises(BiotuneError, match="2 similarity checkpoints .*: the service mounts one model per task"):
        serve([checkpoints["similarity"], copy])
    with pytest.raises(BiotuneError, match="a model folder is given twice"):
        serve([checkpoints["similarity"], checkpoints["similarity"]])


def test_the_serve_command_takes_model_dirs_and_repeated_checkpoints(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(service, "serve", lambda checkpoint, **options: calls.append(checkpoint))
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert CliRunner().invoke(cli, ["serve", str(a), str(b)]).exit_code == 0
    assert CliRunner().invoke(cli, ["serve", "--checkpoint", str(a), "--checkpoint", str(b), str(c)]).exit_code == 0
    assert calls == [[a, b], [a, b, c]]
    none = CliRunner().invoke(cli, ["serve"])
    assert none.exit_code == 2 and "serve needs a model" in none.output
