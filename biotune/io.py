"""Safe file output: atomic writes, no junk after a crash, never onto an input.

Results are a contract that aggregation and prediction read back, so a crash mid-write must
never leave a half-written file under the final name: everything is written to a temporary
file in the same folder and renamed into place (`os.replace` is atomic on POSIX).

Temporaries are named ``.<name>.<pid>-<host>-<random>.tmp``. A writer killed with SIGKILL
cannot remove its own, so the next write of the same output removes the ones it can prove
are abandoned, and names them in a warning: those of a process of this host that no longer
runs, and any not modified for `STALE_AFTER_S` (a writer on another host of a shared file
system, or one from an older biotune without a pid in the name). A temporary of a live
writer is left alone.

A signal Python can catch must unwind the writer, so that `atomic_open` removes its own
temporary: the CLI turns SIGINT, SIGTERM and SIGHUP into an exception (`biotune.interrupts`).
Should a second signal land inside that cleanup, the temporaries still being written are removed
when the process exits.

The temporary is created with mode 0666 and the kernel applies the umask (and default ACLs),
exactly as for a plain `open()`, so outputs are as readable as any other file the user makes
(`tempfile.mkstemp` would make every output 0600).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from biotune.errors import BiotuneError

log = logging.getLogger("biotune")

TMP_SUFFIX = ".tmp"
STALE_AFTER_S = 6 * 3600  # a temporary untouched this long belongs to no running writer
# What follows `.<name>.` in a temporary's name: no dot, so the temporaries of `a.jsonl` are
# never confused with those of `a.jsonl.gz` (`.a.jsonl.gz.<...>.tmp`).
_TMP_TAG = re.compile(r"(?:(?P<pid>\d+)-(?P<host>[\w-]*)-)?\w+")
# The temporaries being written now, each with the pid that made it: a forked child inherits this
# table but not the writes, and must not remove its parent's temporaries.
_LIVE: dict[Path, int] = {}


def _host() -> str:
    return re.sub(r"[^\w-]", "_", socket.gethostname())


def _tmp_name(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-{_host()}-{secrets.token_hex(6)}{TMP_SUFFIX}"


def _abandoned(tmp: Path, pid: int | None, host: str | None, now: float) -> bool:
    """Whether no running writer can own `tmp` (see the module docstring)."""
    try:
        if now - tmp.stat().st_mtime > STALE_AFTER_S:
            return True
    except FileNotFoundError:
        return False
    if pid is None or host != _host() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def stale_temporaries(path: str | Path) -> list[Path]:
    """The temporaries of `path` left by writers that are no longer running."""
    path = Path(path)
    prefix = f".{path.name}."
    now = time.time()
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(path.parent):
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(TMP_SUFFIX)) or not entry.is_file(follow_symlinks=False):
                continue
            tag = _TMP_TAG.fullmatch(name[len(prefix) : -len(TMP_SUFFIX)])
            if tag is None:
                continue
            pid = int(tag["pid"]) if tag["pid"] else None
            if _abandoned(Path(entry.path), pid, tag["host"], now):
                found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the abandoned temporaries of `path`, warn naming them, and return them."""
    removed = []
    for tmp in stale_temporaries(path):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed.append(tmp)
    if removed:
        log.warning("removed %d temporary file(s) left by an interrupted write of %s: %s",
                    len(removed), path, ", ".join(p.name for p in removed))
    return removed


def _create_exclusive(path: Path) -> tuple[int, Path]:
    """Open a new temporary sibling of `path` (mode 0666 minus the umask) for writing."""
    for _ in range(100):
        tmp = path.parent / _tmp_name(path)
        _LIVE[tmp] = os.getpid()  # before it exists: an interrupt before `atomic_open` unwinds leaves it to the exit
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            del _LIVE[tmp]
            continue
    raise FileExistsError(f"no free temporary name next to {path}")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it onto `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = _create_exclusive(path)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        del _LIVE[tmp]
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _LIVE.pop(tmp, None)  # only once gone: an interrupt before this leaves it to the exit
        raise


@atexit.register
def _remove_live_temporaries() -> None:
    """At exit, remove the temporaries of writes that did not unwind (a second Ctrl-C inside the cleanup)."""
    for tmp, owner in list(_LIVE.items()):
        if owner == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_open(path) as handle:
        handle.write(text)


def write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented UTF-8 JSON to `path` atomically."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_figure(path: str | Path, fig: Any, **savefig: Any) -> Path:
    """Write a matplotlib figure to `path` as PNG atomically, and close it (every biotune plot)."""
    import matplotlib.pyplot as plt

    try:
        with atomic_open(path, "wb") as handle:
            fig.savefig(handle, format="png", **savefig)
    finally:
        plt.close(fig)
    return Path(path)


def check_output(
    path: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False, what: str = "output"
) -> Path:
    """Refuse an output file that would destroy an input or a previous result, before any work.

    Errors (`BiotuneError`, naming `what` and the path): `path` is a folder; a parent of it is
    a file; it is one of `inputs` (same resolved path, or the same file through a symlink or
    hard link); it exists and `overwrite` is False.
    """
    path = Path(path)
    if path.is_dir():
        raise BiotuneError(f"{what} {path} is a folder; name a file to write")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise BiotuneError(f"{what} {path}: {parent} is a file, not a folder")
    for source in inputs:
        source = Path(source)
        if source.resolve() == path.resolve() or (path.exists() and source.exists() and path.samefile(source)):
            raise BiotuneError(f"{what} {path} is the input {source}; writing it would destroy the input")
    if path.exists() and not overwrite:
        raise BiotuneError(f"{what} {path} already exists; pass --overwrite to replace it")
    return path


def check_output_folder(path: str | Path, inputs: Iterable[str | Path], what: str, overwrite: bool = False) -> Path:
    """`path` as a folder a command may write (replacing it with `overwrite`), checked first.

    Errors (`BiotuneError`, naming `what` and the path): one of `inputs` is the folder, inside it
    or around it (resolved paths), so that replacing the folder would destroy an input, even with
    `overwrite`; it exists and `overwrite` is False.
    """
    path = Path(path)
    written = path.resolve()
    for source in inputs:
        read = Path(source).resolve()
        if read == written or written in read.parents or read in written.parents:
            raise BiotuneError(f"{what} {path} is, holds or lies inside the input {source}; writing it would "
                               "destroy the input")
    if path.exists() and not overwrite:
        raise BiotuneError(f"{what} {path} exists; pass --overwrite to replace it")
    return path


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: str, advice: str) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on the lock file `path` while the block runs, so that one
    process at a time writes what it guards (a tag job's output folder, a search folder).

    Another holder is a `BiotuneError`: ``<busy> (process <pid on host>, lock <path>); <advice>``. The
    kernel drops a flock when its process dies (SIGKILL included), so a killed writer never
    blocks the next one. The file is removed, still locked, when the block ends; a process that
    opened the old file just before sees that its file is no longer the one at the path and
    retries on a new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise BiotuneError(f"{busy} (process {holder}, lock {path}); {advice}") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
