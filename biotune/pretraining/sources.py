"""Unlabelled text for pretraining, read by biotune's own readers, one document at a time.

A source is a file or folder in a document format (plain text, JSONL, PubTator, BioC: the
readers of `biotune.formats.document_formats`, which stream) or a split of a corpus
(`bc5cdr:train`): NER sentences (their words joined by spaces), relation-extraction sentences
(as written, entity masks included), question-answering contexts (each distinct context once),
or the documents of a corpus stored in a document format (BC5CDR's PubTator release). A
document's text is what the pretraining sees; one document is never joined to another.
File sources and NER / document corpus splits stream; a relation-extraction or QA split is read
whole by its task's reader (those files are small, and QA contexts are deduplicated).

Test splits are never pretraining text: a corpus split named `test`, or a file that is the
test file of a corpus folder or of any registered corpus found locally, is refused with an
error naming it, so a held-out score cannot be inflated by having read its text.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

from biotune.config import DataConfig, validate
from biotune.corpora.registry import CORPORA, GLOB_CHARACTERS, corpus_paths, resolve_corpus
from biotune.corpora.splits import corpus_task, locate
from biotune.errors import BiotuneError
from biotune.formats.document_formats import document_format, input_files, iter_documents
from biotune.formats.readers import iter_corpus_file, json_object, numbered_lines
from biotune.pretraining.config import TextSource

TEST_SPLITS = ("test",)


def source_texts(source: TextSource, data_dir: str | None) -> Iterator[str]:
    """The text of each document of `source`, in file order, streamed where the reader streams.

    `data_dir` is the config's, for a corpus source without its own."""
    if source.corpus is not None:
        return _corpus_texts(source.corpus, source.data_dir or data_dir)
    return _file_texts(source)


def refuse_test(source: TextSource, data_dir: str | None) -> None:
    """A `BiotuneError` naming the source when it resolves to a test split (of a corpus found under
    the source's or the config's `data_dir`, `$BIOTUNE_DATA_DIR` or the cache)."""
    roots = list(dict.fromkeys([source.data_dir, data_dir]))
    if source.corpus is not None:
        corpus, split = source.corpus.rsplit(":", 1)
        if split.strip().lower() in TEST_SPLITS:
            raise BiotuneError(f"source {source.corpus!r}: {split!r} is a test split; test text is never pretraining "
                               "text (use train or dev)")
        files = [_corpus_file(source.corpus, source.data_dir or data_dir)]
    else:
        files = [file for file, _ in input_files(Path(source.path or ""), _reader_format(source.format))]
    tests = {path: owner for root in roots for path, owner in _test_files(root).items()}
    for file in files:
        owner = tests.get(_key(file)) or _folder_test(file)
        if owner:
            raise BiotuneError(f"source {source.label!r}: {file} is the test split of {owner}; test text is never "
                               "pretraining text")


def _corpus_file(spec: str, data_dir: str | None) -> Path:
    corpus = spec.rsplit(":", 1)[0]
    return locate(spec, DataConfig(corpus=corpus, data_dir=data_dir))[1]


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _folder_test(file: Path) -> str | None:
    """The corpus folder `file` is the test file of (a folder with train and test files), or None."""
    paths = corpus_paths(file.parent)
    return f"the corpus folder {file.parent}" if paths is not None and _key(paths.test) == _key(file) else None


def _test_files(data_dir: str | None) -> dict[str, str]:
    """{real path: 'corpus <name>'} for the test file(s) of every registered corpus present locally."""
    found: dict[str, str] = {}
    for name in CORPORA:
        try:
            paths = resolve_corpus(name, data_dir=data_dir)
        except BiotuneError:
            continue  # not present here: nothing of it can be read
        pattern = str(paths.test)
        matches = glob.glob(pattern) if GLOB_CHARACTERS.search(paths.test.name) else [pattern]
        found.update({_key(Path(match)): f"corpus {name!r}" for match in matches})
    return found


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
    """The text of a corpus split, by what the corpus holds (see the module docstring)."""
    corpus = spec.rsplit(":", 1)[0]
    path = _corpus_file(spec, data_dir)
    info = CORPORA.get(corpus) if not Path(corpus).is_dir() else None
    task = corpus_task(corpus)
    if info is not None and info.format is not None:
        yield from (document.text for document in iter_documents(path, info.format))
    elif task == "ner":
        yield from (" ".join(sentence.tokens) for sentence in iter_corpus_file(path))
    elif task == "re":
        from biotune.tasks.re.examples import read_examples

        yield from (example.text for example in read_examples(path))
    else:
        from biotune.tasks import get_task

        config = validate({"task": task, "data": {"corpus": corpus, "data_dir": data_dir}}, spec)
        seen: set[str] = set()
        for example in get_task(task).read_split(spec, config).examples:
            if example.context not in seen:  # a QA context is shared by several questions: read it once
                seen.add(example.context)
                yield example.context
