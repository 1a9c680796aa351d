"""Config-level data access: turn `data:` settings into lists of `Sentence`s per split.

A split is named `train` / `dev` / `test` (a file of the configured corpus), `<corpus>:<split>`
(a split of another registry corpus or folder, e.g. `bc2gm:test`), or a file path.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from biotune.config import DataConfig
from biotune.formats.readers import EXTENSIONS, iter_corpus_file, reader_options
from biotune.corpora.registry import CORPORA, resolve_corpus
from biotune.formats.sentence import Sentence
from biotune.errors import BiotuneError


@dataclass(frozen=True)
class Split:
    """A named, read split plus the entity types its gold labels annotate."""

    name: str
    path: Path
    sentences: list[Sentence]
    annotated_types: tuple[str, ...]


def _split_file(corpus: str, split: str, data: DataConfig) -> Path:
    paths = resolve_corpus(corpus, data_dir=data.data_dir, download=data.download)
    path = {"train": paths.train, "dev": paths.dev, "devel": paths.dev, "test": paths.test}.get(split)
    if path is None:
        hint = "; set data.dev: null to train without model selection (the last epoch is kept)" if split in (
            "dev", "devel") else ""
        raise BiotuneError(f"corpus {corpus!r} has no {split!r} split (looked in {paths.folder}){hint}")
    return Path(path)


def corpus_splits(data: DataConfig) -> list[str]:
    """The splits the configured corpus has: train, dev when it has a dev file, test."""
    paths = resolve_corpus(data.corpus, data_dir=data.data_dir, download=data.download)
    return ["train", *(["dev"] if paths.dev is not None else []), "test"]


def locate(spec: str, data: DataConfig) -> tuple[str, Path, str | None]:
    """(display name, file, registry corpus or None) for a split spec."""
    if spec in ("train", "dev", "devel", "test"):
        return spec, _split_file(data.corpus, spec, data), data.corpus
    if ":" in spec and not Path(spec).exists():
        corpus, split = spec.split(":", 1)
        return f"{Path(corpus).name}_{split}", _split_file(corpus, split, data), corpus
    path = Path(spec)
    if not path.exists():
        raise BiotuneError(f"split {spec!r} is neither train/dev/test, <corpus>:<split>, nor an existing file")
    return path.stem, path, None


def read_split(spec: str, data: DataConfig) -> Split:
    """Read one split with the config's format options; record which types it annotates."""
    name, path, corpus = locate(spec, data)
    accepted = reader_options(data.format or EXTENSIONS.get(path.suffix.lower()))
    wanted = {"scheme": data.scheme, "tag_field": data.tag_field}  # a text file takes neither: it has no tags
    options = {key: value for key, value in wanted.items() if key in accepted}
    sentences = list(islice(iter_corpus_file(path, format=data.format, **options), data.limit))
    info = CORPORA.get(corpus) if corpus else None
    if info is not None:
        annotated = tuple(info.entity_types)
    else:
        annotated = tuple(sorted({t[2:] for s in sentences for t in (s.tags or []) if t != "O"}))
    if data.rename_types:
        rename = data.rename_types
        for s in sentences:
            if s.tags is not None:
                s.tags = [t if t == "O" else f"{t[:2]}{rename.get(t[2:], t[2:])}" for t in s.tags]
        annotated = tuple(sorted({rename.get(t, t) for t in annotated}))
    return Split(name, path, sentences, annotated)
