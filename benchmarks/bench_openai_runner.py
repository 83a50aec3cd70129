"""Runner throughput against a server: `redline eval --model openai:...` (the command, run in this
process: option parsing, suite, stream, scoring, records, metrics) against a bare httpx async
client at the same concurrency sending the same requests. The server is the stub of
tests/openai_stub.py in its own process on loopback, with lognormal latencies drawn from each
request's body, so both clients wait the same for the same sample. Target: within 5%.
Run: .venv/bin/python benchmarks/bench_openai_runner.py [--samples 240 --concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the stub server lives with the tests

from redline.cli import app  # noqa: E402
from redline.harness.openai_backend import OpenAIBackend  # noqa: E402
from redline.harness.prompts import MODES  # noqa: E402
from redline.suites.registry import load_suite  # noqa: E402
from tests.openai_stub import StubServer  # noqa: E402


async def bare_client(url: str, bodies: list[dict], concurrency: int) -> None:
    """The least a client can do: one pool, ``concurrency`` requests in flight, JSON read."""
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one(body: dict) -> None:
            async with limit:
                response = await client.post(f"{url}/chat/completions", json=body)
                response.raise_for_status()
                response.json()

        await asyncio.gather(*(one(b) for b in bodies))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="fc:dev")
    parser.add_argument("--samples", type=int, default=240, help="first N of the suite")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--median-ms", type=float, default=400.0, help="stub latency median")
    parser.add_argument("--sigma", type=float, default=0.5, help="stub latency lognormal sigma")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes of each (best kept)")
    args = parser.parse_args()

    full = load_suite(args.suite)
    limited = args.samples < len(full.samples)
    suite = load_suite(args.suite, limit=args.samples) if limited else full
    mode = "json"
    times: dict[str, list[float]] = {"bare": [], "redline": []}
    server = StubServer("--median-ms", str(args.median_ms), "--sigma", str(args.sigma))
    try:
        backend = OpenAIBackend(server.url, "stub", mode=mode)
        bodies = [backend.request(s) for s in suite.samples]  # the bodies redline sends

        def bare() -> float:
            start = time.perf_counter()
            asyncio.run(bare_client(server.url, bodies, args.concurrency))
            return time.perf_counter() - start

        def redline() -> float:
            with tempfile.TemporaryDirectory() as folder:
                command = ["eval", "--model", f"openai:{server.url}#stub", "--suite", args.suite]
                command += ["--mode", mode, "--format", MODES[mode].parser]
                command += ["--concurrency", str(args.concurrency), "--out", f"{folder}/run"]
                command += ["--limit", str(args.samples)] if limited else []
                start = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    code = app(command, standalone_mode=False)
                elapsed = time.perf_counter() - start
                if code not in (None, 0):
                    raise SystemExit(f"redline eval exited {code}")
                return elapsed

        bare()  # warm-up: imports, the stub's first connections
        for _ in range(args.repeats):
            times["bare"].append(bare())
            times["redline"].append(redline())
    finally:
        server.stop()
    best = {k: min(v) for k, v in times.items()}
    print(f"machine: {machine()}")
    print(
        f"{len(suite.samples)} samples of {args.suite}, concurrency {args.concurrency}, stub "
        f"latency lognormal (median {args.median_ms:g} ms, sigma {args.sigma:g}), "
        f"best of {args.repeats}"
    )
    print(f"bare httpx client  {best['bare']:7.2f} s")
    print(f"redline eval       {best['redline']:7.2f} s")
    print(f"ratio              {best['redline'] / best['bare']:7.3f}x (target: at most 1.05x)")


if __name__ == "__main__":
    main()
