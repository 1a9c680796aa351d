"""Readers of multi-label files: labelled splits, and the records a saved model predicts.

Formats (chosen by `data.format` or the file's extension):
- ``tsv``: BLURB's HoC file as published, a ``labels<TAB>sentence<TAB>index`` header (optional
  here) then one sentence a row. The labels cell is ten comma-separated cells ``k_x``, one per
  hallmark in `HOC_LABELS` order (cell k names its hallmark's position k, x = 1 when the sentence
  shows it; all ten ``_0`` = no hallmark); the index is ``<PMID>_s<n>``.
- ``jsonl``: one object a line, ``{"text", "labels": [names], "id"?, "document"?}`` (`labels` may
  be empty; `id` defaults to ``<file name>:<line>``, `document` to the PMID part of the id).
- ``text`` (prediction only): one text a line.

A bad row is a one-line `BiotuneError` naming the file and line and what is wrong with it:
the wrong number of columns, a label vector of the wrong length, a cell that is not ``k_0`` or
``k_1`` for its position, an empty text, an index given twice, a JSONL line that is not an
object or lacks its text or labels. Unknown label names of a JSONL dev or test split are the
task's `check_inputs` to refuse: only the training label space says what is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, numbered_lines
from biotune.tasks.multilabel.examples import TextExample, document_of

# The ten hallmarks of cancer in BLURB's label order (its preprocessing sorts the names).
HOC_LABELS = (
    "activating invasion and metastasis",
    "avoiding immune destruction",
    "cellular energetics",
    "enabling replicative immortality",
    "evading growth suppressors",
    "genomic instability and mutation",
    "inducing angiogenesis",
    "resisting cell death",
    "sustaining proliferative signaling",
    "tumor promoting inflammation",
)
HOC_HEADER = ("labels", "sentence", "index")
EXTENSIONS = {".tsv": "tsv", ".jsonl": "jsonl", ".txt": "text"}
SPLIT_FORMATS = ("tsv", "jsonl")
RECORD_FORMATS = ("tsv", "jsonl", "text")


def file_format(path: Path, format: str | None, allowed: tuple[str, ...]) -> str:
    """The format to read `path` in: `format` when given, else by extension; one of `allowed`."""
    chosen = format or EXTENSIONS.get(path.suffix.lower())
    if chosen not in allowed:
        given = f"format {format!r}" if format else f"extension {path.suffix or '(none)'!r}"
        raise BiotuneError(f"{path}: {given} is not one the multilabel task reads ({', '.join(allowed)}: "
                           "BLURB's HoC .tsv, JSONL {\"text\", \"labels\"}"
                           + (", plain text one a line)" if "text" in allowed else ")"))
    return chosen


def read_labelled(path: str | Path, format: str | None = None) -> tuple[list[TextExample], tuple[str, ...]]:
    """A labelled split: its examples in file order and the label names its format annotates
    (a HoC file: all ten hallmarks; JSONL: the names it uses, sorted)."""
    path = existing_file(path)
    if file_format(path, format, SPLIT_FORMATS) == "tsv":
        examples, names = list(_unique_ids(read_hoc(path))), HOC_LABELS
    else:
        examples = list(_unique_ids(_labelled_jsonl(path)))
        names = tuple(sorted({label for e in examples for label in e.labels}))
    if not examples:
        raise BiotuneError(f"file {path} contains no examples")
    return examples, names


def read_hoc(path: Path) -> Iterator[TextExample]:
    """BLURB's HoC rows (see the module docstring), lazily."""
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        if number == 1 and tuple(cell.strip().lower() for cell in cells) == HOC_HEADER:
            continue
        where = f"{path}:{number}"
        if len(cells) != len(HOC_HEADER):
            raise BiotuneError(f"{where}: {len(cells)} tab-separated columns, expected 3 "
                               "(labels<TAB>sentence<TAB>index, BLURB's HoC)")
        vector, text, index = cells
        if not text.strip():
            raise BiotuneError(f"{where}: the sentence is empty")
        if not index.strip():
            raise BiotuneError(f"{where}: the index (third column, <PMID>_s<n>) is empty")
        yield TextExample(index.strip(), document_of(index.strip()), text, _hoc_labels(where, vector),
                          file=str(path), line=number)


def _hoc_labels(where: str, vector: str) -> tuple[str, ...]:
    """The hallmarks a labels cell marks (`0_0,1_1,...`): each cell `k_0` or `k_1` at its position k."""
    cells = vector.strip().split(",")
    if len(cells) != len(HOC_LABELS):
        raise BiotuneError(f"{where}: {len(cells)} label cells, expected {len(HOC_LABELS)} (0_x,...,9_x: one per "
                           f"hallmark, x = 0 or 1), got {vector[:80]!r}")
    labels = []
    for k, cell in enumerate(cells):
        if cell.strip() not in (f"{k}_0", f"{k}_1"):
            raise BiotuneError(f"{where}: label cell {k + 1} is {cell!r}, expected '{k}_0' or '{k}_1' "
                               f"(hallmark {k}: {HOC_LABELS[k]})")
        if cell.strip().endswith("_1"):
            labels.append(HOC_LABELS[k])
    return tuple(labels)


def _labelled_jsonl(path: Path) -> Iterator[TextExample]:
    for number, record in _json_objects(path):
        where = f"{path}:{number}"
        labels = record.get("labels")
        if not isinstance(labels, list) or not all(isinstance(label, str) and label.strip() for label in labels):
            raise BiotuneError(f"{where}: 'labels' must be a list of label names (an empty list for none), "
                               f"got {json.dumps(labels)[:80]}")
        if len(set(labels)) != len(labels):
            twice = next(label for label in labels if labels.count(label) > 1)
            raise BiotuneError(f"{where}: label {twice!r} is listed twice")
        example_id = _record_id(where, record, f"{path.name}:{number}")
        document = record.get("document", document_of(example_id))
        if not isinstance(document, str) or not document:
            raise BiotuneError(f"{where}: 'document' must be a non-empty string, got {json.dumps(document)[:80]}")
        yield TextExample(example_id, document, _record_text(where, record), tuple(labels), file=str(path), line=number)


def _unique_ids(examples: Iterator[TextExample]) -> Iterator[TextExample]:
    """The examples, refusing an id met before: two rows with one index are one sentence twice or a broken file."""
    seen: dict[str, int] = {}
    for example in examples:
        if example.id in seen:
            raise BiotuneError(f"{example.file}:{example.line}: id {example.id!r} is also on line {seen[example.id]}")
        seen[example.id] = example.line
        yield example


# ---- prediction records ---------------------------------------------------------------------

def read_records(path: str | Path, format: str | None = None) -> Iterator[dict[str, Any]]:
    """Records to predict, lazily: ``{"id", "text", ...}`` (JSONL keeps its other fields; an id
    defaults to ``<file name>:<line>``, a HoC row's is its index; its gold labels are not read
    into the record: score a labelled file with `biotune evaluate`)."""
    path = existing_file(path)
    chosen = file_format(path, format, RECORD_FORMATS)
    if chosen == "tsv":
        for example in _unique_ids(read_hoc(path)):
            yield {"id": example.id, "text": example.text}
    elif chosen == "jsonl":
        for number, record in _json_objects(path):
            where = f"{path}:{number}"
            yield {**record, "id": _record_id(where, record, f"{path.name}:{number}"), "text": _record_text(where, record)}
    else:
        for number, line in numbered_lines(path):
            if line.strip():
                yield {"id": f"{path.name}:{number}", "text": line}


def _json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise BiotuneError(f"{path}:{number}: not JSON ({error})") from None
        if not isinstance(record, dict):
            raise BiotuneError(f"{path}:{number}: expected a JSON object {{\"text\", ...}}, got {line.strip()[:80]}")
        yield number, record


def _record_text(where: str, record: dict[str, Any]) -> str:
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BiotuneError(f"{where}: 'text' must be a non-empty string, got {json.dumps(text)[:80]}")
    return text


def _record_id(where: str, record: dict[str, Any], default: str) -> str:
    value = record.get("id", default)
    if not isinstance(value, str) or not value:
        raise BiotuneError(f"{where}: 'id' must be a non-empty string, got {json.dumps(value)[:80]}")
    return value
