"""What keeps a resumable tagging job's output from mixing inputs, models or writers.

A tagging job resumes by skipping the shards already written, which is only right if those
shards came from the same bytes through the same model. So a job records fingerprints when it
starts, and a rerun compares:

- each input file: size, modification time and a BLAKE2b hash of its content (streamed in
  chunks by `hashlib.file_digest`, once per job start: a few hundred MB/s, far below what
  tagging the same bytes costs);
- each checkpoint (every model of the job's document pipeline): a BLAKE2b hash of each file of
  the folder (weights, config, tokenizer);
- the linker when the job links mentions: its `Linker.fingerprint` (the content fingerprints of
  its vocabularies, its options and its dense index; a dictionary file's is its rows'), which a
  linker folder records when it is built, so checking it costs no hashing.

Content decides: a file whose size or hash differs has changed (documents appended to an input
would otherwise be silently missing from the output). A modification time alone that differs
(a copy, a `touch`) is reported as a warning and recorded anew, since the bytes are the same.

Two jobs writing one folder at once would each skip and rewrite the other's shards; `job_lock`
holds an exclusive `fcntl.flock` on a lock file in the folder for the job's lifetime. The kernel
drops a flock when its process dies (SIGKILL included), so a killed job never leaves a lock that
blocks the next one; a finished job removes the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.io import exclusive_lock

log = logging.getLogger("biotune")

LOCK = ".tag_job.lock"
HASH = "blake2b"


def content_hash(path: Path) -> str:
    """The BLAKE2b hex digest of a file, read in chunks (bounded memory for any size)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, HASH).hexdigest()


def file_fingerprint(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, HASH: content_hash(path)}


def input_fingerprints(files: Sequence[tuple[Path, str]]) -> dict[str, dict[str, Any]]:
    """`{name relative to the input: fingerprint}` for a job's input files."""
    return {relative: file_fingerprint(file) for file, relative in files}


def checkpoint_fingerprint(folder: Path) -> dict[str, str]:
    """`{file name: content hash}` of every file of a checkpoint folder (hidden files aside)."""
    if not folder.is_dir():
        raise BiotuneError(f"checkpoint {folder} does not exist or is not a folder")
    return {entry.name: content_hash(entry) for entry in sorted(folder.iterdir())
            if entry.is_file() and not entry.name.startswith(".")}


def input_changes(recorded: Mapping[str, Mapping[str, Any]], current: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between the recorded and the current input fingerprints, one phrase each.

    An input whose modification time alone differs is not a change (same bytes): it is logged
    as a warning, and the caller records the current fingerprints, so it is said once.
    """
    changes = [f"input {name} is gone" for name in recorded if name not in current]
    changes += [f"input {name} was added" for name in current if name not in recorded]
    for name in sorted(set(recorded) & set(current)):
        changes += file_changes(f"input {name}", recorded[name], current[name])
    return changes


def file_changes(what: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One phrase if the file named `what` has other content than its recorded fingerprint, else nothing.

    A new modification time alone is logged as a warning (same bytes: resuming is right).
    """
    if old.get("size") != new["size"]:
        return [f"{what} changed (size {old.get('size')} -> {new['size']} bytes)"]
    if old.get(HASH) != new[HASH]:
        return [f"{what} changed (same size, different content)"]
    if old.get("mtime_ns") != new["mtime_ns"]:
        log.warning("%s has a new modification time but the same content: resuming", what)
    return []


def checkpoint_changes(folder: Path, recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """One phrase naming the checkpoint and its files that differ, or nothing."""
    differing = sorted(name for name in set(recorded) | set(current) if recorded.get(name) != current.get(name))
    return [f"checkpoint {folder} changed ({', '.join(differing)} differ)"] if differing else []


def linker_changes(link: Path | None, recorded: str | None, current: str | None) -> list[str]:
    """One phrase if the job's linker (read from `link`) is not the one whose fingerprint was recorded (None:
    no linker).

    Another `link` path, or linking where there was none, already differs in the settings; this
    catches a linker folder rebuilt in place, or a dictionary edited, since the job started.
    """
    if recorded == current:
        return []
    return [f"linker {link} changed (fingerprint {recorded or 'none'} -> {current or 'none'})"]


def job_lock(folder: Path) -> contextlib.AbstractContextManager[None]:
    """Hold `folder`'s job lock while the block runs; a `BiotuneError` if another job holds it."""
    return exclusive_lock(folder / LOCK, f"{folder}: another tagging job is writing this output folder",
                          "wait for it to finish, or use another output folder")
