"""The HTTP service: /tag equals `tag_documents`, limits answer with the right status and message,
/health describes the model, concurrent requests are merged into batches bounded by characters, and a
request larger than the whole queue gets 413. Overload (503 + Retry-After), timeouts (504) and
disconnects are the service's, tested once for every endpoint in test_admission.py."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from biotune.cli import app as cli
from biotune.errors import BiotuneError
from biotune.serving import service
from biotune.serving.limits import ServiceLimits
from biotune.serving.service import model_name_of, serve
from biotune.tasks.ner.annotate import tag_documents, text_document
from biotune.tasks.ner.endpoint import tag_texts
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.re.stage import RelationStage
from tests.serving.conftest import tag_app, tag_pipeline
from tests.awkward import AWKWARD_TEXTS
from tests.serving.test_batcher import run_async, until

TEXTS = [
    "the patient developed acute bleeding after heparin .",
    "cisplatin and severe nephrotoxicity was given .",
    "The patient developed acute tremor after lithium. Aspirin and severe asthma was given.",
]


@pytest.fixture(scope="module")
def tagger(trained_run: Any) -> Tagger:
    return Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")


@pytest.fixture(scope="module")
def client(tagger: Tagger) -> Iterator[TestClient]:
    with TestClient(tag_app(tagger, model_name="toy")) as client:
        yield client


def expected(tagger: Tagger, texts: Sequence[str]) -> list[dict[str, Any]]:
    """What /tag must answer: `tag_documents` on the same texts, as records."""
    return tag_texts(tag_pipeline(tagger), texts)


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class GatedTagger:
    """A real tagger that records each call's sentence count and holds its first call until released."""

    def __init__(self, tagger: Tagger, fail_on: str | None = None) -> None:
        self.tagger = tagger
        self.labels = tagger.labels
        self.calls: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def predict(self, token_lists: Sequence[Sequence[str]], groups: Sequence[int] | None = None) -> list:
        self.calls.append(len(token_lists))
        self.entered.set()
        assert self.release.wait(30)
        if any(self.fail_on in tokens for tokens in token_lists):
            raise ValueError("the model broke")
        return self.tagger.predict(token_lists, groups)


def test_tag_equals_tag_documents_with_exact_offsets(client: TestClient, tagger: Tagger) -> None:
    texts = TEXTS + AWKWARD_TEXTS
    response = client.post("/tag", json={"texts": texts})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "toy"
    assert body["results"] == expected(tagger, texts)
    entities = [(text, e) for text, result in zip(texts, body["results"]) for e in result["entities"]]
    assert {e["type"] for _, e in entities} == {"Chemical", "Disease"}
    for text, entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert 0 < entity["score"] <= 1
    first = [(e["text"], e["type"]) for e in body["results"][0]["entities"]]
    assert first == [("acute bleeding", "Disease"), ("heparin", "Chemical")]


def test_emoji_and_non_ascii_keep_code_point_offsets(client: TestClient, tagger: Tagger) -> None:
    text = "\U0001F48A caf\u00e9 \U0001F469\u200D\U0001F52C: the patient developed acute bleeding after heparin ."
    entities = client.post("/tag", json={"texts": [text]}).json()["results"][0]["entities"]
    assert entities == expected(tagger, [text])[0]["entities"]
    assert [(e["text"], e["type"]) for e in entities] == [("acute bleeding", "Disease"), ("heparin", "Chemical")]
    heparin = entities[1]
    assert (heparin["start"], heparin["end"]) == (text.index("heparin"), text.index("heparin") + len("heparin"))


def test_health_describes_model_limits_and_traffic(tagger: Tagger) -> None:
    limits = ServiceLimits(max_texts=5, batch_wait_ms=0)
    with TestClient(tag_app(tagger, limits, model_name="toy")) as client:
        client.post("/tag", json={"texts": TEXTS[:2]})
        health = client.get("/health").json()
    assert health == {
        "status": "ok",
        "endpoints": ["/tag"],
        "mounted": [{"path": "/tag", "task": "ner", "model": "toy",
                     "served": {"requests": 1, "batches": 1, "texts": 2, "refused": 0, "timed_out": 0,
                                "disconnected": 0},
                     "queue": {"requests": 0, "characters": 0}}],
        "model": "toy",
        "entity_types": ["Chemical", "Disease"],
        "limits": {"max_texts": 5, "max_contexts": 64, "max_chars": 100_000, "max_request_bytes": 2_000_000,
                   "max_batch_chars": 8_000, "batch_wait_ms": 0.0, "max_queue_chars": 500_000,
                   "request_timeout_s": 60.0},
        "served": {"requests": 1, "batches": 1, "texts": 2, "refused": 0, "timed_out": 0, "disconnected": 0},
        "queue": {"requests": 0, "characters": 0},
    }


def test_page_is_served_and_self_contained(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<textarea id="text"' in response.text
    assert not re.search(r"https?://|<script src|<link", response.text)


@pytest.fixture(scope="module")
def small(tagger: Tagger) -> Iterator[TestClient]:
    limits = ServiceLimits(max_texts=3, max_chars=50, max_request_bytes=1000)
    with TestClient(tag_app(tagger, limits)) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"texts": ["a", "b", "c", "d"]}, 422, "the request has 4 texts; the limit is 3 (max_texts)"),
        ({"texts": ["short", "x" * 51]}, 413, "texts[1] has 51 characters; the limit is 50 (max_chars)"),
        ({"texts": ["x" * 40] * 30}, 413,
         "the request body has 1331 bytes; the limit is 1000 bytes (max_request_bytes)"),
        ({"texts": []}, 422, "texts: List should have at least 1 item after validation, not 0"),
        ({"texts": ["fine", 3]}, 422, "texts[1]: Input should be a valid string"),
        ({"texts": "one text"}, 422, "texts: Input should be a valid list"),
        ({"text": ["a"]}, 422, "texts: Field required; text: Extra inputs are not permitted"),
        (["a"], 422, "the request body: Input should be a valid dictionary or instance of TagRequest"),
        ({"texts": ["ok", "a\ud83db"]}, 422,
         "texts[1] holds an unpaired surrogate (U+D83D) at character 1; send valid Unicode"),
    ],
)
def test_limits_and_bad_input_are_refused_with_the_reason(small: TestClient, body: Any, status: int,
                                                          detail: str) -> None:
    before = small.get("/health").json()["served"]["requests"]
    # json.dumps escapes non-ASCII, so the unpaired surrogate travels as the JSON escape \ud83d
    response = small.post("/tag", content=json.dumps(body), headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    assert small.get("/health").json()["served"]["requests"] == before


def test_malformed_json_names_the_position(small: TestClient) -> None:
    response = small.post("/tag", content=b'{"texts": [', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"detail": "the request body is not valid JSON: Expecting value at character 11"}


def test_streamed_body_over_the_limit_is_refused_without_content_length(small: TestClient) -> None:
    chunks = [b'{"texts": ["', b"x" * 600, b"x" * 600, b'"]}']
    response = small.post("/tag", content=iter(chunks), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body exceeds the limit of 1000 bytes (max_request_bytes)"}


def test_many_errors_are_summarised(small: TestClient) -> None:
    detail = small.post("/tag", json={"texts": [1, 2, 3, 4, 5]}).json()["detail"]
    assert detail == ("texts[0]: Input should be a valid string; texts[1]: Input should be a valid string; "
                      "texts[2]: Input should be a valid string (and 2 more errors)")


def test_concurrent_requests_are_merged_into_one_tagging_call(tagger: Tagger) -> None:
    gated = GatedTagger(tagger)
    texts = [f"the patient developed acute {d} after {c} ." for d, c in
             zip(["bleeding", "tremor", "asthma", "seizures", "hypotension", "bleeding", "tremor", "asthma"],
                 ["heparin", "lithium", "aspirin", "naloxone", "warfarin", "cisplatin", "heparin", "lithium"])]
    with TestClient(tag_app(gated, ServiceLimits(batch_wait_ms=0))) as client, ThreadPoolExecutor(8) as pool:
        first = pool.submit(client.post, "/tag", json={"texts": texts[:1]})
        assert gated.entered.wait(30)  # the worker is busy with the first request ...
        rest = [pool.submit(client.post, "/tag", json={"texts": [text]}) for text in texts[1:]]
        wait_until(lambda: client.get("/health").json()["served"]["requests"] == len(texts))
        gated.release.set()  # ... so the seven that arrived meanwhile go in one batch
        responses = [future.result(timeout=60) for future in [first, *rest]]
        served = client.get("/health").json()["served"]
    assert gated.calls == [1, 7]
    assert served == {"requests": 8, "batches": 2, "texts": 8, "refused": 0, "timed_out": 0, "disconnected": 0}
    for text, response in zip(texts, responses):
        assert response.json()["results"] == expected(tagger, [text])


def test_a_request_over_the_budget_is_split_between_batches_and_answered_in_order(tagger: Tagger) -> None:
    gated = GatedTagger(tagger)
    gated.release.set()
    texts = ["the patient developed acute bleeding after heparin .", "cisplatin and severe asthma was given .",
             "lithium and severe tremor was given ."]  # 52, 39 and 37 characters
    with TestClient(tag_app(gated, ServiceLimits(max_batch_chars=80, batch_wait_ms=0))) as client:
        response = client.post("/tag", json={"texts": texts})
        served = client.get("/health").json()["served"]
    assert response.json()["results"] == expected(tagger, texts)
    assert gated.calls == [1, 2]  # [52] [39 + 37]: whole texts, in order, within 80 characters
    assert (served["requests"], served["batches"], served["texts"]) == (1, 2, 3)


def test_a_failing_batch_answers_500_and_the_worker_lives_on(tagger: Tagger) -> None:
    gated = GatedTagger(tagger, fail_on="naloxone")
    gated.release.set()
    with TestClient(tag_app(gated), raise_server_exceptions=False) as client:
        assert client.post("/tag", json={"texts": ["naloxone was given ."]}).status_code == 500
        response = client.post("/tag", json={"texts": TEXTS[:1]})
        health = client.get("/health").json()
    assert response.json()["results"] == expected(tagger, TEXTS[:1])
    assert (health["status"], health["served"]["batches"]) == ("ok", 1)


def test_without_lifespan_the_error_says_so(tagger: Tagger) -> None:
    client = TestClient(tag_app(tagger))  # not entered: the lifespan never runs
    with pytest.raises(RuntimeError, match="lifespan"):
        client.post("/tag", json={"texts": ["x"]})
    assert client.get("/health").status_code == 503


def test_serve_names_a_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match="checkpoint folder .*missing not found"):
        serve(tmp_path / "missing")


# --- the queue (overload, timeouts, disconnects: test_admission.py) ---------------------------

def test_a_request_larger_than_the_whole_queue_gets_413_naming_the_limit(tagger: Tagger) -> None:
    with TestClient(tag_app(tagger, ServiceLimits(max_queue_chars=100))) as client:
        response = client.post("/tag", json={"texts": ["x" * 60, "y" * 41]})
        served = client.get("/health").json()["served"]
    assert (response.status_code, response.json()) == (413, {
        "detail": "the request has 101 characters; the queue holds at most 100 (max_queue_chars): send fewer texts"})
    assert (served["requests"], served["refused"]) == (0, 0)


def test_200_concurrent_one_sentence_requests_are_all_served_by_the_default_queue(tagger: Tagger) -> None:
    """Issue 19: 200 such requests (about 20,000 characters) got 136 refusals from a queue of 64 requests."""
    import httpx

    gated = GatedTagger(tagger)
    drugs, diseases = ["heparin", "lithium", "aspirin", "naloxone", "warfarin"], ["bleeding", "tremor", "asthma"]
    texts = [f"the patient developed acute {diseases[i % 3]} after {drugs[i % 5]} and severe "
             f"{diseases[(i + 1) % 3]} was given with {drugs[(i + 2) % 5]} treatment {i} ." for i in range(200)]
    app = tag_app(gated)

    async def scenario() -> tuple[list[httpx.Response], dict[str, int]]:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
            posts = [asyncio.create_task(client.post("/tag", json={"texts": [text]})) for text in texts]
            await until(lambda: app.state.batchers["/tag"].waiting == len(texts))  # all queued at once, the first held
            queued = app.state.batchers["/tag"].queued_chars
            gated.release.set()
            return list(await asyncio.gather(*posts)), {"queued": queued, **app.state.batchers["/tag"].counts}

    responses, counts = run_async(scenario)
    assert [response.status_code for response in responses] == [200] * len(texts)
    assert [response.json()["results"][0] for response in responses] == expected(tagger, texts)
    assert counts["queued"] == sum(map(len, texts)) > 20_000
    assert (counts["requests"], counts["refused"], counts["texts"]) == (200, 0, 200)


def test_deeply_nested_json_gets_a_422_naming_the_body(client: TestClient) -> None:
    body = '{"texts": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/tag", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (
        422, {"detail": 'the request body nests JSON too deeply to parse; /tag takes {"texts": ["..."]}'})
    assert client.post("/tag", json={"texts": TEXTS[:1]}).status_code == 200  # the service lives on


def test_a_body_that_is_not_utf8_gets_a_422(client: TestClient) -> None:
    response = client.post("/tag", content=b'{"texts": ["caf\xe9"]}', headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (
        422, {"detail": "the request body is not UTF-8 JSON: byte 15 is not UTF-8"})


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/srv/out/checkpoints/bc5cdr/seed_42/best_model", "bc5cdr/seed_42"),
        ("/srv/out/checkpoints/gold_silver/seed_1/phase_1_gold/best_model", "gold_silver/seed_1/phase_1_gold"),
        ("/srv/models/my_tagger", "my_tagger"),
        ("/srv/models/my_tagger/best_model", "my_tagger"),
    ],
)
def test_the_model_name_is_the_run_not_the_path(path: str, name: str) -> None:
    assert model_name_of(Path(path)) == name


def test_serve_answers_with_the_run_name_never_the_file_path(trained_run: Any, tagger: Tagger,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    apps: list[Any] = []
    monkeypatch.setattr(service, "run_server", lambda app, *_: apps.append(app))
    serve(trained_run.paths.best_model, precision="fp32")
    serve(trained_run.paths.best_model, precision="fp32", model_name="chem-disease v1")
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        names = [first.post("/tag", json={"texts": TEXTS[:1]}).json()["model"], first.get("/health").json()["model"],
                 second.get("/health").json()["model"]]
    assert names == ["toy/seed_42", "toy/seed_42", "chem-disease v1"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--max-queue-chars", "0"], "invalid service limits: --max-queue-chars: Input should be greater than 0"),
        (["--request-timeout-s", "inf"], "invalid service limits: --request-timeout-s: Input should be a finite number"),
        (["--max-batch-chars", "-5"], "invalid service limits: --max-batch-chars: Input should be greater than 0"),
    ],
)
def test_bad_service_options_are_one_line_errors(tmp_path: Path, option: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--checkpoint", str(tmp_path), *option])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {message}"


# --- relations: --relations RE checkpoint -------------------------------------------------------

@pytest.fixture(scope="module")
def relation_client(tagger: Tagger, relation_checkpoint: Path) -> Iterator[TestClient]:
    from biotune.tasks.re.task import RelationPredictor

    stage = RelationStage(RelationPredictor.from_checkpoint(relation_checkpoint, precision="fp32"),
                          str(relation_checkpoint), by_mention=True)
    with TestClient(tag_app(tagger, model_name="toy", others=[(stage, "toy-re")])) as client:
        yield client


def mention_key(mention: dict[str, Any]) -> tuple[int, int, str, str]:
    return mention["start"], mention["end"], mention["text"], mention["type"]


def test_tag_with_relations_answers_mention_pairs_that_index_the_text(relation_client: TestClient, tagger: Tagger,
                                                                      relation_checkpoint: Path) -> None:
    from biotune.tasks.re.candidates import document_candidates
    from biotune.tasks.re.task import RelationPredictor

    texts = [TEXTS[2], "\U0001F48A " + TEXTS[0], "no entities here", *TEXTS[1:2], *AWKWARD_TEXTS]
    body = relation_client.post("/tag", json={"texts": texts}).json()
    assert body["model"] == "toy" and body["relation_model"] == "toy-re"
    predictor = RelationPredictor.from_checkpoint(relation_checkpoint, precision="fp32")
    labels: list[str] = []
    for text, result, alone in zip(texts, body["results"], expected(tagger, texts)):
        assert result["entities"] == alone["entities"], "the entities of a service without relations"
        entities = {mention_key(e) for e in result["entities"]}
        doc = tag_documents(tagger, [text_document("0", text)])[0]
        candidates = document_candidates(doc, [["Chemical", "Disease"]], "sentence", "0", labelled=False)
        predictions = predictor.predict([c.example for c in candidates]) if candidates else []
        labels += [p.label for p in predictions]
        wanted = [(p.label, c.example.text[c.example.head.start:c.example.head.end],
                   c.example.text[c.example.tail.start:c.example.tail.end], p.scores[p.label])
                  for c, p in zip(candidates, predictions) if p.label != "0"]
        answered = [(r["type"], r["head"]["text"], r["tail"]["text"], r["score"]) for r in result["relations"]]
        assert [row[:3] for row in answered] == [row[:3] for row in wanted]
        assert [row[3] for row in answered] == pytest.approx([row[3] for row in wanted], abs=1e-5)
        for relation in result["relations"]:
            for role, kind in (("head", "Chemical"), ("tail", "Disease")):
                mention = relation[role]
                assert text[mention["start"]:mention["end"]] == mention["text"] and mention["type"] == kind
                assert mention_key(mention) in entities, "an argument is one of the result's entities"
    assert {"0", "REL"} <= set(labels), "the texts hold related and unrelated pairs"
    assert body["results"][2] == {"entities": [], "relations": []}


def test_health_with_relations_describes_both_models(relation_client: TestClient) -> None:
    health = relation_client.get("/health").json()
    assert (health["model"], health["entity_types"]) == ("toy", ["Chemical", "Disease"])
    assert health["relations"] == {"model": "toy-re", "types": ["REL"], "pairs": [["Chemical", "Disease"]]}
    assert "linking" not in health


def test_without_a_relation_model_answers_have_no_relations_key(client: TestClient) -> None:
    body = client.post("/tag", json={"texts": TEXTS[:1]}).json()
    assert set(body) == {"results", "model"} and set(body["results"][0]) == {"entities"}
    assert "relations" not in client.get("/health").json()


def test_the_response_schema_documents_relations(relation_client: TestClient) -> None:
    schemas = relation_client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["EntityRelation"]["properties"]) == {"type", "head", "tail", "score"}
    assert set(schemas["Mention"]["properties"]) == {"start", "end", "text", "type"}
    assert "relations" in schemas["TagResult"]["properties"] and "relation_model" in schemas["TagResponse"]["properties"]


def test_serve_loads_the_relation_model_and_a_dictionary(trained_run: Any, relation_checkpoint: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    apps: list[Any] = []
    monkeypatch.setattr(service, "run_server", lambda app, *_: apps.append(app))
    dictionary = tmp_path / "terms.tsv"
    dictionary.write_text("heparin\tD006493\n", encoding="utf-8")
    serve(trained_run.paths.best_model, precision="fp32", stages=[relation_checkpoint], link=dictionary)
    with TestClient(apps[0]) as client:
        entities = client.post("/tag", json={"texts": [TEXTS[0]]}).json()["results"][0]["entities"]
        health = client.get("/health").json()
    assert health["relations"]["model"] == relation_checkpoint.name
    assert (health["linking"]["types"], health["linking"]["stages"]) == (["Chemical", "Disease"], ["exact", "normalised"])
    assert health["linking"]["mentions"] == {"abbreviation": 0, "exact": 1, "normalised": 0, "fuzzy": 0, "dense": 0,
                                             "unlinked": 1, "kept": 0}
    assert {e["text"]: (e["concept_id"], e["link_stage"], e.get("link_score")) for e in entities} == {
        "acute bleeding": ("text:Disease:acute bleeding", "unlinked", None), "heparin": ("D006493", "exact", 1.0)}
    with pytest.raises(BiotuneError, match="checkpoint folder .*nowhere not found"):
        serve(trained_run.paths.best_model, stages=[tmp_path / "nowhere"])
    with pytest.raises(BiotuneError, match="records no entity-type pairs"):
        serve(trained_run.paths.best_model, precision="fp32", stages=[pre_masked_model(relation_checkpoint, tmp_path)])


def pre_masked_model(checkpoint: Path, tmp_path: Path) -> Path:
    """A copy of `checkpoint` whose config records no pairs, as a model trained on pre-masked sentences."""
    folder = Path(shutil.copytree(checkpoint, tmp_path / "pre_masked"))
    config = json.loads((folder / "config.json").read_text())
    config["biotune"]["pairs"] = []
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_the_serve_command_passes_relations(trained_run: Any, relation_checkpoint: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(service, "serve", lambda checkpoint, **options: calls.append(options))
    result = CliRunner().invoke(cli, ["serve", "--checkpoint", str(trained_run.paths.best_model),
                                      "--relations", str(relation_checkpoint)])
    assert result.exit_code == 0, result.output
    assert calls[0]["stages"] == [relation_checkpoint] and calls[0]["link"] is None
