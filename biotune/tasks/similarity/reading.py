"""Readers of sentence-pair files: BLURB's BIOSSES TSV and JSON Lines, for training, scoring and prediction.

- TSV: ``sentence1<TAB>sentence2<TAB>score``, as BLURB ships BIOSSES (with that header line; a
  file without it is read too). A prediction input may leave the score column out; a score
  cell there is ignored (`biotune evaluate` scores labelled files).
- JSON Lines: ``{"id": ..., "sentence1": ..., "sentence2": ..., "score": ...}`` per line, `id`
  optional, `score` only in gold files.

Blank lines are skipped. Anything else that is not a pair is a one-line `BiotuneError` naming
the file and line: too few or too many columns (a tab inside a sentence would shift the score
into the wrong column), an empty sentence, a score that is not a number or lies outside
`SCORE_RANGE` (BIOSSES's scale: a score outside it is a typo or another dataset's scale, and
would silently stretch the regression target).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, json_object, numbered_lines
from biotune.tasks.similarity.examples import SentencePair

SCORE_RANGE = (0.0, 4.0)  # BIOSSES: 0 = unrelated ... 4 = equivalent (the mean of five annotators)
FORMATS = ("tsv", "jsonl")
EXTENSIONS = {".tsv": "tsv", ".jsonl": "jsonl"}
_HEADER = ("sentence1", "sentence2", "score")
_COLUMNS = "sentence1<TAB>sentence2<TAB>score"


def input_format(path: Path, format: str | None) -> str:
    """`format` if given, else the one the file's extension names; a `BiotuneError` for any other."""
    found = format or EXTENSIONS.get(path.suffix.lower())
    if found not in FORMATS:
        given = f"format {format!r}" if format else f"extension {path.suffix or '(none)'!r}"
        raise BiotuneError(f"{path}: {given} is not a sentence-pair format; task similarity reads "
                           f"{' or '.join(FORMATS)} ({', '.join(EXTENSIONS)})")
    return found


def read_pairs(path: str | Path, format: str | None = None, need_score: bool = True) -> Iterator[SentencePair]:
    """The pairs of a TSV or JSONL file, lazily, in file order; `need_score`: a gold file, every pair scored."""
    path = existing_file(path)
    for where, default_id, record in _raw_records(path, input_format(path, format), need_score):
        yield record_pair(record, where, need_score, default_id)


def iter_records(path: str | Path, format: str | None = None) -> Iterator[dict[str, Any]]:
    """Prediction input records, lazily: ``{"id", "sentence1", "sentence2"}``, the id defaulting to
    ``<file name>:<line>``; a JSONL object keeps its other fields (a gold `score` too: the
    prediction then replaces it)."""
    path = existing_file(path)
    fmt = input_format(path, format)
    for where, default_id, record in _raw_records(path, fmt, need_score=False):
        pair = record_pair(record, where, need_score=False, default_id=default_id)
        yield {**(record if fmt == "jsonl" else {}), "id": pair.id, "sentence1": pair.sentence1,
               "sentence2": pair.sentence2}


def record_pair(record: Mapping[str, Any], where: str, need_score: bool, default_id: str) -> SentencePair:
    """A checked `SentencePair` from a record's `sentence1`, `sentence2`, optional `id` and (gold) `score`."""
    sentences = [record.get(key) for key in ("sentence1", "sentence2")]
    for key, sentence in zip(("sentence1", "sentence2"), sentences):
        if key not in record:
            raise BiotuneError(f"{where}: missing field {key!r} (fields present: {', '.join(map(repr, record)) or 'none'})")
        if not isinstance(sentence, str) or not sentence.strip():
            raise BiotuneError(f"{where}: {key!r} must be a non-empty string, got {sentence!r}")
    given = record.get("id")
    if given is not None and (isinstance(given, bool) or not isinstance(given, (str, int))):
        raise BiotuneError(f"{where}: 'id' must be a string or an integer, got {given!r}")
    score = None
    if need_score:
        if "score" not in record:
            raise BiotuneError(f"{where}: missing field 'score' (a gold file scores every pair)")
        score = _score(where, record["score"])
    return SentencePair(str(given) if given is not None else default_id, sentences[0], sentences[1], score,
                        where=where)


def _raw_records(path: Path, fmt: str, need_score: bool) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(``<file>:<line>``, ``<file name>:<line>`` as a default id, the line as a record) per non-blank line."""
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if fmt == "jsonl":
            yield where, f"{path.name}:{number}", json_object(where, line)
            continue
        cells = line.split("\t")
        if number == 1 and tuple(c.strip().lower() for c in cells) in (_HEADER, _HEADER[:2]):
            continue
        if len(cells) > 3 or len(cells) < (3 if need_score else 2):
            raise BiotuneError(f"{where}: expected {_COLUMNS if need_score else 'sentence1<TAB>sentence2[<TAB>score]'}, "
                               f"found {len(cells)} column{'s' if len(cells) != 1 else ''}: {line[:80]!r}")
        yield where, f"{path.name}:{number}", dict(zip(_HEADER, cells))


def _score(where: str, value: Any) -> float:
    """A gold score: a number (a TSV cell's text, a JSON number) within `SCORE_RANGE`."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        number = math.nan
    if math.isnan(number):
        raise BiotuneError(f"{where}: score {value!r} is not a number")
    low, high = SCORE_RANGE
    if not low <= number <= high:
        raise BiotuneError(f"{where}: score {value!r} is outside the {low:g}-{high:g} range of BIOSSES's scale")
    return number
