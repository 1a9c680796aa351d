"""Entity linking, layer by layer: accuracy@1 and @5 on gold test mentions, and what each layer costs.

Datasets (gold mentions with usable ids, test split): BC5CDR chemicals and diseases
(`../shared/data/documents/bc5cdr_pubtator`, MeSH ids) and NCBI-disease
(`../shared/data/documents/ncbi_disease_pubtator`, MEDIC ids; its mention classes map to
``Disease``). Layers, each added to the one before:

1. dictionary: the corpus's train + dev mentions with their gold ids, exact and normalised
   look-up, per type (today's `DictionaryLinker` is the untyped version of this row);
2. + vocabularies: MeSH 2019 for chemicals, MEDIC for diseases, after the training mentions;
3. + abbreviations: short forms linked as their long forms, within each document;
4. + fuzzy: character 3-gram TF-IDF neighbours, cosine >= `DEFAULT_FUZZY_THRESHOLD`;
5. + dense: the bundled MiniLM fine-tuned contrastively (`biotune.linking.contrastive`) on
   MEDIC + MeSH synonym pairs and both corpora's train + dev mentions, for a bounded number of
   steps; its index holds every MEDIC and MeSH name.

A prediction is right when it names any id of a composite gold id, and a predicted concept names
its alternative ids too (BioSyn's rule, `biotune.linking.evaluation`).

Cost (BC5CDR set-up: MeSH + MEDIC + the training mentions loaded): each layer is loaded in a
fresh process that reports its load time (reading vocabularies, building tables and indexes,
loading the encoder; the Python imports apart), its resident memory, and mentions/s linking the
BC5CDR test mentions. Phases cache under --work, so a rerun reuses the trained dense linker.

    python bench/linking.py --work bench/runs/linking --steps 300

`--folder-only` measures what a tag job or the service pays instead: the BC5CDR "+ fuzzy" linker,
and the "+ dense" one when a dense linker was trained, built once into linker folders (`Linker.save`),
then each loaded by `Linker.load` in a fresh process (section `linking_folder`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path
from collections.abc import Sequence
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "bench"))

from biotune.formats.documents import Document  # noqa: E402
from biotune.formats.pubtator import iter_pubtator  # noqa: E402
from biotune.linking import Linker, Vocabulary, mention_vocabulary, read_vocabulary  # noqa: E402
from biotune.linking.evaluation import accuracy_at_k, gold_mentions  # noqa: E402
from biotune.linking.linker import DEFAULT_DENSE_THRESHOLD, DEFAULT_FUZZY_THRESHOLD  # noqa: E402
from biotune.tables import markdown_table  # noqa: E402

BC5CDR = SHARED / "documents" / "bc5cdr_pubtator"
NCBI = SHARED / "documents" / "ncbi_disease_pubtator"
MESH = SHARED / "linking" / "mesh2019_descriptors_all_branches.tsv"
MEDIC = SHARED / "linking" / "medic_06Jul2012.tsv"
NCBI_TYPES = {"SpecificDisease": "Disease", "DiseaseClass": "Disease", "Modifier": "Disease",
              "CompositeMention": "Disease"}
LAYERS = ("dictionary", "+ vocabularies", "+ abbreviations", "+ fuzzy", "+ dense")
NO_DENSE = ("No dense row: training and indexing the dense linker (`--steps`, then embedding every MEDIC and MeSH "
            "name, about 180k after normalisation) did not fit this run's CPU share; run without `--no-dense`.")
BASELINE_MEMORY = ("Resident memory includes Python, biotune's imports (numpy, scipy, scikit-learn; torch and "
                   "transformers only in the dense row) and the corpus's documents.")
SECTION = ("linking", "Entity linking by layer (`bench/linking.py`)")
FOLDER_SECTION = ("linking_folder", "Entity linking: saved linker folders (`bench/linking.py --folder-only`)")
FUZZY_LAYER = 3  # the "+ fuzzy" row: training mentions, MeSH / MEDIC, abbreviations, fuzzy


@cache
def documents(corpus: str, split: str) -> list[Document]:
    files = {("bc5cdr", s): BC5CDR / f"CDR_{n}Set.PubTator.txt" for s, n in
             (("train", "Training"), ("dev", "Development"), ("test", "Test"))}
    files |= {("ncbi", s): NCBI / f"NCBI{n}set_corpus.txt" for s, n in
              (("train", "train"), ("dev", "develop"), ("test", "test"))}
    return list(iter_pubtator(_repaired(files[corpus, split])))


def _repaired(path: Path) -> Path:
    """`path`, or a copy whose mention cells lose trailing spaces: NCBI-disease's released training file
    writes one mention (document 10923035, 'generalized epilepsy and febrile seizures " plus "  ') with
    two spaces its offsets do not cover, which biotune's PubTator reader rightly refuses."""
    lines = path.read_text(encoding="utf-8").split("\n")
    fixed = []
    for line in lines:
        cells = line.split("\t")
        if len(cells) >= 6 and cells[1].isdigit():
            cells[3] = cells[3].rstrip()
        fixed.append("\t".join(cells))
    if fixed == lines:
        return path
    copy = Path(tempfile.gettempdir()) / f"biotune_bench_{path.name}"
    copy.write_text("\n".join(fixed), encoding="utf-8")
    return copy


def corpus_types(corpus: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each linked type of the corpus and the annotation types that are it."""
    if corpus == "ncbi":
        return (("Disease", frozenset(NCBI_TYPES)),)
    return (("Chemical", frozenset({"Chemical"})), ("Disease", frozenset({"Disease"})))


def vocabularies(corpus: str, layer: int, big: dict[str, Vocabulary]) -> dict[str, list[Vocabulary]]:
    """The per-type vocabularies of `layer` (0-based in `LAYERS`) for `corpus`: training mentions, then MeSH / MEDIC."""
    training = documents(corpus, "train") + documents(corpus, "dev")
    out = {}
    for type_, annotation_types in corpus_types(corpus):
        out[type_] = [mention_vocabulary(training, type_, f"{corpus} train+dev {type_} mentions", annotation_types)]
        if layer >= 1:
            out[type_].append(big[type_])
    return out


def make_linker(corpus: str, layer: int, big: dict[str, Vocabulary], dense_folder: Path | None) -> Linker:
    vocabs = vocabularies(corpus, layer, big)
    dense = None
    if layer >= 4 and dense_folder is not None:
        from biotune.linking.dense import DenseLinker  # torch and transformers: only the dense layer loads them

        dense = DenseLinker.load(dense_folder, vocabs)
    return Linker.from_vocabularies(vocabs, abbreviations=layer >= 2, fuzzy=layer >= 3, dense=dense,
                  type_map=NCBI_TYPES if corpus == "ncbi" else None)


# ---- dense training ------------------------------------------------------------------------------
def train_dense(work: Path, steps: int, batch_size: int) -> Path:
    """Fine-tune the bundled MiniLM and index MEDIC + MeSH into work/dense (reused when present)."""
    import torch

    from biotune.linking.contrastive import TrainingSettings, train_encoder, training_pairs
    from biotune.linking.dense import DenseLinker, Encoder
    from biotune.models.backbones import resolve_backbone

    folder = work / "dense"
    if folder.is_dir():
        return folder
    torch.manual_seed(0)
    big = {"Chemical": read_vocabulary(MESH), "Disease": read_vocabulary(MEDIC)}
    mentions = [(a.text, type_, a.concept_id.strip()) for corpus in ("bc5cdr", "ncbi") for split in ("train", "dev")
                for doc in documents(corpus, split) for type_, types in corpus_types(corpus)
                for a in doc.annotations if a.type in types and a.concept_id and a.concept_id.strip() not in ("", "-1")
                and "|" not in a.concept_id and "+" not in a.concept_id]
    mentions = [(text, type_, concept.removeprefix("MESH:")) for text, type_, concept in mentions]
    settings = TrainingSettings(steps=steps, batch_size=batch_size)
    pairs = training_pairs({t: [v] for t, v in big.items()}, mentions, settings.synonym_pairs_per_concept, settings.seed)
    encoder = Encoder.load(resolve_backbone("minilm"))
    started = time.perf_counter()
    losses = train_encoder(encoder, pairs, settings)
    trained = time.perf_counter() - started
    linker = DenseLinker.build(encoder, {t: [v] for t, v in big.items()})
    indexed = time.perf_counter() - started - trained
    linker.save(folder)
    record = {"pairs": len(pairs), "mentions": len(mentions), "steps": steps, "batch_size": batch_size,
              "train_seconds": trained, "index_seconds": indexed, "rows": int(len(linker.rows)),
              "first_loss": sum(losses[:20]) / len(losses[:20]), "last_loss": sum(losses[-20:]) / len(losses[-20:]),
              "threads": torch.get_num_threads()}
    (work / "dense_train.json").write_text(json.dumps(record, indent=2) + "\n")
    return folder


# ---- accuracy --------------------------------------------------------------------------------------
REACHABLE = "reachable (ceiling)"


def reachable(vocabs: Sequence[Vocabulary], mentions: Sequence[tuple[str, str, frozenset[str], Any]]) -> float:
    """The share of `mentions` whose gold ids include one the vocabularies know (an id or an alternative id):
    what any linker over them can get right at best. BC5CDR chemicals: MeSH 2019 holds no supplementary
    concept (``C``) ids, so only the training mentions reach those."""
    known = {i for v in vocabs for i in v.ids} | {a for v in vocabs for alts in v.alternatives.values() for a in alts}
    return sum(bool(gold & known) for _, _, gold, _ in mentions) / len(mentions)


def accuracy(work: Path, dense_folder: Path | None) -> list[dict[str, Any]]:
    big = {"Chemical": read_vocabulary(MESH), "Disease": read_vocabulary(MEDIC)}
    rows = []
    for corpus, type_, label in (("bc5cdr", "Chemical", "BC5CDR chemical"), ("bc5cdr", "Disease", "BC5CDR disease"),
                                 ("ncbi", "Disease", "NCBI-disease")):
        annotation_types = dict(corpus_types(corpus))[type_]
        mentions = gold_mentions(documents(corpus, "test"), annotation_types)
        rows.append({"dataset": label, "layer": REACHABLE, "acc@1": reachable(vocabularies(corpus, 1, big)[type_],
                                                                              mentions), "mentions": len(mentions)})
        for layer, name in enumerate(LAYERS):
            if layer == 4 and dense_folder is None:
                continue
            result = accuracy_at_k(make_linker(corpus, layer, big, dense_folder), mentions)
            rows.append({"dataset": label, "layer": name, **result.to_dict()})
            print(f"{label:16} {name:16} acc@1 {100 * result.accuracy(1):.2f} acc@5 {100 * result.accuracy(5):.2f} "
                  f"{result.stages}", flush=True)
    (work / "accuracy.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


# ---- cost ------------------------------------------------------------------------------------------
def cost_of_layer(layer: int, dense_folder: Path | None) -> dict[str, Any]:
    """Run in a fresh process: load the BC5CDR linker of `layer`, then link the test mentions once."""
    import psutil

    documents("bc5cdr", "train"), documents("bc5cdr", "dev")  # corpus reading is no part of the linker's load
    started = time.perf_counter()
    big = {"Chemical": read_vocabulary(MESH), "Disease": read_vocabulary(MEDIC)} if layer >= 1 else {}
    linker = make_linker("bc5cdr", layer, big, dense_folder)
    load = time.perf_counter() - started
    resident_loaded = psutil.Process().memory_info().rss
    mentions = gold_mentions(documents("bc5cdr", "test"))
    started = time.perf_counter()
    linker.link([(t, ty) for t, ty, _, _ in mentions], [m[3] for m in mentions])
    seconds = time.perf_counter() - started
    return {"layer": LAYERS[layer], "load_seconds": load, "rss_loaded_mb": resident_loaded / 2**20,
            "rss_after_mb": psutil.Process().memory_info().rss / 2**20, "mentions": len(mentions),
            "mentions_per_second": len(mentions) / seconds}


def cost(work: Path, dense_folder: Path | None) -> list[dict[str, Any]]:
    rows = []
    for layer in range(len(LAYERS) if dense_folder is not None else len(LAYERS) - 1):
        command = [sys.executable, __file__, "--cost-layer", str(layer), "--work", str(work)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ.copy())
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    (work / "cost.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


# ---- the section -------------------------------------------------------------------------------------
def section(accuracy_rows: list[dict[str, Any]], cost_rows: list[dict[str, Any]], work: Path, wall: float) -> str:
    dense = json.loads((work / "dense_train.json").read_text()) if (work / "dense_train.json").exists() else None
    datasets = list(dict.fromkeys(r["dataset"] for r in accuracy_rows))
    layers = [layer for layer in dict.fromkeys(r["layer"] for r in accuracy_rows) if layer != REACHABLE]
    found = {(r["dataset"], r["layer"]): r for r in accuracy_rows}
    table = markdown_table(["layer", *[f"{d} acc@1 / @5" for d in datasets]],
                           [[layer, *[f"{100 * found[d, layer]['acc@1']:.2f} / {100 * found[d, layer]['acc@5']:.2f}"
                                      for d in datasets]] for layer in layers]
                           + [[REACHABLE, *[f"{100 * found[d, REACHABLE]['acc@1']:.2f}" if (d, REACHABLE) in found
                                            else "-" for d in datasets]]], ["left", *["right"] * len(datasets)])
    mentions = ", ".join(f"{d} {found[d, layers[0]]['mentions']}" for d in datasets)
    stages = "; ".join(f"{d}: " + ", ".join(f"{s} {found[d, layers[-1]]['stages_right'].get(s, 0)}/{n}"
                                            for s, n in found[d, layers[-1]]["stages"].items()) for d in datasets)
    cost_table = markdown_table(["layer", "load (s)", "resident after load (MB)", "resident after linking (MB)",
                                 "mentions/s"],
                                [[r["layer"], f"{r['load_seconds']:.1f}", f"{r['rss_loaded_mb']:.0f}",
                                  f"{r['rss_after_mb']:.0f}", f"{r['mentions_per_second']:.0f}"] for r in cost_rows],
                                ["left", "right", "right", "right", "right"])
    lines = [f"Run {datetime.date.today()} on {platform.machine()} with {os.cpu_count()} CPU cores shared with other "
             f"jobs (timings are distorted upwards by them), torch threads {dense['threads'] if dense else '-'}; "
             f"`python bench/linking.py --work {work.relative_to(ROOT) if work.is_relative_to(ROOT) else work}` "
             f"({wall / 60:.0f} min).", "",
             f"Accuracy@1 / @5 (%) on gold test mentions ({mentions}). Right when the prediction names any id of a "
             "composite gold id, a predicted concept naming its alternative ids too (BioSyn's rule). Each row adds "
             "one layer to the row above. The last row is the ceiling: the share of mentions whose gold id the "
             "training mentions or the vocabulary know at all (MeSH 2019 has none of BC5CDR's supplementary-concept "
             "`C` chemical ids, and no vocabulary with them is available offline).", "", table, "",
             f"Last row, mentions linked / right at 1 per stage: {stages}.", "",
             f"Thresholds: fuzzy cosine >= {DEFAULT_FUZZY_THRESHOLD}, dense cosine >= {DEFAULT_DENSE_THRESHOLD}."]
    if dense:
        lines += ["", f"Dense linker: the bundled MiniLM-L6, {dense['steps']} steps of {dense['batch_size']} pairs "
                  f"(InfoNCE, in-batch negatives) out of {dense['pairs']} pairs ({dense['mentions']} training "
                  f"mentions + MEDIC/MeSH synonym pairs), {dense['train_seconds'] / 60:.1f} min of training; loss "
                  f"{dense['first_loss']:.2f} -> {dense['last_loss']:.2f}; index of {dense['rows']} names built in "
                  f"{dense['index_seconds'] / 60:.1f} min."]
    else:
        lines += ["", NO_DENSE]
    lines += ["", "Cost, BC5CDR set-up (MeSH + MEDIC + training mentions), each layer in a fresh process; load = "
              "reading vocabularies, building the tables and indexes, loading the encoder (imports and reading the "
              "corpus's training documents excluded; resident memory includes the loaded corpus and Python); "
              "mentions/s over the BC5CDR test mentions, one call. " + BASELINE_MEMORY, "", cost_table]
    return "\n".join(lines)


# ---- the saved folders ------------------------------------------------------------------------------
DENSE_LAYER = 4  # the "+ dense" row: the "+ fuzzy" linker and the trained dense linker
FOLDERS = {FUZZY_LAYER: "linker", DENSE_LAYER: "linker_dense"}


def build_folder(work: Path, layer: int, dense_folder: Path | None) -> dict[str, Any]:
    """The BC5CDR linker of `layer` saved under work/<its folder> (built once, reused; the build time recorded)."""
    folder, record = work / FOLDERS[layer], work / f"{FOLDERS[layer]}_build.json"
    if not folder.is_dir():
        documents("bc5cdr", "train"), documents("bc5cdr", "dev")
        started = time.perf_counter()
        big = {"Chemical": read_vocabulary(MESH), "Disease": read_vocabulary(MEDIC)}
        make_linker("bc5cdr", layer, big, dense_folder if layer == DENSE_LAYER else None).save(folder)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        record.write_text(json.dumps({"build_seconds": time.perf_counter() - started, "bytes": size}) + "\n")
    return json.loads(record.read_text())


def cost_of_folder(folder: Path) -> dict[str, Any]:
    """Run in a fresh process: `Linker.load` a saved folder, then link the BC5CDR test mentions once."""
    import psutil

    mentions = gold_mentions(documents("bc5cdr", "test"))  # corpus reading is no part of the linker's load
    resident_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    linker = Linker.load(folder)
    load = time.perf_counter() - started
    resident_loaded = psutil.Process().memory_info().rss
    started = time.perf_counter()
    links = linker.link([(t, ty) for t, ty, _, _ in mentions], [m[3] for m in mentions])
    seconds = time.perf_counter() - started
    right = {type_: [bool(link.candidates and link.candidates[0].ids & gold) for link, (_, ty, gold, _)
                     in zip(links, mentions) if ty == type_] for type_ in ("Chemical", "Disease")}
    return {"load_seconds": load, "rss_before_mb": resident_before / 2**20, "rss_loaded_mb": resident_loaded / 2**20,
            "rss_after_mb": psutil.Process().memory_info().rss / 2**20, "mentions": len(mentions),
            "mentions_per_second": len(mentions) / seconds,
            "acc1": {type_: sum(flags) / len(flags) for type_, flags in right.items()}}


def folder_section(work: Path, dense_folder: Path | None) -> str:
    """Each saved linker folder (the dense one when a dense linker was trained), loaded in a fresh process."""
    load_average = os.getloadavg()[0]
    layers = [FUZZY_LAYER] + ([DENSE_LAYER] if dense_folder is not None else [])
    rows, builds, notes = [], [], []
    for layer in layers:
        build = build_folder(work, layer, dense_folder)
        command = [sys.executable, __file__, "--cost-folder", str(work / FOLDERS[layer]), "--work", str(work)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ.copy())
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append([f"`{FOLDERS[layer]}/` ({LAYERS[layer]})", f"{build['bytes'] / 2**20:.0f}",
                     f"{row['load_seconds']:.2f}", f"{row['rss_before_mb']:.0f}", f"{row['rss_loaded_mb']:.0f}",
                     f"{row['rss_after_mb']:.0f}", f"{row['mentions_per_second']:.0f}"])
        builds.append(f"`{FOLDERS[layer]}/` {build['build_seconds']:.1f} s")
        notes.append(f"`{FOLDERS[layer]}/`: Chemical {100 * row['acc1']['Chemical']:.2f}, "
                     f"Disease {100 * row['acc1']['Disease']:.2f}")
    table = markdown_table(["saved folder", "on disk (MB)", "load (s)", "resident before load (MB)",
                            "after load (MB)", "after linking (MB)", "mentions/s"],
                           rows, ["left"] + ["right"] * 6)
    return "\n".join([
        f"Run {datetime.date.today()} on {platform.machine()} with {os.cpu_count()} CPU cores shared with other jobs "
        f"(load average {load_average:.1f} at start: timings are distorted upwards); `python bench/linking.py "
        f"--folder-only`.", "",
        f"The BC5CDR linkers of the section above (training mentions, MeSH 2019 + MEDIC, abbreviations, fuzzy; "
        "and with the dense layer) built once into folders by `Linker.save` (term tables and the fitted TF-IDF index "
        "as .npy arrays; the dense encoder and its float16 index; the arrays memory-mapped at load), then "
        "`Linker.load` in a fresh process that has already imported biotune (not torch: the dense folder's load "
        "includes importing torch and transformers) and read the test corpus; mentions/s over the "
        f"{row['mentions']} BC5CDR test mentions, one call. Build: {'; '.join(builds)}. Resident memory counts the "
        "pages of the memory-mapped arrays that linking touched (for the dense index, every row of a type it searched).",
        "", table, "",
        "Accuracy@1 of the loaded linkers on those mentions (the same links as the linkers built in memory, rows "
        f"\"{LAYERS[FUZZY_LAYER]}\" and \"{LAYERS[DENSE_LAYER]}\" above): {'; '.join(notes)}."])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "runs" / "linking")
    ap.add_argument("--steps", type=int, default=300, help="dense training steps (the time budget)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--no-dense", action="store_true", help="layers 1-4 only")
    ap.add_argument("--only-dense", action="store_true", help="train and index the dense linker, then stop")
    ap.add_argument("--folder-only", action="store_true", help="build the linker folders once and time their load")
    ap.add_argument("--cost-layer", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cost-folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    dense_folder = args.work / "dense" if (args.work / "dense").is_dir() else None
    if args.cost_layer is not None:
        print(json.dumps(cost_of_layer(args.cost_layer, dense_folder)))
        return
    if args.cost_folder is not None:
        print(json.dumps(cost_of_folder(args.cost_folder)))
        return
    from ner_core import write_section  # a sibling script, not a package; it imports torch, which a child needs not

    if args.folder_only:
        body = folder_section(args.work, dense_folder)
        print(body)
        write_section(ROOT / "BENCHMARKS.md", *FOLDER_SECTION, body)
        return
    started = time.perf_counter()
    if not args.no_dense:
        dense_folder = train_dense(args.work, args.steps, args.batch_size)
        if args.only_dense:
            return
    accuracy_rows = accuracy(args.work, dense_folder)
    cost_rows = cost(args.work, dense_folder)
    body = section(accuracy_rows, cost_rows, args.work, time.perf_counter() - started)
    print(body)
    write_section(ROOT / "BENCHMARKS.md", *SECTION, body)


if __name__ == "__main__":
    main()
