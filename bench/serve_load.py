"""Load test of the HTTP service on loopback: requests/s, texts/s, p50/p99 latency, failed requests.

Starts the service (`biotune.inference.service.serve`) on a free loopback port in its own
process, so the load client does not share the server's GIL, waits for /health, sends
--warmup requests (not counted), then --requests requests from --concurrency concurrent
clients (httpx.AsyncClient). Each request holds 1-4 texts, each a BC5CDR test sentence
(tokens joined by spaces), drawn with a fixed seed. The run is bounded in
count and in time (--time-limit); a request fails unless it answers 200 with one result per
text. The server's /health counters give the mean number of texts per tagging call, which shows
how much the micro-batcher merged.

Exits 1 if any request failed or the time limit cut the run short; otherwise writes its section
of BENCHMARKS.md (unless --no-write) and prints it.

usage: python bench/serve_load.py [--checkpoint DIR] [--requests 400] [--concurrency 16]
                                  [--time-limit 300] [--precision auto] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import numpy as np
import torch
from ner_core import write_section

from biotune.data.readers import read_corpus_file
from biotune.hardware import bf16_supported
from biotune.inference.service import ServiceLimits

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "bench" / "runs" / "ner_core" / "checkpoints" / "bench_bc5cdr" / "seed_42" / "best_model"
SENTENCES = ROOT.parent / "shared" / "data" / "corpora" / "bc5cdr" / "test.tsv"
SERVER = ("import sys; from pathlib import Path; from biotune.inference.service import serve; "
          "serve(Path(sys.argv[1]), port=int(sys.argv[2]), precision=sys.argv[3])")


@dataclass
class Outcome:
    """What the timed run saw: latencies of the successful requests, failures with their reason."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    texts: int = 0
    seconds: float = 0.0
    timed_out: bool = False


def payloads(path: Path, n: int, seed: int) -> list[list[str]]:
    """`n` requests' texts: 1-4 sentences of `path` each, as space-joined tokens."""
    sentences = [" ".join(s.tokens) for s in read_corpus_file(path)]
    rng = random.Random(seed)
    return [rng.sample(sentences, rng.randint(1, 4)) for _ in range(n)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkpoint: Path, port: int, precision: str, log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SERVER, str(checkpoint), str(port), precision],
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def wait_healthy(url: str, server: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode} before answering /health")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer /health within {seconds:.0f} s")


async def post(client: httpx.AsyncClient, texts: list[str]) -> str | None:
    """None if the request succeeded, else why it failed."""
    try:
        response = await client.post("/tag", json={"texts": texts})
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if len(response.json()["results"]) != len(texts):
        return "the answer does not hold one result per text"
    return None


async def run_load(url: str, requests: list[list[str]], concurrency: int, time_limit: float) -> Outcome:
    """Send `requests` from `concurrency` workers, each sending its next request when the last answers."""
    outcome = Outcome()
    pending = iter(requests)

    async def worker(client: httpx.AsyncClient) -> None:
        for texts in pending:  # one iterator shared by the workers: each request is sent once
            start = time.perf_counter()
            failure = await post(client, texts)
            if failure is None:
                outcome.latencies.append(time.perf_counter() - start)
                outcome.texts += len(texts)
            else:
                outcome.failures.append(failure)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=time_limit, limits=limits) as client:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(time_limit):
                await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        except TimeoutError:
            outcome.timed_out = True
        outcome.seconds = time.perf_counter() - start
    return outcome


def served(url: str) -> dict[str, int]:
    return httpx.get(url + "/health", timeout=10).json()["served"]


def report(outcome: Outcome, batching: dict[str, int], args: argparse.Namespace) -> str:
    ms = np.percentile(np.array(outcome.latencies) * 1000, [50, 99]) if outcome.latencies else [float("nan")] * 2
    done = len(outcome.latencies)
    limits = ServiceLimits()
    checkpoint = args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else args.checkpoint
    precision = args.precision
    if precision == "auto":
        precision += f" (bf16 {'on' if bf16_supported(torch.device('cpu')) else 'off'} here)"
    return "\n".join([
        "| requests | concurrency | texts | requests/s | texts/s | p50 latency (ms) | p99 latency (ms) | failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {done} | {args.concurrency} | {outcome.texts} | {done / outcome.seconds:.1f} "
        f"| {outcome.texts / outcome.seconds:.1f} | {ms[0]:.1f} | {ms[1]:.1f} | {len(outcome.failures)} |",
        "",
        f"Micro-batching: {batching['texts']} texts in {batching['batches']} tagging calls "
        f"({batching['texts'] / max(batching['batches'], 1):.1f} texts per call).",
        f"Settings: `python bench/serve_load.py --requests {args.requests} --concurrency {args.concurrency}`; "
        f"checkpoint `{checkpoint}`, precision {precision}, default service limits (batch wait "
        f"{limits.batch_wait_ms:g} ms, up to {limits.max_batch_texts} texts per tagging call); each request "
        f"holds 1-4 sentences of `{args.sentences.parent.name}/{args.sentences.name}` (seed {args.seed}); "
        f"{args.warmup} warm-up requests not counted; "
        f"server in its own process, client httpx.AsyncClient, both on loopback; {outcome.seconds:.1f} s.",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; run {datetime.date.today()}.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--sentences", type=Path, default=SENTENCES, help="TSV whose sentences the requests hold")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=300, help="seconds for the timed run")
    parser.add_argument("--startup-timeout", type=float, default=180, help="seconds for the server to load")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = parser.parse_args()

    requests = payloads(args.sentences, args.warmup + args.requests, args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        server = start_server(args.checkpoint, port, args.precision, log)
        try:
            wait_healthy(url, server, args.startup_timeout)
            asyncio.run(run_load(url, requests[: args.warmup], args.concurrency, args.time_limit))
            before = served(url)
            outcome = asyncio.run(run_load(url, requests[args.warmup :], args.concurrency, args.time_limit))
            after = served(url)
        except Exception:
            log.seek(0)
            print(f"server log:\n{log.read()[-4000:]}", file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)
    body = report(outcome, {key: after[key] - before[key] for key in ("batches", "texts")}, args)
    print(body)
    if outcome.failures or outcome.timed_out:
        problems = sorted(set(outcome.failures))[:5]
        unsent = args.requests - len(outcome.latencies) - len(outcome.failures)
        print(f"FAILED: {len(outcome.failures)} failed requests {problems}, {unsent} not completed within "
              f"{args.time_limit:g} s", file=sys.stderr)
        sys.exit(1)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "serve_load", "HTTP service under load (`bench/serve_load.py`)", body)


if __name__ == "__main__":
    main()
