"""Split patterns: one path that names several files of a folder, for splits that are not one file.

A split is usually one file. Some are not: BioASQ's list questions are spread over twelve gold
files, and a brat corpus is a folder of `<id>.txt` + `<id>.ann` pairs whose dev split is a
subset of its training folder. A split pattern names such a split as one path, so the registry,
the leak guard and the readers pass it around like a file:

    <folder>/<glob>                     the files of <folder> the glob matches (`train/*0.ann`)
    <folder>/<glob> except <sibling>    those, less the ones whose file name is also in the
                                        sibling folder <folder>/../<sibling> (`train/*.ann except test`)

`except` is what keeps a corpus's test documents out of its training splits when, as released,
a few documents sit in both folders (JNLPBA: 10 abstracts).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

GLOB_CHARACTERS = re.compile(r"[*?\[]")  # a path whose last part has one of these is a pattern
EXCEPT = " except "


def is_pattern(path: str | Path) -> bool:
    """Whether `path` is a split pattern (its last part holds a glob character)."""
    return bool(GLOB_CHARACTERS.search(Path(path).name))


def pattern_files(path: str | Path) -> list[Path]:
    """The files a split pattern names (see the module docstring), sorted; a plain path is itself if it is a file."""
    path = Path(path)
    if not is_pattern(path):
        return [path] if path.is_file() else []
    name, _, sibling = path.name.partition(EXCEPT)
    matches = (Path(m) for m in glob.glob(os.path.join(glob.escape(str(path.parent)), name)))
    excluded = {p.name for p in (path.parent.parent / sibling).iterdir()} if sibling and \
        (path.parent.parent / sibling).is_dir() else set()
    return sorted(m for m in matches if m.is_file() and m.name not in excluded)
