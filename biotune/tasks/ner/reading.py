"""NER's side of reading: a split's tagged `Sentence`s, and a training source's, checked.

Every sentence of a training source leaves here carrying its source's `weight` and
`annotated_types`, so the features, the loss and the label space can honour them without
knowing where a sentence came from. A source that annotates fewer types than the label space
(a dictionary-labelled Gene corpus next to a Chemical/Disease gold corpus) must not teach that
the other types are O: `annotated_types` is what lets the loss know (`features.o_alternatives`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from biotune.config import DataConfig, ExperimentConfig, SourceConfig
from biotune.corpora.registry import CORPORA, CorpusInfo
from biotune.corpora.splits import Split, locate
from biotune.errors import BiotuneError
from biotune.formats.document_formats import DOCUMENT_EXTENSIONS, DOCUMENT_READERS, iter_documents
from biotune.formats.brat import is_brat_folder
from biotune.formats.documents import tagged_sentences
from biotune.formats.readers import EXTENSIONS, READERS, iter_corpus_file, reader_options
from biotune.formats.sentence import Sentence
from biotune.tasks.contract import SourceExamples


def split_texts(spec: str, data: DataConfig) -> Iterator[str]:
    """Each sentence of a split, its words joined by spaces, streamed: its text for pretraining."""
    _, path, corpus = locate(spec, data)
    return (" ".join(sentence.tokens) for sentence in _iter_sentences(path, data, CORPORA.get(corpus) if corpus else None))


def read_split(spec: str, data: DataConfig) -> Split:
    """Read one split with the config's format options; record which types it annotates.

    A split of documents (PubTator, BioC: `data.format`, the corpus's registered format, or a
    `.pubtator`/`.xml`/`.bioc` file) is cut into sentences tagged from its annotations
    (`documents.tagged_sentences`), each knowing its document, so document context works on it.
    """
    name, path, corpus = locate(spec, data)
    info = CORPORA.get(corpus) if corpus else None
    sentences = list(islice(_iter_sentences(path, data, info), data.limit))
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


def _iter_sentences(path: Path, data: DataConfig, info: CorpusInfo | None) -> Iterator[Sentence]:
    """The sentences of one split file with the config's format options and the corpus's reading rules
    (a registered document format; BLURB's untyped tags read as the corpus's one type)."""
    document_format = _document_format(path, data.format or (info.format if info else None))
    if document_format is not None:
        return _document_sentences(path, document_format)
    accepted = reader_options(data.format or EXTENSIONS.get(path.suffix.lower()))
    untyped = info.entity_types[0] if info is not None and info.untyped else None
    wanted = {"scheme": data.scheme, "tag_field": data.tag_field, "untyped_type": untyped}  # a text file takes none
    options = {key: value for key, value in wanted.items() if key in accepted and value is not None}
    return iter_corpus_file(path, format=data.format, **options)


def _document_format(path: Path, format: str | None) -> str | None:
    """The document format a split is read in, or None for the sentence readers (TSV, JSONL, text)."""
    if format is not None:
        return format if format not in READERS and format in DOCUMENT_READERS else None
    if is_brat_folder(path):
        return "brat"
    suffix = path.suffix.lower()
    return DOCUMENT_EXTENSIONS[suffix] if suffix not in EXTENSIONS and suffix in DOCUMENT_EXTENSIONS else None


def _document_sentences(path: Path, format: str) -> Iterator[Sentence]:
    """The tagged sentences of every document of `path`, in order; an error if there are none."""
    empty = True
    for doc in iter_documents(path, format):
        for sentence in tagged_sentences(doc):
            sentence.source = str(path)
            empty = False
            yield sentence
    if empty:
        raise BiotuneError(f"file {path} contains no sentences")


def read_source(spec: SourceConfig, config: ExperimentConfig) -> SourceExamples:
    """Read, check and mark one training source (errors name the source)."""
    updates = {k: v for k, v in (("format", spec.format), ("tag_field", spec.tag_field)) if v is not None}
    split = read_split(spec.split, config.data.model_copy(update=updates))
    untagged = next((s.id for s in split.examples if s.tags is None), None)
    if untagged is not None:
        raise BiotuneError(f"source {spec.name!r}: sentence {untagged} has no tags; training data must be tagged")
    types = tuple(spec.types) if spec.types is not None else split.annotated_types
    tagged = sorted({t[2:] for s in split.examples for t in s.tags or [] if t != "O"} - set(types))
    if tagged:
        raise BiotuneError(f"source {spec.name!r}: tags of types {tagged} but `types` says it annotates {list(types)}")
    sentences = [s for s in split.examples if any(t != "O" for t in s.tags or [])] if spec.only_labelled else split.examples
    if not sentences:
        raise BiotuneError(f"source {spec.name!r}: no sentence has an entity (only_labelled)")
    for s in sentences:
        s.weight = spec.weight
        s.annotated_types = frozenset(types)
    return SourceExamples(sentences, types)
