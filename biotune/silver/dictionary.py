"""Loading a dictionary file into typed, tokenised terms.

Two formats. A *table* (TSV) has a header row naming its columns; the spec says which column
holds the term, which the type (or gives one type for all), and optionally a category column
and the values to keep; other columns are ignored. A *list* has one term a line, the spec
gives the type, and the table options (columns, category) do not apply. Blank lines are
skipped, and so are lines starting with ``#`` in a list.

Each kept term is tokenised with `biotune.formats.text.tokenize`, the tokenizer biotune applies
to raw text (so ``IL-2`` is ``IL``, ``-``, ``2``), because matching compares token sequences.
A term is dropped when it is shorter than `min_length` characters, or when it equals a stop
word ignoring case; of several terms with the same tokens (the same lowercased tokens when
case-insensitive) the first in the file wins. Every problem with the file is a `BiotuneError`
naming the file and line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from biotune.formats.text import tokenize
from biotune.errors import BiotuneError
from biotune.registry import did_you_mean
from biotune.silver.spec import DictionarySpec
from biotune.silver.stopwords import GENE_STOP_WORDS

TABLE_SUFFIXES = (".tsv", ".tab")


class Term(NamedTuple):
    """One dictionary entry: the term as written, its tokens and its entity type."""

    text: str
    tokens: tuple[str, ...]
    type: str


class _Row(NamedTuple):
    """A data row: its line, term and type, and whether its category is one the spec keeps."""

    line: int
    term: str
    type: str
    wanted: bool


@dataclass(frozen=True)
class Dictionary:
    """The terms of one dictionary file that survived its filters, in file order.

    `counts` says what happened to the file's rows: `rows`, `kept`, and the number dropped
    as `other category`, `too short`, `stop word` or `duplicate`.
    """

    name: str
    terms: tuple[Term, ...]
    case_sensitive: bool
    counts: dict[str, int]

    @property
    def types(self) -> list[str]:
        """The entity types of the terms, sorted."""
        return sorted({term.type for term in self.terms})


def load_dictionary(spec: DictionarySpec) -> Dictionary:
    """Read, filter and tokenise the dictionary `spec` names.

    Raises `BiotuneError` for a missing or empty file, a missing column, a row too short for
    the header, an empty term or type, a term without any token, a category value that never
    occurs, and a dictionary with no term left after filtering.
    """
    path = spec.path
    lines = _lines(path, "dictionary file")
    if not any(line.strip() for line in lines):
        raise BiotuneError(f"dictionary file {path} is empty")
    table = spec.format == "tsv" or (spec.format is None and path.suffix.lower() in TABLE_SUFFIXES)
    rows = _table_rows(path, lines, spec) if table else _list_rows(path, lines, spec)
    stop = _stop_words(spec)
    counts: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    terms = []
    for number, text, type_, wanted in rows:
        counts["rows"] += 1
        if not wanted:
            counts["other category"] += 1
            continue
        if len(text) < spec.min_length:
            counts["too short"] += 1
            continue
        if text.casefold() in stop:
            counts["stop word"] += 1
            continue
        tokens = tuple(token for token, _, _ in tokenize(text))
        if not tokens:
            raise BiotuneError(f"{path}:{number}: term {text!r} has no token (only spaces or invisible characters)")
        key = tokens if spec.case_sensitive else tuple(token.lower() for token in tokens)
        if key in seen:
            counts["duplicate"] += 1
            continue
        seen.add(key)
        terms.append(Term(text, tokens, type_))
    counts["kept"] = len(terms)
    if not terms:
        dropped = ", ".join(f"{n} {why}" for why, n in counts.items() if why not in ("rows", "kept") and n)
        raise BiotuneError(
            f"dictionary file {path}: no term left ({counts['rows']} rows; dropped: {dropped or 'none'})"
        )
    return Dictionary(str(path), tuple(terms), spec.case_sensitive, dict(counts))


def _table_rows(path: Path, lines: list[str], spec: DictionarySpec) -> Iterator[_Row]:
    first = next(i for i, line in enumerate(lines) if line.strip())
    header = [name.strip() for name in lines[first].split("\t")]
    where = f"{path}:{first + 1}"
    term_index = _column(where, header, spec.term_column, "term_column")
    type_index = None if spec.type is not None else _column(where, header, spec.type_column, "type_column")
    category_index = _column(where, header, spec.category_column, "category_column") if spec.category else None
    needed = max(i for i in (term_index, type_index, category_index) if i is not None) + 1
    kept = set(spec.category)
    categories: Counter[str] = Counter()
    for index in range(first + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        number = index + 1
        cells = line.split("\t")
        if len(cells) < needed:
            raise BiotuneError(
                f"{path}:{number}: expected {len(header)} tab-separated columns as in the header, found {len(cells)}"
            )
        term = _cell(path, number, cells, term_index, "term")
        type_ = spec.type if type_index is None else _cell(path, number, cells, type_index, "type")
        wanted = True
        if category_index is not None:
            category = cells[category_index].strip()
            categories[category] += 1
            wanted = category in kept
        yield _Row(number, term, type_, wanted)
    missing = sorted(kept - set(categories))
    if missing:
        known = ", ".join(f"{value!r} ({n})" for value, n in categories.most_common())
        raise BiotuneError(
            f"{path}: category {', '.join(map(repr, missing))} never occurs in column {spec.category_column!r} "
            f"(values: {known or 'none'})"
        )


def _list_rows(path: Path, lines: list[str], spec: DictionarySpec) -> Iterator[_Row]:
    if spec.type is None:
        raise BiotuneError(f"dictionary file {path} is a plain term list: give its entity type (type=...)")
    for number, line in enumerate(lines, start=1):
        term = line.strip()
        if not term or term.startswith("#"):
            continue
        if "\t" in term:
            raise BiotuneError(
                f"{path}:{number}: a term list line holds a tab; for a table give the file a .tsv name or format=tsv"
            )
        yield _Row(number, term, spec.type, True)


def _stop_words(spec: DictionarySpec) -> frozenset[str]:
    """Case-folded stop words: the default list, the spec's inline words and its stop-list file."""
    words = set(GENE_STOP_WORDS) if spec.default_stop_words else set()
    words.update(spec.stop_words)
    if spec.stop_list is not None:
        lines = _lines(spec.stop_list, "stop list")
        words.update(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return frozenset(word.casefold() for word in words)


def _lines(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 file (a BOM is dropped, `\\r\\n` accepted); errors name the line."""
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise BiotuneError(f"{what} {path} {problem}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BiotuneError(f"{path}:{line}: not valid UTF-8 ({error.reason})") from None
    return [line.rstrip("\r") for line in text.split("\n")]


def _column(where: str, header: list[str], name: str, option: str) -> int:
    if name in header:
        return header.index(name)
    raise BiotuneError(f"{where}: no column {name!r} ({option}) in the header: {', '.join(map(repr, header))}"
                       f"{did_you_mean(name, header)}")


def _cell(path: Path, number: int, cells: list[str], index: int, what: str) -> str:
    value = cells[index].strip()
    if not value:
        raise BiotuneError(f"{path}:{number}: empty {what}")
    return value

