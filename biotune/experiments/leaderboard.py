"""The leaderboard of a benchmark suite: per backbone, each dataset's metric, each family's average, the BLURB score.

It reads only the run-folder contract (`biotune.experiments.run_folder`): a planned run counts
when it is finished (`train_summary.json`), and its value is the dataset's metric in its
`eval_<test>.json` (the task's recorded `headline_key` unless the suite names another dotted
key; the first test set of the run unless the suite names one). Per (backbone, dataset): the
mean and sample standard deviation over the planned seeds; per task family: the mean of its
datasets' means; the BLURB score: the macro average of the family averages, as BLURB defines it
(Gu et al. 2021: every family weighs the same, however many datasets it has).

Nothing unfinished is ever averaged as a zero. A dataset with a failed or missing seed is
marked (``failed (2/3 seeds)``: 2 of its 3 planned seeds finished) and left out of its family's
average; a family averaged over fewer datasets than planned is marked incomplete, and so is a
BLURB score over an incomplete family or one without any finished dataset. A suite may declare
its benchmark's families (`families`): one with no dataset in the suite (BLURB's PICO, whose data
is not available offline) is shown as absent and makes the BLURB score incomplete.

Published rows (`published`: the papers' test scores, e.g. BLURB's table) stand beside biotune's
columns for context, each labelled as published and never mixed into biotune's averages: per
dataset the published number, per family the mean of the published numbers of the suite's
datasets in it, the BLURB score recomputed the same way over the suite's families (so it compares
with biotune's), and the published BLURB score as the paper gives it (over all of its families).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biotune.config import flatten
from biotune.errors import BiotuneError
from biotune.experiments.aggregate import read_evals
from biotune.experiments.run_folder import RunPaths
from biotune.io import write_figure, write_json, write_text
from biotune.registry import did_you_mean

STEM = "leaderboard"


@dataclass(frozen=True)
class Entry:
    """One (backbone, dataset) of a suite: where its runs are and how to read their score."""

    backbone: str
    dataset: str
    family: str
    output_dir: Path
    run_name: str
    seeds: tuple[int, ...]
    metric: str | None = None  # dotted key into the eval result; None = the result's headline_key
    test_set: str | None = None  # None = the run's first test set
    errors: Mapping[int, str] = field(default_factory=dict)  # seed -> error of a failed run
    # seed -> the config keys a finished run's snapshot differs in from the planned config: its score is
    # another config's, so it is not reported (it stays until the suite retrains it with --overwrite)
    stale: Mapping[int, str] = field(default_factory=dict)


def seed_value(paths: RunPaths, metric: str | None, test_set: str | None) -> tuple[float, str, str]:
    """(value, metric key, test set) of one finished run; a metric or test set it lacks is a `BiotuneError`."""
    summary = json.loads(paths.summary.read_text(encoding="utf-8"))
    tests = list(summary.get("test") or {})
    name = test_set or (tests[0] if tests else "test")
    eval_file = paths.results / f"eval_{name}.json"
    evals = read_evals(paths.results)
    if name not in evals:
        raise BiotuneError(f"{paths.results}: no eval_{name}.json (test sets of the run: {', '.join(tests) or 'none'})"
                           f"{did_you_mean(name, tests)}")
    result = evals[name]
    key = metric or result["headline_key"]
    numbers = {k: v for k, v in flatten(result).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if key not in numbers:
        raise BiotuneError(f"metric {key!r} is not a number in {eval_file}{did_you_mean(key, numbers)}")
    return float(numbers[key]), key, name


def dataset_cell(entry: Entry) -> dict[str, Any]:
    """The finished seeds' values of one (backbone, dataset), their mean and std, and its status: a seed
    whose run was of another config is "stale", its value left out (a score is only ever reported
    beside the config that made it)."""
    values: dict[str, float] = {}
    failed: dict[str, str] = {}
    stale: dict[str, str] = {}
    missing: list[int] = []
    key = entry.metric
    test = entry.test_set
    for seed in entry.seeds:
        paths = RunPaths(entry.output_dir, entry.run_name, seed)
        if seed in entry.stale:
            stale[str(seed)] = f"run of another config (differs in {entry.stale[seed]}): retrain it with --overwrite"
        elif paths.status() == "finished":
            values[str(seed)], key, test = seed_value(paths, entry.metric, entry.test_set)
        elif seed in entry.errors:
            failed[str(seed)] = entry.errors[seed]
        else:
            missing.append(seed)
    raw = list(values.values())
    status = "failed" if failed else "stale" if stale else "missing" if missing else "complete"
    return {"family": entry.family, "metric": key, "test_set": test, "run_name": entry.run_name,
            "status": status, "values": values, "n": len(raw), "planned": len(entry.seeds),
            "mean": statistics.fmean(raw) if raw else None,
            "std": statistics.stdev(raw) if len(raw) > 1 else None,
            "errors": failed, "stale": stale, "missing_seeds": missing}


@dataclass(frozen=True)
class PublishedRow:
    """One published model's test scores (percent, as papers print them) by the suite's dataset names."""

    label: str  # the column's name, e.g. "BioBERT"
    model: str  # what was fine-tuned, e.g. "BioBERT v1.1 (base, PubMed)"
    scores: Mapping[str, float]
    blurb_score: float | None = None  # the paper's own BLURB score (over all of its families), when it gives one


@dataclass(frozen=True)
class Published:
    """Published rows and where they come from (shown under the table)."""

    source: str
    note: str
    rows: tuple[PublishedRow, ...]


def build_leaderboard(name: str, entries: Sequence[Entry], families: Sequence[str] = (),
                      published: Published | None = None) -> dict[str, Any]:
    """The leaderboard dictionary (what leaderboard.json holds); see the module docstring for the rules.

    `families` are the benchmark's families in order (those of `entries` not among them follow);
    `published` adds the published rows (see `published_rows`).
    """
    datasets = list(dict.fromkeys(e.dataset for e in entries))
    families = list(dict.fromkeys([*families, *(e.family for e in entries)]))
    board: dict[str, Any] = {"suite": name, "seeds": sorted({s for e in entries for s in e.seeds}),
                             "datasets": {d: next(e.family for e in entries if e.dataset == d) for d in datasets},
                             "families": families, "backbones": {}}
    for backbone in dict.fromkeys(e.backbone for e in entries):
        cells = {e.dataset: dataset_cell(e) for e in entries if e.backbone == backbone}
        family_rows = {}
        for family in families:
            planned = [d for d, c in cells.items() if c["family"] == family]
            done = [d for d in planned if cells[d]["status"] == "complete"]
            family_rows[family] = {"mean": statistics.fmean(cells[d]["mean"] for d in done) if done else None,
                                   "datasets": done, "planned": planned,
                                   "complete": bool(planned) and len(done) == len(planned)}  # absent: incomplete
        scored = [f for f, row in family_rows.items() if row["mean"] is not None]
        blurb = {"score": statistics.fmean(family_rows[f]["mean"] for f in scored) if scored else None,
                 "families": scored, "complete": all(row["complete"] for row in family_rows.values())}
        board["backbones"][backbone] = {"datasets": cells, "families": family_rows, "blurb": blurb}
    if published is not None:
        board["published"] = published_rows(published, board["datasets"], families)
    return board


def published_rows(published: Published, datasets: Mapping[str, str], families: Sequence[str]) -> dict[str, Any]:
    """The published rows as the board holds them: per row its scores on the suite's datasets (percent), its
    family means over the suite's datasets it has, the BLURB score recomputed over those families (None when
    a family of the suite has no published number), and the paper's own BLURB score."""
    rows = {}
    for row in published.rows:
        scores = {d: row.scores[d] for d in datasets if d in row.scores}
        family_means = {}
        for family in families:
            planned = [d for d, f in datasets.items() if f == family]
            known = [scores[d] for d in planned if d in scores]
            family_means[family] = {"mean": statistics.fmean(known) if known else None, "datasets": len(known),
                                    "planned": len(planned)}
        scored = [f for f, m in family_means.items() if m["planned"]]
        complete = all(family_means[f]["mean"] is not None for f in scored)
        rows[row.label] = {"model": row.model, "scores": scores, "families": family_means,
                           "blurb": statistics.fmean(family_means[f]["mean"] for f in scored) if scored and complete
                           else None,
                           "published_blurb": row.blurb_score}
    return {"source": published.source, "note": published.note, "rows": rows}


def _percent(mean: float, std: float | None) -> str:
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def dataset_text(cell: Mapping[str, Any]) -> str:
    """A dataset's table cell: mean ± std (percent), or its status with the finished seeds."""
    if cell["status"] == "complete":
        return _percent(cell["mean"], cell["std"])
    return f"{cell['status']} ({cell['n']}/{cell['planned']} seeds)"


def family_text(row: Mapping[str, Any]) -> str:
    if not row["planned"]:
        return "absent (no dataset in this suite)"
    if row["mean"] is None:
        return f"incomplete (0/{len(row['planned'])} datasets)"
    mean = f"{100 * row['mean']:.2f}"
    return mean if row["complete"] else f"{mean} (incomplete: {len(row['datasets'])}/{len(row['planned'])} datasets)"


def blurb_text(blurb: Mapping[str, Any]) -> str:
    if blurb["score"] is None:
        return "incomplete (no family finished)"
    score = f"{100 * blurb['score']:.2f}"
    return score if blurb["complete"] else f"{score} (incomplete)"


def _published_value(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _published_family(row: Mapping[str, Any]) -> str:
    if row["mean"] is None:
        return "–"
    mean = f"{row['mean']:.2f}"
    return mean if row["datasets"] == row["planned"] else f"{mean} ({row['datasets']}/{row['planned']} datasets)"


def render_markdown(board: Mapping[str, Any]) -> str:
    """One row per dataset (grouped by family), then the family averages and the BLURB score; one column per backbone,
    then one per published row."""
    from biotune.tables import markdown_table

    backbones = list(board["backbones"])
    published = board.get("published") or {"rows": {}}
    papers = published["rows"]
    rows = []
    for family in board["families"]:
        for dataset, dataset_family in board["datasets"].items():
            if dataset_family != family:
                continue
            cells = [board["backbones"][b]["datasets"].get(dataset) for b in backbones]
            metric = next((c["metric"] for c in cells if c and c["metric"]), "headline")
            rows.append([dataset, family, metric, *(dataset_text(c) if c else "-" for c in cells),
                         *(_published_value(paper["scores"].get(dataset)) for paper in papers.values())])
    for family in board["families"]:
        rows.append([f"**{family}** (family average)", family, "",
                     *(family_text(board["backbones"][b]["families"][family]) for b in backbones),
                     *(_published_family(paper["families"][family]) if paper["families"][family]["planned"] else "–"
                       for paper in papers.values())])
    rows.append(["**BLURB score**", "", "macro average of the families", *(
        blurb_text(board["backbones"][b]["blurb"]) for b in backbones),
        *(_published_value(paper["blurb"]) for paper in papers.values())])
    if papers:
        rows.append(["**BLURB score as published**", "", "over all of the paper's families", *["–"] * len(backbones),
                     *(_published_value(paper["published_blurb"]) for paper in papers.values())])
    headers = [*backbones, *(f"{label} (published)" for label in papers)]
    table = markdown_table(["dataset", "family", "metric", *headers], rows,
                           ["left", "left", "left", *["right"] * len(headers)])
    seeds = ", ".join(map(str, board["seeds"]))
    notes = [f"# Leaderboard: {board['suite']}", "",
             f"Test-set scores in %, mean ± sample std over seeds {seeds}. A family's average is the mean of its "
             "datasets' means; the BLURB score is the mean of the family averages (every family weighs the same).", "",
             table, "",
             "Marks: `failed (k/n seeds)` / `missing (k/n seeds)`: only k of the n planned seeds finished (the others "
             "failed, or have not run or finished yet); such a dataset is left out of its family's average, never "
             "counted as zero. `(incomplete: k/m datasets)`: the family average covers only the k complete datasets "
             "of its m. `absent`: a family of the benchmark with no dataset in this suite. `(incomplete)` on the "
             "BLURB score: it averages the families that have a value, and at least one family is incomplete, has "
             "none or is absent."]
    if papers:
        notes += ["", f"Published columns: {published['note']} Source: {published['source']} Models: " + "; ".join(
            f"{label}: {paper['model']}" for label, paper in papers.items()) + ". Their family averages and "
            "BLURB score are recomputed over this suite's datasets (so they compare with the columns before "
            "them); `–`: not published."]
    errors = [(b, d, seed, error) for b, row in board["backbones"].items() for d, cell in row["datasets"].items()
              for seed, error in cell["errors"].items()]
    if errors:
        notes += ["", "Failed runs:", "", *(f"- {b} / {d} / seed {seed}: {error}" for b, d, seed, error in errors)]
    return "\n".join(notes) + "\n"


def plot_leaderboard(board: Mapping[str, Any], path: Path) -> Path:
    """One bar group per dataset, one colour per backbone, error bars = sample std; an incomplete dataset has no bar
    and an `x` at zero. PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(board["datasets"])
    backbones = list(board["backbones"])
    width = 0.8 / max(1, len(backbones))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(datasets) * max(1, len(backbones)) ** 0.5 + 2), 4.5), dpi=120)
    for k, backbone in enumerate(backbones):
        cells = board["backbones"][backbone]["datasets"]
        x = [i + (k - (len(backbones) - 1) / 2) * width for i in range(len(datasets))]
        done = [(xi, cells[d]) for xi, d in zip(x, datasets) if d in cells and cells[d]["status"] == "complete"]
        bars = ax.bar([xi for xi, _ in done], [100 * c["mean"] for _, c in done], width,
                      yerr=[100 * (c["std"] or 0.0) for _, c in done], capsize=3, label=backbone)
        undone = [xi for xi, d in zip(x, datasets) if d in cells and cells[d]["status"] != "complete"]
        if undone:
            ax.plot(undone, [0] * len(undone), "x", color=bars.patches[0].get_facecolor() if bars.patches else "k",
                    markersize=8)
    ax.set_xticks(range(len(datasets)), datasets, rotation=30, ha="right")
    ax.set_ylabel("test score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{board['suite']}: mean ± std over seeds {', '.join(map(str, board['seeds']))} (x: failed or missing)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_figure(path, fig)
    return path


def write_leaderboard(board: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """leaderboard.md, .json and .png in `out_dir` (each written atomically); their paths by suffix."""
    files = {suffix: out_dir / f"{STEM}.{suffix}" for suffix in ("md", "json", "png")}
    write_json(files["json"], board)
    write_text(files["md"], render_markdown(board))
    plot_leaderboard(board, files["png"])
    return files
