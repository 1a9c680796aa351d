"""`biotune predict`, for a model of any task: a file of input records in, a file of output records out.

The job knows no task: the checkpoint's task (`biotune.tasks.checkpoint_task`) reads the input
(`Task.read_records`), predicts it (`Task.predict_records`) and writes the output
(`Task.write_records`) in the formats it declares. In two steps, so that everything that can be
wrong with the input is found before a model loads:

- `plan_prediction`: the input exists (a file, or a folder where the task reads folders:
  `Task.prediction_folders`, NER's brat standoff), the output is no input, lies outside an input
  folder (a rerun would read it back as input) and replaces a file only with `overwrite`
  (`biotune.io.check_output`), `format` is one the task declares, and the whole input
  is read once, so a bad record fails in seconds (naming its file and line) and the count is
  the progress total;
- `run_prediction`: the input is read again, lazily, handed to the task in chunks
  (`Task.prediction_chunks`: a task keeps together what reads each other, as NER's documents)
  and written to a temporary file renamed onto the output only when every record is done
  (`biotune.io.atomic_open`), so a file larger than memory works and nothing is ever half-written.

`format` is one name for both sides (as `biotune predict --format`): an input format the task
declares (`Task.prediction_inputs`: NER's ``jsonl | text | tsv``) picks the reader; otherwise an
output format it declares (`Task.prediction_formats`: QA's ``jsonl | bioasq``) picks the writer.
Unset, the task tells its input apart (extension, content) and writes its first output format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biotune.errors import BiotuneError
from biotune.io import atomic_open, check_output
from biotune.tasks import checkpoint_task, get_task

if TYPE_CHECKING:
    import torch

    from biotune.tasks.contract import Predictor, Task

CHUNK_SIZE = 2048  # records handed to the task at a time: memory stays flat, batches stay full


@dataclass(frozen=True)
class PredictionPlan:
    """A checked prediction job: what to read and write, how, and how many input records there are."""

    task: Task
    input: Path
    output: Path
    input_format: str | None  # None: the task tells
    output_format: str
    records: int


def load_predictor(folder: str | Path, precision: str = "auto", batch_size: int = 32,
                   device: torch.device | str | None = None) -> tuple[Task, Predictor]:
    """The task of a saved model folder and the model loaded as its predictor."""
    task = get_task(checkpoint_task(folder))
    return task, task.predictor(task.load(folder), precision=precision, batch_size=batch_size, device=device)


def plan_prediction(task: Task, input: str | Path, output: str | Path, format: str | None = None,
                    overwrite: bool = False, option: str = "format", what: str = "output") -> PredictionPlan:
    """Check a job before any model loads (see the module docstring). `option` and `what` are the
    names the errors give the format and the output (`--format`, `--output` for the CLI)."""
    input, output = Path(input), Path(output)
    if input.is_dir():
        if not task.prediction_folders:
            raise BiotuneError(f"input file {input} is a folder, not a file")
        if input.resolve() in output.resolve().parents:
            raise BiotuneError(f"{what} {output} lies inside the input folder {input}; a rerun would read it as "
                               "input: write it elsewhere")
    elif not input.is_file():
        raise BiotuneError(f"input file {input} not found")
    check_output(output, [input], overwrite, what=what)
    input_format, output_format = resolve_format(task, format, option)
    records = sum(1 for _ in task.read_records(input, input_format))
    if not records:
        raise BiotuneError(f"input file {input} contains nothing to predict")
    return PredictionPlan(task, input, output, input_format, output_format, records)


def resolve_format(task: Task, format: str | None, option: str = "format") -> tuple[str | None, str]:
    """(input format, output format) of `format`: an input format of the task, else one of its output formats."""
    outputs = task.prediction_formats
    if format is None:
        return None, outputs[0]
    if format in task.prediction_inputs:
        return format, outputs[0]
    if format in outputs:
        return None, format
    reads = ", ".join(task.prediction_inputs) or "its inputs by extension and content"
    raise BiotuneError(f"{option} {format!r}: a {task.name} model reads {reads} and writes {', '.join(outputs)}")


def run_prediction(plan: PredictionPlan, predictor: Predictor, chunk_size: int = CHUNK_SIZE,
                   on_progress: Callable[[int], None] | None = None) -> int:
    """Predict every record of a planned job into its output; returns how many were written.
    `on_progress(n)` is called after each chunk with the number of records it held."""
    if chunk_size < 1:
        raise BiotuneError(f"chunk size must be at least 1, got {chunk_size}")
    task = plan.task

    def predicted() -> Iterator[dict[str, Any]]:
        for chunk in task.prediction_chunks(task.read_records(plan.input, plan.input_format), chunk_size):
            yield from task.predict_records(predictor, chunk)
            if on_progress is not None:
                on_progress(len(chunk))

    with atomic_open(plan.output) as out:
        return task.write_records(predicted(), out, plan.output_format)
