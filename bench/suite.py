"""BLURB-style suite benchmark: `configs/suites/blurb_small.yaml` (every dataset in ../shared/data, default
backbone, 3 seeds) through `biotune.experiments.suite.run_suite`, its leaderboard and wall time into BENCHMARKS.md.

The full suite (10 datasets x 3 seeds at the configs' 3-5 epochs) takes many hours on this 2-core
CPU machine, so the run is cut to fit, and the section says exactly how: `--epochs` for every run,
`--limit N` = `data.limit` (the first N sentences, pairs or questions of EVERY split, test
included), `--limit-for DATASET=N` for a dataset that needs a smaller one (QA contexts are long),
`--datasets` for a subset. Scores on such subsets are not comparable with full-split results;
they show the suite, its arithmetic and its cost, not the backbone's quality.

The runs are ordinary run folders under `--output-dir` (default bench/runs/suite, git-ignored);
a rerun skips finished runs (the section then says how many were reused, and the wall time
covers only this invocation). Raw leaderboard: bench/runs/suite.json.

usage: python bench/suite.py [--suite configs/suites/blurb_small.yaml] [--datasets D ...] [--epochs 1]
           [--limit 300] [--limit-for bioasq_yesno=40 ...] [--output-dir bench/runs/suite]
Run it under `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import yaml

from biotune.experiments.leaderboard import render_markdown
from biotune.experiments.suite import SuiteConfig, load_suite, plan_suite, restrict, run_suite
from biotune.io import write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_core import write_section  # noqa: E402  (sibling scripts, not a package)
from relation_extraction import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def cut(suite: SuiteConfig, epochs: float | None, limit: int | None, limits: dict[str, int]) -> SuiteConfig:
    """The suite with every run's epochs and data.limit set (suite overrides), and per-dataset limits over them."""
    overrides = {**suite.overrides, **({"training.epochs": epochs} if epochs else {}),
                 **({"data.limit": limit} if limit else {})}
    datasets = {name: spec.model_copy(update={"overrides": {**spec.overrides, "data.limit": limits[name]}})
                if name in limits else spec for name, spec in suite.datasets.items()}
    return suite.model_copy(update={"overrides": overrides, "datasets": datasets})


def run_table(suite: SuiteConfig) -> str:
    """Per dataset: task, epochs, data.limit, training examples and mean training seconds per run (from the runs)."""
    from biotune.tables import markdown_table

    rows = []
    runs = plan_suite(suite)
    for dataset in suite.datasets:
        mine = [r for r in runs if r.dataset == dataset and r.paths.summary.is_file()]
        if not mine:
            rows.append([dataset, "-", "-", "-", "-", "-"])
            continue
        summaries = [json.loads(r.paths.summary.read_text()) for r in mine]
        config = mine[0].config
        rows.append([dataset, config.task, f"{config.training.epochs:g}", str(config.data.limit or "all"),
                     f"{summaries[0]['train_examples']:,}",
                     f"{statistics.fmean(s['train_seconds'] for s in summaries):.0f}"])
    return markdown_table(["dataset", "task", "epochs", "data.limit", "train examples", "train s / run"], rows,
                          ["left", "left", "right", "right", "right", "right"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default=str(ROOT / "configs" / "suites" / "blurb_small.yaml"))
    ap.add_argument("--datasets", nargs="+", default=[], help="a subset of the suite's datasets")
    ap.add_argument("--epochs", type=float, default=1.0, help="training.epochs of every run")
    ap.add_argument("--limit", type=int, default=300, help="data.limit of every run (every split)")
    ap.add_argument("--limit-for", action="append", default=[], metavar="DATASET=N", help="a dataset's own data.limit")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="override the suite's seeds")
    ap.add_argument("--output-dir", default=str(ROOT / "bench" / "runs" / "suite"))
    ap.add_argument("--section", default="suite", help="BENCHMARKS.md section key")
    args = ap.parse_args()
    limits = {name: int(n) for name, _, n in (item.partition("=") for item in args.limit_for)}
    suite = load_suite(args.suite, {"output_dir": args.output_dir, "seeds": args.seeds,
                                    "data_dir": str(ROOT.parent / "shared" / "data")})
    suite = cut(restrict(suite, args.datasets), args.epochs, args.limit, limits)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    outcome = run_suite(suite, origin=args.suite)
    wall = time.perf_counter() - start
    board = outcome.leaderboard
    write_json(ROOT / "bench" / "runs" / "suite.json", {"leaderboard": board, "wall_seconds": wall,
                                                        "trained": outcome.trained, "skipped": outcome.skipped,
                                                        "failed": outcome.failed})
    table = render_markdown(board).split("\n", 2)[2]  # without its title: the section has one
    command = "python bench/suite.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    notes = [
        f"- Command: `flock /tmp/bench.lock {command.strip()}`; suite `{Path(args.suite).name}` "
        f"({len(suite.datasets)} datasets x {len(suite.backbones)} backbone(s) x seeds {suite.seeds}); "
        f"every run: {yaml.safe_dump(suite.overrides, default_flow_style=True).strip()}"
        + (f"; own data.limit: {', '.join(f'{k} {v}' for k, v in limits.items())}" if limits else "") + ".",
        f"- Wall time: {wall / 60:.1f} min for {len(outcome.trained)} runs trained now"
        + (f" ({len(outcome.skipped)} finished runs reused from an earlier invocation)" if outcome.skipped else "")
        + (f"; {len(outcome.failed)} failed: {outcome.failed}" if outcome.failed else "; none failed")
        + f". Run {datetime.date.today()}, load average {load:.1f} at start, {machine()}, shared with other work.",
        "- `data.limit` N reads the first N sentences (NER), pairs (RE) or questions / pairs (QA) of every split, test "
        "included, and fewer epochs than the configs' 3-5 are run: these scores show the suite and its cost on 2 CPU "
        "cores, not what the backbone reaches on the full splits (see the NER, RE and QA sections for those).",
        "- Read the scores with the cut in mind: one epoch over a few hundred examples at the configs' batch size is "
        "a handful of optimizer steps, after which NER and multi-class RE models still predict almost only O or the "
        "negative class; and `data.limit` takes the FIRST N items of each file, not a random sample, so a cut test "
        "set can hold mostly one class (a binary or yes/no score near a class's share says so).",
        "- Families as BLURB groups them: NER (BC5CDR, NCBI-disease, BC2GM), RE (ChemProt, DDI, GAD), QA (BioASQ "
        "factoid, list and yes/no, PubMedQA; BLURB's own QA family has only PubMedQA and BioASQ yes/no).",
    ]
    body = ("`biotune benchmark` on the shipped BLURB-style suite (`bench/suite.py`): every dataset of "
            "../shared/data on the default backbone (bundled MiniLM-L6), 3 seeds.\n\n" + table.strip() + "\n\n"
            + run_table(suite) + "\n\n" + "\n".join(notes) + "\n")
    print(body)
    if not args.datasets and not args.seeds:  # a partial run prints its table but leaves the measured section alone
        write_section(ROOT / "BENCHMARKS.md", args.section, "BLURB-style suite (`bench/suite.py`)", body)


if __name__ == "__main__":
    main()
