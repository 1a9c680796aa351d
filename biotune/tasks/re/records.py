"""RE prediction on new data, records in and records out (the task contract's prediction steps).

Input record: ``{"id"?, "text"}``, a sentence whose two entities are masked by type
(``@GENE$``, ``@CHEMICAL$``, ...), as in training; a plain string is the same.

Input file (``tsv``): the rows training files hold, with the label optional, since text to
predict has none: ``sentence``, ``sentence<TAB>label`` (a label cell is read past, not checked:
score labelled files with `biotune evaluate`), or, under an ``index<TAB>sentence[<TAB>label]``
header, BioBERT's indexed rows. A record's `id` is the file's index where it has one, else
``<file name>:<line>``. Each sentence must mark exactly two entities; the training reader's
rules (`examples.read_examples`: every row labelled) stay as they are.

Output record: the input record with ``"label"`` and ``"scores": {label: probability}`` (the
model's label order): ``{"id", "text", "label", "scores"}`` for a file's row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, numbered_lines
from biotune.tasks.re.examples import RelationExample, masked_pair, row_example

INPUT_FORMATS = ("tsv",)
# Header lines (lower-cased cells) and whether their first column is the row's index.
HEADERS = {("index", "sentence", "label"): True, ("index", "sentence"): True,
           ("sentence", "label"): False, ("sentence",): False}


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a prediction input as records, lazily; a bad row is an error naming file and line."""
    path = existing_file(path)
    indexed = False
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        if number == 1 and tuple(cell.strip().lower() for cell in cells) in HEADERS:
            indexed = HEADERS[tuple(cell.strip().lower() for cell in cells)]
            continue
        widest = 3 if indexed else 2
        if len(cells) > widest or (indexed and len(cells) < 2):
            expected = "index<TAB>sentence[<TAB>label]" if indexed else "sentence[<TAB>label]"
            raise BiotuneError(f"{path}:{number}: {len(cells)} tab-separated columns, expected {expected}")
        example = row_example(path, number, cells[1] if indexed else cells[0], None,
                              cells[0] if indexed else f"{path.name}:{number}")
        yield {"id": example.id, "text": example.text}


def predict_records(predictor: Any, records: Sequence[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
    """Each record with its pair's label and every label's probability, in order."""
    given = [{"text": record} if isinstance(record, str) else record for record in records]
    examples = [_example(k, record) for k, record in enumerate(given)]
    predictions = predictor.predict(examples) if examples else []
    return [{**record, "label": p.label, "scores": p.scores} for record, p in zip(given, predictions)]


def _example(index: int, record: Mapping[str, Any]) -> RelationExample:
    """The unlabelled example of one record; a record that is not one is a `BiotuneError` naming its id or position."""
    if not isinstance(record, Mapping):
        raise BiotuneError(f"record {index}: expected a pre-masked sentence or an object with 'text', "
                           f"found {type(record).__name__}")
    where = f"record {record['id']!r}" if record.get("id") is not None else f"record {index}"
    text = record.get("text")
    if not isinstance(text, str):
        raise BiotuneError(f"{where}: 'text' must be a pre-masked sentence (a string)")
    head, tail = masked_pair(text, where)
    return RelationExample(text=text, head=head, tail=tail, label=None, id=str(record.get("id", index)), source=where,
                           line=0)
