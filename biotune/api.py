"""The library API: what the CLI does, a verb a function, for a model of any task.

    import biotune

    result = biotune.train("configs/bc5cdr.yaml", data__data_dir="../shared/data/corpora")
    model = biotune.load(result.paths.best_model)             # the checkpoint says its task
    model.predict(["Cisplatin-induced nephrotoxicity."])      # records in, records out
    model.predict_file("abstracts.txt", "entities.jsonl")     # as `biotune predict`
    biotune.evaluate(result.paths.best_model, tests=["bc5cdr:test"])

After spacy.load, flair's `Classifier.load` and transformers.pipeline: one loaded object with the
same shape whatever the task, since every task predicts through the task contract's records
(`biotune.tasks.contract.Task.predict_records`). Model code is imported inside the functions,
so `import biotune` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biotune.errors import BiotuneError

if TYPE_CHECKING:
    import torch

    from biotune.config import ExperimentConfig
    from biotune.experiments.run import TrainResult
    from biotune.tasks.contract import Predictor, Result, Task


def train(config: str | Path | ExperimentConfig, overrides: Mapping[str, Any] | None = None, *,
          overwrite: bool = False, **keys: Any) -> TrainResult:
    """Train one run of an experiment config (a YAML path or an `ExperimentConfig`), as `biotune train`.

    Settings override the config as dotted keys, in `overrides` (``{"training.seed": 3}``) or as
    keywords with ``__`` for the dots (``training__seed=3``, ``sources__1__weight=0.5``); a value
    of None sets the key to null. The config is validated after them (an unknown key is an
    error naming it). An existing finished run is replaced only with `overwrite`.
    """
    from biotune.config import ExperimentConfig, apply_overrides, load_config, validate
    from biotune.experiments.run import train as run_training

    settings = {**(overrides or {}), **{key.replace("__", "."): value for key, value in keys.items()}}
    origin = str(config) if isinstance(config, (str, Path)) else f"config {config.name!r}"
    if isinstance(config, (str, Path)):
        config = load_config(config)
    elif not isinstance(config, ExperimentConfig):
        raise BiotuneError(f"train takes a config file or an ExperimentConfig, not {type(config).__name__}")
    if settings:
        config = validate(apply_overrides(config.model_dump(mode="json", exclude_unset=True), settings, keep_none=True),
                          origin)
    return run_training(config, overwrite=overwrite)


class Model:
    """A saved model of any task, loaded for prediction: records in, records out.

    `task` is the task's name (``ner``, ``re``, ``qa``, ``yesno``, ...); `predictor` the task's
    own predictor, for what only that task does. See each task's records (`Task.predict_records`)
    for what its input and output records hold.
    """

    def __init__(self, folder: Path, task: Task, predictor: Predictor) -> None:
        self.folder = folder
        self.predictor = predictor
        self._task = task

    @property
    def task(self) -> str:
        return self._task.name

    def __repr__(self) -> str:
        return (f"biotune.Model(task={self.task!r}, folder={str(self.folder)!r}, "
                f"precision={self.predictor.precision!r}, batch_size={self.predictor.batch_size})")

    def predict(self, records: Iterable[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
        """Each input record with the task's predictions, in order, predicted together in batches
        (a text may stand for a record where the task reads text: NER, RE)."""
        if isinstance(records, (str, Mapping)):
            raise BiotuneError("predict takes a list of records; for one, write predict([record])")
        return self._task.predict_records(self.predictor, list(records))

    def predict_file(self, input: str | Path, output: str | Path, format: str | None = None,
                     overwrite: bool = False) -> int:
        """Predict a file into another, as `biotune predict` (`biotune.serving.predict_job`: the whole
        input is checked first, the output written atomically); returns how many records were written."""
        from biotune.serving.predict_job import plan_prediction, run_prediction

        return run_prediction(plan_prediction(self._task, input, output, format, overwrite), self.predictor)


def load(folder: str | Path, precision: str = "auto", batch_size: int = 32,
         device: torch.device | str | None = None) -> Model:
    """A saved model folder (a run's ``best_model``) of any task, ready to predict.

    `precision`: ``auto`` (bf16 weights where the hardware has bf16, else fp32) | ``bf16`` |
    ``int8`` | ``fp32`` | ``autocast``; `batch_size`: model inputs per batch; `device`: default
    the GPU when there is one.
    """
    from biotune.serving.predict_job import load_predictor

    task, predictor = load_predictor(folder, precision, batch_size, device)
    return Model(Path(folder), task, predictor)


def evaluate(folder: str | Path, tests: str | Sequence[str], *, output_dir: str | Path | None = None,
             data_dir: str | None = None, batch_size: int | None = None, precision: str | None = None,
             overwrite: bool = False) -> dict[str, Result]:
    """Score a saved model of any task on test sets, as `biotune evaluate`: ``{test name: Result}``.

    A test set is a file or ``<corpus>:<split>`` (found under `data_dir`, then
    ``$BIOTUNE_DATA_DIR``). `precision` and `batch_size` default to what training evaluated with,
    so a run's own model reproduces its `eval_*.json`; with `output_dir`, ``eval_<test>.json`` and
    ``.md`` are written there (existing ones replaced only with `overwrite`).
    """
    from biotune.config import DataConfig
    from biotune.experiments.evaluate import evaluate_checkpoint

    specs = [tests] if isinstance(tests, str) else list(tests)
    if not specs:
        raise BiotuneError("evaluate needs at least one test set")
    return evaluate_checkpoint(folder, specs, DataConfig(corpus=str(folder), data_dir=data_dir),
                               Path(output_dir) if output_dir is not None else None, batch_size, precision, overwrite)
