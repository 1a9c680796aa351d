"""Evaluate one model of any task on several test sets in one call.

Each test set's results go to `eval_<name>.json` / `.md` under the name its split has
(`test`, `bc2gm_test`, a file's stem). Two test sets with the same name (`a/test.tsv` and
`b/test.tsv`) are told apart by their parent folders (`a_test`, `b_test`), so neither result
replaces the other; names that do not collide stay as they are, so run folders and aggregation
read them unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biotune.config import DataConfig, ExperimentConfig
from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.io import check_output, write_json, write_text
from biotune.models.precision import training_precision
from biotune.tasks import checkpoint_task, get_task
from biotune.tasks.contract import Predictor, Result, Task


def result_names(splits: Sequence[Split]) -> list[str]:
    """A distinct result name per split: its own name, or on a clash its parent folders' names before it.

    Deterministic (it depends on the names and paths only). The same file listed twice is a
    `BiotuneError`, since its two results would be one.
    """
    names = [split.name for split in splits]
    parents = [split.path.resolve().parent.parts[1:] for split in splits]
    for depth in range(1, max((len(p) for p in parents), default=0) + 2):
        counts = Counter(names)
        clashing = [i for i, name in enumerate(names) if counts[name] > 1]
        if not clashing:
            return names
        for i in clashing:
            names[i] = "_".join([*parents[i][-depth:], splits[i].name]) if depth <= len(parents[i]) else names[i]
    duplicate = next(split for split, name in zip(splits, names) if Counter(names)[name] > 1)
    raise BiotuneError(f"test set {duplicate.path} is given twice ({duplicate.name!r}); list each test set once")


def result_files(out_dir: Path, name: str) -> tuple[Path, Path]:
    """`eval_<name>.json` and `eval_<name>.md` in `out_dir`."""
    return out_dir / f"eval_{name}.json", out_dir / f"eval_{name}.md"


def evaluate_splits(task: Task, predictor: Predictor, splits: Sequence[Split],
                    out_dir: Path | None = None) -> dict[str, Result]:
    """Score `predictor` on each split with the task's metrics.

    Results are keyed by `result_names`. Writes `eval_<name>.json` (``{name: Result.to_dict()
    + headline_key + precision + collapse}``, `collapse` as `Result.collapse` says) and `eval_<name>.md` per split into `out_dir` when given,
    each recording the precision the model computed in, since results differ slightly between
    precisions.
    """
    results: dict[str, Result] = {}
    for split, name in zip(splits, result_names(splits)):
        result = task.score(predictor, split)
        results[name] = result
        if out_dir is not None:
            data = {name: {**result.to_dict(), "headline_key": result.headline_key, "precision": predictor.precision,
                           "collapse": result.collapse}}
            json_path, md_path = result_files(out_dir, name)
            write_json(json_path, data)
            write_text(md_path, task.render(data, title=f"{name} ({split.path})"))
    return results


def headline_of(result: Mapping[str, Any]) -> Any:
    """The headline entry of a result dictionary: the one under its dotted `headline_key`.

    An eval file read back holds the key (`biotune.experiments.aggregate.read_evals`), and so
    does what aggregation makes of several."""
    node: Any = result
    for part in result["headline_key"].split("."):
        node = node[part]
    return node


def evaluate_checkpoint(
    checkpoint: str | Path,
    split_specs: Sequence[str],
    data: DataConfig,
    out_dir: Path | None = None,
    batch_size: int | None = None,
    precision: str | None = None,
    overwrite: bool = False,
) -> dict[str, Result]:
    """`biotune evaluate`: load a checkpoint of any task and score it on the splits named in `split_specs`.

    The checkpoint's task (recorded in its config) reads the splits. By default the model
    computes in the precision training evaluated it with (recorded in its config), so a run's
    own checkpoint reproduces the run's `eval_*.json`. Existing result files in `out_dir` are
    replaced only with `overwrite`; that is checked before the model loads.
    """
    task = get_task(checkpoint_task(checkpoint))
    config = ExperimentConfig(task=task.name, data=data)
    splits = [task.read_split(spec, config) for spec in split_specs]
    if out_dir is not None:
        for name in result_names(splits):
            for path in result_files(out_dir, name):
                check_output(path, [split.path for split in splits], overwrite, what="result file")
    bundle = task.load(checkpoint)
    recorded = getattr(bundle.model.config, "biotune", None) or {}
    predictor = task.predictor(bundle, precision=precision or training_precision(bundle.model.config),
                               batch_size=batch_size or recorded.get("eval_batch_size", 32))
    return evaluate_splits(task, predictor, splits, out_dir)
