"""`biotune predict` for a relation model: pre-masked TSV rows in, one JSONL line per row out.

Input rows are what the training files hold, with the label optional, since text to predict
has none: ``sentence``, ``sentence<TAB>label`` (a label cell is read past, not checked: score
labelled files with `biotune evaluate`), or, under an ``index<TAB>sentence[<TAB>label]``
header, BioBERT's indexed rows. Each sentence marks exactly two entities (``@GENE$``...), as
in training; the training reader's rules (`examples.read_examples`: every row labelled) stay
as they are.

Output line: ``{"id", "text", "label", "scores": {label: probability}}``; `id` is the file's
index where it has one, else ``<file name>:<line>``. Rows are read lazily and predicted in
chunks into a temporary file that is renamed onto the output only when every row is done, so
a bad row (a `BiotuneError` naming file and line) leaves no output at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, numbered_lines
from biotune.io import atomic_open, check_output
from biotune.tasks.re.examples import RelationExample, row_example
from biotune.tasks.re.task import RelationPredictor

# Header lines (lower-cased cells) and whether their first column is the row's index.
HEADERS = {("index", "sentence", "label"): True, ("index", "sentence"): True,
           ("sentence", "label"): False, ("sentence",): False}


def read_rows(path: str | Path) -> Iterator[RelationExample]:
    """The rows of a prediction input, unlabelled (`label` None), lazily; bad rows are errors naming file and line."""
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
        text = cells[1] if indexed else cells[0]
        yield row_example(path, number, text, None, cells[0] if indexed else f"{path.name}:{number}")


def check_rows(path: str | Path) -> int:
    """Read every row once, before a model loads, so a bad row fails in seconds; returns the row count.

    Cheap (no tokenisation), and the count is the progress bar's total.
    """
    n = sum(1 for _ in read_rows(path))
    if not n:
        raise BiotuneError(f"input file {path} contains no rows to predict")
    return n


def predict_file(predictor: RelationPredictor, input_path: str | Path, output_path: str | Path,
                 chunk_size: int = 2048, on_progress: Callable[[int], None] | None = None,
                 overwrite: bool = False) -> int:
    """Predict every row of `input_path` into JSONL at `output_path`; returns the number of rows.

    The output may not be the input, and an existing output is replaced only with `overwrite`
    (`biotune.io.check_output`), both checked before anything is predicted.
    """
    input_path = Path(input_path)
    check_output(output_path, [input_path], overwrite)
    rows = read_rows(input_path)
    chunk = list(islice(rows, chunk_size))
    if not chunk:  # before the output is opened: an existing output stays as it is
        raise BiotuneError(f"input file {input_path} contains no rows to predict")
    n = 0
    with atomic_open(output_path) as out:
        while chunk:
            for example, prediction in zip(chunk, predictor.predict(chunk)):
                record = {"id": example.id, "text": example.text, "label": prediction.label, "scores": prediction.scores}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += len(chunk)
            if on_progress is not None:
                on_progress(len(chunk))
            chunk = list(islice(rows, chunk_size))
    return n
