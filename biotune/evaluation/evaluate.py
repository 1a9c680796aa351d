"""Evaluate one model on several test sets in one call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from biotune.corpus import Split
from biotune.evaluation.metrics import EvalResult, evaluate_tags
from biotune.evaluation.report import write_report
from biotune.inference.tagger import Tagger


def evaluate_splits(tagger: Tagger, splits: Sequence[Split], out_dir: Path | None = None) -> dict[str, EvalResult]:
    """Score `tagger` on each split, on the entity types that split annotates.

    Writes `eval_<name>.json` and `eval_<name>.md` per split into `out_dir` when given.
    """
    results: dict[str, EvalResult] = {}
    for split in splits:
        gold = [s.tags or [] for s in split.sentences]
        pred = tagger.predict_tags([s.tokens for s in split.sentences])
        result = evaluate_tags(gold, pred, annotated_types=split.annotated_types)
        results[split.name] = result
        if out_dir is not None:
            write_report({split.name: result}, out_dir / f"eval_{split.name}.json", out_dir / f"eval_{split.name}.md",
                         title=f"{split.name} ({split.path})")
    return results
