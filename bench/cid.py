"""BC5CDR chemical-induced disease (CID) at the document level: gold entities, and end to end.

The BioCreative V CDR task scores the set of (chemical MeSH, disease MeSH) pairs a system states
for each test abstract. This script measures biotune on it twice:

  1. gold entities: `configs/re/bc5cdr_cid.yaml` trained through the library (`train`, seed 42,
     dev-selected epoch; `--epochs`), its test evaluation read from the run's eval file
     (`documents`: document-level P/R/F1, `candidates`: pairs built and left out). A finished
     run of the same config is reused (`--retrain` replaces it).
  2. end to end: the test abstracts as released, their entities predicted by a BC5CDR NER
     checkpoint (`--ner-checkpoint`), linked to MeSH ids by a linker folder (`Linker.save`, then
     `Linker.load`, as `biotune tag --link` and `serve --link` use it) built first (before the
     RE training, so a bad vocabulary stops the run at once) from, per type, the training and
     development documents' gold (mention, id) pairs first, then MeSH 2019 for chemicals and
     MEDIC for diseases, with abbreviations and the fuzzy stage (and the dense stage of
     `--dense DIR`, a dense linker folder indexing these vocabularies, e.g. `bench/linking.py`'s
     work/dense). CTD's 2017 disease vocabulary is left out: `read_vocabulary` refuses its
     alternative ids of two prefixes (``DO:DOID:0060395``, line 18). Candidate pairs built with the
     pairs/scope/max_sentences the RE checkpoint records, classified by the RE model, put back
     into documents (`to_relations`) and scored with `score_documents` against the gold test
     documents. Reported beside it: the linker's accuracy@1/@5 on the gold test mentions per type
     (BioSyn's rule: a composite gold id is matched by any of its ids), how many predicted mentions
     each linking stage linked and how many stayed unlinked (grouped by normalised text), the NER
     span-F1 of the predictions against the gold test mentions of the same documents, and, as a
     check of this path, the gold-entity score recomputed through it (it must equal step 1's).

Writes bench/runs/cid.json and the "BC5CDR chemical-induced disease (CID), document level"
section of BENCHMARKS.md. A `--limit N` run (smoke test: the first N documents of every split)
writes bench/runs/cid__limit<N>.json, prints its table and never touches BENCHMARKS.md.

usage: python bench/cid.py [--epochs E] [--limit N] [--ner-checkpoint DIR] [--dense DIR] [--retrain]
Run it under `flock /tmp/bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import torch

from biotune.config import ExperimentConfig, load_config
from biotune.corpora.splits import locate
from biotune.errors import BiotuneError
from biotune.experiments.run_folder import RunPaths
from biotune.formats.document_formats import iter_documents
from biotune.formats.documents import Document
from biotune.io import write_json
from biotune.linking import (PSEUDO_PREFIX, Linker, StageCounts, gold_ids, mention_vocabulary, read_vocabulary,
                             usable_id)
from biotune.linking.evaluation import accuracy_by_type
from biotune.tables import markdown_table
from biotune.tasks.ner.annotate import tag_documents
from biotune.tasks.ner.metrics import Scores
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.re.candidates import CandidateCounts, document_candidates, to_relations
from biotune.tasks.re.document_scores import score_documents
from biotune.tasks.re.settings import RelationSettings
from biotune.tasks.re.task import RelationPredictor
from biotune.experiments.run import check_same_config, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_core import write_section  # noqa: E402  (a sibling script, not a package)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "re" / "bc5cdr_cid.yaml"
DATA = ROOT.parent / "shared" / "data" / "documents"
VOCABULARIES = ROOT.parent / "shared" / "data" / "linking"
# Per type, after the training mentions, in priority order: MeSH for chemicals, MEDIC (the BioSyn/SapBERT
# dictionary; 99.5% of BC5CDR disease ids with its alternative ids) for diseases.
VOCABULARY_FILES = {"Chemical": ("mesh2019_descriptors_all_branches.tsv",), "Disease": ("medic_06Jul2012.tsv",)}
RUNS = ROOT / "bench" / "runs"
NER_CHECKPOINT = Path("/tmp/ner_check/checkpoints/bc5cdr/seed_42/best_model")
RELATION = "CID"
SECTION = ("cid", "BC5CDR chemical-induced disease (CID), document level (`bench/cid.py`)")
PUBLISHED = ("Published context (BC5CDR README): BERT-based systems with gold entities reach document-level CID F1 "
             "in the 60s-70s; the best BioCreative V end-to-end system (predicted entities) scored F1 57.0.")


def bench_config(args: argparse.Namespace) -> ExperimentConfig:
    """The shipped config with its corpus under `args.data_dir`, this run's epochs and limit, outputs under bench/runs/cid."""
    raw = load_config(CONFIG)
    epochs = args.epochs or raw.training.epochs
    return load_config(CONFIG, {"data.data_dir": str(args.data_dir), "data.limit": args.limit, "training.epochs": epochs,
                                "output_dir": str(RUNS / "cid"),
                                "name": f"{CONFIG.stem}_{epochs:g}ep"})  # one run folder per epoch count, each reusable


def split_file(spec: str, config: ExperimentConfig) -> Path:
    """The file of one of the config's splits (the corpus registry resolves it under data.data_dir)."""
    return locate(spec, config.data)[1]


def gold_entity_run(config: ExperimentConfig, retrain: bool) -> dict[str, Any]:
    """Train (or reuse the finished run of) `config`; its summary, test result and checkpoint."""
    paths = RunPaths(Path(config.output_dir), config.run_name, config.training.seed)
    reused = paths.status() == "finished" and not retrain
    started = time.perf_counter()
    if reused:
        check_same_config(paths, config)  # a finished run of another config is an error, not a silent reuse
    else:
        train(config, overwrite=retrain)
    wall = time.perf_counter() - started
    summary = json.loads(paths.summary.read_text(encoding="utf-8"))
    if len(summary["test"]) != 1:
        raise BiotuneError(f"{paths.summary}: expected one test set, got {sorted(summary['test'])}")
    name = next(iter(summary["test"]))
    result = json.loads((paths.results / f"eval_{name}.json").read_text(encoding="utf-8"))[name]
    return {"reused": reused, "wall_seconds": None if reused else wall, "summary": summary, "test_name": name,
            "test": result, "checkpoint": str(paths.best_model)}


def read_documents(path: Path, limit: int | None) -> list[Document]:
    return list(islice(iter_documents(path, "pubtator"), limit))


def span_scores(gold: Sequence[Document], predicted: Sequence[Document]) -> dict[str, Any]:
    """Strict character-span NER scores (type, start, end) of `predicted` against `gold`, per type and micro."""
    def spans(docs: Sequence[Document]) -> set[tuple[str, int, int, str]]:
        return {(d.id, a.start_char, a.end_char, a.type) for d in docs for a in d.annotations}

    truth, guess = spans(gold), spans(predicted)
    types = sorted({s[3] for s in truth | guess})
    per_type = {t: Scores.from_counts(len({s for s in truth & guess if s[3] == t}), sum(s[3] == t for s in truth),
                                      sum(s[3] == t for s in guess)) for t in types}
    micro = Scores.from_counts(len(truth & guess), len(truth), len(guess))
    return {"per_type": {t: s.to_dict() for t, s in per_type.items()}, "micro": micro.to_dict()}


def linked_span_accuracy(gold: Sequence[Document], linked: Sequence[Document]) -> dict[str, Any]:
    """Of the predicted mentions whose span and type equal a gold mention with an id, how many got that id (any
    id of a composite gold id counts)."""
    ids = {(d.id, a.start_char, a.end_char, a.type): gold_ids(a.concept_id) for d in gold for a in d.annotations
           if usable_id(a.concept_id)}
    found = [(ids[key], a.concept_id) for d in linked for a in d.annotations
             if (key := (d.id, a.start_char, a.end_char, a.type)) in ids]
    right = sum(guess in truth for truth, guess in found)
    return {"mentions": len(found), "correct": right, "accuracy": right / len(found) if found else 0.0}


def build_linker(args: argparse.Namespace, config: ExperimentConfig) -> tuple[Path, dict[str, float]]:
    """The linker folder of the module docstring, written under bench/runs/cid (replacing the last run's), and
    its build time. The training mentions are those of the first `args.limit` documents of each split."""
    started = time.perf_counter()
    training = [d for split in (config.data.train, config.data.dev) if split
                for d in read_documents(split_file(split, config), args.limit)]
    vocabularies = {type_: [mention_vocabulary(training, type_, f"BC5CDR train+dev {type_} mentions"),
                            *(read_vocabulary(args.vocabularies / name) for name in names)]
                    for type_, names in VOCABULARY_FILES.items()}
    dense = None
    if args.dense is not None:
        from biotune.linking.dense import DenseLinker  # torch and transformers: only a dense stage needs them

        dense = DenseLinker.load(args.dense, vocabularies)
    linker = Linker.from_vocabularies(vocabularies, dense=dense)
    folder = RUNS / "cid" / (f"linker__limit{args.limit}" if args.limit else "linker")
    shutil.rmtree(folder, ignore_errors=True)
    linker.save(folder)
    return folder, {"linker_build_seconds": time.perf_counter() - started}


def relations_from(predictor: RelationPredictor, documents: Sequence[Document]) -> tuple[list[Document], dict[str, Any]]:
    """`documents` with the relations the RE model predicts between their entities, and the candidate counts.

    Candidates are built as the checkpoint was trained (its recorded pairs, scope, max_sentences).
    """
    recorded = predictor.relation_model.model.config.biotune
    negative = recorded["negative_label"]
    counts = CandidateCounts()
    per_document = [document_candidates(doc, recorded["pairs"], recorded["scope"], negative, labelled=False,
                                        max_sentences=recorded["max_sentences"], counts=counts) for doc in documents]
    examples = [c.example for candidates in per_document for c in candidates]
    labels = [p.label for p in predictor.predict(examples)] if examples else []
    out, k = [], 0
    for doc, candidates in zip(documents, per_document):
        out.append(to_relations(doc, candidates, labels[k:k + len(candidates)], negative))
        k += len(candidates)
    return out, counts.to_dict()


def end_to_end(args: argparse.Namespace, config: ExperimentConfig, re_checkpoint: str, precision: str, folder: Path,
               timings: dict[str, float]) -> dict[str, Any]:
    """NER -> linking (the linker `folder`, loaded) -> candidates -> RE -> document-level score on the test documents;
    `timings` has the linker's build time and gets the others."""
    ner = args.ner_checkpoint
    gold = read_documents(split_file(config.data.test[0], config), args.limit)

    started = time.perf_counter()
    linker = Linker.load(folder)
    timings["linker_load_seconds"] = time.perf_counter() - started
    accuracy = accuracy_by_type(linker, gold)

    started = time.perf_counter()
    tagger = Tagger.from_checkpoint(ner, batch_size=args.ner_batch_size)
    tagged = tag_documents(tagger, gold)
    timings["ner_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    counts = StageCounts()
    linked = [result.document for result in linker.link_documents(tagged, counts)]
    timings["linking_seconds"] = time.perf_counter() - started
    groups = {(d.id, a.concept_id) for d in linked for a in d.annotations
              if a.concept_id and a.concept_id.startswith(PSEUDO_PREFIX)}

    predictor = RelationPredictor.from_checkpoint(re_checkpoint, precision=precision,
                                                  batch_size=config.training.eval_batch_size)
    started = time.perf_counter()
    predicted, candidates = relations_from(predictor, linked)
    timings["re_seconds"] = time.perf_counter() - started
    e2e = score_documents(gold, predicted, RELATION)

    started = time.perf_counter()
    via_gold, gold_candidates = relations_from(predictor, gold)
    timings["gold_check_seconds"] = time.perf_counter() - started
    check = score_documents(gold, via_gold, RELATION)
    return {
        "documents": len(gold),
        "ner_checkpoint": str(ner),
        "ner_checkpoint_test_f1": _ner_test_f1(ner),
        "ner_precision": tagger.precision,
        "re_precision": predictor.precision,
        "ner": span_scores(gold, tagged),
        "linker": {"folder": str(folder), "fingerprint": linker.fingerprint, "dense": str(args.dense) if args.dense else None,
                   "vocabularies": {type_: lexicon.vocabularies for type_, lexicon in linker.lexicons.items()},
                   "terms": {type_: len(lexicon.exact.keys) for type_, lexicon in linker.lexicons.items()}},
        "linking_accuracy": {type_: result.to_dict() for type_, result in accuracy.items()},
        "link_counts": counts.to_dict(),
        "unlinked_groups": len(groups),
        "linked_span_accuracy": linked_span_accuracy(gold, linked),
        "candidates": candidates,
        "score": e2e.to_dict(),
        "gold_entities_recomputed": {"score": check.to_dict(), "candidates": gold_candidates},
        "timings": timings,
    }


def _ner_test_f1(checkpoint: Path) -> float | None:
    """The NER run's own test span-F1 (CoNLL sentences), when the checkpoint is a run folder's best_model."""
    seed = checkpoint.parent.name.removeprefix("seed_")
    if checkpoint.name != "best_model" or not seed.isdigit():
        return None
    summary = RunPaths(checkpoint.parents[3], checkpoint.parents[1].name, int(seed)).summary
    if not summary.is_file():
        return None
    test = json.loads(summary.read_text(encoding="utf-8")).get("test", {})
    return next(iter(test.values()), None)


def _ner_recipe(checkpoint: Path) -> str:
    """How the NER run was trained, from its config snapshot (name, head, learning rate, epochs, seed)."""
    seed = checkpoint.parent.name.removeprefix("seed_")
    if checkpoint.name != "best_model" or not seed.isdigit():
        return "not a run folder's model"
    paths = RunPaths(checkpoint.parents[3], checkpoint.parents[1].name, int(seed))
    snapshot = paths.summary.parent / "config_snapshot.yaml"
    if not snapshot.is_file():
        return f"run {paths.name}, seed {seed}"
    config = load_config(snapshot)
    return (f"run {config.name}: head {config.model.head}, learning rate {config.training.learning_rate:g}, "
            f"{config.training.epochs:g} epochs, seed {seed}")


def _prf(score: dict[str, Any]) -> list[str]:
    return [f"{100 * score[k]:.2f}" for k in ("precision", "recall", "f1")]


def table(report: dict[str, Any]) -> str:
    gold, e2e = report["gold_entities"], report["end_to_end"]
    doc = gold["test"]["documents"]
    built = gold["test"]["candidates"]
    rows = [["gold entities", str(doc["tp"] + doc["fn"]), str(doc["tp"] + doc["fp"]), *_prf(doc),
             str(built["built"]), str(built["too_far"]), str(built["too_far_related"])],
            [f"end to end (biotune NER + {_linker_name(e2e['linker'])})", str(e2e["score"]["tp"] + e2e["score"]["fn"]),
             str(e2e["score"]["tp"] + e2e["score"]["fp"]), *_prf(e2e["score"]),
             str(e2e["candidates"]["built"]), str(e2e["candidates"]["too_far"]), "-"]]
    headers = ["entities", "gold pairs", "predicted pairs", "P", "R", "F1", "candidates built",
               "pairs left out (too far apart)", "of them gold"]
    lines = [markdown_table(headers, rows, ["left"] + ["right"] * 8), ""]
    s, link, ner = gold["summary"], e2e["linking_accuracy"], e2e["ner"]
    counts = e2e["link_counts"]
    check = e2e["gold_entities_recomputed"]["score"]
    history = ", ".join(f"epoch {h['epoch']:g} {100 * h['dev_score']:.2f}" for h in s["dev_history"])
    lines += [
        f"Test: the {e2e['documents']} BC5CDR test abstracts (PubTator release); pairs of (chemical MeSH, disease MeSH), "
        "each counted once per abstract. A pair whose closest mentions are more than "
        f"{report['max_sentences']} sentence boundaries apart gets no candidate and counts as missed when gold.",
        f"Gold entities: `configs/re/bc5cdr_cid.yaml` (bundled MiniLM-L6, `entity_start` head, typed markers), "
        f"{s['epochs_run']:g} epoch(s), learning rate {report['learning_rate']:g}, batch {report['batch_size']}, "
        f"seed {s['seed']}, {s['train_examples']} training candidates; dev F1 by epoch "
        f"({history}), the best kept. Training {s['train_seconds']:.0f} s (dev evaluation "
        f"{s['dev_eval_seconds']:.0f} s of it), {s['train_examples_per_second']:.1f} candidates/s.",
        f"End to end: entities from the BC5CDR NER checkpoint `{e2e['ner_checkpoint']}` ({_ner_recipe(Path(e2e['ner_checkpoint']))}; its own CoNLL test "
        f"span-F1 {_pct(e2e['ner_checkpoint_test_f1'])}), here on the abstracts as text: span-F1 "
        f"{100 * ner['micro']['f1']:.2f} (Chemical {100 * ner['per_type'].get('Chemical', {}).get('f1', 0):.2f}, "
        f"Disease {100 * ner['per_type'].get('Disease', {}).get('f1', 0):.2f}) against the gold test mentions. "
        f"Linked by a linker folder (`Linker.save`, then `Linker.load` in {e2e['timings']['linker_load_seconds']:.2f} s, "
        f"as `biotune tag --link` loads it; fingerprint {e2e['linker']['fingerprint']}), per type the training and "
        f"development abstracts' gold mentions first, then {_vocabulary_names(e2e['linker'])}; stages abbreviation, "
        f"exact, normalised, fuzzy{', dense' if e2e['linker']['dense'] else ''}: accuracy@1 / @5 on the gold test "
        f"mentions {_accuracy(link)} (a composite gold id is matched by any of its ids); on the predicted mentions: "
        f"{', '.join(f'{counts[stage]} {stage}' for stage in counts if stage != 'kept')}, the unlinked grouped by "
        f"normalised text into {e2e['unlinked_groups']} entities (their pairs can never match a gold MeSH pair); "
        f"predicted mentions whose span equals a gold mention's got its id "
        f"{100 * e2e['linked_span_accuracy']['accuracy']:.2f}% of the time.",
        f"Check: the gold entities through this script's own path (candidates, `RelationPredictor`, `to_relations`, "
        f"`score_documents`) give F1 {100 * check['f1']:.2f} (eval file: {100 * doc['f1']:.2f}).",
        f"Times: {_run_time(gold)}linker folder built in {e2e['timings']['linker_build_seconds']:.1f} s (read once; "
        f"not part of a tag job), NER {e2e['timings']['ner_seconds']:.1f} s, linking "
        f"{e2e['timings']['linking_seconds']:.1f} s, "
        f"relation classification of {e2e['candidates']['built']} candidates {e2e['timings']['re_seconds']:.1f} s.",
        PUBLISHED,
        f"Machine: {report['machine']}; run {report['date']}.",
    ]
    return "\n".join(lines)


def _linker_name(linker: dict[str, Any]) -> str:
    return "linker folder with dense stage" if linker["dense"] else "linker folder"


def _vocabulary_names(linker: dict[str, Any]) -> str:
    """Each type's vocabulary files after its training mentions, as the build read them."""
    return "; ".join(f"{type_}: " + ", ".join(Path(v["source"]).name for v in vocabularies[1:])
                     for type_, vocabularies in linker["vocabularies"].items())


def _accuracy(results: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{type_} {100 * r['acc@1']:.2f} / {100 * r['acc@5']:.2f} ({r['mentions']} mentions)"
                     for type_, r in results.items())


def _run_time(gold: dict[str, Any]) -> str:
    if gold["wall_seconds"] is None:
        return "training run reused; "
    return f"training run (training, dev and test evaluation) {gold['wall_seconds']:.0f} s; end to end: "


def _pct(value: float | None) -> str:
    return f"{100 * value:.2f}" if value is not None else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=float, default=None,
                    help="training epochs of the RE model (default: the config's; the best dev epoch is kept)")
    ap.add_argument("--limit", type=int, default=None, help="smoke run: the first N documents of every split")
    ap.add_argument("--data-dir", type=Path, default=DATA,
                    help="folder holding bc5cdr_pubtator/ (the BC5CDR PubTator release; corpus registry name bc5cdr_cid)")
    ap.add_argument("--ner-checkpoint", type=Path, default=NER_CHECKPOINT, help="BC5CDR NER model folder")
    ap.add_argument("--ner-batch-size", type=int, default=32)
    ap.add_argument("--vocabularies", type=Path, default=VOCABULARIES,
                    help=f"folder holding {', '.join(name for names in VOCABULARY_FILES.values() for name in names)}")
    ap.add_argument("--dense", type=Path, default=None,
                    help="a dense linker folder (`biotune link train`, or bench/linking.py's work/dense) whose index "
                         "was built from these vocabularies: adds the dense stage")
    ap.add_argument("--retrain", action="store_true", help="replace a finished RE run instead of reusing it")
    args = ap.parse_args()
    try:
        config = bench_config(args)
        if not (args.ner_checkpoint / "config.json").is_file():  # before training, not after it
            raise BiotuneError(f"--ner-checkpoint {args.ner_checkpoint}: not a model folder (no config.json)")
        missing = [name for names in VOCABULARY_FILES.values() for name in names if not (args.vocabularies / name).is_file()]
        if missing:
            raise BiotuneError(f"--vocabularies {args.vocabularies}: no {', '.join(missing)}")
        linker, timings = build_linker(args, config)
        gold = gold_entity_run(config, args.retrain)
        e2e = end_to_end(args, config, gold["checkpoint"], gold["test"]["precision"], linker, timings)
    except BiotuneError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    report = {
        "epochs": config.training.epochs, "learning_rate": config.training.learning_rate,
        "batch_size": config.training.batch_size, "limit": args.limit,
        "max_sentences": config.section(RelationSettings).max_sentences,
        "gold_entities": gold, "end_to_end": e2e,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
                   f"torch {torch.__version__}, bf16 {'on' if gold['summary']['bf16'] else 'off'}",
        "date": str(datetime.date.today()),
    }
    RUNS.mkdir(parents=True, exist_ok=True)
    write_json(RUNS / (f"cid__limit{args.limit}.json" if args.limit else "cid.json"), report)
    body = table(report)
    if not args.limit:
        write_section(ROOT / "BENCHMARKS.md", *SECTION, body)
    print(body)


if __name__ == "__main__":
    main()
