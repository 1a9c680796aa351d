"""Cross-validation: train and test every fold of a BioBERT-style fold folder, then mean ± std over folds.

The folder (`data.corpus`, found as given or under `data.data_dir` / `$BIOTUNE_DATA_DIR`)
holds one sub-folder per fold, `k/train.tsv` and `k/test.tsv` (`corpora.folds.cv_folds`), as
BioBERT ships GAD's 10 folds; a gap in the numbered folds is refused unless `allow_gaps`.
Each fold is one ordinary run, `<name>__fold<k>`, whose corpus is the fold's folder and which
has no dev split (the layout has none: the last epoch is kept), so run folders, `aggregate`,
`evaluate` and `predict` work on a fold as on any run. A config that names a dev split
(`data.dev`, even `dev`, the default's value) is refused: it asks for model selection that
the folds cannot give, and training without it while the config says otherwise would report
last-epoch scores as selected ones.
The folds go through `run_seeds`: a finished fold is reused, a fold whose run folder holds
another config is refused before anything trains (unless `overwrite`), a failed fold does
not stop the others.

The report (`results/<name>/cv_results.json` and `.md`): per test set, each fold's headline
and the precision, recall and F1 of the headline's block (`binary` for GAD, `micro` for
multi-class), then the mean and sample standard deviation over the folds, as BioBERT reports
GAD. With several seeds a fold's value is its mean over the seeds. It is written only when
every seed of every fold has finished, so a mean never silently covers fewer folds or seeds.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biotune.config import ExperimentConfig, apply_overrides, validate
from biotune.errors import BiotuneError
from biotune.experiments.seeds import SeedsOutcome, check_reusable, results_dir, run_seeds
from biotune.io import write_json, write_text
from biotune.corpora.folds import Fold, cv_folds
from biotune.training.processes import is_main_process

METRICS = ("precision", "recall", "f1")
RESULTS_STEM = "cv_results"


@dataclass
class CrossValidation:
    """What `cross_validate` did: each fold's seeds outcome and, when every seed of every fold finished, the summary."""

    results_dir: Path
    folds: dict[str, SeedsOutcome] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    main_process: bool = True

    @property
    def failed(self) -> dict[str, dict[int, str]]:
        """{fold: {seed: error}} of the seeds that failed."""
        return {name: outcome.failed for name, outcome in self.folds.items() if outcome.failed}


def folds_folder(config: ExperimentConfig) -> Path:
    """The fold folder `data.corpus` names: a folder as given, else under `data.data_dir`, then `$BIOTUNE_DATA_DIR`."""
    corpus = config.data.corpus
    roots = [root for root in (config.data.data_dir, os.environ.get("BIOTUNE_DATA_DIR")) if root]
    candidates = [Path(corpus), *(Path(root) / corpus for root in roots)]
    found = next((folder for folder in candidates if folder.is_dir()), None)
    if found is None:
        raise BiotuneError(f"data.corpus {corpus!r}: cross-validation needs a folder of folds (k/train.tsv, "
                           f"k/test.tsv); looked in {', '.join(map(str, candidates))}")
    return found


def fold_configs(config: ExperimentConfig, allow_gaps: bool = False) -> list[tuple[Fold, ExperimentConfig]]:
    """One run config per fold: named `<name>__fold<k>`, its corpus the fold's folder, no dev split."""
    if config.data.dev is not None and "dev" in config.data.model_fields_set:
        raise BiotuneError(f"data.dev {config.data.dev!r}: cross-validation folds have no dev split (each fold keeps "
                           "its last epoch); leave data.dev out or set it to null")
    folder = folds_folder(config)
    try:
        folds = cv_folds(folder, allow_gaps)
    except BiotuneError as exc:  # e.g. a registry corpus's own folder, which holds splits, not folds
        raise BiotuneError(f"data.corpus {config.data.corpus!r} ({folder}) is not a fold folder: {exc}") from None
    base = config.model_dump(mode="json")
    out = []
    for fold in folds:
        data = apply_overrides(base, {"name": f"{config.name}__fold{fold.name}", "data.corpus": str(fold.train.parent),
                                      "data.dev": None}, keep_none=True)
        out.append((fold, validate(data, f"{config.name} fold {fold.name}")))
    return out


def cross_validate(config: ExperimentConfig, seeds: Sequence[int], overwrite: bool = False,
                   allow_gaps: bool = False) -> CrossValidation:
    """Train and test every fold over `seeds` (finished folds reused), then summarise them when all finished."""
    planned = fold_configs(config, allow_gaps)
    if not overwrite:
        for _, fold_config in planned:  # every fold before the first trains: no stale fold found late
            check_reusable(fold_config, list(seeds))
    result = CrossValidation(results_dir(config))
    for fold, fold_config in planned:
        result.folds[fold.name] = run_seeds(fold_config, list(seeds), overwrite)
    result.main_process = is_main_process()
    complete = all(outcome.aggregated is not None and not outcome.failed for outcome in result.folds.values())
    if result.main_process and complete:
        aggregated = {name: outcome.aggregated for name, outcome in result.folds.items()}
        result.summary = summarise(aggregated, list(seeds), str(folds_folder(config)))  # type: ignore[arg-type]
        write_json(result.results_dir / f"{RESULTS_STEM}.json", result.summary)
        write_text(result.results_dir / f"{RESULTS_STEM}.md", render_markdown(result.summary, title=config.name))
    return result


def summarise(aggregated: Mapping[str, Mapping[str, Any]], seeds: list[int], folder: str) -> dict[str, Any]:
    """Mean ± std over folds of each test set's headline and its block's P/R/F1, from each fold's seed aggregation.

    `aggregated` is `{fold: aggregate()}`; a fold's value is its mean over seeds.
    """
    tests = sorted(set.intersection(*(set(agg["test_sets"]) for agg in aggregated.values())))
    if not tests:
        raise BiotuneError(f"the folds of {folder} share no test set")
    out: dict[str, Any] = {"folder": folder, "folds": list(aggregated), "seeds": seeds, "test_sets": {}}
    for test in tests:
        results = {fold: agg["test_sets"][test] for fold, agg in aggregated.items()}
        keys = {result["headline_key"] for result in results.values()}
        if len(keys) != 1:
            raise BiotuneError(f"test set {test!r}: the folds' headlines differ ({', '.join(sorted(keys))})")
        key = keys.pop()
        block = key.rpartition(".")[0]
        metrics = {"headline": {fold: _mean_at(result, key) for fold, result in results.items()}}
        if block and all(all(_has(result, f"{block}.{m}") for m in METRICS) for result in results.values()):
            metrics.update({m: {fold: _mean_at(result, f"{block}.{m}") for fold, result in results.items()}
                            for m in METRICS})
        out["test_sets"][test] = {"headline_key": key, "block": block if len(metrics) > 1 else None,
                                  **{name: _over_folds(values) for name, values in metrics.items()}}
    return out


def _node(result: Mapping[str, Any], dotted: str) -> Any:
    node: Any = result
    for part in dotted.split("."):
        node = node[part]
    return node


def _has(result: Mapping[str, Any], dotted: str) -> bool:
    try:
        node = _node(result, dotted)
    except (KeyError, TypeError):
        return False
    return isinstance(node, Mapping) and "mean" in node


def _mean_at(result: Mapping[str, Any], dotted: str) -> float:
    """The seed mean of the aggregated metric at `dotted`."""
    return float(_node(result, dotted)["mean"])


def _over_folds(values: Mapping[str, float]) -> dict[str, Any]:
    raw = list(values.values())
    return {"folds": dict(values), "mean": statistics.fmean(raw),
            "std": statistics.stdev(raw) if len(raw) > 1 else 0.0, "n": len(raw)}


def render_markdown(summary: Mapping[str, Any], title: str = "") -> str:
    """Per test set: one row per fold and the mean ± std row (percent), then the headline line."""
    from biotune.tables import markdown_table

    seeds = ", ".join(map(str, summary["seeds"]))
    lines = [f"# Cross-validation: {title}" if title else "# Cross-validation", "",
             f"{len(summary['folds'])} folds of {summary['folder']}; seeds {seeds} (a fold's value is its mean over "
             "the seeds); mean ± sample std over the folds."]
    for test, result in summary["test_sets"].items():
        columns = list(METRICS) if result["block"] else ["headline"]
        headers = ["fold", *(["P", "R", "F1"] if result["block"] else [result["headline_key"]])]
        rows = [[fold, *(f"{100 * result[c]['folds'][fold]:.2f}" for c in columns)] for fold in summary["folds"]]
        rows.append(["**mean ± std**", *(f"{100 * result[c]['mean']:.2f} ± {100 * result[c]['std']:.2f}"
                                         for c in columns)])
        headline = result["headline"]
        lines += ["", f"## {test}", "",
                  f"Headline ({result['headline_key']}): {100 * headline['mean']:.2f} ± {100 * headline['std']:.2f} "
                  f"(n = {headline['n']} folds)", "",
                  markdown_table(headers, rows, ["left"] + ["right"] * len(columns))]
    return "\n".join(lines) + "\n"
