"""Config-level data access: where each split of the configured corpus is, for every task.

A split is named `train` / `dev` / `test` (a file of the configured corpus), `<corpus>:<split>`
(a split of another registry corpus or folder, e.g. `bc2gm:test`, or of a Hugging Face dataset,
`hf:bigbio/bc5cdr:bc5cdr_bigbio_kb:test`), or a file path. The split is the text after the last
colon, since an `hf:` corpus name holds colons of its own and a split name never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biotune.config import DataConfig, ExperimentConfig
from biotune.corpora.hf_datasets import HF_PREFIX
from biotune.corpora.registry import CORPORA, CorpusInfo, CorpusPaths, resolve_corpus
from biotune.errors import BiotuneError


@dataclass(frozen=True)
class Split:
    """A named split read by its task: its examples (the task's own type) and what its gold annotates.

    `annotated_types` are the label types the gold covers (NER: entity types; RE: relation
    labels); a task scores only those. A task that builds its examples from documents (RE
    candidates) keeps them in `documents`, to score at the document level.
    """

    name: str
    path: Path
    examples: list[Any]
    annotated_types: tuple[str, ...]
    documents: list[Any] | None = None  # the documents the examples were built from, where a task builds them so
    facts: dict[str, int] | None = None  # counts the task found while building the examples (for reports)


DEV_NAMES = ("dev", "devel", "validation")  # `validation` is the Hub's name for it


def _split_file(corpus: str, split: str, data: DataConfig) -> Path:
    paths = resolve_corpus(corpus, data_dir=data.data_dir, download=data.download)
    path = {"train": paths.train, **dict.fromkeys(DEV_NAMES, paths.dev), "test": paths.test}.get(split)
    if path is None:
        hint = "; set data.dev: null to train without model selection (the last epoch is kept)" if (
            split in DEV_NAMES) else ""
        raise BiotuneError(f"corpus {corpus!r} has no {split!r} split (it has {', '.join(_split_names(paths))}; "
                           f"looked in {paths.folder}){hint}")
    return Path(path)


def _split_names(paths: CorpusPaths) -> list[str]:
    return ["train", *(["dev"] if paths.dev is not None else []), "test"]


def corpus_split(spec: str) -> tuple[str, str] | None:
    """(corpus, split) of a `<corpus>:<split>` spec, or None for a spec that names no other corpus
    (train/dev/test of the configured one, or a file path, colons in its name or not)."""
    corpus, sep, split = spec.rpartition(":")
    if not sep or not corpus or Path(spec).exists():
        return None
    if corpus + sep == HF_PREFIX:
        raise BiotuneError(f"split {spec!r} names no split: an hf: split is the dataset, then its split ({spec}:test)")
    return corpus, split


def corpus_splits(data: DataConfig) -> list[str]:
    """The splits the configured corpus has: train, dev when it has a dev file, test."""
    return _split_names(resolve_corpus(data.corpus, data_dir=data.data_dir, download=data.download))


def locate(spec: str, data: DataConfig) -> tuple[str, Path, str | None]:
    """(display name, file, registry corpus or None) for a split spec."""
    if spec in ("train", *DEV_NAMES, "test"):
        return spec, _split_file(data.corpus, spec, data), data.corpus
    named = corpus_split(spec)
    if named is not None:
        corpus, split = named
        # a result name is a file name (eval_<name>.json): an hf: name's colons and slashes are cut out
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(corpus.removeprefix(HF_PREFIX)).name).strip("_")
        return f"{stem}_{split}", _split_file(corpus, split, data), corpus
    path = Path(spec)
    if not path.exists():
        raise BiotuneError(f"split {spec!r} is neither train/dev/test, <corpus>:<split>, nor an existing file")
    return path.stem, path, None


def corpus_task(corpus: str) -> str:
    """The task a registered corpus is for (`ner` for a folder or a name the registry lacks: the
    split lookup then names what is wrong)."""
    info = _registered(corpus)
    return info.task if info else "ner"


def _registered(corpus: str) -> CorpusInfo | None:
    """The registry entry of `corpus`, None for a folder or a name the registry lacks."""
    return CORPORA.get(corpus) if not Path(corpus).is_dir() else None


def corpus_config(corpus: str, data_dir: str | Path | None = None, download: bool = False) -> ExperimentConfig:
    """The experiment that reads `corpus` as its configs would, for what reads a corpus without a config
    (`biotune check-data NAME`, `biotune corpora export`): its task, and the task settings its registry
    entry names (`CorpusInfo.settings`: bioasq_list's list questions)."""
    info = _registered(corpus)
    task, settings = (info.task, info.settings) if info else ("ner", {})
    return ExperimentConfig.model_validate({
        "task": task, **({task: settings} if settings else {}),
        "data": {"corpus": corpus, "data_dir": None if data_dir is None else str(data_dir), "download": download}})
