"""`biotune.interrupts`: a signal Python can catch unwinds the command, so no temporary or half output is left.

Before, SIGTERM killed `predict` mid-write and left `.<output>.<pid>-<host>-<hex>.tmp` in the output folder,
and a Ctrl-C that landed inside a `__del__` was dropped: the command finished as if never interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "PYTHONPATH": str(ROOT)}


def _start(*command: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *command], cwd=ROOT, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_temporary(folder: Path, process: subprocess.Popen[str], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not any(p.name.endswith(".tmp") for p in folder.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def slow_predict(word_backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny NER checkpoint and a text input it takes several seconds to tag."""
    from transformers import AutoTokenizer

    from biotune.tasks.ner.factory import build_model, save_model

    folder = tmp_path_factory.mktemp("slow_predict")
    checkpoint = folder / "model"
    save_model(build_model(str(word_backbone), ["O", "B-Chemical", "I-Chemical"], dropout=0.1), checkpoint)
    AutoTokenizer.from_pretrained(word_backbone).save_pretrained(checkpoint)
    text = folder / "big.txt"
    text.write_text("the patient developed acute bleeding after aspirin treatment with heparin .\n" * 30_000)
    return checkpoint, text


@pytest.mark.parametrize(("sent", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_predict_stopped_mid_write_leaves_no_temporary_and_no_output(slow_predict: tuple[Path, Path], tmp_path: Path,
                                                                     sent: signal.Signals, status: int) -> None:
    checkpoint, text = slow_predict
    out = tmp_path / "out"
    out.mkdir()
    process = _start("-m", "biotune.cli", "predict", "--checkpoint", str(checkpoint), "--input", str(text),
                     "--output", str(out / "big.jsonl"))
    _wait_for_temporary(out, process)
    time.sleep(0.3)  # well inside the tagging loop
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert list(out.iterdir()) == []
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert lines[-1] == f"interrupted by {sent.name}" and sum("interrupted" in line for line in lines) == 1


SLOW_WRITER = """
import signal, sys, time
from biotune.interrupts import Interrupted, catch_signals
from biotune.io import atomic_open

if sys.argv[2] == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
with catch_signals():
    try:
        with atomic_open(sys.argv[1]) as out:
            out.write("half")
            time.sleep(60)
    except Interrupted as stopped:
        sys.exit(128 + stopped.signal)
"""


def test_a_hangup_unwinds_a_writer_unless_hangups_were_ignored_at_start(tmp_path: Path) -> None:
    """SIGHUP (a closed terminal) unwinds like SIGTERM; under `nohup` (SIGHUP ignored) the writer goes on."""
    script = tmp_path / "writer.py"
    script.write_text(SLOW_WRITER)
    for mode, stop, status in [("plain", [signal.SIGHUP], 129), ("nohup", [signal.SIGHUP, signal.SIGTERM], 143)]:
        out = tmp_path / mode
        out.mkdir()
        process = _start(str(script), str(out / "result.json"), mode)
        _wait_for_temporary(out, process)
        for sent in stop:
            process.send_signal(sent)
            time.sleep(0.5)
        process.communicate(timeout=60)
        assert process.returncode == status
        assert list(out.iterdir()) == []


DROPPED_IN_DEL = """
import os, signal, time
from biotune.interrupts import Interrupted, catch_signals

class Dropping:
    def __del__(self):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except Interrupted:
            print("raised in __del__", flush=True)
            raise  # Python drops an exception leaving __del__

with catch_signals():
    try:
        Dropping()
        time.sleep(30)
        print("never interrupted")
    except Interrupted as stopped:
        print("caught", stopped.signal.name)
"""


def test_an_interrupt_that_a_del_drops_is_delivered_again() -> None:
    done = subprocess.run([sys.executable, "-c", DROPPED_IN_DEL], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.splitlines() == ["raised in __del__", "caught SIGINT"]
    assert done.stderr == ""  # no "Exception ignored in ..." either
