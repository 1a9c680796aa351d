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
keeps the raw values), then any other metric.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from biotune.config import differing_keys, read_snapshot
from biotune.errors import BiotuneError
from biotune.io import write_json, write_text

MIN_SUPPORT = 10
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
    evals: dict[int, dict[str, Any]] = {}
    for seed, folder in seeds.items():
        evals[seed] = {}
        for path in sorted(folder.glob("eval_*.json")):
            evals[seed].update(json.loads(path.read_text(encoding="utf-8")))
    test_sets = sorted(set.intersection(*(set(e) for e in evals.values())))
    out: dict[str, Any] = {"results_dir": str(results_dir), "seeds": list(seeds), "test_sets": {}}
    for test in test_sets:
        per_seed = {seed: {"headline_key": "micro.f1", **evals[seed][test]} for seed in seeds}  # older files: NER's
        out["test_sets"][test] = _aggregate_node(per_seed)
    dev = {seed: _dev_score(f) for seed, f in seeds.items()}
    if all(v is not None for v in dev.values()):
        out["best_dev_score"] = _stats(dev)  # type: ignore[arg-type]
    write_json(results_dir / "aggregated_results.json", out)
    write_text(results_dir / "aggregated_results.md", render_markdown(out, title=results_dir.name))
    return out


def _dev_score(folder: Path) -> float | None:
    summary = json.loads((folder / "train_summary.json").read_text(encoding="utf-8"))
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


def _cell(stats: Mapping[str, Any]) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def _is_stats(node: Any) -> bool:
    return isinstance(node, Mapping) and "mean" in node and "std" in node


def _score_rows(node: Mapping[str, Any], path: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    """(dotted path, block) for every block holding precision/recall/F1 statistics, in file order."""
    rows = []
    for key, value in node.items():
        if not isinstance(value, Mapping) or _is_stats(value):
            continue
        dotted = f"{path}.{key}" if path else key
        if all(_is_stats(value.get(m)) for m in METRICS):
            rows.append((dotted, value))
        else:
            rows.extend(_score_rows(value, dotted))
    return rows


def _other_metrics(node: Mapping[str, Any], path: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    """(dotted path, stats) of the numbers outside the precision/recall/F1 blocks."""
    out = []
    for key, value in node.items():
        dotted = f"{path}.{key}" if path else key
        if _is_stats(value):
            out.append((dotted, value))
        elif isinstance(value, Mapping) and not all(_is_stats(value.get(m)) for m in METRICS):
            out.extend(_other_metrics(value, dotted))
    return out


def render_markdown(agg: Mapping[str, Any], title: str = "") -> str:
    """The headline, the precision/recall/F1 blocks and any other metric of each test set (percent, mean ± std)."""
    from biotune.experiments.evaluate import headline_of
    from biotune.tables import markdown_table

    seeds = ", ".join(map(str, agg["seeds"]))
    lines = [f"# {title}" if title else "# Aggregated results", "", f"Seeds: {seeds} (n = {len(agg['seeds'])}); "
             f"mean ± sample std; N/A: fewer than {MIN_SUPPORT} gold units."]
    for test, result in agg["test_sets"].items():
        lines += ["", f"## {test}", "", f"Headline ({result['headline_key']}): {_cell(headline_of(result))}", ""]
        rows = []
        blocks = _score_rows(result)
        for name, block in blocks:
            support = block.get("support")
            small = isinstance(support, int) and support < MIN_SUPPORT
            label = name.rsplit(".", 1)[-1] if "." in name else f"**{name}**"  # a class or type; an average in bold
            rows.append([label, *(["N/A"] * 3 if small else [_cell(block[m]) for m in METRICS]),
                         "" if support is None else str(support)])
        lines.append(markdown_table(["", "P", "R", "F1", "support"], rows,
                                    ["left", "right", "right", "right", "right"]))
        others = [(name, stats) for name, stats in _other_metrics(result)
                  if not any(name.startswith(f"{block}.") for block, _ in blocks)]
        if others:
            lines += ["", markdown_table(["metric", "mean ± std"],
                                         [[name, f"{stats['mean']:.4g} ± {stats['std']:.2g}"] for name, stats in others],
                                         ["left", "right"])]
    if "best_dev_score" in agg:
        lines += ["", f"Best dev score: {_cell(agg['best_dev_score'])}"]
    return "\n".join(lines) + "\n"
