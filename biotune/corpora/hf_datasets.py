"""Hugging Face `datasets` as corpora, both ways: BigBIO KB datasets in, any registered corpus out.

In: a corpus named ``hf:<repo id>[:<config>]`` (``hf:bigbio/bc5cdr:bc5cdr_bigbio_kb``) is loaded
with `datasets.load_dataset` (the Hub, or the datasets cache offline), and ``hf:<folder>`` is a
local copy: a `DatasetDict.save_to_disk` folder, or a folder of ``<split>.parquet`` files. Splits
are train, validation (or dev) and test. A loaded dataset is written once into the corpus cache
as one parquet file per split (``<cache>/hf/<name>/<fingerprint>/``), so a split is a file like any
other corpus's and the tasks read it through the document path (`biotune.formats.bigbio`: NER
tags from entities, RE candidates from relations, concept ids for linking). A folder of parquet
files is read where it is.

Out: `export_corpus` writes a registered corpus (or a corpus folder) as a `DatasetDict` with
`save_to_disk`: documents (PubTator, BioC, brat, JSONL documents, BigBIO) in the `bigbio_kb`
schema, NER sentence files (TSV/CoNLL, JSONL) as ``id, tokens, ner_tags`` with the tags a
`ClassLabel`, the splits named train / validation / test as on the Hub.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from biotune.corpora.registry import CORPORA, CorpusPaths, default_cache_dir, resolve_corpus
from biotune.io import check_output_folder
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


def export_corpus(name: str, folder: str | Path, data_dir: str | Path | None = None, download: bool = False,
                  overwrite: bool = False) -> Path:
    """Write corpus `name` (registered, a folder, or ``hf:``) as a `datasets.DatasetDict` in `folder`.

    Documents go out in the `bigbio_kb` schema, NER sentence files as ``id, tokens, ner_tags``;
    other files (pre-masked relation pairs, QA) are a `BiotuneError` saying which exports exist.
    Written under a temporary name and renamed, so an interrupted export leaves nothing.
    """
    import datasets

    target = check_output_folder(folder, [], "export folder", overwrite)
    paths = resolve_corpus(name, data_dir=data_dir, download=download)
    check_output_folder(target, [p for p in (paths.folder, paths.train, paths.dev, paths.test) if p is not None],
                        "export folder", overwrite)
    info = None if is_hf_spec(name) or Path(name).is_dir() else CORPORA.get(name)
    splits = {split: path for split, path in (("train", paths.train), ("dev", paths.dev), ("test", paths.test))
              if path is not None}
    kinds = {split: _kind(path, info.format if info else None, info.task if info else "ner")
             for split, path in splits.items()}
    if kinds["train"] is None or len(set(kinds.values())) != 1:
        files = f"its {info.task} files" if info else "its files"
        raise BiotuneError(f"corpus {name!r}: {files} ({paths.train.name}) have no datasets export; "
                           "documents export as BigBIO KB, NER sentence files as tokens/ner_tags")
    if kinds["train"] == "sentences":
        tags = sorted({tag for path in splits.values() for s in iter_corpus_file(path) for tag in s.tags or ()},
                      key=lambda tag: (tag != "O", tag[2:], tag))
        features = datasets.Features({"id": datasets.Value("string"),
                                      "tokens": datasets.Sequence(datasets.Value("string")),
                                      "ner_tags": datasets.Sequence(datasets.ClassLabel(names=tags))})
        build = {split: datasets.Dataset.from_list(list(_sentence_rows(path)), features=features)
                 for split, path in splits.items()}
    else:
        build = {split: datasets.Dataset.from_list(list(_document_rows(path, kinds[split])), features=kb_features())
                 for split, path in splits.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        datasets.DatasetDict({HUB_SPLITS[split]: dataset for split, dataset in build.items()}).save_to_disk(
            str(staging / "dataset"))
        shutil.rmtree(target, ignore_errors=True)
        (staging / "dataset").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _kind(path: Path, format: str | None, task: str) -> str | None:
    """``sentences`` (an NER sentence file), a document format's name, or None (no export for this file)."""
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
