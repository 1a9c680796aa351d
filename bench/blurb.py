"""BLURB at full size: `biotune benchmark configs/suites/blurb.yaml` beside the plain Hugging Face recipes.

biotune's side is the suite itself, run through the CLI one dataset at a time
(`biotune benchmark configs/suites/blurb.yaml --only DATASET`), so a user's own
`biotune benchmark` resumes the same run folders (the suite's `output_dir`) and a suite that
outlasts a session resumes in the next: finished runs are skipped, unfinished ones resume from
their last checkpoint. Each invocation that trained something records its wall time and peak
resident memory (`os.wait4`, the child's peak RSS) in `bench/results/blurb/biotune_<dataset>.json`.
The run folders go under `bench/results/blurb/suite/` (`--output-dir`), which git tracks except for the
checkpoints, logs and prepared data (`bench/results/.gitignore`): a finished run's summary and evaluation
files are committed, so the table survives a machine that loses everything git ignores, and a
suite continued in a later session on a fresh checkout skips what was already trained.

The recipe's side is the plain `transformers.Trainer` script of each task, one seed (42), on the
same full split files (the registry's, as the suite's config resolves them) at the same epochs
(the dataset's `training.epochs`), every other setting the recipe's own (BERT-base's 5e-5,
batch 32, no model selection): NER `../shared/bench/hf_baseline.py` (BLURB's files with their
`-DOCSTART-` lines dropped, which it cannot read, and `dev.tsv` as the `devel.tsv` it expects),
relations `bench/hf_re_recipe.py`, yes/no `bench/hf_decision_recipe.py`, similarity
`bench/hf_similarity_recipe.py`, multi-label `bench/hf_multilabel_recipe.py`. Each result is kept
in `bench/results/blurb/recipe_<dataset>.json` with the command that made it, and reused while the
command is the same (rerun when, say, the config's epochs change).
A run of biotune whose shipped config changed since (say, its learning rate) is not reported (the table says
so and names the keys) until `--overwrite` retrains it.

The section (`<!-- blurb -->` in BENCHMARKS.md, in place of the old BLURB-style `suite` section)
is one table built from what exists, so it can be rebuilt at any time (`--report-only`): per
dataset biotune's mean ± std over its finished seeds, the recipe, the difference, training
examples/s and subwords/s, wall time and peak RSS of both sides; then the family means and the
BLURB score (the leaderboard's arithmetic: `biotune.experiments.leaderboard`), marked incomplete
since PICO is absent, beside the published rows; then how many runs have finished. A dataset
not run yet says so. A side that judges nothing (predictions collapsed to one class, a score at
or below what one answer for everything earns, or near zero) is flagged and gets no difference.

usage: python bench/blurb.py [--datasets D ...] [--seeds 42 ...] [--only-biotune | --only-recipe | --report-only]
           [--override KEY=VALUE ...] [--overwrite] [--output-dir DIR] [--runs-dir DIR] [--markdown FILE]
Run it under `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biotune.config import ExperimentConfig, flatten
from biotune.corpora.registry import CorpusPaths, resolve_corpus
from biotune.experiments.aggregate import read_evals
from biotune.experiments.leaderboard import (Published, PublishedRow, blurb_text, build_leaderboard, family_text,
                                             published_rows, write_leaderboard)
from biotune.experiments.seeds import parse_value
from biotune.experiments.suite import PlannedRun, SuiteConfig, entries, load_suite, plan_suite, stale_keys
from biotune.models.backbones import resolve_backbone
from biotune.tables import markdown_table
from biotune.tasks.qa.metrics import score_decisions
from biotune.tasks.re.metrics import score_relations

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_core import write_section  # noqa: E402  (sibling scripts, not a package)
from relation_extraction import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "configs" / "suites" / "blurb.yaml"
SECTION, OLD_SECTION = "blurb", "suite"
TITLE = "BLURB at full size beside the plain Hugging Face recipes (`bench/blurb.py`)"
RECIPE_SEED = 42  # every recipe seeds itself with 42 (run_glue's habit)
# A headline under this (5 points of F1 or correlation) is a model that found next to nothing: no comparison
NEAR_ZERO = 0.05
GIB_PER_KIB = 1 / 2**20
RESULTS = ROOT / "bench" / "results" / "blurb"  # tracked: records, recipe results, finished runs' summaries
CEILING = ROOT / "bench" / "results" / "ceiling.json"  # bench/ceiling.py's record


# ---- running ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    """A finished child process: exit status, wall seconds, its peak resident memory (KiB, `ru_maxrss`)."""

    returncode: int
    wall_s: float
    peak_rss_kib: int


def measured(command: Sequence[str], log: Path) -> Measured:
    """Run `command` with its output in `log`; `os.wait4` gives the child's own peak RSS."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return Measured(process.returncode, time.perf_counter() - start, usage.ru_maxrss)


def finished(runs: Sequence[PlannedRun]) -> set[str]:
    """The runs finished with the config planned now (a run of another config is not counted)."""
    return {run.key for run in runs if run.paths.status() == "finished" and not stale_keys(run)}


def run_biotune(dataset: str, runs: Sequence[PlannedRun], args: argparse.Namespace, runs_dir: Path) -> None:
    """`biotune benchmark SUITE --only DATASET` (its seeds, overrides, output dir); an invocation that
    trained something appends its wall time and peak RSS to `biotune_<dataset>.json`."""
    before = finished(runs)
    command = [str(Path(sys.executable).with_name("biotune")), "benchmark", str(SUITE), "--only", dataset,
               *(["--seeds", *map(str, args.seeds)] if args.seeds else []),
               *(["--output-dir", args.output_dir] if args.output_dir else []),
               *(["--overwrite"] if args.overwrite else []),
               *(f"--override={item}" for item in args.override)]
    print(f"biotune {dataset}: {shlex.join(command)} (log: {runs_dir / f'biotune_{dataset}.log'})", flush=True)
    done = measured(command, runs_dir / f"biotune_{dataset}.log")
    trained = sorted(finished(runs) - before)
    if trained:
        path = runs_dir / f"biotune_{dataset}.json"
        records = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        records.append({"date": str(datetime.date.today()), "runs": trained, "wall_s": done.wall_s,
                        "peak_rss_kib": done.peak_rss_kib, "returncode": done.returncode, "machine": machine()})
        path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    print(f"biotune {dataset}: {len(trained)} runs trained in {done.wall_s / 60:.1f} min, exit {done.returncode}",
          flush=True)


@dataclass(frozen=True)
class Recipe:
    """A task's plain recipe: its script, the arguments before its output file, where its score and
    training rate are in its JSON, and the files its NER input needs prepared (None: as they are)."""

    script: Path
    # (split files, prepared-input folder, config) -> (positional inputs before the output file, options)
    inputs: Callable[[CorpusPaths, Path, ExperimentConfig], tuple[list[str], list[str]]]
    score: str  # dotted key of the headline (a fraction)
    rate: str  # training examples (sentences, pairs, questions) per second


def _ner_folder(paths: CorpusPaths, folder: Path, config: ExperimentConfig) -> tuple[list[str], list[str]]:
    """hf_baseline.py reads `train/devel/test.tsv` of `token<TAB>tag` lines: BLURB's files without the
    `-DOCSTART-` lines (no tab: it cannot read them), dev as `devel.tsv`."""
    folder.mkdir(parents=True, exist_ok=True)
    assert paths.dev is not None, "every BLURB NER dataset has a dev file"
    for source, name in ((paths.train, "train.tsv"), (paths.dev, "devel.tsv"), (paths.test, "test.tsv")):
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / name).write_text("".join(line for line in lines if not line.startswith("-DOCSTART-")),
                                   encoding="utf-8")
    return [str(folder), resolve_backbone(config.model.backbone)], []


def _files(paths: CorpusPaths, folder: Path, config: ExperimentConfig) -> tuple[list[str], list[str]]:
    return [str(paths.train), str(paths.test)], ["--model", resolve_backbone(config.model.backbone)]


def _relation_folder(paths: CorpusPaths, folder: Path, config: ExperimentConfig) -> tuple[list[str], list[str]]:
    negative = config.model_dump(mode="json")[config.task]["negative_label"]
    return [str(paths.folder)], ["--model", resolve_backbone(config.model.backbone), "--negative", str(negative)]


RECIPES: dict[str, Recipe] = {
    "ner": Recipe(ROOT.parent / "shared" / "bench" / "hf_baseline.py", _ner_folder, "f1", "train_sents_per_s"),
    "re": Recipe(ROOT / "bench" / "hf_re_recipe.py", _relation_folder, "f1", "train_sents_per_s"),
    "yesno": Recipe(ROOT / "bench" / "hf_decision_recipe.py", _files, "accuracy", "train_examples_per_s"),
    "similarity": Recipe(ROOT / "bench" / "hf_similarity_recipe.py", _files, "pearson", "train_examples_per_s"),
    "multilabel": Recipe(ROOT / "bench" / "hf_multilabel_recipe.py", _files, "abstract_micro.f1",
                         "train_examples_per_s"),
}


def recipe_command(dataset: str, config: ExperimentConfig, out: Path, runs_dir: Path) -> list[str]:
    """The recipe's command for the dataset, writing its JSON to `out`."""
    recipe = RECIPES[config.task]
    positional, options = recipe.inputs(resolve_corpus(config.data.corpus, config.data.data_dir),
                                        runs_dir / "data" / dataset, config)
    return [sys.executable, str(recipe.script), *positional, str(out), *options,
            "--epochs", f"{config.training.epochs:g}"]


def run_recipe(dataset: str, config: ExperimentConfig, runs_dir: Path) -> None:
    """The recipe once: a kept result of the same command is reused."""
    path, out = runs_dir / f"recipe_{dataset}.json", runs_dir / f"recipe_{dataset}.out.json"
    command = recipe_command(dataset, config, out, runs_dir)
    if path.is_file() and json.loads(path.read_text(encoding="utf-8"))["command"] == command:
        print(f"recipe {dataset}: kept result reused ({path})", flush=True)
        return
    print(f"recipe {dataset}: {shlex.join(command)} (log: {runs_dir / f'recipe_{dataset}.log'})", flush=True)
    done = measured(command, runs_dir / f"recipe_{dataset}.log")
    if done.returncode:
        print(f"recipe {dataset}: failed (exit {done.returncode}); see its log", flush=True)
        return
    result = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    path.write_text(json.dumps({"command": command, "date": str(datetime.date.today()), "wall_s": done.wall_s,
                                "peak_rss_kib": done.peak_rss_kib, "machine": machine(), "result": result},
                               indent=1), encoding="utf-8")
    print(f"recipe {dataset}: {done.wall_s / 60:.1f} min", flush=True)


# ---- judging ----------------------------------------------------------------------------------

def constant_floor(per_class: Mapping[str, Mapping[str, Any]], negative: str | None, accuracy: bool) -> float:
    """The best test score of a model that answers one class for every example (the majority-class rate
    for accuracy; for relation F1 the best one relation class everywhere), by biotune's own metrics over
    the gold that the per-class supports spell out."""
    labels = list(per_class)
    gold = [label for label, scores in per_class.items() for _ in range(int(scores["support"]))]
    if accuracy:
        return max(score_decisions(gold, [label] * len(gold), labels).accuracy for label in labels)
    return max(score_relations(gold, [label] * len(gold), labels, negative).headline for label in labels)


def floor_of(evaluation: Mapping[str, Any] | None) -> float | None:
    """The constant-answer floor of a test set from biotune's eval of it (yes/no and relations; None: no floor)."""
    if not evaluation or "per_class" not in evaluation:
        return None
    return constant_floor(evaluation["per_class"], evaluation.get("negative"), evaluation.get("kind") == "decisions")


def judges_nothing(score: float, floor: float | None, collapse: str | None) -> str | None:
    """Why a side's score says nothing about what it learned, or None."""
    if collapse:
        return f"predictions collapsed: {collapse}"
    if floor is not None and score <= floor:
        return f"at or below what one answer for everything scores ({100 * floor:.2f})"
    if score < NEAR_ZERO:
        return f"near zero (under {100 * NEAR_ZERO:g})"
    return None


# ---- reading what exists ----------------------------------------------------------------------

def biotune_side(runs: Sequence[PlannedRun], cell: Mapping[str, Any], runs_dir: Path, dataset: str) -> dict[str, Any]:
    """Speeds, wall time, collapses and peak RSS of a dataset's finished seeds."""
    done = [run for run in runs if run.key in finished(runs)]
    summaries = [json.loads(run.paths.summary.read_text(encoding="utf-8")) for run in done]
    test = cell["test_set"]
    evaluation = read_evals(done[0].paths.results).get(test) if done else None
    collapses = [f"seed {s['seed']}: {s['collapsed'][test]}" for s in summaries if test in (s.get("collapsed") or {})]
    records_file = runs_dir / f"biotune_{dataset}.json"
    records = json.loads(records_file.read_text(encoding="utf-8")) if records_file.is_file() else []

    def mean(key: str) -> float | None:
        values = [s[key] for s in summaries if s.get(key) is not None]
        return statistics.fmean(values) if values else None

    latest = {key: record for record in records for key in record["runs"]}  # a retrained run's newest record
    return {"examples_per_s": mean("train_examples_per_second"), "subwords_per_s": mean("train_subwords_per_second"),
            "wall_s": mean("train_seconds"), "collapse": "; ".join(collapses) or None, "floor": floor_of(evaluation),
            "peak_rss_kib": max((latest[run.key]["peak_rss_kib"] for run in done if run.key in latest), default=None)}


def recipe_side(dataset: str, task: str, runs_dir: Path) -> dict[str, Any] | None:
    """The kept recipe result of a dataset, its score and rates under common names, or None."""
    path = runs_dir / f"recipe_{dataset}.json"
    if not path.is_file():
        return None
    kept = json.loads(path.read_text(encoding="utf-8"))
    result, recipe = kept["result"], RECIPES[task]
    collapse, floor = result.get("collapse"), None
    if task == "yesno":  # its predictions carry their gold: the same checks as biotune's result makes
        gold, predicted = [p["gold"] for p in result["predictions"]], [p["predicted"] for p in result["predictions"]]
        labels = sorted({*gold, *predicted})
        collapse = score_decisions(gold, predicted, labels).collapse
        floor = max(gold.count(label) for label in labels) / len(gold)
    return {"score": float(flatten(result)[recipe.score]), "examples_per_s": result[recipe.rate],
            "subwords_per_s": result.get("train_subwords_per_s"), "wall_s": kept["wall_s"],
            "peak_rss_kib": kept["peak_rss_kib"], "collapse": collapse, "floor": floor,
            "settings": f"lr {result['lr']:g}" + (f", batch {result['batch_size']}" if "batch_size" in result else "")}


# ---- the table --------------------------------------------------------------------------------

def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _pair(biotune: float | None, recipe: float | None, digits: int = 1) -> str:
    return f"{_number(biotune, digits)} / {_number(recipe, digits)}"


def _gib(kib: int | None) -> float | None:
    return None if kib is None else kib * GIB_PER_KIB


def biotune_text(cell: Mapping[str, Any]) -> str:
    if not cell["n"]:
        return ("failed (see below)" if cell["errors"] else "config changed since its run: to rerun (see below)"
                if cell["stale"] else "not run yet")
    value = f"{100 * cell['mean']:.2f}" + (f" ± {100 * cell['std']:.2f}" if cell["std"] is not None else "")
    return value if cell["status"] == "complete" else f"{value} ({cell['n']}/{cell['planned']} seeds)"


def read_ceiling() -> dict[str, Any] | None:
    """`bench/ceiling.py`'s last measurement (bench/results/ceiling.json), if there is one."""
    return json.loads(CEILING.read_text()) if CEILING.is_file() else None


def ceiling_share(subwords_per_s: float | None, length: int, ceiling: Mapping[str, Any] | None) -> str:
    """A run's training subwords/s over the ceiling (forward + backward + optimizer step on full batches) at its
    window length: what padding, evaluation and data handling leave of the machine."""
    measured = ceiling and ceiling["lengths"].get(str(length))
    if not subwords_per_s or not measured:
        return "–"
    return f"{100 * subwords_per_s / measured['with_optimizer_step']:.0f}%"


def section(suite: SuiteConfig, runs: Sequence[PlannedRun], runs_dir: Path, args: argparse.Namespace) -> str:
    """The section's Markdown (see the module docstring): one table, then its notes."""
    board = build_leaderboard(suite.name, entries(suite, runs, {}), suite.families,
                              suite.published.as_published() if suite.published else None)
    backbone = next(iter(board["backbones"]))
    biotune = board["backbones"][backbone]
    papers = board.get("published", {}).get("rows", {})
    rows, flags, recipe_scores, settings = [], [], {}, {}
    ceiling = read_ceiling()
    for family in board["families"]:
        for dataset in (d for d, f in board["datasets"].items() if f == family):
            cell = biotune["datasets"][dataset]
            mine = [run for run in runs if run.dataset == dataset]
            config = mine[0].config
            ours = biotune_side(mine, cell, runs_dir, dataset)
            theirs = recipe_side(dataset, config.task, runs_dir)
            ours_flag = judges_nothing(cell["mean"], ours["floor"], ours["collapse"]) if cell["n"] else None
            theirs_flag = None
            if theirs:
                recipe_scores[dataset] = 100 * theirs["score"]
                settings[dataset] = theirs["settings"]
                theirs_flag = judges_nothing(theirs["score"], theirs["floor"] if theirs["floor"] is not None
                                             else ours["floor"], theirs["collapse"])
            flags += [f"- {dataset}, {side}: judges nothing: {why}."
                      for side, why in (("biotune", ours_flag), ("HF recipe", theirs_flag)) if why]
            difference = (f"{100 * (cell['mean'] - theirs['score']):+.2f}" if cell["n"] and theirs
                          and not ours_flag and not theirs_flag else "–")
            rows.append([
                dataset, family, cell["metric"] or "headline", f"{config.training.epochs:g}",
                biotune_text(cell) + (" †" if ours_flag else ""),
                ("not run yet" if theirs is None else f"{recipe_scores[dataset]:.2f}") + (" †" if theirs_flag else ""),
                difference,
                _pair(ours["examples_per_s"], theirs and theirs["examples_per_s"]),
                _pair(ours["subwords_per_s"], theirs and theirs["subwords_per_s"], 0),
                ceiling_share(ours["subwords_per_s"], config.model.max_length, ceiling),
                _pair(ours["wall_s"] and ours["wall_s"] / 60, theirs and theirs["wall_s"] / 60),
                _pair(_gib(ours["peak_rss_kib"]), theirs and _gib(theirs["peak_rss_kib"]), 2),
                *(_number(paper["scores"].get(dataset), 2) for paper in papers.values()),
            ])
    recipe = published_rows(Published("", "", (PublishedRow("recipe", "", recipe_scores),)), board["datasets"],
                            board["families"])["rows"]["recipe"]  # the leaderboard's arithmetic over a row of scores
    blank = [""] * 6  # the difference, rate, ceiling share, wall and memory columns
    for family in board["families"]:
        mean = recipe["families"][family]
        planned = mean["planned"]
        text = ("absent" if not planned else "not run yet" if mean["mean"] is None else f"{mean['mean']:.2f}"
                + ("" if mean["datasets"] == planned else f" (incomplete: {mean['datasets']}/{planned} datasets)"))
        rows.append([f"**{family}** (family mean)", family, "", "", family_text(biotune["families"][family]), text,
                     *blank, *(_number(paper["families"][family]["mean"], 2) for paper in papers.values())])
    absent = [f for f in board["families"] if not recipe["families"][f]["planned"]]
    partial = any(recipe["families"][f]["planned"] != recipe["families"][f]["datasets"] for f in board["families"])
    recipe_blurb = "–" if recipe["blurb"] is None else f"{recipe['blurb']:.2f}" + (
        " (incomplete)" if absent or partial else "")
    rows.append(["**BLURB score**", "", "mean of the family means", "", blurb_text(biotune["blurb"]), recipe_blurb,
                 *blank, *(_number(paper["blurb"], 2) for paper in papers.values())])
    rows.append(["**BLURB score as published**", "", "over all of the paper's families", "", "–", "–", *blank,
                 *(_number(paper["published_blurb"], 2) for paper in papers.values())])
    finished_runs = sum(cell["n"] for cell in biotune["datasets"].values())
    planned_runs = sum(cell["planned"] for cell in biotune["datasets"].values())
    rows.append(["**seeds run**", "", "finished runs", "",
                 f"{finished_runs} of {planned_runs} (seeds {', '.join(map(str, suite.seeds))})",
                 f"{len(recipe_scores)} of {len(board['datasets'])} datasets (seed {RECIPE_SEED})", *blank,
                 *[""] * len(papers)])
    table = markdown_table(
        ["dataset", "family", "metric", "epochs", f"biotune {backbone} (mean ± std)", f"HF recipe (seed {RECIPE_SEED})",
         "Δ (points)", "train examples/s (biotune / recipe)", "train subwords/s (biotune / recipe)",
         "biotune's share of the CPU ceiling", "wall, min (biotune per seed / recipe)", "peak RSS, GiB (biotune / recipe)",
         *(f"{label} (published)" for label in papers)],
        rows, ["left", "left", "left", *["right"] * (9 + len(papers))])
    return table + "\n\n" + "\n".join(notes(suite, board, runs, runs_dir, args, settings, flags, ceiling)) + "\n"


def notes(suite: SuiteConfig, board: Mapping[str, Any], runs: Sequence[PlannedRun], runs_dir: Path,
          args: argparse.Namespace, settings: Mapping[str, str], flags: Sequence[str],
          ceiling: Mapping[str, Any] | None) -> list[str]:
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(runs_dir.glob("biotune_*.json"))]
    spent = sum(r["wall_s"] for rs in records for r in rs)
    trained = sum(len(r["runs"]) for rs in records for r in rs)
    command = "python bench/blurb.py " + shlex.join(sys.argv[1:])
    configs = sorted({f"{run.dataset} {run.config.training.learning_rate:g} / {run.config.training.batch_size}"
                      for run in runs if run.seed == suite.seeds[0]})
    published = board.get("published")
    lines = [
        f"- Command: `flock /tmp/bench.lock {command.strip()}`; biotune: `biotune benchmark "
        f"{SUITE.relative_to(ROOT)} --only DATASET` per dataset (suite `{suite.name}`, backbone "
        f"{', '.join(b.label for b in suite.backbones)}, seeds {suite.seeds}, full splits, the shipped configs"
        + (f", overrides {dict(item.partition('=')[::2] for item in args.override)}" if args.override else "")
        + f"); written {datetime.date.today()}, {machine()}, shared with other work.",
        "- biotune's learning rate / batch per dataset (its shipped configs): " + ", ".join(configs) + ". The HF "
        "recipes run at their own settings (" + (", ".join(f"{d} {s}" for d, s in settings.items()) or "none run yet")
        + "), the same epochs and split files, fp32, no model selection; biotune keeps its best dev epoch.",
        "- Training examples/s and subwords/s: training examples (sentences, pairs, questions) or their subwords "
        "(padding excluded; the recipes that do not count subwords show –) x epochs / training seconds; biotune's "
        "exclude its per-epoch dev evaluation, the recipes' are `trainer.train()` wall time. Wall: biotune's "
        "`train_seconds` per seed (training with dev evaluation, test evaluation excluded), the recipe's whole "
        "process; peak RSS: the peak resident memory of the process (biotune: the `biotune benchmark --only` "
        "invocation over its seeds; `–`: not recorded, e.g. runs trained before this script recorded them).",
        f"- biotune benchmark invocations so far: {trained} runs trained in {spent / 3600:.2f} h.",
        "- Share of the CPU ceiling: biotune's training subwords/s over `bench/ceiling.py`'s bf16 forward + backward "
        "+ fused AdamW step on full batches of the same window length (" + (", ".join(
            f"{length} subwords: {m['with_optimizer_step']:,.0f}/s" for length, m in ceiling["lengths"].items())
            + f"; measured {ceiling['date']}, load average {ceiling['load_average']} at start" if ceiling else
            "not measured yet: run `python bench/ceiling.py`") + "). A share above 100% means the ceiling was "
        "measured on a busier machine than the run.",
        "- Δ: biotune's mean minus the recipe, in points; `–` where either side has no score or judges nothing. "
        "Family means and the BLURB score: the mean of the datasets' means, then of the families (BLURB's rule, "
        "`biotune.experiments.leaderboard`), over complete datasets only; incomplete because EBM PICO (BLURB's "
        "PICO family) has no training file offline, and while any dataset is still to run.",
    ]
    if flags:
        lines += ["- † judges nothing (such a score compares nothing; the run needs scaling or another setting):",
                  *(f"  {flag}" for flag in flags)]
    errors = [f"  - {dataset} / seed {seed}: {error}" for dataset, cell in
              board["backbones"][next(iter(board["backbones"]))]["datasets"].items()
              for seed, error in cell["errors"].items()]
    if errors:
        lines += ["- Failed runs:", *errors]
    stale = [f"  - {dataset} / seed {seed}: {why}" for dataset, cell in
             board["backbones"][next(iter(board["backbones"]))]["datasets"].items()
             for seed, why in cell["stale"].items()]
    if stale:
        lines += ["- Not reported (the shipped config changed since these runs; `--overwrite` retrains them):", *stale]
    if published:
        lines.append(f"- Published columns: {published['note']} Source: {published['source']}")
    return lines


# ---- main ---------------------------------------------------------------------------------------

def replace_old_section(path: Path) -> None:
    """Put an empty `blurb` section where the old BLURB-style `suite` section is, the first time."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- {OLD_SECTION}:start -->", f"<!-- {OLD_SECTION}:end -->"
    if f"<!-- {SECTION}:start -->" in text or start not in text:
        return
    empty = f"<!-- {SECTION}:start -->\n<!-- {SECTION}:end -->"
    path.write_text(text[: text.index(start)] + empty + text[text.index(end) + len(end):], encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=[], help="run only these datasets (the table shows all)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="override the suite's seeds")
    side = ap.add_mutually_exclusive_group()
    side.add_argument("--only-biotune", action="store_true", help="run biotune's side only")
    side.add_argument("--only-recipe", action="store_true", help="run the recipes only")
    side.add_argument("--report-only", action="store_true", help="run nothing: rebuild the table from what exists")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="a config key for every biotune run (`biotune benchmark --override`); training.epochs "
                         "reaches the recipes too")
    ap.add_argument("--output-dir", default=str(RESULTS / "suite"),
                    help="the suite's output_dir (default: bench/results/blurb/suite, tracked by git)")
    ap.add_argument("--overwrite", action="store_true",
                    help="retrain a run whose config changed since (`biotune benchmark --overwrite`)")
    ap.add_argument("--runs-dir", type=Path, default=RESULTS,
                    help="kept recipe results, logs, invocation records")
    ap.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md", help="where the section goes")
    args = ap.parse_args()
    suite = load_suite(SUITE, {"seeds": args.seeds, "output_dir": args.output_dir})
    unknown = sorted(set(args.datasets) - set(suite.datasets))
    if unknown:
        ap.error(f"--datasets: {', '.join(unknown)} not in the suite ({', '.join(suite.datasets)})")
    overrides = {key: parse_value(value) for key, _, value in (item.partition("=") for item in args.override)}
    runs = plan_suite(suite, str(SUITE), overrides)
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for dataset in args.datasets or list(suite.datasets):
            mine = [run for run in runs if run.dataset == dataset]
            if not args.only_recipe:
                run_biotune(dataset, mine, args, args.runs_dir)
            if not args.only_biotune:
                run_recipe(dataset, mine[0].config, args.runs_dir)
        if not args.only_recipe:  # each `--only` invocation left a one-dataset leaderboard: the whole suite's instead
            board = build_leaderboard(suite.name, entries(suite, runs, {}), suite.families,
                                      suite.published.as_published() if suite.published else None)
            write_leaderboard(board, Path(os.path.abspath(suite.output_dir)) / "results" / suite.name)
    body = section(suite, runs, args.runs_dir, args)
    print(body)
    replace_old_section(args.markdown)
    write_section(args.markdown, SECTION, TITLE, body)


if __name__ == "__main__":
    main()
