"""Multi-seed aggregation: every metric of every seed, with mean and sample standard deviation.

Reads the run-folder contract (`biotune.experiments.run_folder`): `results/<name>/seed_*/` holding a finished run
(`train_summary.json`), its `config_snapshot.yaml` and its `eval_<test>.json` files. Runs whose
resolved configs differ in anything but the seed and the path-only keys (`data.data_dir`,
`output_dir`, ...) are refused, naming the keys, so a table never mixes two experiments. Writes `aggregated_results.json` (raw per-seed values, mean, std) and
`aggregated_results.md` (mean ± std; a type with fewer than `MIN_SUPPORT` gold spans in a test
set shows N/A there, because its F1 swings by whole points from one span to the next; the JSON
keeps the raw values).
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
        out["test_sets"][test] = _aggregate_set({seed: evals[seed][test] for seed in seeds})
    dev = {seed: json.loads((f / "train_summary.json").read_text())["best_dev_f1"] for seed, f in seeds.items()}
    if all(v is not None for v in dev.values()):
        out["best_dev_f1"] = _stats(dev)
    write_json(results_dir / "aggregated_results.json", out)
    write_text(results_dir / "aggregated_results.md", render_markdown(out, title=results_dir.name))
    return out


def _aggregate_set(per_seed: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    first = next(iter(per_seed.values()))
    result: dict[str, Any] = {"per_type": {}}
    for type_ in first["per_type"]:
        result["per_type"][type_] = {
            **{m: _stats({s: r["per_type"][type_][m] for s, r in per_seed.items()}) for m in METRICS},
            "support": first["per_type"][type_]["support"],
        }
    for block in ("micro", "macro", "token"):
        result[block] = {
            **{m: _stats({s: r[block][m] for s, r in per_seed.items()}) for m in METRICS},
            "support": first[block]["support"],
        }
    result["unannotated_predictions"] = {
        type_: _stats({s: r["unannotated_predictions"].get(type_, 0) for s, r in per_seed.items()})
        for type_ in sorted({t for r in per_seed.values() for t in r["unannotated_predictions"]})
    }
    return result


def _cell(stats: Mapping[str, Any]) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def render_markdown(agg: Mapping[str, Any], title: str = "") -> str:
    """Mean ± std (percent) per test set, type, micro, macro and token level."""
    seeds = ", ".join(map(str, agg["seeds"]))
    lines = [f"# {title}" if title else "# Aggregated results", "", f"Seeds: {seeds} (n = {len(agg['seeds'])}); "
             f"mean ± sample std; N/A: fewer than {MIN_SUPPORT} gold spans."]
    for test, result in agg["test_sets"].items():
        lines += ["", f"## {test}", "", "| type | P | R | F1 | support |", "|---|---:|---:|---:|---:|"]
        rows = [(name, s) for name, s in result["per_type"].items()]
        rows += [("**micro**", result["micro"]), ("**macro**", result["macro"]), ("**token (word-level)**", result["token"])]
        for name, s in rows:
            if s["support"] < MIN_SUPPORT:
                cells = ["N/A"] * 3
            else:
                cells = [_cell(s[m]) for m in METRICS]
            lines.append(f"| {name} | {' | '.join(cells)} | {s['support']} |")
        if result["unannotated_predictions"]:
            extra = ", ".join(f"{t} {s['mean']:.1f}" for t, s in result["unannotated_predictions"].items())
            lines += ["", f"Predictions of types this set does not annotate (mean count, not scored): {extra}"]
    if "best_dev_f1" in agg:
        lines += ["", f"Best dev F1: {_cell(agg['best_dev_f1'])}"]
    return "\n".join(lines) + "\n"
