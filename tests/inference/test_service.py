"""The HTTP service: /tag equals `tag_documents`, limits answer with the right status and message,
/health describes the model, and concurrent requests are merged into few tagging calls."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from biotune.errors import BiotuneError
from biotune.inference.service import ServiceLimits, annotate_texts, create_app, entity_record, serve
from biotune.inference.tagger import Tagger
from tests.awkward import AWKWARD_TEXTS

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
    with TestClient(create_app(tagger, model_name="toy")) as client:
        yield client


def expected(tagger: Tagger, texts: Sequence[str]) -> list[dict[str, Any]]:
    """What /tag must answer: `tag_documents` on the same texts, as records."""
    return [{"entities": [entity_record(a) for a in found]} for found in annotate_texts(tagger, texts)]


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
    with TestClient(create_app(tagger, limits, model_name="toy")) as client:
        client.post("/tag", json={"texts": TEXTS[:2]})
        health = client.get("/health").json()
    assert health == {
        "status": "ok",
        "model": "toy",
        "entity_types": ["Chemical", "Disease"],
        "limits": {"max_texts": 5, "max_chars": 100_000, "max_request_bytes": 2_000_000, "max_batch_texts": 64,
                   "batch_wait_ms": 0.0},
        "served": {"requests": 1, "batches": 1, "texts": 2},
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
    with TestClient(create_app(tagger, limits)) as client:
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
        (["a"], 422, "the request body: Input should be a valid dictionary or object to extract fields from"),
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
    with TestClient(create_app(gated, ServiceLimits(batch_wait_ms=0))) as client, ThreadPoolExecutor(8) as pool:
        first = pool.submit(client.post, "/tag", json={"texts": texts[:1]})
        assert gated.entered.wait(30)  # the worker is busy with the first request ...
        rest = [pool.submit(client.post, "/tag", json={"texts": [text]}) for text in texts[1:]]
        wait_until(lambda: client.get("/health").json()["served"]["requests"] == len(texts))
        gated.release.set()  # ... so the seven that arrived meanwhile go in one batch
        responses = [future.result(timeout=60) for future in [first, *rest]]
        served = client.get("/health").json()["served"]
    assert gated.calls == [1, 7]
    assert served == {"requests": 8, "batches": 2, "texts": 8}
    for text, response in zip(texts, responses):
        assert response.json()["results"] == expected(tagger, [text])


def test_batches_stay_within_max_batch_texts_and_never_split_a_request(tagger: Tagger) -> None:
    gated = GatedTagger(tagger)
    sizes = [1, 2, 2, 1, 4, 1]
    with TestClient(create_app(gated, ServiceLimits(max_batch_texts=3, batch_wait_ms=0))) as client, \
            ThreadPoolExecutor(len(sizes)) as pool:
        first = pool.submit(client.post, "/tag", json={"texts": TEXTS[:1]})
        assert gated.entered.wait(30)
        rest = []
        for n, size in enumerate(sizes[1:], start=2):  # one at a time, so the queue order is known
            rest.append(pool.submit(client.post, "/tag", json={"texts": [TEXTS[0]] * size}))
            wait_until(lambda n=n: client.get("/health").json()["served"]["requests"] == n)
        gated.release.set()
        results = [len(future.result(timeout=60).json()["results"]) for future in [first, *rest]]
    assert results == sizes
    assert gated.calls == [1, 2, 3, 4, 1]  # [1] [2] [2, 1] [4] (alone, over the limit) [1]


def test_a_failing_batch_answers_500_and_the_worker_lives_on(tagger: Tagger) -> None:
    gated = GatedTagger(tagger, fail_on="naloxone")
    gated.release.set()
    with TestClient(create_app(gated), raise_server_exceptions=False) as client:
        assert client.post("/tag", json={"texts": ["naloxone was given ."]}).status_code == 500
        response = client.post("/tag", json={"texts": TEXTS[:1]})
        health = client.get("/health").json()
    assert response.json()["results"] == expected(tagger, TEXTS[:1])
    assert (health["status"], health["served"]["batches"]) == ("ok", 1)


def test_without_lifespan_the_error_says_so(tagger: Tagger) -> None:
    client = TestClient(create_app(tagger))  # not entered: the lifespan never runs
    with pytest.raises(RuntimeError, match="lifespan"):
        client.post("/tag", json={"texts": ["x"]})
    assert client.get("/health").status_code == 503


def test_serve_names_a_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match="checkpoint folder .*missing not found"):
        serve(tmp_path / "missing")
