"""POST /qa: a QA model's ranked answers pass through with offsets into the request's contexts,
top_k reaches the model, bad input gets a 422/413 naming the field, a service serves /tag, /qa
or both and /health says which, concurrent questions are merged into one model call, a question
larger than the whole queue gets 413; the page's question box; the serve command and `serve` pick
the endpoints from the checkpoint's task; the real `QaPredictor` of a tiny random model goes
through the service unchanged. Overload (503), timeouts (504) and disconnects are the service's,
tested once for every endpoint in test_admission.py."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from biotune.cli import app as cli
from biotune.errors import BiotuneError
from biotune.serving import service
from biotune.serving.app import Mounted, create_app
from biotune.serving.limits import ServiceLimits
from biotune.serving.service import serve
from biotune.tasks import get_task
from biotune.tasks.qa.endpoint import answer_record, qa_endpoint
from biotune.tasks.qa.examples import Occurrence, RankedAnswer
from tests.serving.conftest import tag_app
from tests.serving import test_web_page as web
from tests.serving.test_service import wait_until

browser = web.browser  # the headless Chromium of the page tests (skipped where it is missing, failed in CI)

WORD = re.compile(r"\w{4,}")
OWN_CUT = 3  # the fake model's answers when a request gives no top_k
QUESTION = "what did the patient develop after heparin?"
CONTEXTS = [
    "\U0001F48A The patient developed acute bleeding after heparin.",
    "Bleeding after heparin is rare; caf\u00e9 patients developed nothing.",
    "heparin heparin heparin was given.",
]


def fake_answers(contexts: Sequence[str], top_k: int | None) -> list[RankedAnswer]:
    """What the fake model answers: every word of four letters or more, ranked by how often it occurs over
    the contexts (ties: the first seen first), with every occurrence; cut to `top_k`, or `OWN_CUT`."""
    found: dict[str, list[Occurrence]] = {}
    for i, context in enumerate(contexts):
        for match in WORD.finditer(context):
            found.setdefault(match.group(), []).append(Occurrence(i, match.start(), match.end(), 1 / (1 + i)))
    total = sum(map(len, found.values()))
    ranked = sorted(found.items(), key=lambda item: -len(item[1]))
    return [RankedAnswer(text, len(places) / total, tuple(places)) for text, places in ranked][:top_k or OWN_CUT]


class FakeAnswerer:
    """A QA model (`tasks.qa.endpoint.QuestionAnswerer`) answering `fake_answers`; it records each call's questions
    and top_k, and holds every call until `release` is set (set from the start unless `gated`)."""

    def __init__(self, gated: bool = False) -> None:
        self.calls: list[tuple[list[str], int | None]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not gated:
            self.release.set()

    def answer(self, questions: Sequence[tuple[str, Sequence[str]]],
               top_k: int | None = 5) -> list[list[RankedAnswer]]:
        self.calls.append(([question for question, _ in questions], top_k))
        self.entered.set()
        assert self.release.wait(30)
        return [fake_answers(contexts, top_k) for _, contexts in questions]


class FakeTagger:
    """What the /tag pipeline reads of a tagger besides its tag function (replaced by `no_entities`)."""

    labels = ["O", "B-Chemical", "I-Chemical"]


def no_entities(texts: Sequence[str]) -> list[dict[str, Any]]:
    return [{"entities": []} for _ in texts]


def expected(contexts: Sequence[str], top_k: int | None = None) -> list[dict[str, Any]]:
    return [answer_record(answer) for answer in fake_answers(contexts, top_k)]


def qa_app(fake: FakeAnswerer, limits: ServiceLimits = ServiceLimits(batch_wait_ms=0), tagger: bool = False) -> Any:
    qa = Mounted(get_task("qa"), fake, qa_endpoint(), "toy-qa")
    if not tagger:
        return create_app([qa], limits)
    app = tag_app(FakeTagger(), limits, model_name="toy", more=[qa])
    app.state.batchers["/tag"].tag = no_entities
    return app


@pytest.fixture()
def fake() -> FakeAnswerer:
    return FakeAnswerer()


@pytest.fixture()
def client(fake: FakeAnswerer) -> Iterator[TestClient]:
    with TestClient(qa_app(fake)) as client:
        yield client


def test_answers_pass_through_with_offsets_into_the_contexts(client: TestClient, fake: FakeAnswerer) -> None:
    response = client.post("/qa", json={"question": QUESTION, "contexts": CONTEXTS})
    assert response.status_code == 200
    body = response.json()
    assert body == {"model": "toy-qa", "question": QUESTION, "answers": expected(CONTEXTS)}
    assert [a["text"] for a in body["answers"]] == ["heparin", "developed", "after"]
    assert fake.calls == [([QUESTION], None)]  # no top_k: the model's own cut
    for answer in body["answers"]:
        for occurrence in answer["occurrences"]:
            assert CONTEXTS[occurrence["context"]][occurrence["start"] : occurrence["end"]] == answer["text"]
    heparin = body["answers"][0]["occurrences"]
    assert [(o["context"], o["start"]) for o in heparin][:2] == [(0, CONTEXTS[0].index("heparin")),
                                                                (1, CONTEXTS[1].index("heparin"))]
    assert heparin[0]["start"] == 45  # after the emoji: one code point, not two UTF-16 units or four bytes


def test_top_k_reaches_the_model_and_cuts_the_answers(client: TestClient, fake: FakeAnswerer) -> None:
    lengths = [len(client.post("/qa", json={"question": QUESTION, "contexts": CONTEXTS, "top_k": k}).json()["answers"])
               for k in (1, 2, 50)]
    assert lengths == [1, 2, len(fake_answers(CONTEXTS, 50))] and lengths[2] > OWN_CUT
    assert [top_k for _, top_k in fake.calls] == [1, 2, 50]


def test_one_context_may_be_given_as_context(client: TestClient) -> None:
    body = client.post("/qa", json={"question": QUESTION, "context": CONTEXTS[0], "top_k": 2}).json()
    assert body["answers"] == expected(CONTEXTS[:1], 2)
    assert {o["context"] for a in body["answers"] for o in a["occurrences"]} == {0}


SMALL = ServiceLimits(max_contexts=2, max_chars=40, max_request_bytes=1000)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"question": "", "contexts": ["a"]}, 422, "question is empty"),
        ({"question": " \n", "contexts": ["a"]}, 422, "question is empty (white space only)"),
        ({"question": "q"}, 422, "contexts: Field required (a list of texts, or one text as context)"),
        ({"question": "q", "contexts": []}, 422, "contexts: List should have at least 1 item after validation, not 0"),
        ({"question": "q", "contexts": ["ok", ""]}, 422, "contexts[1] is empty"),
        ({"question": "q", "context": "  "}, 422, "context is empty (white space only)"),
        ({"question": "q", "contexts": ["a", "b", "c"]}, 422,
         "the request has 3 contexts; the limit is 2 (max_contexts)"),
        ({"question": "q", "contexts": ["ok", "x" * 41]}, 413,
         "contexts[1] has 41 characters; the limit is 40 (max_chars)"),
        ({"question": "q" * 41, "contexts": ["ok"]}, 413, "question has 41 characters; the limit is 40 (max_chars)"),
        ({"question": "q", "contexts": ["x" * 40] * 30}, 413,
         "the request body has 1351 bytes; the limit is 1000 bytes (max_request_bytes)"),
        ({"question": "q", "contexts": "one text"}, 422, "contexts: Input should be a valid list"),
        ({"question": ["q"], "contexts": ["a"]}, 422, "question: Input should be a valid string"),
        ({"question": "q", "contexts": ["a", 5]}, 422, "contexts[1]: Input should be a valid string"),
        ({"contexts": ["a"]}, 422, "question: Field required"),
        ({"question": "q", "contexts": ["a"], "top_k": 0}, 422, "top_k: Input should be greater than or equal to 1"),
        ({"question": "q", "contexts": ["a"], "top_k": 51}, 422, "top_k: Input should be less than or equal to 50"),
        ({"question": "q", "contexts": ["a"], "top_k": "5"}, 422, "top_k: Input should be a valid integer"),
        ({"question": "q", "contexts": ["a"], "context": "b"}, 422,
         "contexts: give contexts (a list) or context (one text), not both"),
        ({"question": "q", "contexts": ["a"], "answers": ["a"]}, 422, "answers: Extra inputs are not permitted"),
        (["q", ["a"]], 422, "the request body: Input should be a valid dictionary or instance of QaRequest"),
        ({"question": "q", "contexts": ["a\ud83db"]}, 422,
         "contexts[0] holds an unpaired surrogate (U+D83D) at character 1; send valid Unicode"),
    ],
)
def test_bad_questions_are_refused_naming_the_field(fake: FakeAnswerer, body: Any, status: int, detail: str) -> None:
    with TestClient(qa_app(fake, SMALL)) as client:
        # json.dumps escapes non-ASCII, so the unpaired surrogate travels as the JSON escape \ud83d
        response = client.post("/qa", content=json.dumps(body), headers={"content-type": "application/json"})
        served = client.get("/health").json()["qa"]["served"]["requests"]
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    assert (served, fake.calls) == (0, [])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"question": "q", "contexts": [', "the request body is not valid JSON: Expecting value at character 31"),
        (b'{"question": "caf\xe9", "contexts": ["a"]}', "the request body is not UTF-8 JSON: byte 17 is not UTF-8"),
        (b'{"question": "q", "contexts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
         'the request body nests JSON too deeply to parse; /qa takes {"question": "...", "contexts": ["..."]}'),
    ],
)
def test_unreadable_bodies_get_a_422(client: TestClient, fake: FakeAnswerer, body: bytes, detail: str) -> None:
    response = client.post("/qa", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (422, {"detail": detail})
    assert client.post("/qa", json={"question": QUESTION, "context": CONTEXTS[0]}).status_code == 200


def test_a_qa_only_service_has_no_tag_and_health_says_so(client: TestClient) -> None:
    client.post("/qa", json={"question": QUESTION, "contexts": CONTEXTS})
    tag = client.post("/tag", json={"texts": ["heparin"]})
    assert (tag.status_code, tag.json()) == (
        404, {"detail": "this service has no ner model, so no /tag: it serves POST /qa"})
    traffic = {"served": {"requests": 1, "batches": 1, "questions": 1, "refused": 0, "timed_out": 0, "disconnected": 0},
               "queue": {"requests": 0, "characters": 0}}
    assert client.get("/health").json() == {
        "status": "ok",
        "endpoints": ["/qa"],
        "mounted": [{"path": "/qa", "task": "qa", "model": "toy-qa", **traffic}],
        "limits": ServiceLimits(batch_wait_ms=0).model_dump(),
        "qa": {"model": "toy-qa", **traffic},
    }
    paths = client.get("/openapi.json").json()["paths"]
    assert "/qa" in paths and "/tag" not in paths


def test_a_service_with_both_models_serves_both_and_health_describes_each(fake: FakeAnswerer) -> None:
    with TestClient(qa_app(fake, tagger=True)) as client:
        tagged = client.post("/tag", json={"texts": ["a", "b"]}).json()
        answered = client.post("/qa", json={"question": QUESTION, "contexts": CONTEXTS[:2]}).json()
        health = client.get("/health").json()
    assert tagged == {"results": [{"entities": []}, {"entities": []}], "model": "toy"}
    assert answered["answers"] == expected(CONTEXTS[:2])
    assert (health["endpoints"], health["model"], health["entity_types"], health["qa"]["model"]) == (
        ["/tag", "/qa"], "toy", ["Chemical"], "toy-qa")
    assert (health["served"]["texts"], health["qa"]["served"]["questions"]) == (2, 1)


def test_an_ner_only_service_answers_404_at_qa_and_needs_a_model() -> None:
    app = tag_app(FakeTagger())
    with TestClient(app) as client:
        response = client.post("/qa", json={"question": QUESTION, "contexts": CONTEXTS})
        assert (response.status_code, response.json()) == (
            404, {"detail": "this service has no qa model, so no /qa: it serves POST /tag"})
        assert "qa" not in client.get("/health").json()
    with pytest.raises(ValueError, match="the service needs a model"):
        create_app([])


def ask_in_thread(pool: ThreadPoolExecutor, client: TestClient, question: str, contexts: Sequence[str] = CONTEXTS,
                  **options: Any) -> Any:
    return pool.submit(client.post, "/qa", json={"question": question, "contexts": list(contexts), **options})


def test_concurrent_questions_are_merged_into_one_call_per_top_k() -> None:
    fake = FakeAnswerer(gated=True)
    asked = [("q0", CONTEXTS[:1], None), ("q1", CONTEXTS[:2], None), ("q2", CONTEXTS, 1), ("q3", CONTEXTS[1:], None)]
    with TestClient(qa_app(fake)) as client, ThreadPoolExecutor(4) as pool:
        futures = []
        for n, (question, contexts, top_k) in enumerate(asked, start=1):
            futures.append(ask_in_thread(pool, client, question, contexts, **({"top_k": top_k} if top_k else {})))
            wait_until(lambda: client.get("/health").json()["qa"]["served"]["requests"] == n)  # in this order
            assert fake.entered.wait(30)  # the worker is busy with the first question ...
        fake.release.set()  # ... so the three that arrived meanwhile go in one batch
        bodies = [future.result(timeout=60).json() for future in futures]
        served = client.get("/health").json()["qa"]["served"]
    assert fake.calls == [(["q0"], None), (["q1", "q3"], None), (["q2"], 1)]
    assert [(b["question"], b["answers"]) for b in bodies] == [(question, expected(contexts, top_k))
                                                               for question, contexts, top_k in asked]
    assert len({json.dumps(b["answers"]) for b in bodies}) == 4  # each got its own answers back
    assert (served["requests"], served["batches"], served["questions"]) == (4, 2, 4)


def test_a_question_larger_than_the_whole_queue_gets_413() -> None:
    with TestClient(qa_app(FakeAnswerer(), ServiceLimits(max_queue_chars=50))) as client:
        response = client.post("/qa", json={"question": "q" * 10, "contexts": ["c" * 30, "d" * 11]})
    assert (response.status_code, response.json()) == (413, {
        "detail": "the request has 51 characters; the queue holds at most 50 (max_queue_chars): send fewer contexts"})


# --- the page ---------------------------------------------------------------------------------

def test_the_page_has_the_question_box(client: TestClient) -> None:
    page = client.get("/").text
    for element in ('<section id="qa" hidden>', '<textarea id="question"', '<textarea id="contexts"',
                    '<button id="answer" type="submit">Answer</button>'):
        assert element in page
    assert not re.search(r"https?://|<script src|<link", page)


@pytest.fixture(scope="module")
def qa_server() -> Iterator[str]:
    with web.serving(qa_app(FakeAnswerer())) as url:
        yield url


def test_the_question_box_shows_the_ranked_answers_marked_in_their_contexts(browser: Any, qa_server: str) -> None:
    contexts = [*CONTEXTS, "<b>heparin</b> markup stays text"]
    question = "what was given?"
    page = browser.new_page()
    try:
        page.goto(qa_server)
        web.sync_api.expect(page.locator("#qa")).to_be_visible()  # /health has answered: /qa only
        assert page.locator("#tagging").is_hidden()
        assert page.locator("#model").inner_text() == "QA model: toy-qa"
        page.fill("#question", question)
        page.fill("#contexts", "\n\n".join(contexts[:2]) + "\n  \n\n" + "\n\n".join(contexts[2:]) + "\n")
        page.click("#answer")
        web.sync_api.expect(page.locator("#qa-status")).to_have_text("3 answers from 4 contexts")
        answers = httpx.post(qa_server + "qa", json={"question": question, "contexts": contexts}).json()["answers"]
        shown = page.locator("#answers > li").evaluate_all(
            "items => items.map(li => ({text: li.querySelector('.answer-text').textContent,"
            " score: li.querySelector('.score').textContent,"
            " contexts: Array.from(li.querySelectorAll('.context'), p => p.dataset.context),"
            " marks: Array.from(li.querySelectorAll('mark'), m => m.textContent)}))")
        assert shown == [{"text": a["text"], "score": f"score {a['score']:.3f}",
                          "contexts": [str(i) for i in sorted({o["context"] for o in a["occurrences"]})],
                          "marks": [a["text"]] * len(a["occurrences"])} for a in answers]
        assert page.locator("#answers b").count() == 0  # user text is never parsed as HTML
        first_context = page.locator("#answers > li").first.locator(".context").first
        assert first_context.text_content() == "context 1" + contexts[0]
    finally:
        page.close()


def test_a_refused_question_shows_the_service_message(browser: Any, qa_server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(qa_server)
        web.sync_api.expect(page.locator("#qa")).to_be_visible()
        page.fill("#question", "what was given?")
        page.click("#answer")  # no contexts
        web.sync_api.expect(page.locator("#qa-error")).to_have_text(
            "contexts: List should have at least 1 item after validation, not 0")
        assert page.locator("#qa-status").inner_text() == "Failed"
    finally:
        page.close()


def test_without_a_qa_model_the_page_has_no_question_box(browser: Any) -> None:
    app = tag_app(FakeTagger())
    with web.serving(app) as url:
        page = browser.new_page()
        try:
            page.goto(url)
            web.sync_api.expect(page.locator("#legend li")).to_have_count(1)  # /health has answered
            assert page.locator("#qa").is_hidden() and page.locator("#tagging").is_visible()
        finally:
            page.close()


# --- serve and the serve command ---------------------------------------------------------------

def model_folder(folder: Path, task: str) -> Path:
    """A folder whose config.json records `task` (all `serve` reads before loading the model)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"biotune": {"task": task}}), encoding="utf-8")
    return folder


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The apps `serve` would run; QA checkpoints load as `FakeAnswerer`s."""
    apps: list[Any] = []
    load = service.load_predictor

    def load_fake_qa(folder: Path, precision: str) -> tuple[Any, Any]:
        task = get_task(service.checkpoint_task(folder))
        return (task, FakeAnswerer()) if task.name == "qa" else load(folder, precision)

    monkeypatch.setattr(service, "run_server", lambda app, *_: apps.append(app))
    monkeypatch.setattr(service, "load_predictor", load_fake_qa)
    return apps


def test_serve_a_qa_checkpoint_alone_serves_qa_only(tmp_path: Path, served: list[Any]) -> None:
    serve(model_folder(tmp_path / "checkpoints" / "bioasq" / "seed_1" / "best_model", "qa"))
    with TestClient(served[0]) as client:
        health = client.get("/health").json()
        answer = client.post("/qa", json={"question": QUESTION, "contexts": CONTEXTS}).json()
    assert (health["endpoints"], health["qa"]["model"], answer["model"]) == (["/qa"], "bioasq/seed_1", "bioasq/seed_1")


def test_serve_an_ner_checkpoint_with_qa_serves_both(trained_run: Any, tmp_path: Path, served: list[Any]) -> None:
    serve([trained_run.paths.best_model, model_folder(tmp_path / "factoid", "qa")], precision="fp32")
    with TestClient(served[0]) as client:
        health = client.get("/health").json()
        tagged = client.post("/tag", json={"texts": ["heparin was given ."]}).json()["results"][0]["entities"]
    assert (health["endpoints"], health["model"], health["qa"]["model"]) == (["/tag", "/qa"], "toy/seed_42", "factoid")
    assert [e["text"] for e in tagged] == ["heparin"]


@pytest.mark.parametrize(
    ("given", "stages", "message"),
    [
        (["qa", "qa2"], [], r"2 qa checkpoints \(.*qa, .*qa2\): the service mounts one model per task"),
        (["qa"], ["re"], "is a qa model: relations and a linker annotate the documents of an endpoint that "
                         "tags them, so they are served beside a ner checkpoint"),
        (["re_documents"], [], "is a re model, which serve does not mount on its own: it goes to --relations of tag "
                               "and serve"),
        (["ner", "missing"], [], "checkpoint folder .*missing not found"),
    ],
)
def test_serve_refuses_models_of_the_wrong_task(tmp_path: Path, served: list[Any], given: list[str],
                                                stages: list[str], message: str) -> None:
    folders = {task: model_folder(tmp_path / task, task) for task in ("ner", "qa", "yesno", "re")}
    folders["qa2"] = model_folder(tmp_path / "qa2", "qa")
    folders["re_documents"] = tmp_path / "re_documents"
    folders["re_documents"].mkdir()
    (folders["re_documents"] / "config.json").write_text(
        json.dumps({"biotune": {"task": "re", "pairs": [["Chemical", "Disease"]]}}), encoding="utf-8")
    folders["missing"] = tmp_path / "missing"
    with pytest.raises(BiotuneError, match=message):
        serve([folders[name] for name in given], stages=[folders[name] for name in stages])
    assert served == []


def test_the_serve_command_passes_qa_and_max_contexts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(service, "serve", lambda checkpoint, **options: calls.append({"checkpoint": checkpoint,
                                                                                       **options}))
    result = CliRunner().invoke(cli, ["serve", "--checkpoint", str(tmp_path), "--qa", str(tmp_path / "qa"),
                                      "--max-contexts", "3"])
    assert result.exit_code == 0, result.output
    assert (calls[0]["checkpoint"], calls[0]["limits"].max_contexts) == ([tmp_path, tmp_path / "qa"], 3)
    refused = CliRunner().invoke(cli, ["serve", "--checkpoint", str(tmp_path), "--max-contexts", "0"])
    assert (refused.exit_code, refused.output.strip()) == (
        2, "error: invalid service limits: --max-contexts: Input should be greater than 0")


# --- the real predictor -------------------------------------------------------------------------

def test_a_real_qa_predictor_goes_through_the_service_unchanged(word_backbone: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from biotune.tasks.qa.models import build_qa_model, save_qa_model
    from biotune.tasks.qa.predict import QaPredictor

    torch.manual_seed(0)
    folder = tmp_path / "qa_model"
    save_qa_model(build_qa_model("qa", str(word_backbone), "span", [], 0.0), folder)  # random: arbitrary spans
    apps: list[Any] = []
    monkeypatch.setattr(service, "run_server", lambda app, *_: apps.append(app))
    serve(folder, precision="fp32")
    contexts = ["the patient developed acute bleeding after heparin .", "cisplatin and severe asthma was given ."]
    question = "patient developed"
    with TestClient(apps[0]) as client:
        answers = client.post("/qa", json={"question": question, "contexts": contexts, "top_k": 3}).json()["answers"]
    direct = QaPredictor.from_checkpoint(folder, precision="fp32").answer([(question, contexts)], top_k=3)[0]
    assert len(answers) == 3
    assert answers == [answer_record(a) for a in direct]
    for answer in answers:
        for occurrence in answer["occurrences"]:
            assert contexts[occurrence["context"]][occurrence["start"] : occurrence["end"]].lower() == \
                answer["text"].lower()
