"""Load test of the HTTP service on loopback: a normal phase, then an overload phase.

Starts the service (`biotune.serving.service.serve`) on a free loopback port in its own
process, so the load client does not share the server's GIL, with a queue of --queue-chars characters,
and waits for /health. Each request holds 1-4 texts, each a BC5CDR test sentence (tokens joined
by spaces), drawn with a fixed seed; --warmup requests are sent first and not counted.

- normal: --requests requests from --concurrency clients (about what the queue holds);
- overload: --overload-requests from --overload-concurrency clients, more characters than the
  queue holds, so the service must refuse some with 503 + Retry-After; a client then waits the
  seconds the header says and sends the same request again, up to --attempts times.

A request succeeds when it answers 200 with one result per text and every entity's text equal
to its text's `[start:end]`. A 503 with a valid Retry-After is counted apart (it is the
service working as designed); anything else is a failure (a 503 without Retry-After, another
status, a wrong answer, a transport error, attempts used up), and a request with no final
answer when the phase's --time-limit ends is lost. The server's /health counters give the
texts per tagging call and the refusals it counted itself.

Exits 1 if any request failed or was lost; otherwise writes its section of BENCHMARKS.md
(unless --no-write) and prints it.

usage: python bench/serve_load.py [--checkpoint DIR] [--requests 400] [--concurrency 16] [--queue-chars 12000]
                                  [--overload-requests 400] [--overload-concurrency 64] [--attempts 100]
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

from biotune.formats.readers import read_corpus_file
from biotune.hardware import bf16_supported
from biotune.serving.service import ServiceLimits
from biotune.tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "bench" / "runs" / "ner_core" / "checkpoints" / "bench_bc5cdr" / "seed_42" / "best_model"
SENTENCES = ROOT.parent / "shared" / "data" / "corpora" / "bc5cdr" / "test.tsv"
SERVER = ("import sys; from pathlib import Path; from biotune.serving.service import ServiceLimits, serve; "
          "serve(Path(sys.argv[1]), port=int(sys.argv[2]), precision=sys.argv[3], "
          "limits=ServiceLimits.model_validate_json(sys.argv[4]))")


@dataclass
class Outcome:
    """What one phase saw: latencies (first try to answer) of the answered requests, 503s, failures."""

    clients: int
    requests: int
    latencies: list[float] = field(default_factory=list)
    refusals: int = 0
    failures: list[str] = field(default_factory=list)
    texts: int = 0
    seconds: float = 0.0
    batching: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.requests - len(self.latencies) - len(self.failures)


def payloads(path: Path, n: int, seed: int) -> list[list[str]]:
    """`n` requests' texts: 1-4 sentences of `path` each, as space-joined tokens."""
    sentences = [" ".join(s.tokens) for s in read_corpus_file(path)]
    rng = random.Random(seed)
    return [rng.sample(sentences, rng.randint(1, 4)) for _ in range(n)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkpoint: Path, port: int, precision: str, limits: ServiceLimits,
                 log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SERVER, str(checkpoint), str(port), precision,
                             limits.model_dump_json()], stdout=log, stderr=subprocess.STDOUT, text=True)


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


def wrong_answer(texts: list[str], body: dict) -> str | None:
    """Why a 200 answer is not the answer to `texts`, or None."""
    results = body["results"]
    if len(results) != len(texts):
        return f"{len(results)} results for {len(texts)} texts"
    for text, result in zip(texts, results):
        for entity in result["entities"]:
            if text[entity["start"] : entity["end"]] != entity["text"]:
                return f"entity {entity['text']!r} is not its text's [{entity['start']}:{entity['end']}]"
    return None


async def send(client: httpx.AsyncClient, texts: list[str], attempts: int, outcome: Outcome) -> None:
    """Send one request until it is answered, waiting out each 503's Retry-After; record the result."""
    start = time.perf_counter()
    for _ in range(attempts):
        try:
            response = await client.post("/tag", json={"texts": texts})
        except httpx.HTTPError as error:
            outcome.failures.append(f"{type(error).__name__}: {error}")
            return
        if response.status_code == 503:
            wait = response.headers.get("retry-after", "")
            if not wait.isdigit() or int(wait) < 1:
                outcome.failures.append(f"503 without a valid Retry-After ({wait!r}): {response.text[:200]}")
                return
            outcome.refusals += 1
            await asyncio.sleep(int(wait))
            continue
        if response.status_code != 200:
            outcome.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
            return
        problem = wrong_answer(texts, response.json())
        if problem:
            outcome.failures.append(problem)
            return
        outcome.latencies.append(time.perf_counter() - start)
        outcome.texts += len(texts)
        return
    outcome.failures.append(f"still refused after {attempts} attempts")


async def run_phase(url: str, requests: list[list[str]], clients: int, attempts: int, time_limit: float) -> Outcome:
    """Send `requests` from `clients` workers, each sending its next request when the last is answered."""
    outcome = Outcome(clients=clients, requests=len(requests))
    pending = iter(requests)

    async def worker(client: httpx.AsyncClient) -> None:
        for texts in pending:  # one iterator shared by the workers: each request is sent once
            await send(client, texts, attempts, outcome)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=time_limit, limits=limits) as client:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(time_limit):
                await asyncio.gather(*(worker(client) for _ in range(clients)))
        except TimeoutError:
            pass  # what has no answer now is lost
        outcome.seconds = time.perf_counter() - start
    return outcome


def served(url: str) -> dict[str, int]:
    return httpx.get(url + "/health", timeout=10).json()["served"]


def measured(url: str, requests: list[list[str]], clients: int, attempts: int, time_limit: float) -> Outcome:
    before = served(url)
    outcome = asyncio.run(run_phase(url, requests, clients, attempts, time_limit))
    after = served(url)
    outcome.batching = {key: after[key] - before[key] for key in after}
    return outcome


def row(name: str, outcome: Outcome) -> list[str]:
    done = len(outcome.latencies)
    ms = np.percentile(np.array(outcome.latencies) * 1000, [50, 99]) if outcome.latencies else [float("nan")] * 2
    return [name, str(outcome.clients), str(outcome.requests), str(outcome.texts), f"{done / outcome.seconds:.1f}",
            f"{outcome.texts / outcome.seconds:.1f}", f"{ms[0]:.1f}", f"{ms[1]:.1f}", str(outcome.refusals),
            str(len(outcome.failures)), str(outcome.lost)]


def batching_line(name: str, outcome: Outcome) -> str:
    b = outcome.batching
    return (f"{name}: {b['texts']} texts in {b['batches']} tagging calls ({b['texts'] / max(b['batches'], 1):.1f} "
            f"texts per call); the server counted {b['refused']} refusals (503), {b['timed_out']} timeouts (504).")


def report(normal: Outcome, overload: Outcome, limits: ServiceLimits, args: argparse.Namespace) -> str:
    checkpoint = args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else args.checkpoint
    precision = args.precision
    if precision == "auto":
        precision += f" (bf16 {'on' if bf16_supported(torch.device('cpu')) else 'off'} here)"
    return "\n".join([
        markdown_table(("phase", "clients", "requests", "texts", "requests/s", "texts/s", "p50 latency (ms)",
                        "p99 latency (ms)", "503 answers", "failed", "lost"),
                       [row("normal", normal), row("overload", overload)], ["left"] + ["right"] * 10),
        "",
        "Latency runs from a request's first try to its answer, waits after 503 included. A 503 carries "
        "Retry-After and the client sends the same request again after that many seconds; "
        + ("every request got its correct answer." if not any(o.failures or o.lost for o in (normal, overload))
           else "some requests failed or were lost (see failed, lost)."),
        batching_line("Micro-batching, normal", normal),
        batching_line("Micro-batching, overload", overload),
        f"Settings: `python bench/serve_load.py --requests {args.requests} --concurrency {args.concurrency} "
        f"--queue-chars {args.queue_chars} --overload-requests {args.overload_requests} --overload-concurrency "
        f"{args.overload_concurrency}`; checkpoint `{checkpoint}`, precision {precision}; service limits "
        f"max_queue_chars {limits.max_queue_chars}, max_batch_chars {limits.max_batch_chars}, batch wait "
        f"{limits.batch_wait_ms:g} ms, request timeout {limits.request_timeout_s:g} s; each request holds 1-4 "
        f"sentences of `{args.sentences.parent.name}/{args.sentences.name}` (seed {args.seed}); "
        f"{args.warmup} warm-up requests not counted; server in its own process, client httpx.AsyncClient, "
        f"both on loopback; {normal.seconds:.1f} s + {overload.seconds:.1f} s.",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; run {datetime.date.today()}.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--sentences", type=Path, default=SENTENCES, help="TSV whose sentences the requests hold")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--queue-chars", type=int, default=12_000, help="the server's max_queue_chars")
    parser.add_argument("--overload-requests", type=int, default=400)
    parser.add_argument("--overload-concurrency", type=int, default=64)
    parser.add_argument("--attempts", type=int, default=100, help="tries per request in a phase")
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=300, help="seconds for each phase")
    parser.add_argument("--startup-timeout", type=float, default=180, help="seconds for the server to load")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    limits = ServiceLimits(max_queue_chars=args.queue_chars)
    requests = payloads(args.sentences, args.warmup + args.requests + args.overload_requests, args.seed)
    warmup, normal_requests = requests[: args.warmup], requests[args.warmup : args.warmup + args.requests]
    overload_requests = requests[args.warmup + args.requests :]
    if sum(len(t) for texts in overload_requests[: args.overload_concurrency] for t in texts) <= args.queue_chars:
        parser.error("--overload-concurrency clients hold fewer characters than --queue-chars: nothing is overloaded")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        server = start_server(args.checkpoint, port, args.precision, limits, log)
        try:
            wait_healthy(url, server, args.startup_timeout)
            asyncio.run(run_phase(url, warmup, args.concurrency, args.attempts, args.time_limit))
            normal = measured(url, normal_requests, args.concurrency, args.attempts, args.time_limit)
            overload = measured(url, overload_requests, args.overload_concurrency, args.attempts, args.time_limit)
        except Exception:
            log.seek(0)
            print(f"server log:\n{log.read()[-4000:]}", file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)
    body = report(normal, overload, limits, args)
    print(body)
    problems = [(name, o) for name, o in (("normal", normal), ("overload", overload)) if o.failures or o.lost]
    if problems:
        for name, o in problems:
            print(f"FAILED {name}: {len(o.failures)} failed {sorted(set(o.failures))[:5]}, {o.lost} lost "
                  f"(no answer within {args.time_limit:g} s)", file=sys.stderr)
        sys.exit(1)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "serve_load", "HTTP service under load (`bench/serve_load.py`)", body)


if __name__ == "__main__":
    main()
