"""The web page in headless Chromium (Debian's `chromium`, driven by Playwright) against a real
uvicorn server on loopback: highlighted entities are the API's, the legend lists the model's
types, errors are shown, user text is never parsed as HTML, and with a relation model the
relations table lists the API's relations and outlines their mentions.

Playwright drives the system browser (`executable_path`), never a browser build of its own.
Outside CI a missing browser or Playwright skips these tests; in CI (`.ci/run` sets
BIOTUNE_CI=1 after installing chromium) it fails them, so the page is always tested there."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from biotune.serving.app import create_app
from biotune.serving.limits import ServiceLimits
from biotune.tasks.ner.tagger import Tagger
from tests.serving.conftest import tag_app

try:
    from playwright import sync_api
except ImportError:
    sync_api = None

CHROMIUM = shutil.which("chromium")
MISSING = ("playwright is not installed (pip install -e '.[test]')" if sync_api is None
           else "Debian's chromium is not installed (apt-get install chromium)" if CHROMIUM is None else None)
# Headless and quiet: no GPU, no sandbox (CI runs as root), no update, sync or first-run traffic.
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
MAX_CHARS = 200


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` on a free loopback port, run by uvicorn in a background thread; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound before uvicorn starts: no race for the port
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def server(trained_run: Any) -> Iterator[str]:
    """The NER service's URL."""
    tagger = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")
    with serving(tag_app(tagger, ServiceLimits(max_chars=MAX_CHARS), model_name="toy")) as url:
        yield url


@pytest.fixture(scope="module")
def relation_server(trained_run: Any, relation_checkpoint: Path) -> Iterator[str]:
    """The URL of the service with the tiny relation model."""
    tagger = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")
    from biotune.tasks.re.stage import RelationStage
    from biotune.tasks.re.task import RelationPredictor

    stage = RelationStage(RelationPredictor.from_checkpoint(relation_checkpoint, precision="fp32"),
                          str(relation_checkpoint), by_mention=True)
    with serving(tag_app(tagger, model_name="toy", others=[(stage, "toy-re")])) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if MISSING is not None:
        if os.environ.get("BIOTUNE_CI") == "1":
            pytest.fail(f"the web page test must run in CI: {MISSING}")
        pytest.skip(MISSING)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    page = browser.new_page()
    page.goto(server)
    sync_api.expect(page.locator("#legend li")).to_have_count(2)  # /health has answered
    yield page
    page.close()


def tag_in_page(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.click("#tag")
    sync_api.expect(page.locator("#status")).to_have_text(re.compile(r"\d+ entit|Failed"))


def marks(page: Any) -> list[dict[str, str]]:
    return page.locator("#output mark").evaluate_all(
        "marks => marks.map(m => ({text: m.textContent, type: m.dataset.type, title: m.title,"
        " colour: m.style.backgroundColor}))"
    )


def test_legend_lists_the_model_types_with_distinct_colours(page: Any) -> None:
    items = page.locator("#legend li")
    assert items.all_inner_texts() == ["Chemical", "Disease"]
    colours = page.locator("#legend .swatch").evaluate_all("s => s.map(e => e.style.backgroundColor)")
    assert len(set(colours)) == 2
    assert page.locator("#model").inner_text() == "model: toy"


def test_highlighted_entities_are_the_api_entities(page: Any, server: str) -> None:
    text = ("\U0001F48A The patient developed acute bleeding after heparin.\n"
            "Cisplatin and severe nephrotoxicity was given.")
    entities = httpx.post(server + "tag", json={"texts": [text]}).json()["results"][0]["entities"]
    assert len(entities) >= 3  # after the emoji: code-point offsets must not shift in JS
    assert [text[e["start"] : e["end"]] for e in entities] == [e["text"] for e in entities]
    tag_in_page(page, text)
    shown = marks(page)
    assert [(m["text"], m["type"]) for m in shown] == [(e["text"], e["type"]) for e in entities]
    assert [m["title"] for m in shown] == [f"{e['type']} (score {e['score']:.2f})" for e in entities]
    assert page.locator("#output").text_content() == text
    assert page.locator("#status").inner_text() == f"{len(entities)} entities"
    legend = dict(zip(page.locator("#legend li").all_inner_texts(),
                      page.locator("#legend .swatch").evaluate_all("s => s.map(e => e.style.backgroundColor)")))
    assert all(m["colour"] == legend[m["type"]] for m in shown)


def test_markup_in_the_text_is_shown_literally(page: Any) -> None:
    text = "<b>x</b> <img src=x onerror=alert(1)> heparin and severe asthma was given ."
    tag_in_page(page, text)
    assert page.locator("#output").text_content() == text
    assert page.locator("#output b, #output img").count() == 0
    assert "heparin" in [m["text"] for m in marks(page)]


def test_a_refused_request_shows_the_service_message(page: Any) -> None:
    tag_in_page(page, "the patient developed acute bleeding after heparin .")
    tag_in_page(page, "x" * (MAX_CHARS + 1))
    sync_api.expect(page.locator("#error")).to_have_text(
        f"texts[0] has {MAX_CHARS + 1} characters; the limit is {MAX_CHARS} (max_chars)"
    )
    assert page.locator("#output mark").count() == 0  # the previous result is gone


def relation_rows(page: Any) -> list[list[str]]:
    return page.locator("#relations tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent))")


def test_without_a_relation_model_there_is_no_relations_table(page: Any) -> None:
    tag_in_page(page, "the patient developed acute bleeding after heparin .")
    assert page.locator("#relations").is_hidden()


def test_the_relations_table_lists_the_api_relations_and_outlines_their_mentions(browser: Any,
                                                                                relation_server: str) -> None:
    text = ("\U0001F48A The patient developed acute tremor after lithium. Aspirin and severe asthma was given.\n"
            "The patient developed acute bleeding after heparin.")
    result = httpx.post(relation_server + "tag", json={"texts": [text]}).json()["results"][0]
    assert result["relations"], "the tiny model relates some of these pairs"
    page = browser.new_page()
    try:
        page.goto(relation_server)
        sync_api.expect(page.locator("#legend li")).to_have_count(2)
        tag_in_page(page, text)
        n, m = len(result["entities"]), len(result["relations"])
        assert page.locator("#status").inner_text() == f"{n} entities, {m} relation{'s' if m != 1 else ''}"
        assert page.locator("#relations").is_visible()
        assert relation_rows(page) == [[r["head"]["text"] + r["head"]["type"], r["type"],
                                        r["tail"]["text"] + r["tail"]["type"], f"{r['score']:.2f}"]
                                       for r in result["relations"]]
        first = result["relations"][0]
        page.locator("#relations tbody tr").first.hover()
        outlined = page.locator("#output mark.related").evaluate_all("marks => marks.map(m => m.textContent)")
        assert sorted(outlined) == sorted([first["head"]["text"], first["tail"]["text"]])
        page.mouse.move(0, 0)
        assert page.locator("#output mark.related").count() == 0
        tag_in_page(page, "no entities here")
        assert page.locator("#status").inner_text() == "0 entities, 0 relations" and relation_rows(page) == []
    finally:
        page.close()


@pytest.fixture(scope="module")
def records_server() -> Iterator[str]:
    """The URL of a service whose only model is mounted at its task's records endpoint (/multilabel)."""
    from biotune.serving.app import Mounted
    from biotune.tasks.endpoints import records_endpoint
    from tests.serving.test_endpoints import EchoTask

    task = EchoTask()
    mounted = Mounted(task, [], records_endpoint(task, "/multilabel"), "echo")  # type: ignore[arg-type]
    with serving(create_app([mounted])) as url:
        yield url


def test_a_model_mounted_at_its_tasks_endpoint_gets_a_records_panel(browser: Any, records_server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(records_server)
        panel = page.locator('section.records-panel[data-path="/multilabel"]')
        sync_api.expect(panel).to_have_count(1)  # /health has answered
        assert page.locator("#tagging").is_hidden() and page.locator("#qa").is_hidden()
        assert panel.locator("h2").inner_text() == "multilabel (POST /multilabel, model echo)"
        panel.locator("textarea").fill('{"text": "<b>ab</b>"}\n{"text": "c"}')
        panel.locator("button").click()
        sync_api.expect(panel.locator("[role=status]")).to_have_text("2 records")
        assert panel.locator(".records-output").text_content() == (
            '{"text":"<b>ab</b>","length":9}\n{"text":"c","length":1}')
        assert panel.locator(".records-output b").count() == 0
        panel.locator("textarea").fill('{"no": 1}')
        panel.locator("button").click()
        sync_api.expect(panel.locator(".records-error")).to_have_text("record 0: missing field 'text'")
        assert panel.locator(".records-output").text_content() == ""
    finally:
        page.close()
