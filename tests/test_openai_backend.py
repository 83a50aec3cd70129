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
from tests.tiny_models import tiny_model

BIN = Path(sys.executable).parent


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
        self.proc = subprocess.Popen(
            [str(BIN / "transformers"), "serve", "--port", str(self.port), model],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("transformers serve did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    tiny_model(root / "tinym")
    return root


@pytest.fixture(scope="module")
def server(workdir):
    srv = Server(workdir, "./tinym")
    yield srv
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


def test_server_killed_mid_run_then_resumed(workdir, tmp_path):
    srv = Server(workdir, "./tinym")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        eval_args(srv.url, srv.model, out, 12), stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_lines(out / "samples.jsonl", 2, proc)
        srv.stop()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    assert "run the same command again to resume" in err
    kept = ids(out / "samples.jsonl")
    assert 2 <= len(kept) < 12 and len(set(kept)) == len(kept)
    again = Server(workdir, "./tinym", port=srv.port)  # the server comes back where it was
    try:
        done = subprocess.run(
            eval_args(again.url, again.model, out, 12), capture_output=True, text=True, timeout=300
        )
    finally:
        again.stop()
    assert done.returncode == 0, done.stderr
    final = ids(out / "samples.jsonl")
    assert len(final) == 12 and len(set(final)) == 12 and final[: len(kept)] == kept


def test_eval_killed_with_sigkill_resumes_every_sample_once(server, tmp_path):
    out = tmp_path / "run"
    args = eval_args(server.url, server.model, out, 10)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(out / "samples.jsonl", 3, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = ids(out / "samples.jsonl") if (out / "samples.jsonl").exists() else []
    assert 3 <= len(partial) < 10
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = ids(out / "samples.jsonl")
    assert len(final) == 10 and len(set(final)) == 10
    assert final[: len(partial)] == partial, "what was done is kept as it was"


def test_thinking_is_only_sent_when_asked_for(samples):
    plain = OpenAIBackend("http://127.0.0.1:1/v1", "m").request(samples[0])
    assert "chat_template_kwargs" not in plain
    thinking = OpenAIBackend("http://127.0.0.1:1/v1", "m", sampling=Sampling(enable_thinking=True))
    assert thinking.request(samples[0])["chat_template_kwargs"] == {"enable_thinking": True}
    assert thinking.spec == "openai:http://127.0.0.1:1/v1#m"
