"""Gold + silver benchmark: which way of mixing BC5CDR gold with dictionary-labelled Gene silver works.

Gold = BC5CDR train (Chemical, Disease). Silver = the sentences of BC2GM train with their gold tags
dropped and Gene labels from `gene_symbols.tsv` (`biotune silver`). Every strategy trains the
default backbone over the same seeds and is scored on BC5CDR test (Chemical, Disease) and BC2GM
test (Gene), each on the types it annotates. Also reported: the dictionary alone on BC2GM test,
and a sweep of the silver:gold ratio for the remedy (joint with the partial-label loss).
Seeds that already finished (same config, same output folder) are not trained again.
Writes its section of BENCHMARKS.md, the sweep plot and raw JSON under bench/runs/gold_silver/.

usage: python bench/gold_silver.py [--seeds 42 1337 2024] [--epochs 3] [--ratio 1]
                                   [--sweep 0.5 1 2 all] [--sweep-seeds 42]
                                   [--strategies gold sequential ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
from pathlib import Path

import torch

from biotune.config import load_config
from biotune.experiments.seeds import run_seeds, sweep
from biotune.silver.label import label_corpus
from biotune.silver.spec import DictionarySpec
from biotune.tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CONFIGS = ROOT / "configs" / "gold_silver"
STRATEGIES = {
    "gold": "minilm_gold.yaml",
    "sequential": "minilm_sequential.yaml",
    "joint_uniform": "minilm_joint_uniform.yaml",
    "joint_noise_aware": "minilm_joint_noise_aware.yaml",
    "joint_marginal": "minilm_joint_marginal.yaml",
    "joint_marginal_labelled": "minilm_joint_marginal_labelled.yaml",
}


def make_silver(out: Path) -> tuple[Path, dict]:
    """Silver Gene labels for BC2GM train (gold dropped) and the dictionary alone scored on BC2GM test."""
    genes = SHARED / "dictionaries" / "gene_symbols.tsv"
    silver = out / "silver" / "bc2gm_train_gene.jsonl"
    label_corpus(SHARED / "corpora" / "bc2gm" / "train.tsv", silver, [DictionarySpec(path=genes, type="Gene")],
                 drop_tags=True, overwrite=True)  # made afresh each run from fixed inputs
    scored = label_corpus(SHARED / "corpora" / "bc2gm" / "test.tsv", out / "silver" / "bc2gm_test_dictionary.jsonl",
                          [DictionarySpec(path=genes, type="GENE")], drop_tags=True, overwrite=True,
                          allow_test=True)  # scores the dictionary against test gold; the output is never trained on
    return silver, scored.report.to_dict()


def overrides(path: Path, silver: Path, args: argparse.Namespace) -> dict:
    """Point the config's silver source at the file made here, apply the run settings."""
    raw = load_config(path)
    out = {"output_dir": str(args.out), "data.data_dir": str(SHARED / "corpora"), "training.epochs": args.epochs}
    for i, source in enumerate(raw.sources):
        if source.name == "silver":
            out[f"sources.{i}.split"] = str(silver)
            if args.ratio is not None:
                out[f"sources.{i}.sample_ratio"] = args.ratio
    return out


def cell(agg: dict, test: str, type_: str | None = None) -> str:
    block = agg["test_sets"][test]
    stats = block["per_type"][type_]["f1"] if type_ else block["micro"]["f1"]
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 1337, 2024])
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--ratio", type=float, default=None, help="silver:gold sentence ratio (default: all silver)")
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    ap.add_argument("--sweep", nargs="*", default=["0.5", "1", "2", "all"], help="silver ratios for the remedy; none = skip")
    ap.add_argument("--sweep-seeds", type=int, nargs="+", default=None,
                    help="seeds of the sweep (default: --seeds); rerun with more to add seeds, finished ones are kept")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "runs" / "gold_silver")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    silver, dictionary = make_silver(args.out)

    rows, sentences = {}, {}
    for name in args.strategies:
        path = CONFIGS / STRATEGIES[name]
        outcome = run_seeds(load_config(path, overrides(path, silver, args)), args.seeds)
        if outcome.aggregated is None:
            raise SystemExit(f"{name}: every seed failed: {outcome.failed}")
        rows[name] = outcome.aggregated
        summary = json.loads((outcome.results_dir / f"seed_{args.seeds[0]}" / "train_summary.json").read_text())
        sentences[name] = summary["train_sentences"]

    cells = [[name, f"{sentences[name]:,}", cell(agg, "test"), cell(agg, "test", "Chemical"), cell(agg, "test", "Disease"),
              cell(agg, "bc2gm_test", "Gene")] for name, agg in rows.items()]
    table = markdown_table(("strategy", "training sentences (last phase)", "BC5CDR test micro F1", "Chemical F1",
                            "Disease F1", "BC2GM test Gene F1"), cells, ["left"] + ["right"] * 5)
    gene = dictionary["scores"]["GENE"]
    notes = ("`sequential` trains on silver, then on gold from that model (its last phase is the gold one). "
             "`joint_marginal_labelled` keeps only the silver sentences with a dictionary match, fewer than the "
             "ratio allows, so its silver share is smaller than the other joint strategies'.\n\n")
    (args.out / "dictionary_alone.json").write_text(json.dumps(dictionary, indent=1, default=str))
    body = table + "\n\n" + notes + (
        f"Dictionary alone (gene_symbols.tsv, case-insensitive, default stop list) on BC2GM test, Gene spans: "
        f"P {100 * gene['precision']:.2f} / R {100 * gene['recall']:.2f} / F1 {100 * gene['f1']:.2f}.\n\n"
        f"Settings: bundled MiniLM-L6, {args.epochs:g} epochs, seeds {args.seeds}, silver:gold ratio "
        f"{'all' if args.ratio is None else args.ratio}; "
        f"{'mean ± sample std over seeds' if len(args.seeds) > 1 else 'ONE seed: preliminary, no error bars (± 0.00 is not a std)'}; "
        f"model selection on BC5CDR dev "
        f"(Chemical, Disease). Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; "
        f"run {datetime.date.today()}."
    )
    if args.sweep:
        path = CONFIGS / STRATEGIES["joint_marginal"]
        cfg = load_config(path, overrides(path, silver, args))  # the --ratio point is the table's own joint_marginal run
        from biotune.experiments.seeds import parse_value

        key = next(f"sources.{i}.sample_ratio" for i, s in enumerate(cfg.sources) if s.name == "silver")
        sweep_seeds = args.sweep_seeds or args.seeds
        result = sweep(cfg, key, [parse_value(v) for v in args.sweep], sweep_seeds)
        png = args.out / "results" / cfg.run_name / f"sweep_{key}.png"
        shutil.copy(png, ROOT / "bench" / "gold_silver_sweep.png")
        body += (f"\n\nSilver-ratio sweep (joint, partial-label loss; micro span-F1 per test set, seeds {sweep_seeds}"
                 f"{': ONE seed, no error bars yet' if len(sweep_seeds) == 1 else ', mean ± sample std'}; a point reuses "
                 f"every finished seed of its run, so the table's own ratio has the table's seeds):"
                 "\n\n![sweep](bench/gold_silver_sweep.png)\n")
        body += "\n" + "\n".join(f"- ratio {p['label']} ({next(iter(p['test_sets'].values()))['n']} seeds): " + ", ".join(
            f"{t} {100 * v['mean']:.2f} ± {100 * v['std']:.2f}" for t, v in p["test_sets"].items()) for p in result["points"])
    from ner_core import write_section  # bench/ is on sys.path when run as a script

    write_section(ROOT / "BENCHMARKS.md", "gold_silver", "Gold + silver strategies (`bench/gold_silver.py`)", body)
    print(body)


if __name__ == "__main__":
    main()
