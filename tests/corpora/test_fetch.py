"""Fetching corpora on first use, checked against pinned SHA-256s, from a local HTTP server (no network).

The server stands in for the upstream location through `$BIOTUNE_CORPUS_MIRROR`; every test runs
from a working folder with no `../shared` beside it, as on a user's fresh machine.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.corpora import fetch
from biotune.corpora.registry import resolve_corpus
from biotune.errors import BiotuneError

SHARED_CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "corpora"
SPLITS = {"train.tsv": 6, "devel.tsv": 2, "test.tsv": 3}  # sentences per served file


class Server:
    """A local HTTP server over `root`, counting the files it served."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = partial(_Handler, self, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, server_state: Server, *args: object, **kwargs: object) -> None:
        self.state = server_state
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        self.state.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest output is for failures."""


def tsv(sentences: int, salt: str = "") -> str:
    """`sentences` two-token sentences, one Chemical each (a bug that drops or merges sentences changes counts)."""
    return "".join(f"aspirin{salt}\tB-Chemical\n{n}\tO\n\n" for n in range(sentences))


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A mirror serving a small bc5cdr (pins replaced by its files' SHA-256s), the cache and cwd in tmp_path."""
    folder = tmp_path / "mirror" / "bc5cdr"
    folder.mkdir(parents=True)
    pins = {}
    for name, count in SPLITS.items():
        (folder / name).write_text(tsv(count), encoding="utf-8")
        pins[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    monkeypatch.setitem(fetch.PINNED_SHA256, "bc5cdr", pins)
    server = Server(tmp_path / "mirror")
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)
    work = tmp_path / "fresh" / "work"  # no ../shared beside it
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_a_pinned_corpus_is_fetched_on_first_use_and_then_read_from_the_cache(served: Server, tmp_path: Path) -> None:
    paths = resolve_corpus("bc5cdr")  # no download=True: pinned corpora need none
    assert paths.folder == tmp_path / "cache" / "corpora" / "bc5cdr"
    assert paths.test.read_text() == tsv(SPLITS["test.tsv"])
    assert sorted(served.requests) == ["/bc5cdr/devel.tsv", "/bc5cdr/test.tsv", "/bc5cdr/train.tsv"]
    served.requests.clear()
    assert resolve_corpus("bc5cdr").folder == paths.folder
    assert served.requests == []


def test_a_file_that_is_not_the_pinned_one_is_refused_and_nothing_is_kept(served: Server, tmp_path: Path) -> None:
    (served.root / "bc5cdr" / "devel.tsv").write_text(tsv(SPLITS["devel.tsv"], salt="x"), encoding="utf-8")
    with pytest.raises(BiotuneError) as caught:
        resolve_corpus("bc5cdr")
    message = str(caught.value)
    assert f"cannot download {served.url}/bc5cdr/devel.tsv: its SHA-256 is not the pinned one" in message
    assert "\n" not in message
    assert list((tmp_path / "cache" / "corpora").iterdir()) == []


def test_offline_is_one_line_naming_the_url(served: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    served.httpd.shutdown()
    served.httpd.server_close()  # the port now refuses connections, as without a network
    with pytest.raises(BiotuneError) as caught:
        resolve_corpus("bc5cdr")
    message = str(caught.value)
    assert f"download failed: cannot download {served.url}/bc5cdr/train.tsv: no connection (offline?)" in message
    assert "\n" not in message and "download=True" not in message  # it was tried: no advice to ask for it


def test_a_missing_file_names_its_http_status(served: Server) -> None:
    (served.root / "bc5cdr" / "test.tsv").unlink()
    with pytest.raises(BiotuneError, match=rf"cannot download {served.url}/bc5cdr/test.tsv: HTTP 404"):
        resolve_corpus("bc5cdr")


def test_an_unpinned_corpus_is_fetched_only_when_asked(served: Server) -> None:
    folder = served.root / "bc4chemd"
    folder.mkdir()
    for name, count in SPLITS.items():
        (folder / name).write_text(tsv(count), encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"download=True was not given"):
        resolve_corpus("bc4chemd")
    assert served.requests == []
    assert resolve_corpus("bc4chemd", download=True).train.read_text() == tsv(SPLITS["train.tsv"])


def test_the_main_job_runs_without_data_dir_from_a_fresh_folder(served: Server, tmp_path: Path,
                                                                word_backbone: Path) -> None:
    """`biotune train CONFIG` with `data.corpus: bc5cdr` and no --data-dir: the corpus is fetched, trained on, scored."""
    config = Path("bc5cdr.yaml")
    config.write_text(f"output_dir: outputs\nmodel: {{backbone: {word_backbone}, max_length: 32}}\n"
                      "data: {corpus: bc5cdr}\n"
                      "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 4, warmup: 0.0, bf16: false}\n")
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    assert sorted(served.requests) == ["/bc5cdr/devel.tsv", "/bc5cdr/test.tsv", "/bc5cdr/train.tsv"]
    scores = Path("outputs/results/bc5cdr/seed_42/eval_test.json").read_text()
    assert f'"support": {SPLITS["test.tsv"]}' in scores


@pytest.mark.skipif(not (SHARED_CORPORA / "bc5cdr").is_dir(), reason="../shared/data/corpora/bc5cdr is absent")
@pytest.mark.parametrize("name", sorted(set(fetch.PINNED_SHA256) & {"bc5cdr", "ncbi_disease", "bc2gm"}))
def test_the_pins_match_the_shared_copies_of_the_upstream_files(name: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The real pins against the real bytes: the shared copies are byte-identical to the upstream files."""
    server = Server(SHARED_CORPORA)
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)
    try:
        paths = resolve_corpus(name)
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert paths.train.read_bytes() == (SHARED_CORPORA / name / "train.tsv").read_bytes()


def test_a_mirror_names_its_own_pins_in_a_pins_file(served: Server, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes other than the built-in pins' are fetched when $BIOTUNE_CORPUS_PINS pins them, and only then."""
    folder = served.root / "bc5cdr"
    for name, count in SPLITS.items():
        (folder / name).write_text(tsv(count, salt="s"), encoding="utf-8")
    with pytest.raises(BiotuneError, match="not the pinned one"):
        resolve_corpus("bc5cdr")
    pins_file = tmp_path / "pins.json"
    pins_file.write_text(json.dumps({"bc5cdr": {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                                                for name in SPLITS}}), encoding="utf-8")
    monkeypatch.setenv(fetch.PINS_ENV, str(pins_file))
    assert resolve_corpus("bc5cdr").test.read_text() == tsv(SPLITS["test.tsv"], salt="s")


@pytest.mark.parametrize("content", ["[1, 2]", '{"bc5cdr": {"train.tsv": "abc"}}', "not json"])
def test_a_bad_pins_file_is_one_line_naming_it(content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins_file = tmp_path / "pins.json"
    pins_file.write_text(content, encoding="utf-8")
    monkeypatch.setenv(fetch.PINS_ENV, str(pins_file))
    with pytest.raises(BiotuneError) as caught:
        fetch.pins()
    assert str(caught.value).startswith(f"{pins_file} ($BIOTUNE_CORPUS_PINS): ") and "\n" not in str(caught.value)
