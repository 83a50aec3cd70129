"""A stub OpenAI-compatible chat server for tests and benchmarks, run as its own process on
loopback: chosen latencies, a request it rejects with HTTP 400, a point after which it fails
with 503, and counts of what it saw (GET /stats). Its answers are a fixed empty call list."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
ANSWER = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "[]"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 3},
}


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.slow_in_flight = 0
        self.during_slow = 0  # requests that arrived while a slow one was in flight


def latency(body: bytes, args: argparse.Namespace) -> float:
    """A lognormal latency drawn from the request body: the same request waits as long
    whichever client sends it."""
    if args.slow and args.slow.encode() in body:
        return args.slow_s
    if args.median_ms <= 0:
        return 0.0
    seed = int.from_bytes(hashlib.sha256(body).digest()[:8], "big")
    return args.median_ms / 1000 * math.exp(args.sigma * random.Random(seed).gauss(0, 1))


async def handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    args: argparse.Namespace,
    stats: Stats,
) -> None:
    stats.connections += 1
    try:
        while True:  # HTTP/1.1 keep-alive: one request after another on this connection
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (h.partition(":") for h in lines[1:] if h)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status, payload = await respond(method, path, body, args, stats)
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def respond(
    method: str, path: str, body: bytes, args: argparse.Namespace, stats: Stats
) -> tuple[int, Any]:
    if method == "GET" and path == "/stats":
        return 200, vars(stats)
    if method == "GET" and path == "/health":
        return 200, {"status": "ok"}
    stats.requests += 1
    if args.refuse_all:
        return args.refuse_all, {"error": {"message": "The model `stub` does not exist."}}
    if args.fail_after is not None and stats.requests > args.fail_after:
        return 503, {"error": {"message": "the stub is failing on purpose"}}
    if args.reject and args.reject.encode() in body:
        return 400, {"error": {"message": args.reject_message, "type": "BadRequestError"}}
    slow = bool(args.slow) and args.slow.encode() in body
    if stats.slow_in_flight:
        stats.during_slow += 1
    stats.in_flight += 1
    stats.slow_in_flight += slow
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        await asyncio.sleep(latency(body, args))
    finally:
        stats.in_flight -= 1
        stats.slow_in_flight -= slow
    return 200, ANSWER


async def serve(args: argparse.Namespace) -> None:
    stats = Stats()
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args, stats), "127.0.0.1", args.port, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--median-ms", type=float, default=0.0, help="median latency")
    parser.add_argument("--sigma", type=float, default=0.5, help="lognormal spread")
    parser.add_argument("--reject", help="reject (HTTP 400) requests whose body holds this text")
    parser.add_argument(
        "--reject-message",
        default="The prompt has 588 tokens, but the model takes at most 256 (--max-model-len)",
    )
    parser.add_argument("--fail-after", type=int, help="answer 503 after this many requests")
    parser.add_argument("--refuse-all", type=int, help="answer every request with this status")
    parser.add_argument("--slow", help="requests whose body holds this text wait --slow-s")
    parser.add_argument("--slow-s", type=float, default=1.0)
    asyncio.run(serve(parser.parse_args()))


class StubServer:
    """The stub in its own process; ``stop`` (safe to call twice) ends it."""

    def __init__(self, *options: str, port: int = 0) -> None:
        from tests.processes import start  # recorded for the suite's end-of-session check

        self.proc = start(
            [sys.executable, str(Path(__file__).resolve()), "--port", str(port), *options],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if not line.startswith("listening "):
                raise RuntimeError(f"the stub server did not start: {line!r}")
        except BaseException:
            self.stop()
            raise
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, int]:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=5).json()

    def stop(self) -> None:
        from tests.processes import stop

        stop(self.proc, grace=0)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
