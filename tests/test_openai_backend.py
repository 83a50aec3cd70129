"""The openai: backend against a real OpenAI-compatible server on loopback (`transformers serve`
with a tiny local model): prompt and native modes, a server killed mid-run (the run stops
cleanly, keeps what it had, and resumes), and `redline eval` killed with SIGKILL and resumed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from redline.harness.models import Sampling
from redline.harness.openai_backend import OpenAIBackend, ServerError
from redline.suites.bfcl_data import load_samples
from tests.processes import running, start, stop
from tests.tiny_models import tiny_model

BIN = Path(sys.executable).parent
# `transformers serve` refuses a request longer than the model's context, prompt and answer
# together; the prompt mode's tool listings run to ~870 tokens of the tiny tokenizer here.
CONTEXT = 2048


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`transformers serve` for a model folder given as a relative path (absolute ones fail)."""

    def __init__(self, workdir: Path, model: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.model = model
        self.proc = start(
            [str(BIN / "transformers"), "serve", "--port", str(self.port), model],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError(f"transformers serve did not start (exit code {self.proc.poll()})")

    def stop(self) -> None:
        """Kill it (SIGKILL, no graceful shutdown: the tests want a server that dies)."""
        stop(self.proc, grace=0)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    tiny_model(root / "tinym", context=CONTEXT)
    return root


@pytest.fixture(scope="module")
def server(workdir):
    srv = Server(workdir, "./tinym")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def servers(workdir):
    """Starts servers for one test (optionally on a given port); each is stopped when the test
    ends, whatever fails."""
    started: list[Server] = []

    def start_server(port: int | None = None) -> Server:
        started.append(Server(workdir, "./tinym", port=port))
        return started[-1]

    try:
        yield start_server
    finally:
        for srv in started:
            srv.stop()


@pytest.fixture(scope="module")
def samples():
    return load_samples("simple_python")[:4]


def test_prompt_mode_against_a_real_server(server, samples):
    backend = OpenAIBackend(
        server.url, server.model, mode="json", sampling=Sampling(max_new_tokens=6)
    )
    body = backend.request(samples[0])
    assert body["messages"][0]["role"] == "system" and "tools" not in body
    completions = backend.complete(samples, "json")
    assert len(completions) == 4 and all(c.raw is not None for c in completions)
    assert backend.generated_tokens > 0


def test_native_mode_sends_tools(server, samples):
    backend = OpenAIBackend(
        server.url, server.model, mode="native", sampling=Sampling(max_new_tokens=6)
    )
    body = backend.request(samples[0])
    assert body["tools"][0]["function"]["name"] == samples[0].tools[0].name
    completions = backend.complete(samples[:2], "hermes")
    assert [c.format for c in completions] == ["openai", "openai"]


def test_an_unreachable_server_fails_cleanly_after_retries(samples):
    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "m", retries=1, timeout=2)
    with pytest.raises(ServerError, match="failed 2 times"):
        backend.complete(samples[:1], "json")


def eval_args(server_url, model, out, limit):
    return [
        str(BIN / "redline"),
        "eval",
        "--model",
        f"openai:{server_url}#{model}",
        "--suite",
        "bfcl:simple_python",
        "--limit",
        str(limit),
        "--concurrency",  # one request at a time, so records appear one by one
        "1",
        "--max-new-tokens",
        "120",
        "--out",
        str(out),
    ]


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, limit: float = 120) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return len(path.read_text().splitlines())
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines")


def ids(path: Path) -> list[str]:
    return [json.loads(line)["sample"]["id"] for line in path.read_text().splitlines()]


def test_server_killed_mid_run_then_resumed(servers, tmp_path):
    srv = servers()
    out = tmp_path / "run"
    args = eval_args(srv.url, srv.model, out, 12)
    with running(args, stderr=subprocess.PIPE, text=True) as proc:
        wait_for_lines(out / "samples.jsonl", 2, proc)
        srv.stop()
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "run the same command again to resume" in err
    kept = ids(out / "samples.jsonl")
    assert 2 <= len(kept) < 12 and len(set(kept)) == len(kept)
    servers(port=srv.port)  # the server comes back where it was
    with running(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    final = ids(out / "samples.jsonl")
    assert len(final) == 12 and len(set(final)) == 12 and final[: len(kept)] == kept


def test_eval_killed_with_sigkill_resumes_every_sample_once(server, tmp_path):
    out = tmp_path / "run"
    args = eval_args(server.url, server.model, out, 10)
    with running(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        wait_for_lines(out / "samples.jsonl", 3, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    partial = ids(out / "samples.jsonl") if (out / "samples.jsonl").exists() else []
    assert 3 <= len(partial) < 10
    with running(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    final = ids(out / "samples.jsonl")
    assert len(final) == 10 and len(set(final)) == 10
    assert final[: len(partial)] == partial, "what was done is kept as it was"


def test_thinking_is_only_sent_when_asked_for(samples):
    plain = OpenAIBackend("http://127.0.0.1:1/v1", "m").request(samples[0])
    assert "chat_template_kwargs" not in plain
    thinking = OpenAIBackend("http://127.0.0.1:1/v1", "m", sampling=Sampling(enable_thinking=True))
    assert thinking.request(samples[0])["chat_template_kwargs"] == {"enable_thinking": True}
    assert thinking.spec == "openai:http://127.0.0.1:1/v1#m"
