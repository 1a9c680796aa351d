"""Evaluate one model on several test sets in one call.

Each test set's results go to `eval_<name>.json` / `.md` under the name its split has
(`test`, `bc2gm_test`, a file's stem). Two test sets with the same name (`a/test.tsv` and
`b/test.tsv`) are told apart by their parent folders (`a_test`, `b_test`), so neither result
replaces the other; names that do not collide stay as they are, so run folders and aggregation
read them unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.tasks.ner.metrics import EvalResult, evaluate_tags
from biotune.tasks.ner.report import write_report
from biotune.models.precision import training_precision
from biotune.tasks.ner.tagger import Tagger
from biotune.io import check_output


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


def evaluate_splits(tagger: Tagger, splits: Sequence[Split], out_dir: Path | None = None) -> dict[str, EvalResult]:
    """Score `tagger` on each split, on the entity types that split annotates.

    Results are keyed by `result_names`. Writes `eval_<name>.json` and `eval_<name>.md` per
    split into `out_dir` when given, each recording the precision the model computed in.
    """
    results: dict[str, EvalResult] = {}
    for split, name in zip(splits, result_names(splits)):
        gold = [s.tags or [] for s in split.sentences]
        pred = tagger.predict_tags([s.tokens for s in split.sentences])
        result = evaluate_tags(gold, pred, annotated_types=split.annotated_types)
        results[name] = result
        if out_dir is not None:
            write_report({name: result}, *result_files(out_dir, name), title=f"{name} ({split.path})",
                         precision=tagger.precision)
    return results


def evaluate_checkpoint(
    checkpoint: str | Path,
    splits: Sequence[Split],
    out_dir: Path | None = None,
    batch_size: int | None = None,
    precision: str | None = None,
    overwrite: bool = False,
) -> dict[str, EvalResult]:
    """`biotune evaluate`: load a checkpoint and score it on `splits`.

    By default the model computes in the precision training evaluated it with (recorded in
    its config), so a run's own checkpoint reproduces the run's `eval_*.json`. Existing result
    files in `out_dir` are replaced only with `overwrite`; that is checked before the model loads.
    """
    from biotune.tasks.ner.factory import load_model
    from biotune.models.backbones import load_tokenizer

    if out_dir is not None:
        for name in result_names(splits):
            for path in result_files(out_dir, name):
                check_output(path, [split.path for split in splits], overwrite, what="result file")
    model = load_model(checkpoint)
    recorded = getattr(model.config, "biotune", None) or {}
    tagger = Tagger(model, load_tokenizer(str(checkpoint)), precision=precision or training_precision(model.config),
                    batch_size=batch_size or recorded.get("eval_batch_size", 32))
    return evaluate_splits(tagger, splits, out_dir)
