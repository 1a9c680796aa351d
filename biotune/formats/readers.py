"""Corpus readers: TSV/CoNLL, JSONL and plain text, all producing `Sentence`s with BIO tags.

Readers are the only code that parses corpus files. Each validates as it goes and raises
`BiotuneError` naming the file and line (and field or tag) of the first problem. Tags are
validated against the file's scheme, converted to BIO and repaired the conlleval way; the
number of repaired tags goes in `sentence.meta["repaired"]` and each file logs one warning
when it needed repairs (after the last sentence, so a consumer that stops early sees none).

Readers are chosen by name from `READERS` (or by file extension), so a config string maps to
one function. The `iter_*` functions check that the file exists when called and stream
sentences; `read_corpus_file` reads a whole file and refuses an empty one.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from biotune.formats.schemes import PREFIXES, SCHEMES, invalid_tags, repair_bio, to_bio
from biotune.formats.sentence import Sentence
from biotune.formats.text import tokenize
from biotune.errors import BiotuneError
from biotune.registry import Registry, did_you_mean

logger = logging.getLogger("biotune")

DOCSTART = "-DOCSTART-"
DOCUMENT_FIELD = "document"  # the JSONL field naming a sentence's document
UNTYPED_PREFIXES = frozenset("BIES")  # the tags of an untyped file (`untyped_type`) that mark an entity


def iter_tsv(path: str | Path, scheme: str = "auto", tag_column: int = -1,
             untyped_type: str | None = None) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-style file: `token<TAB>...<TAB>tag`, blank line between sentences.

    The token is column 0 and the tag column `tag_column` (default: the last). Lines without
    a tab are split on whitespace. A `-DOCSTART-` line (CoNLL's document separator, any columns
    after it ignored) starts a new document: the sentences after it get `Sentence.document`
    `"<file name>:<line of the -DOCSTART->"`; sentences before the first one have none. A
    sentence's id is `"<file name>:<line of its first token>"`.

    `untyped_type` reads files whose tags carry no type (bare `B`/`I`/`O`, BLURB's convention
    for its single-class NER files): every bare `B`/`I` (IOBES: `S`/`E` too) becomes
    `<prefix>-<untyped_type>`, since a span needs a type everywhere in biotune. A typed tag in
    such a file is kept as it is.
    """
    path = existing_file(path)
    _check_scheme(scheme)
    return _with_repair_warning(path, _tsv_sentences(path, scheme, tag_column, untyped_type))


def iter_jsonl(
    path: str | Path,
    tag_field: str | None = "tags",
    tokens_field: str = "tokens",
    id_field: str | None = "id",
    scheme: str = "auto",
) -> Iterator[Sentence]:
    """Stream one sentence per JSON object line (blank lines are skipped).

    `tag_field=None` reads unlabelled data. A record without `id_field` (or with
    `id_field=None`) is numbered `"<file name>:<line>"`, so ids are optional. An optional `"annotated_types"` list
    sets `Sentence.annotated_types` (partially annotated corpora). An optional `"document"` (a string or
    an integer) sets `Sentence.document`: consecutive lines with the same value are one document's sentences
    in order (document context).
    """
    path = existing_file(path)
    _check_scheme(scheme)
    return _with_repair_warning(path, _jsonl_sentences(path, tag_field, tokens_field, id_field, scheme))


def iter_text(path: str | Path) -> Iterator[Sentence]:
    """Stream one unlabelled sentence per non-blank line, tokenised with `text.tokenize`.

    `Sentence.text` is the line and `Sentence.offsets` the tokens' character offsets into it;
    the id is `"<file name>:<line>"`. Lines without any token (whitespace, zero-width
    characters) are skipped.
    """
    path = existing_file(path)
    return _text_sentences(path)


Reader = Callable[..., Iterator[Sentence]]

READERS: Registry[Reader] = Registry("corpus format",
                                      {"tsv": iter_tsv, "conll": iter_tsv, "jsonl": iter_jsonl, "text": iter_text})
EXTENSIONS: dict[str, str] = {
    ".tsv": "tsv",
    ".conll": "tsv",
    ".iob": "tsv",
    ".bio": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".txt": "text",
}


def iter_corpus_file(path: str | Path, format: str | None = None, **options: Any) -> Iterator[Sentence]:
    """Stream `path` with the reader registered as `format` (None: chosen by extension).

    `options` go to the reader; an option it does not take is a `BiotuneError` naming it.
    Raises `BiotuneError` at the end if the file held no sentence.
    """
    path = Path(path)
    reader = _reader_for(path, format)
    _check_options(reader, format or EXTENSIONS[path.suffix.lower()], options)
    return _non_empty(path, reader(path, **options))


def read_corpus_file(path: str | Path, format: str | None = None, **options: Any) -> list[Sentence]:
    """All sentences of `path` (see `iter_corpus_file`); every error is raised before returning."""
    return list(iter_corpus_file(path, format, **options))


def _tsv_sentences(path: Path, scheme: str, tag_column: int, untyped_type: str | None) -> Iterator[Sentence]:
    rows: list[tuple[int, str, str]] = []
    document: str | None = None
    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith(DOCSTART):
            if rows:
                yield _tsv_sentence(path, rows, scheme, document)
            rows = []
            if line.startswith(DOCSTART):
                document = f"{path.name}:{number}"
            continue
        rows.append(_tsv_row(path, number, line, tag_column, untyped_type))
    if rows:
        yield _tsv_sentence(path, rows, scheme, document)


def _tsv_row(path: Path, number: int, line: str, tag_column: int, untyped_type: str | None) -> tuple[int, str, str]:
    columns = line.split("\t") if "\t" in line else line.split()
    if len(columns) < 2:
        raise BiotuneError(f"{path}:{number}: expected 'token<TAB>tag', found one column: {line!r}")
    try:
        token, tag = columns[0].strip(), columns[tag_column].strip()
    except IndexError:
        raise BiotuneError(
            f"{path}:{number}: no tag column {tag_column} in a line of {len(columns)} columns"
        ) from None
    if not token:
        raise BiotuneError(f"{path}:{number}: empty token in {line!r}")
    if untyped_type is not None and tag in UNTYPED_PREFIXES:
        tag = f"{tag}-{untyped_type}"
    return number, token, tag


def _tsv_sentence(path: Path, rows: list[tuple[int, str, str]], scheme: str, document: str | None) -> Sentence:
    numbers, tokens, tags = (list(column) for column in zip(*rows))
    bad = invalid_tags(tags, scheme)
    if bad:
        index, tag = bad[0]
        hint = ("; bare B/I/O tags (BLURB's untyped NER files) are read with untyped_type, as the registered "
                "blurb_* corpora do") if tag in UNTYPED_PREFIXES else ""
        raise BiotuneError(f"{path}:{numbers[index]}: unknown tag {tag!r} {_allowed(scheme)}{hint}")
    sentence = _labelled(tokens, tags, scheme, id=f"{path.name}:{numbers[0]}", source=str(path))
    sentence.document = document
    return sentence


def _jsonl_sentences(
    path: Path, tag_field: str | None, tokens_field: str, id_field: str | None, scheme: str
) -> Iterator[Sentence]:
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        record = json_object(where, line)
        tokens = _string_list(where, record, tokens_field)
        sentence_id = str(record[id_field]) if id_field in record else f"{path.name}:{number}"
        for index, token in enumerate(tokens):
            if not token.strip():
                raise BiotuneError(f"{where}: sentence {sentence_id!r}: token {index} is empty or whitespace")
        annotated = record.get("annotated_types")
        if annotated is not None:
            annotated = frozenset(_string_list(where, record, "annotated_types"))
        document = _document_id(where, record)
        if tag_field is None:
            yield Sentence(tokens, id=sentence_id, source=str(path), annotated_types=annotated, document=document)
            continue
        tags = _string_list(where, record, tag_field)
        if len(tags) != len(tokens):
            raise BiotuneError(
                f"{where}: sentence {sentence_id!r} has {len(tokens)} tokens but {len(tags)} tags"
            )
        bad = invalid_tags(tags, scheme)
        if bad:
            tag = bad[0][1]
            raise BiotuneError(f"{where}: sentence {sentence_id!r}: unknown tag {tag!r} {_allowed(scheme)}")
        sentence = _labelled(tokens, tags, scheme, id=sentence_id, source=str(path))
        sentence.annotated_types = annotated
        sentence.document = document
        yield sentence


def _document_id(where: str, record: dict[str, Any]) -> str | None:
    """A JSONL record's `document` field as a string (None when absent or null)."""
    value = record.get(DOCUMENT_FIELD)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BiotuneError(f"{where}: field {DOCUMENT_FIELD!r} must be a string or an integer, "
                           f"not {type(value).__name__}")
    return str(value)


def _text_sentences(path: Path) -> Iterator[Sentence]:
    for number, line in numbered_lines(path):
        tokens = tokenize(line)
        if tokens:
            yield Sentence(
                [token for token, _, _ in tokens],
                id=f"{path.name}:{number}",
                source=str(path),
                text=line,
                offsets=[(start, end) for _, start, end in tokens],
            )


def _labelled(tokens: list[str], tags: list[str], scheme: str, id: str, source: str) -> Sentence:
    """A sentence with `tags` converted to BIO and repaired; the repair count goes in meta."""
    bio, repaired = repair_bio(to_bio(tags, scheme))
    return Sentence(tokens, bio, id=id, source=source, meta={"repaired": repaired})


def json_object(where: str, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise BiotuneError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(record, dict):
        raise BiotuneError(f"{where}: expected a JSON object, found {type(record).__name__}")
    return record


def _field(where: str, record: dict[str, Any], name: str) -> Any:
    if name not in record:
        present = ", ".join(map(repr, record)) or "none"
        raise BiotuneError(f"{where}: missing field {name!r} (fields present: {present})")
    return record[name]


def _string_list(where: str, record: dict[str, Any], name: str) -> list[str]:
    value = _field(where, record, name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BiotuneError(f"{where}: field {name!r} must be a list of strings")
    return value


def numbered_lines(path: Path, start: int = 0, end: int | None = None,
                   first_line: int = 1) -> Iterator[tuple[int, str]]:
    """`(line number from 1, line without its line break)`; UTF-8 (a BOM is dropped).

    Lines are decoded one by one so a decoding error names its exact line, and only `\\n`
    ends a line, so text containing U+2028 or form feeds keeps its line numbering. A byte range
    `[start, end)` that begins at line `first_line` reads only those bytes, numbered as in the
    whole file (the shards of a tagging job).
    """
    position = start
    with path.open("rb") as handle:
        handle.seek(start)
        for number, raw in enumerate(handle, start=first_line):
            if end is not None and position >= end:
                return
            position += len(raw)
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise BiotuneError(f"{path}:{number}: not valid UTF-8 ({error.reason})") from None
            yield number, line.rstrip("\r\n")


def _with_repair_warning(path: Path, sentences: Iterator[Sentence]) -> Iterator[Sentence]:
    """Pass `sentences` through, then log one warning if any needed repairs."""
    repaired = 0
    for sentence in sentences:
        repaired += bool(sentence.meta.get("repaired"))
        yield sentence
    if repaired:
        logger.warning("%s: %d ill-formed tag sequences repaired (conlleval convention)", path.name, repaired)


def _non_empty(path: Path, sentences: Iterator[Sentence]) -> Iterator[Sentence]:
    empty = True
    for sentence in sentences:
        empty = False
        yield sentence
    if empty:
        raise BiotuneError(f"file {path} contains no sentences")


def existing_file(path: str | Path, what: str = "corpus file") -> Path:
    """`path` as a `Path`, or a `BiotuneError` naming `what` it is and why it cannot be read."""
    path = Path(path)
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise BiotuneError(f"{what} {path} {problem}")
    return path


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise BiotuneError(f"unknown tag scheme {scheme!r}{did_you_mean(scheme, SCHEMES)}; "
                           f"choose one of: {', '.join(SCHEMES)}")


def _allowed(scheme: str) -> str:
    """The hint after an unknown tag: what the scheme allows."""
    prefixes = "/".join(f"{prefix}-" for prefix in sorted(PREFIXES[scheme]))
    return f"(scheme {scheme!r} allows O and {prefixes}TYPE)"


def _reader_for(path: Path, format: str | None) -> Reader:
    if format is None:
        try:
            return READERS[EXTENSIONS[path.suffix.lower()]]
        except KeyError:
            raise BiotuneError(
                f"cannot tell the format of {path} from its extension {path.suffix!r}; "
                f"pass format= one of: {', '.join(READERS)}"
            ) from None
    return READERS.lookup(format)


def reader_options(format: str | None) -> list[str]:
    """The options the reader of `format` takes (none for an unknown format)."""
    reader = READERS.get(format or "")
    return [] if reader is None else _accepted(reader)


def _accepted(reader: Reader) -> list[str]:
    return [name for name in inspect.signature(reader).parameters if name != "path"]


def _check_options(reader: Reader, format: str, options: dict[str, Any]) -> None:
    accepted = _accepted(reader)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise BiotuneError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for format {format!r} "
            f"(accepted: {', '.join(accepted) or 'none'})"
        )
