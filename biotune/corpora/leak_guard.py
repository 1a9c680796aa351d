"""Test text is never training text: the one guard of pretraining sources, fine-tuning sources and silver inputs.

A held-out score means something only while no model has read the held-out text, so whether a
file is test text is decided by what the file is, not by how a config names it or which
`data_dir` it happens to be given. The candidates, collected once per run (`leak_guard`), are:

- the test file of every registered corpus present in a data folder in play (those the config
  names, `$BIOTUNE_DATA_DIR`, the download cache), either directly (`<root>/bc2gm`) or one
  level down (`<root>/documents/bc5cdr_pubtator`: a data root grouped by kind, as the shared
  data is), so the data root, `corpora/` and `documents/` all find what lies beneath them;
- the test file of a registered corpus laid out in any folder above a source, so a file named by
  path inside its corpus's folder is found whatever `data_dir` says;
- the test file of the unregistered corpus folder (train + test files) a source sits in;
- the test splits of experiment configs (the run's own `data.test`, a pretraining config's
  `exclude_test_of`).

A source file is one of them when it is the same file once links are resolved, or holds the same
bytes (sha256). Hashing is lazy: a file is hashed only when its size equals a candidate's, so a
check costs a few `stat` calls unless a copy is likely.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from biotune.config import DataConfig
from biotune.corpora.registry import CORPORA, GLOB_CHARACTERS, corpus_paths, default_cache_dir
from biotune.corpora.splits import locate
from biotune.errors import BiotuneError
from biotune.formats.patterns import is_pattern, pattern_files

NEVER = "test text is never training or pretraining text"
_CHUNK = 1 << 20  # bytes read at a time when hashing


@dataclass(frozen=True)
class KnownTest:
    """A file (or folder, or glob pattern of files) that is test text, and whose test split it is:
    `corpus 'bc2gm'`, `the corpus folder data/toy`, `configs/x.yaml (data.test 'test')`."""

    owner: str
    path: Path


@dataclass(frozen=True)
class Leak:
    """A source file found to be test text: the test file it is, its owners, and whether only its bytes matched."""

    file: Path
    test: Path
    owners: tuple[str, ...]
    same_content: bool

    def describe(self, role: str | None = None) -> str:
        """`<file> (<role>): is the test split of <owners> (<test file>)`, the start of every refusal."""
        what = f"{self.file} ({role})" if role else str(self.file)
        how = ", same content" if self.same_content else ""
        return f"{what}: is the test split of {' and of '.join(self.owners)} ({self.test}{how})"


class LeakGuard:
    """The test files of a run, by real path and by size (for the lazy content hash)."""

    def __init__(self, splits: Iterable[KnownTest]) -> None:
        self._owners: dict[str, list[str]] = {}
        self._shown: dict[str, Path] = {}
        for split in splits:
            for file in files_of(split.path):
                key = os.path.realpath(file)
                self._shown.setdefault(key, file)
                owners = self._owners.setdefault(key, [])
                if split.owner not in owners:
                    owners.append(split.owner)
        self._by_size: dict[int, list[str]] = {}
        for key in self._owners:
            size = os.path.getsize(key)
            if size:  # an empty file holds no text to leak, and every empty file would match it
                self._by_size.setdefault(size, []).append(key)
        self._digests: dict[str, str] = {}

    def check(self, file: Path) -> Leak | None:
        """The test split `file` is, or None."""
        key = os.path.realpath(file)
        if key in self._owners:
            return Leak(file, self._shown[key], tuple(self._owners[key]), same_content=False)
        try:
            size = os.path.getsize(key)
        except OSError:
            return None  # not there: the reader names it
        for candidate in self._by_size.get(size, ()):
            if self._digest(key) == self._digest(candidate):
                return Leak(file, self._shown[candidate], tuple(self._owners[candidate]), same_content=True)
        return None

    def refuse(self, file: Path, role: str | None = None, why: str = NEVER) -> None:
        """Raise the `BiotuneError` naming `file` (as `role`), its corpus and split, then `why`, when it is test text."""
        leak = self.check(file)
        if leak is not None:
            raise BiotuneError(f"{leak.describe(role)}; {why}")

    def _digest(self, key: str) -> str:
        if key not in self._digests:
            digest = hashlib.sha256()
            with open(key, "rb") as handle:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    digest.update(chunk)
            self._digests[key] = digest.hexdigest()
        return self._digests[key]


def leak_guard(data_dirs: Iterable[str | Path | None], sources: Iterable[Path],
               configs: Iterable[tuple[str, DataConfig]] = ()) -> LeakGuard:
    """The guard of a run that reads `sources` with `data_dirs` in play; `configs` are (how to name it,
    its data section) of experiment configs whose `data.test` splits are test text too."""
    sources = list(sources)
    splits = list(_registered_tests(data_dirs, sources))
    for name, data in configs:
        for spec in data.test:
            try:
                splits.append(KnownTest(f"{name} (data.test {spec!r})", split_path(spec, data)))
            except BiotuneError as error:
                raise BiotuneError(f"{name}: data.test {spec!r}: {error}") from None
    known = {os.path.realpath(file) for split in splits for file in files_of(split.path)}
    for folder in dict.fromkeys(folder for file in sources for folder in _both(file.parent)):
        paths = corpus_paths(folder)
        if paths is not None and os.path.realpath(paths.test) not in known:  # a registered corpus's name says more
            splits.append(KnownTest(f"the corpus folder {folder}", paths.test))
    return LeakGuard(splits)


def split_path(spec: str, data: DataConfig) -> Path:
    """The file, folder or glob pattern a split spec reads (`train`, `<corpus>:<split>`, a path, a
    pattern of files such as BioASQ's batches)."""
    if GLOB_CHARACTERS.search(spec) and ":" not in spec:
        return Path(spec)
    return locate(spec, data)[1]


def files_of(path: Path) -> list[Path]:
    """The files `path` stands for: a glob pattern's matches, a folder's files (at any depth), or itself."""
    if is_pattern(path):
        return pattern_files(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path] if path.is_file() else []


def _registered_tests(data_dirs: Iterable[str | Path | None], sources: list[Path]) -> Iterator[KnownTest]:
    """The test split of every registered corpus found in the data folders in play or above a source."""
    roots: dict[Path, None] = {}
    for root in [*data_dirs, os.environ.get("BIOTUNE_DATA_DIR")]:
        if root and Path(root).is_dir():
            roots[Path(root)] = None
            roots.update(dict.fromkeys(sorted(p for p in Path(root).iterdir() if p.is_dir())))
    for file in sources:
        roots.update(dict.fromkeys(parent for path in _both(file) for parent in path.parents))
    cache = default_cache_dir()
    for name in CORPORA:
        info = CORPORA[name]
        for folder in dict.fromkeys([*(info.folder_in(root) for root in roots), cache / info.name]):
            paths = info.paths_in(folder)
            if paths is not None:
                yield KnownTest(f"corpus {name!r}", paths.test)


def _both(path: Path) -> list[Path]:
    """`path` made absolute, and its real path when links make that another place."""
    absolute, real = Path(os.path.abspath(path)), Path(os.path.realpath(path))
    return [absolute] if absolute == real else [absolute, real]
