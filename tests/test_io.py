"""`biotune.io`: atomic writes keep the umask's permissions, and temporaries of killed writers are cleaned."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from biotune import io
from biotune.io import atomic_open, write_text


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_write_gets_the_umask_permissions(tmp_path: Path, umask: None, mask: int, mode: int) -> None:
    os.umask(mask)
    out = tmp_path / "out.json"
    write_text(out, "{}\n")
    assert stat.S_IMODE(out.stat().st_mode) == mode
    write_text(out, "[]\n")  # replacing keeps the rule too
    assert stat.S_IMODE(out.stat().st_mode) == mode and out.read_text() == "[]\n"


def _kill_mid_write(out: Path) -> None:
    """A real writer SIGKILLed inside `atomic_open`: what `predict` leaves when killed."""
    script = ("import os, signal, sys\nfrom biotune.io import atomic_open\n"
              "with atomic_open(sys.argv[1]) as f:\n    f.write('half'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script, str(out)], cwd=Path(__file__).parents[1], check=False)
    assert done.returncode == -signal.SIGKILL


def test_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out.jsonl"
    _kill_mid_write(out)
    left = list(tmp_path.glob(".out.jsonl.*.tmp"))
    assert len(left) == 1 and not out.exists()
    with caplog.at_level(logging.WARNING, logger="biotune"):
        write_text(out, "done\n")
    assert out.read_text() == "done\n" and list(tmp_path.iterdir()) == [out]
    warnings = [r.getMessage() for r in caplog.records if r.name == "biotune"]
    assert len(warnings) == 1 and left[0].name in warnings[0] and "interrupted" in warnings[0]


def _temporary(folder: Path, name: str, age_s: float = 0.0) -> Path:
    path = folder / name
    path.write_text("partial")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def test_only_abandoned_temporaries_of_the_same_output_are_removed(tmp_path: Path) -> None:
    host = io._host()
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _temporary(tmp_path, f".out.jsonl.{finished.pid}-{host}-a1b2c3.tmp")
        legacy_old = _temporary(tmp_path, ".out.jsonl.k3j_x9q2.tmp", age_s=io.STALE_AFTER_S + 60)
        live = _temporary(tmp_path, f".out.jsonl.{alive.pid}-{host}-d4e5f6.tmp")
        mine = _temporary(tmp_path, f".out.jsonl.{os.getpid()}-{host}-0a0b0c.tmp")
        other_host = _temporary(tmp_path, f".out.jsonl.{finished.pid}-elsewhere-0d0e0f.tmp")
        legacy_fresh = _temporary(tmp_path, ".out.jsonl.zz_y8w7v.tmp")
        other_output = _temporary(tmp_path, f".out.jsonl.gz.{finished.pid}-{host}-a1b2c3.tmp")
        with atomic_open(tmp_path / "out.jsonl") as handle:
            handle.write("new\n")
        assert not dead.exists() and not legacy_old.exists()
        assert all(p.exists() for p in (live, mine, other_host, legacy_fresh, other_output))
    finally:
        alive.kill()
        alive.wait()


def test_a_failed_write_leaves_no_temporary(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "out.txt") as handle:
        handle.write("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _run_writer(script: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, str(out)], cwd=Path(__file__).parents[1], capture_output=True,
                          text=True, check=False, timeout=60)


SECOND_INTERRUPT = """
import os, sys
from biotune.io import atomic_open

unlink = os.unlink

def interrupted_again(path):
    os.unlink = unlink
    raise KeyboardInterrupt("a second Ctrl-C, inside the cleanup")

with atomic_open(sys.argv[1]) as out:
    out.write("half")
    os.unlink = interrupted_again
    raise KeyboardInterrupt
"""


def test_a_temporary_whose_cleanup_was_interrupted_is_removed_at_exit(tmp_path: Path) -> None:
    """A second Ctrl-C that lands inside `atomic_open`'s own cleanup still leaves nothing behind."""
    done = _run_writer(SECOND_INTERRUPT, tmp_path / "out.jsonl")
    assert done.returncode == -signal.SIGINT and "a second Ctrl-C" in done.stderr
    assert list(tmp_path.iterdir()) == []


FORKED_CHILD = """
import os, sys, threading
from biotune.io import atomic_open

writing, forked = threading.Event(), threading.Event()

def write():
    with atomic_open(sys.argv[1]) as out:
        out.write("whole\\n")
        writing.set()
        forked.wait()

writer = threading.Thread(target=write)
writer.start()
writing.wait()
child = os.fork()
if child == 0:
    sys.exit(0)  # the child (without the writer thread) exits through atexit while the parent still writes
os.waitpid(child, 0)
forked.set()
writer.join()
"""


def test_a_forked_child_exiting_leaves_its_parents_temporary_alone(tmp_path: Path) -> None:
    done = _run_writer(FORKED_CHILD, tmp_path / "out.jsonl")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "out.jsonl"] and (tmp_path / "out.jsonl").read_text() == "whole\n"
