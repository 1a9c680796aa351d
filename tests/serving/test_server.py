"""`biotune serve` stopped by a signal (issue 19: Ctrl-C printed a traceback per open request): the
queued requests are answered 503 at once, the batch being tagged finishes and is answered, the
log gets one shutdown line and no traceback, and the process exits as the signal asks; a second
Ctrl-C answers the batch being tagged 503 too, still without a traceback.

The server is the real command in a subprocess, its model calls held until the test creates a
file, so that a batch is surely being tagged when the signal comes."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

# `biotune serve` whose tagging waits for the file named by its first argument (and says when it starts).
SERVER = """
import sys, time
from pathlib import Path
from biotune.tasks.stages import DocumentPipeline
release = Path(sys.argv.pop(1))
annotate = DocumentPipeline.annotate
def held(self, documents):
    print(f"test: tagging {len(documents)} texts", file=sys.stderr, flush=True)
    while not release.exists():
        time.sleep(0.01)
    return annotate(self, documents)
DocumentPipeline.annotate = held
from biotune.cli import main
sys.exit(main())
"""
TEXTS = ["the patient developed acute bleeding after heparin .", "cisplatin and severe nephrotoxicity was given .",
         "lithium and severe tremor was given ."]
SHUTTING_DOWN = {"detail": "the service is shutting down: the texts were not tagged; retry later"}


class Server:
    """A running `biotune serve` subprocess whose log (stdout and stderr) is read line by line on a thread."""

    def __init__(self, checkpoint: Path, release: Path) -> None:
        with socket.socket() as sock:  # a free port (the command takes no port 0)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(release), "serve", "--checkpoint", str(checkpoint), "--port", str(port),
             "--precision", "fp32", "--batch-wait-ms", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).parents[2])
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout or []), daemon=True)
        self.reader.start()
        self.wait_for(r"Uvicorn running on")
        self.url = f"http://127.0.0.1:{port}"

    def wait_for(self, pattern: str, seconds: float = 120) -> re.Match[str]:
        """The first log line matching `pattern`, waiting for it to be written."""
        deadline = time.monotonic() + seconds
        while True:
            found = next(filter(None, (re.search(pattern, line) for line in list(self.lines))), None)
            if found:
                return found
            assert self.process.poll() is None and time.monotonic() < deadline, (
                f"no log line matches {pattern!r}:\n{self.log()}")
            time.sleep(0.02)

    def post(self, pool: ThreadPoolExecutor, text: str) -> Future[httpx.Response]:
        return pool.submit(httpx.post, f"{self.url}/tag", json={"texts": [text]}, timeout=60)

    def queued(self) -> int:
        return httpx.get(f"{self.url}/health", timeout=10).json()["queue"]["requests"]

    def finish(self) -> tuple[int, str]:
        """The exit status and the whole log, once the process has ended."""
        status = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return status, self.log()

    def log(self) -> str:
        return "".join(self.lines)


@contextmanager
def serving(checkpoint: Path, release: Path) -> Iterator[Server]:
    server = Server(checkpoint, release)
    try:
        yield server
    finally:
        if server.process.poll() is None:  # a failed test: do not leave it running
            server.process.kill()
            server.process.wait()


def eventually(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def shutdown_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "biotune serve:" in line]


def entities(response: httpx.Response) -> list[tuple[str, str]]:
    return [(e["text"], e["type"]) for e in response.json()["results"][0]["entities"]]


# The `biotune` entry point (`cli.main`): a Ctrl-C that stopped the server cleanly is a normal end (0); a
# SIGTERM ends it with the shell's status for that signal, 128 + 15, so a supervisor sees why.
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 0), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_a_signal_answers_the_queued_503_finishes_the_batch_and_logs_one_line(
        trained_run: Any, tmp_path: Path, signum: signal.Signals, status: int) -> None:
    release = tmp_path / "release"
    with serving(trained_run.paths.best_model, release) as server, ThreadPoolExecutor(3) as pool:
        tagging = server.post(pool, TEXTS[0])
        server.wait_for(r"test: tagging 1 texts")  # held until `release` exists
        queued = [server.post(pool, text) for text in TEXTS[1:]]
        eventually(lambda: server.queued() == 3)
        server.process.send_signal(signum)
        cancelled = [future.result(timeout=60) for future in queued]  # answered while the batch is still held
        release.touch()
        answered = tagging.result(timeout=60)
        exit_status, log = server.finish()
    assert [(r.status_code, r.json()) for r in cancelled] == [(503, SHUTTING_DOWN)] * 2
    assert (answered.status_code, entities(answered)) == (200, [("acute bleeding", "Disease"), ("heparin", "Chemical")])
    assert exit_status == status
    assert "Traceback" not in log
    assert ("interrupted by SIGTERM" in log) == (signum == signal.SIGTERM)  # a Ctrl-C stop is no interruption
    assert shutdown_lines(log) == ["INFO:     biotune serve: shutting down, 2 queued requests cancelled"]
    assert log.count("test: tagging") == 1  # the queued texts were never tagged


def test_a_second_ctrl_c_answers_the_batch_being_tagged_503_without_a_traceback(trained_run: Any,
                                                                                tmp_path: Path) -> None:
    release = tmp_path / "release"
    with serving(trained_run.paths.best_model, release) as server, ThreadPoolExecutor(2) as pool:
        tagging = server.post(pool, TEXTS[0])
        server.wait_for(r"test: tagging 1 texts")
        queued = server.post(pool, TEXTS[1])
        eventually(lambda: server.queued() == 2)
        server.process.send_signal(signal.SIGINT)
        server.wait_for(r"biotune serve: shutting down")
        server.process.send_signal(signal.SIGINT)  # forced: uvicorn stops waiting for the open request
        forced = tagging.result(timeout=60)  # answered while its batch is still held
        release.touch()  # the model call returns, so the worker thread ends and the process can exit
        exit_status, log = server.finish()
    assert [(r.status_code, r.json()) for r in (queued.result(timeout=60), forced)] == [(503, SHUTTING_DOWN)] * 2
    assert exit_status == 0
    assert "Traceback" not in log
    assert shutdown_lines(log) == ["INFO:     biotune serve: shutting down, 1 queued requests cancelled"]
