"""Hugging Face `datasets` as corpora, both ways: BigBIO KB datasets in, any registered corpus out.

In: a corpus named ``hf:<repo id>[:<config>]`` (``hf:bigbio/bc5cdr:bc5cdr_bigbio_kb``) is loaded
with `datasets.load_dataset` (the Hub, or the datasets cache offline), and ``hf:<folder>`` is a
local copy: a `DatasetDict.save_to_disk` folder, or a folder of ``<split>.parquet`` files. Splits
are train, validation (or dev) and test. A loaded dataset is written once into the corpus cache
as one parquet file per split (``<cache>/hf/<name>/<fingerprint>/``), so a split is a file like any
other corpus's and the tasks read it through the document path (`biotune.formats.bigbio`: NER
tags from entities, RE candidates from relations, concept ids for linking). A folder of parquet
files is read where it is.

Out: `biotune.tasks.gold_datasets.export_corpus` (`biotune corpora export`) writes any registered
corpus, a corpus folder or an ``hf:`` dataset as a `DatasetDict` with `save_to_disk`, the splits
named train / validation / test as on the Hub. What needs no task is here: documents (PubTator,
BioC, brat, JSONL documents, BigBIO) in the `bigbio_kb` schema, NER sentence files (TSV/CoNLL,
JSONL) as ``id, tokens, ner_tags`` with the tags a `ClassLabel` (`file_datasets`), and the write
itself (`save_datasets`). A registered corpus of another task's files (pre-masked relation pairs,
QA, sentence pairs, multi-label texts) is read by its task, which sits above this package.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from biotune.corpora.registry import CorpusInfo, CorpusPaths, default_cache_dir
from biotune.errors import BiotuneError
from biotune.formats.bigbio import check_kb_fields, kb_features, kb_record
from biotune.formats.document_formats import DOCUMENT_EXTENSIONS, iter_documents
from biotune.formats.readers import EXTENSIONS, iter_corpus_file

HF_PREFIX = "hf:"
SPLIT_NAMES = {"train": ("train",), "dev": ("validation", "dev", "devel"), "test": ("test",)}
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}  # biotune split -> the name the Hub uses


def is_hf_spec(name: str | Path) -> bool:
    """Whether a corpus name is a Hugging Face datasets spec (``hf:...``)."""
    return str(name).startswith(HF_PREFIX)


def resolve_hf_corpus(spec: str) -> CorpusPaths:
    """The split files of ``hf:<repo id>[:<config>]`` or ``hf:<folder>`` (see the module docstring)."""
    target = spec[len(HF_PREFIX):]
    folder = Path(target)
    if folder.is_dir() and not (folder / "dataset_dict.json").is_file():
        return _parquet_folder(spec, folder)
    splits = _load_from_disk(spec, folder) if folder.is_dir() else _load_from_hub(spec, target)
    return _materialise(spec, splits)


def _parquet_folder(spec: str, folder: Path) -> CorpusPaths:
    found = {split: next((folder / f"{name}.parquet" for name in names if (folder / f"{name}.parquet").is_file()), None)
             for split, names in SPLIT_NAMES.items()}
    train, dev, test = found["train"], found["dev"], found["test"]
    if train is None or test is None:
        raise BiotuneError(f"{spec}: {folder} is neither a save_to_disk folder (dataset_dict.json) nor a folder of "
                           "train.parquet, validation.parquet and test.parquet files")
    return CorpusPaths(spec, folder, train, dev, test)


def _load_from_disk(spec: str, folder: Path) -> Any:
    import datasets

    try:
        return datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as error:
        raise BiotuneError(f"{spec}: not a datasets save_to_disk folder ({error})") from None


def _load_from_hub(spec: str, target: str) -> Any:
    import datasets

    repo, _, config = target.partition(":")
    try:
        return datasets.load_dataset(repo, config or None)
    except Exception as error:  # datasets raises a dozen types for a missing or unreachable dataset
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BiotuneError(f"{spec}: cannot load {repo!r}{f' config {config!r}' if config else ''} with "
                           f"datasets.load_dataset ({reason}); offline, give a local copy: hf:<save_to_disk folder> "
                           "or hf:<folder of train/validation/test.parquet>") from None


def _materialise(spec: str, splits: Any) -> CorpusPaths:
    """Each split of a loaded `DatasetDict` as a parquet file in the cache, once per dataset version."""
    import datasets

    if not isinstance(splits, datasets.DatasetDict):
        raise BiotuneError(f"{spec}: a single split; a corpus needs its train and test splits (a DatasetDict)")
    chosen = {split: next((name for name in names if name in splits), None) for split, names in SPLIT_NAMES.items()}
    if chosen["train"] is None or chosen["test"] is None:
        raise BiotuneError(f"{spec}: needs a train and a test split; it has {', '.join(splits)}")
    first = splits[chosen["train"]]
    check_kb_fields(first.column_names, spec)
    # datasets' own id of a split's content (it changes when the data does): a new version gets a new folder
    version = "-".join(splits[name]._fingerprint for name in chosen.values() if name is not None)
    folder = default_cache_dir() / "hf" / re.sub(r"[^A-Za-z0-9_.-]+", "_", spec[len(HF_PREFIX):]).strip("_") / (
        re.sub(r"[^A-Za-z0-9]", "", version)[:32])
    files = {split: folder / f"{name}.parquet" for split, name in chosen.items() if name is not None}
    if not all(path.is_file() for path in files.values()):
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for split, path in files.items():
                splits[chosen[split]].to_parquet(str(staging / path.name))
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return CorpusPaths(spec, folder, files["train"], files.get("dev"), files["test"])


def split_files(paths: CorpusPaths) -> dict[str, Path]:
    """The split files of a corpus by biotune's split names (train, dev, test), those it has."""
    return {split: path for split, path in (("train", paths.train), ("dev", paths.dev), ("test", paths.test))
            if path is not None}


def file_datasets(name: str, paths: CorpusPaths, info: CorpusInfo | None) -> dict[str, Any] | None:
    """Each split of corpus `name` as a `datasets.Dataset` when its files are documents (the `bigbio_kb`
    schema) or NER sentences (``id, tokens, ner_tags``); None when they are its task's own files
    (`info.task`'s: pre-masked pairs, QA, ...), which only that task reads. `info` is the registry
    entry (None for a folder or an ``hf:`` dataset: documents or NER sentences)."""
    import datasets

    splits = split_files(paths)
    kinds = {split: _kind(path, info.format if info else None, info.task if info else "ner")
             for split, path in splits.items()}
    if len(set(kinds.values())) != 1:
        found = ", ".join(f"{split} {kind or 'task files'} ({splits[split].name})" for split, kind in kinds.items())
        raise BiotuneError(f"corpus {name!r}: its splits are files of different kinds ({found}); an export writes "
                           "one schema for every split")
    if kinds["train"] is None:
        return None
    if kinds["train"] == "sentences":
        tags = sorted({tag for path in splits.values() for s in iter_corpus_file(path) for tag in s.tags or ()},
                      key=lambda tag: (tag != "O", tag[2:], tag))
        features = datasets.Features({"id": datasets.Value("string"),
                                      "tokens": datasets.Sequence(datasets.Value("string")),
                                      "ner_tags": datasets.Sequence(datasets.ClassLabel(names=tags))})
        return {split: datasets.Dataset.from_list(list(_sentence_rows(path)), features=features)
                for split, path in splits.items()}
    return {split: datasets.Dataset.from_list(list(_document_rows(path, kinds[split])), features=kb_features())
            for split, path in splits.items()}


def save_datasets(splits: Mapping[str, Any], target: Path) -> Path:
    """Write `{split: datasets.Dataset}` (biotune's split names) into `target` as a `DatasetDict` with
    `save_to_disk`, the splits named as on the Hub; under a temporary name, then renamed, so an
    interrupted export leaves nothing. `target` is checked already (`biotune.io.check_output_folder`)."""
    import datasets

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        datasets.DatasetDict({HUB_SPLITS[split]: dataset for split, dataset in splits.items()}).save_to_disk(
            str(staging / "dataset"))
        shutil.rmtree(target, ignore_errors=True)
        (staging / "dataset").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _kind(path: Path, format: str | None, task: str) -> str | None:
    """``sentences`` (an NER sentence file), a document format's name, or None (a file of `task`'s own, read by it)."""
    if format is not None and format not in EXTENSIONS.values():
        return format
    suffix = path.suffix.lower()
    if suffix in DOCUMENT_EXTENSIONS and suffix not in EXTENSIONS:
        return DOCUMENT_EXTENSIONS[suffix]
    return "sentences" if task == "ner" else None


def _sentence_rows(path: Path) -> Iterator[dict[str, Any]]:
    for number, sentence in enumerate(iter_corpus_file(path)):
        yield {"id": sentence.id or str(number), "tokens": sentence.tokens, "ner_tags": sentence.tags or []}


def _document_rows(path: Path, format: str | None) -> Iterator[dict[str, Any]]:
    for number, doc in enumerate(iter_documents(path, format)):
        yield kb_record(doc, number)
