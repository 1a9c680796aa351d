"""Bad-input battery: what a careless or hostile user does to biotune, one case per line.

Every case runs the real `biotune` command in a subprocess (or, for the service, real HTTP
requests to a real `biotune serve`) and checks the promise the README makes:
- bad input exits with status 2 and one `error:` line that names the culprit (a file, line,
  option or key: the case's `names` text), with no traceback;
- no input is changed (every file under the workspace's `inputs/` is hashed before and after);
- nothing half-written: the case's `absent` paths do not exist afterwards;
- kills mid-write (SIGKILL) leave no result under the final name, and the rerun completes;
- interrupts (SIGINT, SIGTERM) exit non-zero and leave neither a temporary file nor a result;
  `biotune serve` stops on SIGINT with exit 0 and no traceback;
- the service answers abuse with a 4xx/5xx JSON `detail`, stays healthy, and answers a burst of
  200 concurrent small requests.

Groups: config, data, options, checkpoint (NER), re (relation extraction), qa (extractive and
yes/no), pretrain, search, suite (`biotune benchmark`), tag_re (`tag --relations`), kill,
signal, service.

The workspace (tiny toy NER and RE corpora, QA files, and a MiniLM NER and RE checkpoint each
trained on its toy corpus for one epoch at max_length 32) is built in a temporary folder;
nothing from ../shared is needed. Prints `cases tried / passed` and each
failure; writes its section of BENCHMARKS.md unless --no-write. Exits 1 if a case failed.

usage: python bench/bad_inputs.py [--no-write] [--keep DIR] [--only GROUP ...]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from ner_core import write_section

from biotune.tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
BIOTUNE = [sys.executable, "-m", "biotune.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "400"}

TOY = [("aspirin induced hypotension in the patient .", "B-Chemical O B-Disease O O O O"),
       ("cisplatin nephrotoxicity was severe .", "B-Chemical B-Disease O O O"),
       ("the patient developed acute seizures after lithium .", "O O O B-Disease I-Disease O B-Chemical O")]


@dataclass
class Case:
    """One bad input: the command's arguments (with {w} = workspace), what the error must name, what must not appear."""

    group: str
    name: str
    args: list[str]
    names: str = ""
    absent: list[str] = field(default_factory=list)
    setup: Callable[[Path], None] | None = None
    code: int = 2
    check: Callable[[str], str | None] | None = None  # more promises of the error line ({w} = workspace): None if kept


# Pre-masked relation rows (BLURB's form): `sentence<TAB>label`, the two entities replaced by their masks.
RE_ROWS = [("@CHEMICAL$ induced @DISEASE$ in the patient .", "1"),
           ("@CHEMICAL$ caused severe @DISEASE$ .", "1"),
           ("@CHEMICAL$ was given and no @DISEASE$ was seen .", "0"),
           ("the patient took @CHEMICAL$ for @DISEASE$ .", "0")]


def rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{text}\t{label}\n" for text, label in pairs)


def tsv(sentences: list[tuple[str, str]]) -> str:
    return "".join("".join(f"{w}\t{t}\n" for w, t in zip(s.split(), tags.split())) + "\n" for s, tags in sentences)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def config(w: Path, name: str, run: str | None = None, top: dict | None = None, **sections: dict) -> Path:
    """A config file `<name>.yaml` for the toy corpus (run name `run`, default `name`); `top` sets top-level keys
    (`task`, `output_dir`), `sections` merge over the defaults."""
    import yaml

    data = {"name": run or name, "output_dir": str(w / "out"),
            "model": {"backbone": "minilm", "max_length": 32},
            "data": {"corpus": str(w / "inputs" / "toy")},
            "training": {"epochs": 1, "batch_size": 4, "bf16": False, "logging_steps": 1000}}
    data.update(top or {})
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    path = w / "inputs" / "configs" / f"{name}.yaml"
    write(path, yaml.safe_dump(data))
    return path


def build_workspace(w: Path) -> None:
    """Inputs (toy corpus, texts, configs) and the finished NER and RE runs whose checkpoints the cases use."""
    for split, copies in (("train", 4), ("devel", 3), ("test", 2)):  # distinct bytes: test text is never training text
        write(w / "inputs" / "toy" / f"{split}.tsv", tsv(TOY * copies))
    write(w / "inputs" / "sentences.txt", "Aspirin induced hypotension.\nCisplatin is nephrotoxic.\n")
    write(w / "inputs" / "big.txt", "Aspirin induced hypotension in the patient after cisplatin.\n" * 6000)
    write(w / "inputs" / "docs.pubtator", "".join(f"{i}|t|Aspirin and hypotension {i}.\n{i}|a|Cisplatin causes "
                                                   f"nephrotoxicity.\n\n" for i in range(1, 2001)))
    for split, copies in (("train", 3), ("devel", 2), ("test", 1)):
        write(w / "inputs" / "re_toy" / f"{split}.tsv", rows(RE_ROWS * copies))
    config(w, "good")
    config(w, "re_good", top={"task": "re"}, data={"corpus": str(w / "inputs" / "re_toy")},
           re={"negative_label": "0"})
    for name in ("good", "re_good"):  # one epoch each on MiniLM, max_length 32: seconds
        run = subprocess.run([*BIOTUNE, "train", str(w / "inputs" / "configs" / f"{name}.yaml")], env=ENV,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"workspace training of {name} failed:\n{run.stderr[-3000:]}")
    shutil.copytree(w / "out/checkpoints/re_good/seed_42/best_model", w / "inputs/ckpt/re", dirs_exist_ok=True)
    _document_relation_model(w / "inputs/ckpt/re_docs")


def _document_relation_model(folder: Path) -> None:
    """An untrained Chemical-Disease relation model that records `re.pairs`, as one trained on documents does:
    what `tag --relations` takes (its predictions do not matter to these cases)."""
    from biotune.tasks.re.heads import build_relation_model, save_relation_model
    from biotune.tasks.re.markers import MarkerScheme

    model = build_relation_model("minilm", "entity_start", ["0", "CID"], MarkerScheme(("Chemical", "Disease")))
    model.model.config.biotune.update({"pairs": [["Chemical", "Disease"]], "scope": "sentence", "max_sentences": None,
                                       "negative_label": "0", "max_length": 32})
    save_relation_model(model, folder)


CKPT = "{w}/inputs/ckpt/good"  # a copy: the cases that test --overwrite must not pull it away from the others
RE_CKPT = "{w}/inputs/ckpt/re"  # a relation model trained on pre-masked rows (task re)
RE_DOCS = "{w}/inputs/ckpt/re_docs"  # a relation model for documents (records re.pairs): tag --relations takes it


def bad_checkpoints(w: Path) -> None:
    """Copies of the good checkpoint, each broken one way."""
    good = w / "out/checkpoints/good/seed_42/best_model"
    for name in ("good", "no_tokenizer", "truncated", "not_biotune"):
        shutil.copytree(good, w / "inputs" / "ckpt" / name, dirs_exist_ok=True)
    for f in (w / "inputs/ckpt/no_tokenizer").glob("*"):
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            f.unlink()
    weights = w / "inputs/ckpt/truncated/model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    cfg_path = w / "inputs/ckpt/not_biotune/config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("biotune", None)
    cfg["id2label"] = {str(i): f"LABEL_{i}" for i in range(len(cfg["id2label"]))}
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
    cfg_path.write_text(json.dumps(cfg))


def malformed(w: Path) -> None:
    i = w / "inputs"
    write(i / "bad" / "one_column.tsv", "aspirin\tB-Chemical\nhypotension\n\n")
    write(i / "bad" / "bad_tag.tsv", "aspirin\tB-Chemical\nhypotension\tX-Disease\n\n")
    write(i / "bad" / "bad.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["b"], "tags": \n')
    write(i / "bad" / "mismatch.jsonl", '{"tokens": ["a", "b"], "tags": ["O"]}\n')
    write(i / "bad" / "not_utf8.txt", b"caf\xe9 au lait\n")
    write(i / "bad" / "bad.yaml", "name: x\ndata: {corpus: [\n")
    write(i / "bad" / "list.yaml", "- a\n- b\n")
    write(i / "bad" / "docs.jsonl", '{"id": "1", "text": "ok"}\n{"id": 2, "txt": "no text"}\n')
    write(i / "bad" / "bad.pubtator", "1|t|Title\n1|x|what\n\n")
    write(i / "bad" / "bad.xml", "<collection><document><id>1</id><passage>")
    write(i / "dict.tsv", "term\ttype\naspirin\tChemical\n")
    write(i / "toy_no_dev" / "train.tsv", tsv(TOY))
    write(i / "toy_no_dev" / "test.tsv", tsv(TOY))
    config(w, "epochs_inf", training={"epochs": float("inf")})
    config(w, "lr_zero", training={"learning_rate": 0.0})
    config(w, "batch_zero", training={"batch_size": 0})
    config(w, "too_long", model={"max_length": 100000})
    config(w, "typo_key", training={"epoch": 2})
    config(w, "no_backbone", model={"backbone": str(w / "nowhere")})
    config(w, "good_bad_backbone", run="good", model={"backbone": str(w / "nowhere")})  # onto the finished run
    config(w, "dev_is_test", data={"dev": "test"})
    config(w, "bad_head", model={"head": "crff"})
    config(w, "missing_corpus", data={"corpus": str(w / "inputs" / "absent")})
    (w / "inputs" / "a_folder").mkdir(exist_ok=True)
    write(i / "a_file", "x")


FILLER = "and the patient was seen again "  # five words of one subword each: widens a pair without new vocabulary


def squad(path: Path, items: list[tuple[str, str, str, str, int]]) -> None:
    """A SQuAD-form file of (id, question, context, answer, answer_start) items, one paragraph each."""
    paragraphs = [{"context": context, "qas": [{"id": qid, "question": question,
                                                "answers": [{"text": answer, "answer_start": start}]}]}
                  for qid, question, context, answer, start in items]
    write(path, json.dumps({"version": "toy", "data": [{"title": "toy", "paragraphs": paragraphs}]}))


def task_inputs(w: Path) -> None:
    """Inputs of the relation, QA, pretraining, search, suite and tag-with-relations cases."""
    import yaml

    i = w / "inputs"
    # relation extraction: corpora that are each wrong one way

    def re_corpus(name: str, train: list[tuple[str, str]], test: list[tuple[str, str]] = RE_ROWS) -> None:
        for split, pairs in (("train", train), ("devel", RE_ROWS * 2), ("test", test)):
            write(i / name / f"{split}.tsv", rows(pairs))

    re_corpus("re_label2", RE_ROWS * 3, RE_ROWS + [("@CHEMICAL$ treats @DISEASE$ .", "2")])  # test.tsv:5 has label 2
    wide = "@CHEMICAL$ " + FILLER * 8 + "@DISEASE$ ."  # ~55 subwords marked: over max_length 32, well within 512
    re_corpus("re_wide", RE_ROWS + [(wide, "1")] + RE_ROWS * 2)  # train.tsv:5
    wider = "@CHEMICAL$ " + FILLER * 120 + "@DISEASE$ ."  # over 700 subwords: beyond MiniLM's 512 positions
    re_corpus("re_too_wide", RE_ROWS + [(wider, "1")] + RE_ROWS * 2)  # train.tsv:5
    re_top = {"task": "re"}
    config(w, "re_label2", top={**re_top, "output_dir": str(w / "out_re_label2")}, data={"corpus": str(i / "re_label2")})
    config(w, "re_wide", top={**re_top, "output_dir": str(w / "out_re_wide")}, data={"corpus": str(i / "re_wide")})
    config(w, "re_too_wide", top={**re_top, "output_dir": str(w / "out_re_too_wide")},
           data={"corpus": str(i / "re_too_wide")})
    config(w, "re_pairs", top={**re_top, "output_dir": str(w / "out_re_pairs")}, data={"corpus": str(i / "re_toy")},
           re={"pairs": [["Chemical", "Disease"]]})
    write(i / "bad" / "re_one_marker.tsv", rows([RE_ROWS[0], ("@CHEMICAL$ induced hypotension .", "1")]))
    write(i / "bad" / "re_three_columns.tsv", rows(RE_ROWS[:1]) + "7\t@CHEMICAL$ induced @DISEASE$ .\t1\n")
    write(i / "re_rows.tsv", "".join(f"{text}\n" for text, _ in RE_ROWS))

    # question answering: SQuAD-form JSON and BLURB's yes/no TSV, named by path in the configs
    context = "aspirin induced hypotension in the patient ."
    squad(i / "qa" / "squad_train.json", [(f"q{k}_001", "what did aspirin induce ?", context, "hypotension", 16)
                                          for k in range(4)])
    squad(i / "qa" / "squad_test.json", [("t1_001", "what induced hypotension ?", context, "aspirin", 0)])
    squad(i / "qa" / "long_question.json", [("long_q_001", "what did aspirin induce " + FILLER * 120 + "?", context,
                                             "hypotension", 16)])
    squad(i / "qa" / "bad_start.json", [("bad_start_001", "what did aspirin induce ?", context, "hypotension", 3)])
    write(i / "qa" / "truncated.json", (i / "qa" / "squad_train.json").read_text()[:150])

    def yesno(question: str, context: str, label: str) -> str:
        return f"question: {question} context: {context}\t{label}\n"

    write(i / "qa" / "yesno_train.tsv", yesno("does aspirin cause hypotension ?", context, "yes")
          + yesno("does cisplatin cure nephrotoxicity ?", "cisplatin causes nephrotoxicity .", "no") * 2)
    write(i / "qa" / "yesno_test.tsv", yesno("does aspirin cause hypotension ?", context, "yes")
          + yesno("is lithium safe ?", "lithium caused seizures .", "no")
          + yesno("does lithium cause seizures ?", "seizures were seen after lithium .", "maybe"))  # line 3

    def qa(name: str, task: str, train: str, test: str, **sections: dict) -> None:
        config(w, name, top={"task": task, "output_dir": str(w / f"out_{name}")},
               model={"max_length": 384 if task == "qa" else 128},
               data={"corpus": str(i / "qa"), "train": str(i / "qa" / train), "dev": None,
                     "test": [str(i / "qa" / test)]}, **sections)

    qa("qa_long_question", "qa", "long_question.json", "squad_test.json")
    qa("qa_truncated", "qa", "truncated.json", "squad_test.json")
    qa("qa_bad_start", "qa", "bad_start.json", "squad_test.json")
    qa("yesno_maybe", "yesno", "yesno_train.tsv", "yesno_test.tsv", yesno={"stride": 32})

    # pretraining: sources that are test text under another name, a missing source, a misspelled key
    write(i / "pt" / "abstracts.txt", (i / "toy" / "test.tsv").read_bytes())  # the toy test split, renamed
    for split, copies in (("train", 2), ("devel", 1), ("test", 3)):  # a registered corpus in a data folder
        write(i / "data" / "ncbi_disease" / f"{split}.tsv", tsv(TOY[:1] * copies))
    write(i / "pt" / "ncbi_notes.txt", (i / "data" / "ncbi_disease" / "test.tsv").read_bytes())
    write(i / "pt" / "unlabelled.txt", "aspirin induced hypotension .\ncisplatin causes nephrotoxicity .\n")

    def pretrain(name: str, sources: list[dict], **keys: object) -> None:
        data = {"name": name, "output_dir": str(w / "scratch" / "pretrain"), "backbone": "minilm", "sources": sources,
                "max_length": 32, "training": {"max_steps": 1, "batch_size": 2, "bf16": False}, **keys}
        write(i / "configs" / f"{name}.yaml", yaml.safe_dump(data))

    pretrain("pt_copy_of_test", [{"path": str(i / "pt" / "abstracts.txt"), "format": "text"}],
             exclude_test_of=[str(i / "configs" / "good.yaml")])
    pretrain("pt_copy_of_registered_test", [{"path": str(i / "pt" / "ncbi_notes.txt"), "format": "text"}],
             data_dir=str(i / "data"))
    pretrain("pt_test_split", [{"corpus": f"{i / 'toy'}:test"}])
    pretrain("pt_missing_source", [{"path": str(i / "pt" / "none.txt"), "format": "text"}])
    pretrain("pt_typo_key", [{"path": str(i / "pt" / "unlabelled.txt"), "format": "text"}], max_lenght=32)

    # search spaces
    write(i / "search" / "dup.yaml", "# a search space whose one key is given twice\n#\n#\nsampler: tpe\nparams:\n"
          "  training.learning_rate: {type: log, low: 1.0e-5, high: 1.0e-4}\n"      # line 6
          "  training.batch_size: {type: categorical, choices: [2, 4]}\n"
          "  training.learning_rate: {type: float, low: 1.0e-5, high: 2.0e-5}\n")   # line 8
    write(i / "search" / "unknown_key.yaml", "params:\n  training.epoch: {type: int, low: 1, high: 2}\n")
    write(i / "search" / "good.yaml", "params:\n  training.learning_rate: {type: log, low: 1.0e-5, high: 1.0e-4}\n")

    # suites (config paths are relative to the suite file) and an experiment config with a key given twice
    suite_head = f"output_dir: {w / 'scratch' / 'suite'}\nseeds: [42]\nbackbones: [minilm]\n"
    write(i / "suites" / "dup.yaml", "# a suite whose one dataset is given twice\n" + suite_head + "datasets:\n"
          "  toy: {config: ../configs/good.yaml}\n"       # line 6
          "  toy_again: {config: ../configs/good.yaml}\n"
          "  toy: {config: ../configs/good.yaml}\n")      # line 8
    write(i / "suites" / "good.yaml", suite_head + "datasets:\n  toy: {config: ../configs/good.yaml}\n")
    write(i / "suites" / "missing_config.yaml", suite_head + "datasets:\n  toy: {config: ../configs/nope.yaml}\n")
    write(i / "suites" / "dup_config.yaml", suite_head + "datasets:\n  toy: {config: ../configs/dup_key.yaml}\n")
    write(i / "configs" / "dup_key.yaml", f"name: dup_key\noutput_dir: {w / 'scratch' / 'dup_key'}\n"
          "model: {backbone: minilm, max_length: 32}\n"              # line 3
          f"data: {{corpus: {i / 'toy'}}}\n"
          "training: {epochs: 1, batch_size: 4, bf16: false}\n"
          "model: {backbone: minilm, max_length: 64}\n")             # line 6


def lines(*numbers: int) -> Callable[[str], str | None]:
    """The error must name each of these line numbers (`line 6`, `lines 6 and 8`, `file:6`)."""
    def check(error: str) -> str | None:
        missing = [n for n in numbers if not re.search(rf"(?:\bline|\blines|:|,|\band)\s*{n}(?!\d)", error)]
        return f"error does not name line {', '.join(map(str, missing))}" if missing else None
    return check


def mentions(*texts: str) -> Callable[[str], str | None]:
    """The error must also hold each of these texts."""
    def check(error: str) -> str | None:
        missing = [t for t in texts if t not in error]
        return f"error does not name {', '.join(map(repr, missing))}" if missing else None
    return check


def max_length_at_most(limit: int, suggest: bool = False) -> Callable[[str], str | None]:
    """No `max_length` above `limit` is suggested (the backbone's positions); with `suggest`, one above the
    configured 32 and at most `limit` is."""
    def check(error: str) -> str | None:
        named = [int(n) for n in re.findall(r"max_length\W{0,3}(?:to\s+)?(?:at\s+least\s+)?(\d+)", error)]
        over = [n for n in named if n > limit]
        if over:
            return f"suggests max_length {over[0]}, above the backbone's {limit} positions"
        if suggest and not any(32 < n <= limit for n in named):
            return f"suggests no max_length up to {limit}"
        return None
    return check


def both(*checks: Callable[[str], str | None]) -> Callable[[str], str | None]:
    return lambda error: next((problem for c in checks if (problem := c(error)) is not None), None)


def cases() -> list[Case]:
    c = "{w}/inputs/configs"
    b = "{w}/inputs/bad"
    out = "{w}/scratch"
    return [
        # configs and training options
        Case("config", "YAML syntax error", ["train", f"{b}/bad.yaml"], "bad.yaml"),
        Case("config", "YAML that is a list", ["train", f"{b}/list.yaml"], "list.yaml"),
        Case("config", "misspelled key", ["train", f"{c}/typo_key.yaml"], "epoch", ["{w}/out/results/typo_key"]),
        Case("config", "unknown head", ["train", f"{c}/bad_head.yaml"], "crf", ["{w}/out/results/bad_head"]),
        Case("config", "config file missing", ["train", f"{c}/nope.yaml"], "nope.yaml"),
        Case("config", "epochs inf", ["train", f"{c}/epochs_inf.yaml"], "epochs", ["{w}/out/results/epochs_inf"]),
        Case("config", "--epochs nan", ["train", f"{c}/good.yaml", "--epochs", "nan", "--output-dir", out], "epochs", [out]),
        Case("config", "--epochs 0", ["train", f"{c}/good.yaml", "--epochs", "0", "--output-dir", out], "epochs", [out]),
        Case("config", "learning rate 0", ["train", f"{c}/lr_zero.yaml"], "learning_rate", ["{w}/out/results/lr_zero"]),
        Case("config", "--learning-rate -1", ["train", f"{c}/good.yaml", "--learning-rate", "-1", "--output-dir", out],
             "learning", [out]),
        Case("config", "batch size 0", ["train", f"{c}/batch_zero.yaml"], "batch_size", ["{w}/out/results/batch_zero"]),
        Case("config", "--batch-size -4", ["train", f"{c}/good.yaml", "--batch-size", "-4", "--output-dir", out], "batch", [out]),
        Case("config", "max_length above the backbone's positions", ["train", f"{c}/too_long.yaml"], "max_length",
             ["{w}/out/results/too_long"]),
        Case("config", "backbone that does not exist", ["train", f"{c}/no_backbone.yaml"], "nowhere",
             ["{w}/out/results/no_backbone", "{w}/out/checkpoints/no_backbone"]),
        Case("config", "dev split is the test split", ["train", f"{c}/dev_is_test.yaml"], "dev",
             ["{w}/out/results/dev_is_test"]),
        Case("config", "corpus folder missing", ["train", f"{c}/missing_corpus.yaml"], "absent",
             ["{w}/out/results/missing_corpus"]),
        Case("config", "finished run without --overwrite", ["train", f"{c}/good.yaml"], "--overwrite"),
        Case("config", "--overwrite with a bad backbone keeps the finished run",
             ["train", f"{c}/good_bad_backbone.yaml", "--overwrite"], "nowhere"),
        Case("config", "run --seeds with a non-integer", ["run", f"{c}/good.yaml", "--seeds", "42", "x"], "'x'"),
        Case("config", "sweep of an unknown key", ["sweep", f"{c}/good.yaml", "--key", "training.epoch", "--value", "1",
                                                   "--output-dir", out], "epoch", [out]),
        # data files
        Case("data", "TSV line with one column", ["check-data", "{w}/inputs/toy_bad_tsv"], "toy_bad_tsv/train.tsv:2",
             setup=lambda w: _corpus(w, "toy_bad_tsv", "one_column.tsv")),
        Case("data", "TSV with an unknown tag prefix", ["check-data", "{w}/inputs/toy_bad_tag"], "toy_bad_tag/train.tsv:2",
             setup=lambda w: _corpus(w, "toy_bad_tag", "bad_tag.tsv")),
        Case("data", "check-data --max-length 0", ["check-data", "{w}/inputs/toy", "--max-length", "0"], "max-length"),
        Case("data", "predict on truncated JSONL", ["predict", "--checkpoint", CKPT, "--input", f"{b}/bad.jsonl",
                                                    "--output", f"{out}/p.jsonl"], "bad.jsonl:2", [f"{out}/p.jsonl"]),
        Case("data", "JSONL tokens and tags of different lengths",
             ["evaluate", "--checkpoint", CKPT, "--test", f"{b}/mismatch.jsonl"], "mismatch.jsonl:1"),
        Case("data", "text that is not UTF-8", ["predict", "--checkpoint", CKPT, "--input", f"{b}/not_utf8.txt",
                                                "--output", f"{out}/p.jsonl"], "not_utf8.txt", [f"{out}/p.jsonl"]),
        Case("data", "document JSONL without text", ["tag", "--checkpoint", CKPT, "--input", f"{b}/docs.jsonl",
                                                     "--output-dir", f"{out}/tag1"], "docs.jsonl:2"),
        Case("data", "PubTator line of unknown kind", ["tag", "--checkpoint", CKPT, "--input", f"{b}/bad.pubtator",
                                                       "--output-dir", f"{out}/tag2"], "bad.pubtator:2"),
        Case("data", "truncated BioC XML", ["tag", "--checkpoint", CKPT, "--input", f"{b}/bad.xml", "--format", "bioc-xml",
                                            "--output-dir", f"{out}/tag3"], "bad.xml"),
        Case("data", "silver with a dictionary that does not exist",
             ["silver", "{w}/inputs/toy/train.tsv", "--output", f"{out}/s.jsonl", "--dict", "{w}/inputs/nodict.tsv"],
             "nodict.tsv", [f"{out}/s.jsonl"]),
        # options and outputs
        Case("options", "predict --batch-size 0", ["predict", "--checkpoint", CKPT, "--input", "{w}/inputs/sentences.txt",
                                                   "--output", f"{out}/p.jsonl", "--batch-size", "0"], "batch-size",
             [f"{out}/p.jsonl"]),
        Case("options", "predict --batch-size -1", ["predict", "--checkpoint", CKPT, "--input", "{w}/inputs/sentences.txt",
                                                    "--output", f"{out}/p.jsonl", "--batch-size", "-1"], "batch-size",
             [f"{out}/p.jsonl"]),
        Case("options", "evaluate --batch-size 0", ["evaluate", "--checkpoint", CKPT, "--test", "{w}/inputs/toy/test.tsv",
                                                    "--batch-size", "0"], "batch-size"),
        Case("options", "tag --batch-size 0", ["tag", "--checkpoint", CKPT, "--input", "{w}/inputs/docs.pubtator",
                                               "--output-dir", f"{out}/tag4", "--batch-size", "0"], "batch-size",
             [f"{out}/tag4"]),
        Case("options", "unknown precision", ["predict", "--checkpoint", CKPT, "--input", "{w}/inputs/sentences.txt",
                                              "--output", f"{out}/p.jsonl", "--precision", "fp8"], "fp8", [f"{out}/p.jsonl"]),
        Case("options", "predict --output = --input", ["predict", "--checkpoint", CKPT, "--input", "{w}/inputs/sentences.txt",
                                                       "--output", "{w}/inputs/sentences.txt"], "sentences.txt"),
        Case("options", "silver --output = input", ["silver", "{w}/inputs/toy/train.tsv", "--output",
                                                    "{w}/inputs/toy/train.tsv", "--dict", "{w}/inputs/dict.tsv"], "train.tsv"),
        Case("options", "predict --output is a folder", ["predict", "--checkpoint", CKPT, "--input",
                                                         "{w}/inputs/sentences.txt", "--output", "{w}/inputs/a_folder"],
             "a_folder"),
        Case("options", "predict --output under a file", ["predict", "--checkpoint", CKPT, "--input",
                                                          "{w}/inputs/sentences.txt", "--output", "{w}/inputs/a_file/p.jsonl"],
             "a_file"),
        Case("options", "predict onto an existing output", ["predict", "--checkpoint", CKPT, "--input",
                                                            "{w}/inputs/sentences.txt", "--output", "{w}/inputs/sentences2.txt"],
             "--overwrite", setup=lambda w: write(w / "inputs" / "sentences2.txt", "keep me\n")),
        Case("options", "evaluate onto existing eval files", ["evaluate", "--checkpoint", CKPT, "--test",
                                                              "{w}/inputs/toy/test.tsv", "--output-dir",
                                                              "{w}/out/results/good/seed_42"], "--overwrite"),
        Case("options", "serve --port 70000", ["serve", "--checkpoint", CKPT, "--port", "70000"], "port"),
        Case("options", "serve --port -1", ["serve", "--checkpoint", CKPT, "--port", "-1"], "port"),
        Case("options", "input file missing", ["predict", "--checkpoint", CKPT, "--input", "{w}/inputs/none.txt",
                                               "--output", f"{out}/p.jsonl"], "none.txt", [f"{out}/p.jsonl"]),
        # checkpoints
        Case("checkpoint", "checkpoint folder missing", ["predict", "--checkpoint", "{w}/inputs/ckpt/absent", "--input",
                                                         "{w}/inputs/sentences.txt", "--output", f"{out}/p.jsonl"], "absent",
             [f"{out}/p.jsonl"]),
        Case("checkpoint", "checkpoint without tokenizer", ["predict", "--checkpoint", "{w}/inputs/ckpt/no_tokenizer",
                                                            "--input", "{w}/inputs/sentences.txt", "--output",
                                                            f"{out}/p.jsonl"], "no_tokenizer", [f"{out}/p.jsonl"]),
        Case("checkpoint", "checkpoint with truncated weights", ["evaluate", "--checkpoint", "{w}/inputs/ckpt/truncated",
                                                                 "--test", "{w}/inputs/toy/test.tsv"], "truncated"),
        Case("checkpoint", "checkpoint that is not a biotune model", ["tag", "--checkpoint", "{w}/inputs/ckpt/not_biotune",
                                                                      "--input", "{w}/inputs/docs.pubtator", "--output-dir",
                                                                      f"{out}/tag5"], "not_biotune", [f"{out}/tag5"]),
        Case("checkpoint", "a backbone, not a trained model", ["predict", "--checkpoint", "{w}/inputs/ckpt/backbone",
                                                               "--input", "{w}/inputs/sentences.txt", "--output",
                                                               f"{out}/p.jsonl"], "backbone", [f"{out}/p.jsonl"],
             setup=_backbone_folder),
        Case("config", "experiment config with a key given twice", ["train", f"{c}/dup_key.yaml"], "model",
             ["{w}/scratch/dup_key"], check=lines(3, 6)),
        # relation extraction (task re)
        Case("re", "check-data: test label the training split never has",
             ["check-data", f"{c}/re_label2.yaml"], "re_label2/test.tsv:5", check=mentions("'2'")),
        Case("re", "train: test label the training split never has", ["train", f"{c}/re_label2.yaml"],
             "re_label2/test.tsv:5", ["{w}/out_re_label2"], check=mentions("'2'")),
        Case("re", "pair too wide for max_length 32, within 512", ["train", f"{c}/re_wide.yaml"], "re_wide/train.tsv:5",
             ["{w}/out_re_wide"], check=max_length_at_most(512, suggest=True)),
        Case("re", "pair wider than the backbone's 512 positions", ["train", f"{c}/re_too_wide.yaml"],
             "re_too_wide/train.tsv:5", ["{w}/out_re_too_wide"],
             check=both(max_length_at_most(512), mentions("re.too_wide: skip"))),
        Case("re", "re.pairs on pre-masked sentence rows", ["train", f"{c}/re_pairs.yaml"], "re.pairs",
             ["{w}/out_re_pairs"]),
        Case("re", "relation model as tag --checkpoint", ["tag", "--checkpoint", RE_CKPT, "--input",
                                                           "{w}/inputs/docs.pubtator", "--output-dir", f"{out}/tag_re1"],
             "is a re model", [f"{out}/tag_re1"], check=mentions("--relations")),
        # a pre-masked RE model is served at /re; one for documents goes beside an NER model
        Case("re", "document relation model as serve --checkpoint", ["serve", "--checkpoint", RE_DOCS, "--port", "1"],
             "is a re model", check=mentions("--relations")),
        Case("re", "row with one entity marker", ["predict", "--checkpoint", RE_CKPT, "--input", f"{b}/re_one_marker.tsv",
                                                  "--output", f"{out}/p.jsonl"], "re_one_marker.tsv:2", [f"{out}/p.jsonl"]),
        Case("re", "row with three columns", ["evaluate", "--checkpoint", RE_CKPT, "--test", f"{b}/re_three_columns.tsv",
                                              "--output-dir", f"{out}/eval"], "re_three_columns.tsv:2", [f"{out}/eval"]),
        Case("re", "predict --output = --input", ["predict", "--checkpoint", RE_CKPT, "--input", "{w}/inputs/re_rows.tsv",
                                                  "--output", "{w}/inputs/re_rows.tsv"], "re_rows.tsv"),
        # question answering (task qa, yesno)
        Case("qa", "question longer than the backbone's positions", ["train", f"{c}/qa_long_question.yaml"],
             "long_q_001", ["{w}/out_qa_long_question"], check=max_length_at_most(512)),
        Case("qa", "yes/no test label the training split never has", ["train", f"{c}/yesno_maybe.yaml"],
             "yesno_test.tsv", ["{w}/out_yesno_maybe"], check=both(mentions("'maybe'"), lines(3))),
        Case("qa", "check-data: yes/no test label the training split never has", ["check-data", f"{c}/yesno_maybe.yaml"],
             "yesno_test.tsv", check=both(mentions("'maybe'"), lines(3))),
        Case("qa", "truncated SQuAD JSON", ["train", f"{c}/qa_truncated.yaml"], "truncated.json", ["{w}/out_qa_truncated"]),
        Case("qa", "answer_start that does not match the answer", ["train", f"{c}/qa_bad_start.yaml"], "bad_start_001",
             ["{w}/out_qa_bad_start"]),
        # continued pretraining
        Case("pretrain", "source that is a renamed copy of a config's test split",
             ["pretrain", f"{c}/pt_copy_of_test.yaml"], "toy/test.tsv", [f"{out}/pretrain"], check=mentions("good.yaml")),
        Case("pretrain", "source that is a renamed copy of a registered corpus's test split",
             ["pretrain", f"{c}/pt_copy_of_registered_test.yaml"], "ncbi_disease", [f"{out}/pretrain"]),
        Case("pretrain", "a corpus's :test split as source", ["pretrain", f"{c}/pt_test_split.yaml"], "test.tsv",
             [f"{out}/pretrain"]),
        Case("pretrain", "source file missing", ["pretrain", f"{c}/pt_missing_source.yaml"], "none.txt", [f"{out}/pretrain"]),
        Case("pretrain", "misspelled key", ["pretrain", f"{c}/pt_typo_key.yaml"], "max_lenght", [f"{out}/pretrain"]),
        # hyperparameter search
        Case("search", "space with a key given twice", ["search", f"{c}/good.yaml", "--space", "{w}/inputs/search/dup.yaml",
                                                        "--trials", "1", "--final-seeds", "0", "--output-dir", out],
             "training.learning_rate", [out], check=lines(6, 8)),
        Case("search", "space over an unknown dotted key", ["search", f"{c}/good.yaml", "--space",
                                                            "{w}/inputs/search/unknown_key.yaml", "--trials", "1",
                                                            "--final-seeds", "0", "--output-dir", out],
             "training.epoch", [out]),
        Case("search", "--trials 0", ["search", f"{c}/good.yaml", "--space", "{w}/inputs/search/good.yaml", "--trials", "0",
                                      "--final-seeds", "0", "--output-dir", out], "trials", [out]),
        # benchmark suites
        Case("suite", "dataset given twice", ["benchmark", "{w}/inputs/suites/dup.yaml"], "toy", [f"{out}/suite"],
             check=lines(6, 8)),
        Case("suite", "--only an unknown dataset", ["benchmark", "{w}/inputs/suites/good.yaml", "--only", "toyy"], "toyy",
             [f"{out}/suite"]),
        Case("suite", "dataset whose config file does not exist", ["benchmark", "{w}/inputs/suites/missing_config.yaml"],
             "nope.yaml", [f"{out}/suite"]),
        Case("suite", "dataset config with a key given twice", ["benchmark", "{w}/inputs/suites/dup_config.yaml"],
             "dup_key.yaml", [f"{out}/suite", f"{out}/dup_key"], check=both(mentions("model"), lines(3, 6))),
        # tag with relations
        Case("tag_re", "NER model as --relations", ["tag", "--checkpoint", CKPT, "--relations", CKPT, "--input",
                                                     "{w}/inputs/docs.pubtator", "--output-dir", f"{out}/tag_re2"],
             "ner model", [f"{out}/tag_re2"], check=mentions("--checkpoint")),
        Case("tag_re", "relation model without re.pairs (pre-masked rows) as --relations",
             ["tag", "--checkpoint", CKPT, "--relations", RE_CKPT, "--input", "{w}/inputs/docs.pubtator", "--output-dir",
              f"{out}/tag_re5"], "re.pairs", [f"{out}/tag_re5"]),
        Case("tag_re", "--relations with --output-format conll", ["tag", "--checkpoint", CKPT, "--relations", RE_DOCS,
                                                                  "--output-format", "conll", "--input",
                                                                  "{w}/inputs/docs.pubtator", "--output-dir",
                                                                  f"{out}/tag_re3"], "conll", [f"{out}/tag_re3"]),
        Case("tag_re", "link dictionary that does not exist", ["tag", "--checkpoint", CKPT, "--relations", RE_DOCS,
                                                               "--link-dictionary", "{w}/inputs/nodict.tsv", "--input",
                                                               "{w}/inputs/docs.pubtator", "--output-dir", f"{out}/tag_re4"],
             "nodict.tsv", [f"{out}/tag_re4"], check=mentions("dictionary")),
        Case("tag_re", "serve --relations with an NER model", ["serve", "--checkpoint", CKPT, "--relations", CKPT,
                                                               "--port", "1"], "ner model", check=mentions("--checkpoint")),
    ]


def _corpus(w: Path, name: str, bad: str) -> None:
    folder = w / "inputs" / name
    write(folder / "train.tsv", (w / "inputs" / "bad" / bad).read_text())
    write(folder / "test.tsv", tsv(TOY))


def _backbone_folder(w: Path) -> None:
    from biotune.models.backbones import resolve_backbone

    src = Path(resolve_backbone("minilm"))
    shutil.copytree(src, w / "inputs" / "ckpt" / "backbone", dirs_exist_ok=True)


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_case(case: Case, w: Path) -> str | None:
    """None when the case keeps every promise, else what broke."""
    if case.setup:
        case.setup(w)
    shutil.rmtree(w / "scratch", ignore_errors=True)
    fill = lambda s: s.replace("{w}", str(w))  # noqa: E731
    args = [fill(a) for a in case.args]
    before_inputs = fingerprint(w / "inputs")
    before_run = fingerprint(w / "out" / "results" / "good")
    try:
        proc = subprocess.run([*BIOTUNE, *args], env=ENV, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "still running after 300 s (killed)"
    text = proc.stdout + proc.stderr
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    problems = []
    if proc.returncode != case.code:
        problems.append(f"exit {proc.returncode}, want {case.code}")
    if "Traceback" in text:
        problems.append("traceback")
    if case.code == 2:
        if len(errors) != 1:
            problems.append(f"{len(errors)} 'error:' lines")
        elif case.names and fill(case.names) not in errors[0]:
            problems.append(f"error does not name {fill(case.names)!r}")
        elif case.check and (problem := case.check(errors[0].replace(str(w), "{w}"))):
            problems.append(problem)
    if fingerprint(w / "inputs") != before_inputs:
        problems.append("an input changed")
    if fingerprint(w / "out" / "results" / "good") != before_run:
        problems.append("the finished run changed")
    problems += [f"{fill(p)} was written" for p in case.absent if Path(fill(p)).exists()]
    if problems:
        first = (errors[0] if errors else text.strip().splitlines()[-1] if text.strip() else "(no output)")[:160]
        return f"{'; '.join(problems)} | {first}"
    return None


def kill_cases(w: Path) -> list[tuple[str, str | None]]:
    """SIGKILL mid-write, then rerun: no result under the final name, no junk left, the rerun completes."""
    results = []
    out = w / "scratch_kill" / "p.jsonl"
    shutil.rmtree(out.parent, ignore_errors=True)
    args = [*BIOTUNE, "predict", "--checkpoint", CKPT.replace("{w}", str(w)), "--input", str(w / "inputs/big.txt"),
            "--output", str(out)]
    problem = _kill_when(args, lambda: any(out.parent.glob(".p.jsonl.*")) if out.parent.exists() else False)
    if problem is None and out.exists():
        problem = "a killed predict left a result under the final name"
    if problem is None:
        rerun = subprocess.run(args, env=ENV, capture_output=True, text=True)
        junk = [p.name for p in out.parent.iterdir() if p.name != "p.jsonl"]
        lines = out.read_text().count("\n") if out.exists() else 0
        if rerun.returncode != 0 or lines != 6000 or junk:
            problem = f"rerun: exit {rerun.returncode}, {lines} lines of 6000, leftovers {junk}"
    results.append(("predict killed mid-write, rerun", problem))

    job = w / "scratch_kill" / "tag"
    args = [*BIOTUNE, "tag", "--checkpoint", CKPT.replace("{w}", str(w)), "--input", str(w / "inputs/docs.pubtator"),
            "--output-dir", str(job), "--shard-size", "200"]
    problem = _kill_when(args, lambda: len(list(job.glob("*.jsonl"))) >= 2)
    if problem is None:
        rerun = subprocess.run(args, env=ENV, capture_output=True, text=True)
        reference = w / "scratch_kill" / "tag_ref"
        ref = subprocess.run([*args[:-4], "--output-dir", str(reference), "--shard-size", "200"], env=ENV,
                             capture_output=True, text=True)
        shards = lambda folder: {k: v for k, v in fingerprint(folder).items() if k != "tag_manifest.json"}  # noqa: E731
        same = shards(job) == shards(reference) if rerun.returncode == ref.returncode == 0 else False
        if not same:
            problem = f"resumed tag job differs from an uninterrupted one (exit {rerun.returncode}/{ref.returncode})"
    results.append(("tag killed between shards, rerun", problem))
    return results


def _kill_when(args: list[str], ready: Callable[[], bool], timeout: float = 240) -> str | None:
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            return f"finished (exit {proc.returncode}) before it could be killed"
        if time.monotonic() > deadline:
            proc.kill()
            return "never reached the kill point"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return None


def _default_sigint() -> None:
    """A child whose parent runs with SIGINT ignored (a background job) would inherit that: restore the default,
    which Python turns into KeyboardInterrupt as it would at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_cases(w: Path) -> list[tuple[str, str | None]]:
    """Ctrl-C (SIGINT) and `kill` (SIGTERM) mid-write: a non-zero exit (130 / 143), no temporary file left,
    nothing under the final name; SIGINT to `biotune serve` shuts it down cleanly (exit 0, no traceback)."""
    results: list[tuple[str, str | None]] = []
    for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        out = w / f"scratch_{sig.name.lower()}" / "p.jsonl"
        shutil.rmtree(out.parent, ignore_errors=True)
        args = [*BIOTUNE, "predict", "--checkpoint", CKPT.replace("{w}", str(w)), "--input", str(w / "inputs/big.txt"),
                "--output", str(out)]
        log = w / f"{out.parent.name}.stderr"  # a file, not a pipe: a full pipe would stall the command
        with log.open("w") as err:
            proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_default_sigint)
            problem = _signal_when(proc, lambda: any(out.parent.glob(".p.jsonl.*")) if out.parent.exists() else False,
                                   sig)
        stderr = log.read_text(errors="replace")
        if problem is None:
            problems = []
            if proc.returncode == 0:
                problems.append(f"exit 0, want non-zero ({want})")
            elif proc.returncode < 0:
                problems.append(f"died of the signal (exit {proc.returncode}) without cleaning up, want {want}")
            leftovers = sorted(p.name for p in out.parent.iterdir()) if out.parent.exists() else []
            if leftovers:
                problems.append(f"left {leftovers}")
            problem = "; ".join(problems) or None
            note = f"exit {proc.returncode}" + (", traceback" if "Traceback" in stderr else "")
        else:
            note = ""
        results.append((f"predict interrupted by {sig.name} ({note})" if note else f"predict interrupted by {sig.name}",
                        problem))

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = w / "serve_sigint.stderr"
    with log.open("w") as err:
        server = subprocess.Popen([*BIOTUNE, "serve", "--checkpoint", CKPT.replace("{w}", str(w)), "--port", str(port)],
                                  env=ENV, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_default_sigint)
        problem = _signal_when(server, lambda: _healthy(f"http://127.0.0.1:{port}"), signal.SIGINT)
    stderr = log.read_text(errors="replace")
    if problem is None:
        problems = [] if server.returncode == 0 else [f"exit {server.returncode}, want 0"]
        if "Traceback" in stderr:
            problems.append("traceback in its stderr: " + stderr.strip().splitlines()[-1][:120])
        problem = "; ".join(problems) or None
    results.append(("serve stopped by SIGINT", problem))
    return results


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _signal_when(proc: subprocess.Popen, ready: Callable[[], bool], sig: signal.Signals, timeout: float = 240) -> str | None:
    """Send `sig` once `ready()`; None when the process then ended within 60 s, else what went wrong."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            return f"finished (exit {proc.returncode}) before the signal"
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return "never reached the point to signal"
        time.sleep(0.05)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return f"still running 60 s after {sig.name} (killed)"
    return None


def service_cases(w: Path) -> list[tuple[str, str | None]]:
    """Abuse of a live `biotune serve`: each answer is a JSON error with a detail, and the server stays healthy."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*BIOTUNE, "serve", "--checkpoint", CKPT.replace("{w}", str(w)), "--port", str(port)],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    results: list[tuple[str, str | None]] = []
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        abuse: list[tuple[str, bytes, dict[str, str], set[int]]] = [
            ("body that is not JSON", b"{not json", {}, {400, 422}),
            ("100,000 levels of nested JSON", b"[" * 100_000 + b"]" * 100_000, {}, {422}),
            ("texts is not a list", json.dumps({"texts": "Aspirin"}).encode(), {}, {422}),
            ("a text that is a number", json.dumps({"texts": [5]}).encode(), {}, {422}),
            ("too many texts", json.dumps({"texts": ["a"] * 10_000}).encode(), {}, {413, 422}),
            ("a text over the character limit", json.dumps({"texts": ["a " * 60_000]}).encode(), {}, {413, 422}),
            ("a body over the size limit", b'{"texts": ["' + b"a" * 3_000_000 + b'"]}', {}, {413}),
            ("empty body", b"", {}, {400, 422}),
        ]
        for name, body, headers, codes in abuse:
            try:
                r = httpx.post(f"{url}/tag", content=body, headers={"content-type": "application/json", **headers},
                               timeout=60)
                detail = r.json().get("detail") if r.headers.get("content-type", "").startswith("application/json") else None
                problem = None if r.status_code in codes and detail else f"HTTP {r.status_code}, detail {str(detail)[:80]!r}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            health = httpx.get(f"{url}/health", timeout=10).status_code
            results.append((name, problem or (None if health == 200 else f"health {health} afterwards")))
        results.append(("200 concurrent one-sentence requests", _concurrent(f"{url}/tag", 200)))
        r = httpx.post(f"{url}/tag", json={"texts": ["Aspirin induced hypotension."]}, timeout=60)
        model = r.json().get("model", "")
        results.append(("response names the model, not a server path",
                        None if r.status_code == 200 and not str(model).startswith("/") else f"model = {model!r}"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def _concurrent(url: str, n: int) -> str | None:
    """`n` one-sentence requests at once (one thread each, released together): None when every one is answered 200."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(n)

    def one(k: int) -> str:
        with httpx.Client(timeout=120) as client:
            try:
                start.wait(timeout=60)
                return str(client.post(url, json={"texts": [f"Aspirin induced hypotension in patient {k}."]}).status_code)
            except threading.BrokenBarrierError:
                return "not started together"
            except httpx.HTTPError as exc:
                return type(exc).__name__

    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(one, range(n)))
    counts = {answer: answers.count(answer) for answer in sorted(set(answers))}
    return None if counts == {"200": n} else f"answers {counts}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print the result, leave BENCHMARKS.md alone")
    ap.add_argument("--keep", type=Path, help="build the workspace here and keep it (default: a temporary folder)")
    ap.add_argument("--only", action="append", metavar="GROUP", help="run only this group of cases (repeatable); "
                    "implies --no-write")
    opts = ap.parse_args()
    chosen = lambda group: not opts.only or group in opts.only  # noqa: E731
    w = opts.keep or Path(tempfile.mkdtemp(prefix="biotune_bad_inputs_"))
    w.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    build_workspace(w)
    bad_checkpoints(w)
    malformed(w)
    task_inputs(w)
    built = time.perf_counter() - started
    print(f"workspace built in {built:.0f} s: {w}", flush=True)
    rows: list[tuple[str, str, str | None]] = []
    for case in filter(lambda case: chosen(case.group), cases()):
        rows.append((case.group, case.name, run_case(case, w)))
        print(f"{'ok  ' if rows[-1][2] is None else 'FAIL'} {case.group:10} {case.name}"
              + ("" if rows[-1][2] is None else f"  -- {rows[-1][2]}"), flush=True)
    for group, runner in (("kill", kill_cases), ("signal", signal_cases), ("service", service_cases)):
        if not chosen(group):
            continue
        for name, problem in runner(w):
            rows.append((group, name, problem))
            print(f"{'ok  ' if problem is None else 'FAIL'} {group:10} {name}" + ("" if problem is None else f"  -- {problem}"),
                  flush=True)
    passed = sum(problem is None for *_, problem in rows)
    print(f"\ncases tried {len(rows)}, passed {passed}")
    groups = list(dict.fromkeys(g for g, *_ in rows))
    counts = [[g, str(sum(r[0] == g for r in rows)), str(sum(r[0] == g and r[2] is None for r in rows))] for g in groups]
    table = markdown_table(("group", "cases", "passed"), [*counts, ["**all**", f"**{len(rows)}**", f"**{passed}**"]],
                           ["left", "right", "right"])
    print("\n" + table)
    failures = [f"- {g} / {n}: {p}" for g, n, p in rows if p is not None]
    body = table + "\n\n" + (
        "Failures:\n" + "\n".join(failures) + "\n\n" if failures else "Every case kept every promise.\n\n") + (
        "Each case runs the real `biotune` command (or a real HTTP request to `biotune serve`) and passes when: the exit "
        "status is 2 with exactly one `error:` line that names the file, line, option or key, and no traceback; no input "
        "file changed; nothing half-written (the case's output paths absent); a finished run untouched; and any "
        "further promise of the case (both lines of a duplicate key, no max_length above the backbone's positions "
        "suggested, the option a model of another task goes to). Kill cases SIGKILL `predict` mid-write and `tag` "
        "between shards, then rerun: no partial result, no leftovers, output equal to an uninterrupted job. Signal "
        "cases interrupt `predict` mid-write (SIGINT, SIGTERM: non-zero exit, no temporary file, no result) and stop "
        "`serve` with SIGINT (exit 0, no traceback). Service cases answer with a JSON `detail` and leave `/health` at "
        "200, and 200 concurrent one-sentence requests are all answered 200.\n"
        f"Machine: {platform.machine()}, Python {platform.python_version()}; {time.perf_counter() - started:.0f} s "
        f"(workspace {built:.0f} s); "
        f"run {datetime.date.today().isoformat()}.")
    if not opts.no_write and not opts.only:
        write_section(ROOT / "BENCHMARKS.md", "bad_inputs", "Bad-input battery (`bench/bad_inputs.py`)", body)
    if not opts.keep:
        shutil.rmtree(w, ignore_errors=True)
    sys.exit(0 if passed == len(rows) else 1)


if __name__ == "__main__":
    main()
