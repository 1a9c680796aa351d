"""Unlabelled text for pretraining, read by biotune's own readers, one document at a time.

A source is a file or folder in a document format (plain text, JSONL, PubTator, BioC: the
readers of `biotune.formats.document_formats`, which stream) or a split of a corpus
(`bc5cdr:train`): the documents of a corpus stored in a document format (BC5CDR's PubTator
release), else the text the corpus's task declares through the task contract (`Task.texts`:
NER sentences, their words joined by spaces; relation-extraction sentences as written, entity
masks included; each distinct question-answering context once; ...). A document's text is what
the pretraining sees; one document is never joined to another. File sources and document
corpus splits stream, and so does a corpus split where its task's `texts` does (NER's).

Test text is never pretraining text (`refuse_test_text`): a source or dev source whose file is
a test split, by real path or by content (`biotune.corpora.leak_guard`), is refused before
anything is read or written, so a held-out score cannot be inflated by having read its text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from biotune.config import DataConfig, load_config, validate
from biotune.corpora.leak_guard import files_of, leak_guard
from biotune.corpora.registry import CORPORA
from biotune.corpora.splits import corpus_task, locate
from biotune.errors import BiotuneError
from biotune.formats.document_formats import document_format, input_files, iter_documents
from biotune.formats.readers import json_object, numbered_lines
from biotune.pretraining.config import PretrainingConfig, TextSource
from biotune.tasks import get_task


def source_texts(source: TextSource, data_dir: str | None) -> Iterator[str]:
    """The text of each document of `source`, in file order, streamed where the reader streams.

    `data_dir` is the config's, for a corpus source without its own."""
    if source.corpus is not None:
        return _corpus_texts(source.corpus, source.data_dir or data_dir)
    return _file_texts(source)


def refuse_test_text(config: PretrainingConfig) -> None:
    """A `BiotuneError` naming the source, the corpus and the split when a file of a source (train or
    dev) is a test split: of a registered corpus found in a data folder of the config or above a
    source, of the corpus folder it sits in, or of an experiment config in `exclude_test_of`."""
    sources = [*config.sources, *config.dev.sources]
    located = [(source, file) for source in sources for file in _source_files(source, config.data_dir)]
    configs = [(path, _experiment_data(path, f"exclude_test_of[{i}]")) for i, path in enumerate(config.exclude_test_of)]
    guard = leak_guard([config.data_dir, *(source.data_dir for source in sources)], [file for _, file in located],
                       configs)
    for source, file in located:
        guard.refuse(file, None if source.label == str(file) else f"source {source.label!r}")


def _source_files(source: TextSource, data_dir: str | None) -> list[Path]:
    """The files a source reads."""
    if source.corpus is not None:
        return files_of(_corpus_file(source.corpus, source.data_dir or data_dir))
    return [file for file, _ in input_files(Path(source.path or ""), _reader_format(source.format))]


def _experiment_data(path: str, key: str) -> DataConfig:
    """The data section of an experiment config named by `key`, whose test splits the guard adds."""
    try:
        return load_config(path).data
    except BiotuneError as error:
        raise BiotuneError(f"{key}: {error}") from None


def _corpus_file(spec: str, data_dir: str | None) -> Path:
    corpus = spec.rsplit(":", 1)[0]
    return locate(spec, DataConfig(corpus=corpus, data_dir=data_dir))[1]


def _reader_format(format: str | None) -> str | None:
    """`bioc` is either BioC form: the file's extension says which."""
    return None if format == "bioc" else format


def _file_texts(source: TextSource) -> Iterator[str]:
    for file, _ in input_files(Path(source.path or ""), _reader_format(source.format)):
        if source.text_field is not None:
            yield from _field_texts(file, source.text_field)
            continue
        format = document_format(file, _reader_format(source.format))
        if source.format == "bioc" and not format.startswith("bioc"):
            raise BiotuneError(f"{file}: format bioc reads .xml/.bioc (BioC XML) or .json (BioC JSON) files")
        for document in iter_documents(file, format):
            yield document.text


def _field_texts(file: Path, field: str) -> Iterator[str]:
    """One text per JSONL line from its `field` (a line without it is an error naming the line)."""
    for number, line in numbered_lines(file):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        value = json_object(where, line).get(field)
        if not isinstance(value, str):
            raise BiotuneError(f"{where}: no string field {field!r}")
        yield value


def _corpus_texts(spec: str, data_dir: str | None) -> Iterator[str]:
    """The text of a corpus split: a corpus stored in a document format gives its documents' texts,
    any other the texts its task reads (`Task.texts`)."""
    corpus = spec.rsplit(":", 1)[0]
    info = CORPORA.get(corpus) if not Path(corpus).is_dir() else None
    if info is not None and info.format is not None:
        yield from (document.text for document in iter_documents(_corpus_file(spec, data_dir), info.format))
        return
    task = corpus_task(corpus)
    config = validate({"task": task, "data": {"corpus": corpus, "data_dir": data_dir}}, spec)
    yield from get_task(task).texts(spec, config)
