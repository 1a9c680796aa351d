"""Bad-input battery: what a careless or hostile user does to biotune, one case per line.

Every case runs the real `biotune` command in a subprocess (or, for the service, real HTTP
requests to a real `biotune serve`) and checks the promise the README makes:
- bad input exits with status 2 and one `error:` line that names the culprit (a file, line,
  option or key: the case's `names` text), with no traceback;
- no input is changed (every file under the workspace's `inputs/` is hashed before and after);
- nothing half-written: the case's `absent` paths do not exist afterwards;
- kills mid-write (SIGKILL) leave no result under the final name, and the rerun completes;
- the service answers abuse with a 4xx/5xx JSON `detail` and stays healthy.

The workspace (a tiny toy corpus and a MiniLM checkpoint trained on it for one epoch) is built in
a temporary folder; nothing from ../shared is needed. Prints `cases tried / passed` and each
failure; writes its section of BENCHMARKS.md unless --no-write. Exits 1 if a case failed.

usage: python bench/bad_inputs.py [--no-write] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
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


def tsv(sentences: list[tuple[str, str]]) -> str:
    return "".join("".join(f"{w}\t{t}\n" for w, t in zip(s.split(), tags.split())) + "\n" for s, tags in sentences)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def config(w: Path, name: str, run: str | None = None, **sections: dict) -> Path:
    """A config file `<name>.yaml` for the toy corpus (run name `run`, default `name`); `sections` merge over the defaults."""
    import yaml

    data = {"name": run or name, "output_dir": str(w / "out"),
            "model": {"backbone": "minilm", "max_length": 32},
            "data": {"corpus": str(w / "inputs" / "toy")},
            "training": {"epochs": 1, "batch_size": 4, "bf16": False, "logging_steps": 1000}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    path = w / "inputs" / "configs" / f"{name}.yaml"
    write(path, yaml.safe_dump(data))
    return path


def build_workspace(w: Path) -> None:
    """Inputs (toy corpus, texts, configs) and one finished run whose checkpoint the cases use."""
    body = tsv(TOY * 4)
    for split in ("train", "devel", "test"):
        write(w / "inputs" / "toy" / f"{split}.tsv", body)
    write(w / "inputs" / "sentences.txt", "Aspirin induced hypotension.\nCisplatin is nephrotoxic.\n")
    write(w / "inputs" / "big.txt", "Aspirin induced hypotension in the patient after cisplatin.\n" * 6000)
    write(w / "inputs" / "docs.pubtator", "".join(f"{i}|t|Aspirin and hypotension {i}.\n{i}|a|Cisplatin causes "
                                                   f"nephrotoxicity.\n\n" for i in range(1, 2001)))
    config(w, "good")
    run = subprocess.run([*BIOTUNE, "train", str(w / "inputs" / "configs" / "good.yaml")], env=ENV,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"workspace training failed:\n{run.stderr[-3000:]}")


CKPT = "{w}/inputs/ckpt/good"  # a copy: the cases that test --overwrite must not pull it away from the others


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
    proc = subprocess.run([*BIOTUNE, *args], env=ENV, capture_output=True, text=True, timeout=300)
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
        r = httpx.post(f"{url}/tag", json={"texts": ["Aspirin induced hypotension."]}, timeout=60)
        model = r.json().get("model", "")
        results.append(("response names the model, not a server path",
                        None if r.status_code == 200 and not str(model).startswith("/") else f"model = {model!r}"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print the result, leave BENCHMARKS.md alone")
    ap.add_argument("--keep", type=Path, help="build the workspace here and keep it (default: a temporary folder)")
    opts = ap.parse_args()
    w = opts.keep or Path(tempfile.mkdtemp(prefix="biotune_bad_inputs_"))
    w.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    build_workspace(w)
    bad_checkpoints(w)
    malformed(w)
    rows: list[tuple[str, str, str | None]] = []
    for case in cases():
        rows.append((case.group, case.name, run_case(case, w)))
        print(f"{'ok  ' if rows[-1][2] is None else 'FAIL'} {case.group:10} {case.name}"
              + ("" if rows[-1][2] is None else f"  -- {rows[-1][2]}"), flush=True)
    for group, runner in (("kill", kill_cases), ("service", service_cases)):
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
    failures = [f"- {g} / {n}: {p}" for g, n, p in rows if p is not None]
    body = table + "\n\n" + (
        "Failures:\n" + "\n".join(failures) + "\n\n" if failures else "Every case kept every promise.\n\n") + (
        "Each case runs the real `biotune` command (or a real HTTP request to `biotune serve`) and passes when: the exit "
        "status is 2 with exactly one `error:` line that names the file, line, option or key, and no traceback; no input "
        "file changed; nothing half-written (the case's output paths absent); a finished run untouched. Kill cases "
        "SIGKILL `predict` mid-write and `tag` between shards, then rerun: no partial result, no leftovers, output equal "
        "to an uninterrupted job. Service cases answer with a JSON `detail` and leave `/health` at 200.\n"
        f"Machine: {platform.machine()}, Python {platform.python_version()}; {time.perf_counter() - started:.0f} s; "
        f"run {datetime.date.today().isoformat()}.")
    if not opts.no_write:
        write_section(ROOT / "BENCHMARKS.md", "bad_inputs", "Bad-input battery (`bench/bad_inputs.py`)", body)
    if not opts.keep:
        shutil.rmtree(w, ignore_errors=True)
    sys.exit(0 if passed == len(rows) else 1)


if __name__ == "__main__":
    main()
