"""Multi-seed aggregation: every metric of every seed, with mean and sample standard deviation.

Reads the run-folder contract (`biotune.experiments.run_folder`): `results/<name>/seed_*/` holding a finished run
(`train_summary.json`), its `config_snapshot.yaml` and its `eval_<test>.json` files. Runs whose
resolved configs differ in anything but the seed and the path-only keys (`data.data_dir`,
`output_dir`, ...) are refused, naming the keys, so a table never mixes two experiments.

It knows no task: an eval file is a task's metrics dictionary, and every number in it is
aggregated where it sits (`{values, mean, std, n}`), except counts that describe the test set
rather than the model (`support`, `n_*`), which are the same in every seed and kept as they
are. Strings and lists (label names, the headline key) are kept from the first seed. Writes
`aggregated_results.json` and `aggregated_results.md`: the headline per test set, then every
block of precision/recall/F1 as a table (mean ± std; a row with fewer than `MIN_SUPPORT` gold
units shows N/A, because its F1 swings by whole points from one unit to the next; the JSON
keeps the raw values), then any other metric. A seed whose predictions collapsed to one class
(its eval file's `collapse`, its summary's dev entry) is named with what they collapsed to, in
`collapsed` beside the test set's numbers (`dev_collapsed` for dev) and as a warning in the table:
a mean over such seeds would otherwise hide that one learned nothing.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from biotune.config import differing_keys, read_snapshot
from biotune.errors import BiotuneError
from biotune.io import write_json, write_text

MIN_SUPPORT = 10
# The headline of an eval file written before results recorded their `headline_key` (biotune
# before the task contract, when NER was the only task): NER's micro F1. `read_evals` is the one
# place that knows it; everything else reads the key a result holds.
LEGACY_HEADLINE_KEY = "micro.f1"
SEED_KEY = "training.seed"
METRICS = ("precision", "recall", "f1")


def config_differences(snapshots: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """Dotted keys whose values differ between the runs' snapshots, other than the seed and the
    path-only keys (`biotune.config.PATH_ONLY_KEYS`: a corpus read from another folder is the same run)."""
    return differing_keys(list(snapshots.values()), ignore=frozenset({SEED_KEY}))


def finished_seeds(results_dir: Path) -> dict[int, Path]:
    """{seed: folder} of the finished runs under `results/<name>/`."""
    seeds = {}
    for folder in sorted(results_dir.glob("seed_*")):
        if (folder / "train_summary.json").is_file() and folder.name[5:].lstrip("-").isdigit():
            seeds[int(folder.name[5:])] = folder
    return dict(sorted(seeds.items()))


def _stats(values: Mapping[int, float]) -> dict[str, Any]:
    raw = list(values.values())
    return {
        "values": {str(seed): v for seed, v in values.items()},
        "mean": statistics.fmean(raw),
        "std": statistics.stdev(raw) if len(raw) > 1 else 0.0,
        "n": len(raw),
    }


def aggregate(results_dir: str | Path) -> dict[str, Any]:
    """Aggregate the finished seeds of one experiment; writes the JSON and Markdown files."""
    results_dir = Path(results_dir)
    seeds = finished_seeds(results_dir)
    if not seeds:
        raise BiotuneError(f"no finished run (seed_*/train_summary.json) under {results_dir}")
    snapshots = {seed: read_snapshot(f / "config_snapshot.yaml") for seed, f in seeds.items()}
    differing = config_differences(snapshots)
    if differing:
        raise BiotuneError(f"{results_dir}: runs differ in more than the seed; keys: {', '.join(differing)}")
    evals = {seed: read_evals(folder) for seed, folder in seeds.items()}
    test_sets = sorted(set.intersection(*(set(e) for e in evals.values())))
    out: dict[str, Any] = {"results_dir": str(results_dir), "seeds": list(seeds), "test_sets": {}}
    for test in test_sets:
        collapsed = {str(seed): evals[seed][test].pop("collapse", None) for seed in seeds}
        per_seed = {seed: evals[seed][test] for seed in seeds}
        out["test_sets"][test] = {**_aggregate_node(per_seed),
                                  "collapsed": {seed: message for seed, message in collapsed.items() if message}}
    dev_collapsed = {str(seed): _summary(f).get("collapsed", {}).get("dev") for seed, f in seeds.items()}
    out["dev_collapsed"] = {seed: message for seed, message in dev_collapsed.items() if message}
    dev = {seed: _dev_score(f) for seed, f in seeds.items()}
    if all(v is not None for v in dev.values()):
        out["best_dev_score"] = _stats(dev)  # type: ignore[arg-type]
    write_json(results_dir / "aggregated_results.json", out)
    write_text(results_dir / "aggregated_results.md", render_markdown(out, title=results_dir.name))
    return out


def read_evals(folder: Path) -> dict[str, Any]:
    """{test set: metrics dictionary} of a run's results folder (its `eval_<test>.json` files), each
    holding its `headline_key` (`LEGACY_HEADLINE_KEY` for a file from before it was recorded)."""
    evals: dict[str, Any] = {}
    for path in sorted(folder.glob("eval_*.json")):
        evals.update(json.loads(path.read_text(encoding="utf-8")))
    return {name: {"headline_key": LEGACY_HEADLINE_KEY, **result} for name, result in evals.items()}


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "train_summary.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _dev_score(folder: Path) -> float | None:
    summary = _summary(folder)
    return summary.get("best_dev_score", summary.get("best_dev_f1"))  # runs from before the task contract


def _is_count(key: str) -> bool:
    """Counts of the test set (gold units, sentences): the same in every seed."""
    return key == "support" or key.startswith("n_")


def _aggregate_node(per_seed: Mapping[int, Any], key: str = "") -> Any:
    """Mappings recursively (keys of every seed, in the first seed's order); numbers as `_stats`; the rest as the first seed's."""
    values = list(per_seed.values())
    first = values[0]
    if isinstance(first, Mapping):
        keys = dict.fromkeys(k for value in values if isinstance(value, Mapping) for k in value)
        return {k: _aggregate_node({s: v.get(k, 0) for s, v in per_seed.items()}, k) for k in keys}
    if isinstance(first, (int, float)) and not isinstance(first, bool) and not _is_count(key):
        return _stats({s: float(v) for s, v in per_seed.items()})
    return first


def mean_std(stats: Mapping[str, Any]) -> str:
    """An aggregated ratio in percent: `mean ± std`."""
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def _number(stats: Mapping[str, Any]) -> str:
    return f"{stats['mean']:.4g} ± {stats['std']:.2g}"


def is_stats(node: Any) -> bool:
    """An aggregated number (`_stats`)."""
    return isinstance(node, Mapping) and "mean" in node and "std" in node


def is_number(node: Any) -> bool:
    """A number of one run's metrics dictionary."""
    return isinstance(node, (int, float)) and not isinstance(node, bool)


IsValue = Callable[[Any], bool]


def score_blocks(node: Mapping[str, Any], is_value: IsValue = is_stats, path: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    """(dotted path, block) for every block holding precision/recall/F1 values, in file order.

    `is_value` says what a value is: `is_stats` in aggregated results, `is_number` in one run's eval file."""
    rows = []
    for key, value in node.items():
        if not isinstance(value, Mapping) or is_value(value):
            continue
        dotted = f"{path}.{key}" if path else key
        if all(is_value(value.get(m)) for m in METRICS):
            rows.append((dotted, value))
        else:
            rows.extend(score_blocks(value, is_value, dotted))
    return rows


def other_metrics(node: Mapping[str, Any], is_value: IsValue = is_stats, path: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of the values outside the precision/recall/F1 blocks."""
    out = []
    for key, value in node.items():
        dotted = f"{path}.{key}" if path else key
        if is_value(value):
            out.append((dotted, value))
        elif isinstance(value, Mapping) and not all(is_value(value.get(m)) for m in METRICS):
            out.extend(other_metrics(value, is_value, dotted))
    return out


def metric_tables(result: Mapping[str, Any], is_value: IsValue = is_stats, cell: Callable[[Any], str] = mean_std,
                  number: Callable[[Any], str] = _number, min_support: int = MIN_SUPPORT,
                  value_header: str = "mean ± std") -> str:
    """One test set's precision/recall/F1 blocks as one table (percent; a row with fewer than
    `min_support` gold units shows N/A) and its other values as a second (each only when it has
    rows); aggregated results by
    default, one run's eval dictionary with `is_number` and its own formats."""
    from biotune.tables import markdown_table

    rows = []
    blocks = score_blocks(result, is_value)
    for name, block in blocks:
        support = block.get("support")
        small = isinstance(support, int) and support < min_support
        label = name.rsplit(".", 1)[-1] if "." in name else f"**{name}**"  # a class or type; an average in bold
        rows.append([label, *(["N/A"] * 3 if small else [cell(block[m]) for m in METRICS]),
                     "" if support is None else str(support)])
    tables = [markdown_table(["", "P", "R", "F1", "support"], rows, ["left", *["right"] * 4])] if rows else []
    others = [(name, value) for name, value in other_metrics(result, is_value)
              if not any(name.startswith(f"{block}.") for block, _ in blocks)]
    if others:
        tables.append(markdown_table(["metric", value_header], [[name, number(value)] for name, value in others],
                                     ["left", "right"]))
    return "\n\n".join(tables)


def render_markdown(agg: Mapping[str, Any], title: str = "") -> str:
    """The headline, the precision/recall/F1 blocks and any other metric of each test set (percent, mean ± std)."""
    seeds = ", ".join(map(str, agg["seeds"]))
    lines = [f"# {title}" if title else "# Aggregated results", "", f"Seeds: {seeds} (n = {len(agg['seeds'])}); "
             f"mean ± sample std; N/A: fewer than {MIN_SUPPORT} gold units."]
    return "\n".join(lines + render_test_sets(agg)) + "\n"


def render_test_sets(agg: Mapping[str, Any], level: str = "##") -> list[str]:
    """The lines of each test set's section (a `level` heading, the headline, `metric_tables`), then the best dev score."""
    from biotune.experiments.evaluate import headline_of

    lines = []
    for test, result in agg["test_sets"].items():
        lines += ["", f"{level} {test}", "", f"Headline ({result['headline_key']}): {mean_std(headline_of(result))}",
                  *collapse_lines(result.get("collapsed", {}), test), "", metric_tables(result)]
    if "best_dev_score" in agg:
        lines += ["", f"Best dev score: {mean_std(agg['best_dev_score'])}", *collapse_lines(agg.get("dev_collapsed", {}), "dev")]
    return lines


def collapse_lines(collapsed: Mapping[str, str], split: str) -> list[str]:
    """A warning line per seed whose `split` predictions collapsed to one class (none when none did)."""
    return ["", *(f"**Warning: collapsed** (seed {seed}, {split}): {message}; this model learned nothing of the split"
                  for seed, message in collapsed.items())] if collapsed else []
