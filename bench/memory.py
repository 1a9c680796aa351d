"""Peak resident memory of a short training run per dataset of a suite (default: BLURB), measured by
`/usr/bin/time -v`: each dataset's shipped config, `training.max_steps` optimizer steps (the batches of
the longest windows come whenever the epoch order puts them; with `--steps` at least the batch count of
the longest length group they are sure to be met), then the full dev evaluation and every full test set,
exactly as `biotune train` runs them.

Why a run and not a model-only probe: a user's peak is the process's, features, predictions and the
evaluation's batches included (ChemProt's 11,268-pair dev split and 15,745-pair test set are evaluated
whole). Target: at most 4 GiB for the bundled MiniLM on every dataset. Run from the repository root,
where the suite's `data_dir` is relative to.

    python bench/memory.py [--suite configs/suites/blurb.yaml] [--steps 20] [--only chemprot pubmedqa] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from biotune.config import apply_overrides, load_yaml

sys.path.insert(0, str(Path(__file__).parent))
from ner_core import write_section  # noqa: E402  (sibling scripts, not a package)
from relation_extraction import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024 ** 3
TARGET_GIB = 4.0


def measure(config: Path, work: Path) -> tuple[float, float, int]:
    """(peak resident GiB, wall seconds, exit status) of `biotune train config` in its own process."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", "biotune", "train", str(config), "--overwrite"], cwd=work,
                          capture_output=True, text=True)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return (int(peak.group(1)) * 1024 / GIB if peak else float("nan")), time.perf_counter() - started, done.returncode


def short_config(suite: Path, name: str, entry: dict, data_root: Path, steps: int, work: Path) -> Path:
    """A config that extends the dataset's shipped one with the suite's overrides, the data root, a step cap
    and a scratch output folder."""
    raw = apply_overrides({"extends": str((suite.parent / entry["config"]).resolve())}, {
        **entry.get("overrides", {}), "name": f"memory_{name}", "output_dir": str(work / "outputs"),
        "data.data_dir": str(data_root), "training.max_steps": steps})
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", type=Path, default=ROOT / "configs" / "suites" / "blurb.yaml")
    ap.add_argument("--steps", type=int, default=20, help="training.max_steps of each run")
    ap.add_argument("--only", nargs="+", help="datasets of the suite to measure (default: all)")
    ap.add_argument("--write", action="store_true", help="write the `memory` section of BENCHMARKS.md")
    args = ap.parse_args()
    suite = load_yaml(args.suite)
    data_root = Path(suite.get("data_dir", ".")).resolve()  # a suite's data root is relative to where it is run
    names = args.only or list(suite["datasets"])
    load, started, rows = Path("/proc/loadavg").read_text().split()[0], time.perf_counter(), []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for name in names:
            config = short_config(args.suite, name, suite["datasets"][name], data_root, args.steps, work)
            peak, seconds, status = measure(config, work)
            verdict = "failed" if status else ("met" if peak <= TARGET_GIB else "**over**")
            rows.append(f"| {name} | {peak:.2f} | {verdict} | {seconds / 60:.1f} |")
            print(rows[-1], flush=True)
    body = "\n".join([
        f"Peak resident memory (`/usr/bin/time -v`) of `biotune train` on each dataset's shipped config, bundled "
        f"MiniLM-L6, {args.steps} optimizer steps, then the full dev and test evaluations. Target: at most "
        f"{TARGET_GIB:g} GiB.", "",
        "| dataset | peak RSS (GiB) | target | wall (min) |", "|:--|--:|:--|--:|", *rows, "",
        f"- Command: `python bench/memory.py --suite {args.suite.relative_to(ROOT) if args.suite.is_relative_to(ROOT) else args.suite}"
        f" --steps {args.steps}{' --only ' + ' '.join(names) if args.only else ''} --write`.",
        f"- Run {datetime.date.today()}, {(time.perf_counter() - started) / 60:.1f} min, load average {load} at "
        f"start, {machine()}; shared with other work (memory is not affected by the load, wall time is)."])
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", "memory", "Peak memory per dataset (`bench/memory.py`)", body)


if __name__ == "__main__":
    main()
