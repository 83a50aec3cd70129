"""The runner streams: openai: runs as one stream over the suite on one connection pool, each
record kept as its sample is scored; a rejected request is that sample's failed record and the
run goes on; a server that is down, SIGINT and SIGTERM stop the run keeping what finished and
saying how to resume; progress shows without a terminal; hf: rejects prompts past its context.
Against real servers on loopback: the stub of tests/openai_stub.py and `transformers serve`."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from redline.cli import app, common
from redline.harness.models import HFBackend, Sampling
from redline.harness.openai_backend import DEFAULT_CONCURRENCY
from redline.harness.runner import rescore, run_eval
from redline.metrics.scorers import score_sample
from redline.records import Completion, ErrorType, Sample
from redline.suites.registry import Suite, load_suite
from tests import processes
from tests.openai_stub import StubServer
from tests.tiny_models import tiny_model

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
cli = CliRunner()


@pytest.fixture(scope="module")
def dev() -> Suite:
    return load_suite("fc:dev")


def user_text(suite: Suite, sample_id: str) -> str:
    """A text only this sample's request holds (its user message, as JSON escapes it)."""
    (sample,) = [s for s in suite.samples if s.id == sample_id]
    text = json.dumps(sample.messages[-1]["content"])[1:-1]
    others = [s for s in suite.samples if s.id != sample_id]
    assert not any(text in json.dumps(s.messages) for s in others)
    return text


@pytest.fixture
def start_stub(request):
    """Starts a stub server with the given options; each is stopped when the test ends."""

    def start(*options: str) -> StubServer:
        server = StubServer(*options)
        request.addfinalizer(server.stop)
        return server

    return start


def records(out: Path) -> list[dict]:
    path = out / "samples.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ids(out: Path) -> list[str]:
    return [r["sample"]["id"] for r in records(out)]


def eval_args(url: str, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", f"openai:{url}#stub", "--suite", "fc:dev", "--out", str(out), *extra]


def test_the_default_concurrency_is_one_number():
    assert common.DEFAULT_CONCURRENCY == DEFAULT_CONCURRENCY


def test_a_rejected_request_becomes_that_samples_record_and_the_run_goes_on(
    start_stub, dev, tmp_path
):
    message = "The prompt has 588 tokens, but the model takes at most 256"
    server = start_stub("--reject", user_text(dev, "dev_0006"), "--reject-message", message)
    out = tmp_path / "run"
    result = cli.invoke(app, eval_args(server.url, out))
    assert result.exit_code == 4, result.output
    assert (
        "1 of 240 requests were rejected" in result.output
        and f"dev_0006: HTTP 400: {message}" in (result.output)
    )
    kept = records(out)
    assert sorted(r["sample"]["id"] for r in kept) == sorted(s.id for s in dev.samples)
    (rejected,) = [r for r in kept if r["error_type"] == "request_rejected"]
    assert rejected["sample"]["id"] == "dev_0006"
    assert message in rejected["error_detail"] and message in rejected["completion"]["rejected"]
    assert {s["value"] for s in rejected["scores"].values()} <= {0.0, None}
    assert rejected["scores"]["ast"]["value"] == 0.0, "counts as a failure of the sample"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["errors"]["request_rejected"] == 1
    # Run again: the rejected sample is a finished record, so the run is complete.
    before = server.stats()["requests"]
    again = cli.invoke(app, eval_args(server.url, out))
    assert again.exit_code == 4 and "0 samples scored now, 240 resumed" in again.output
    assert "dev_0006" in again.output
    assert server.stats()["requests"] == before


def test_a_rejected_sample_fails_every_scorer_that_applies_and_survives_rescoring(dev, tmp_path):
    (irrelevant,) = [s for s in dev.samples if s.expect == "no_call"][:1]
    rejected = Completion(raw="", format="rejected", rejected="HTTP 400: too long")
    record = score_sample(irrelevant, rejected)
    assert record.error_type == ErrorType.request_rejected
    assert record.error_detail == "HTTP 400: too long"
    # An empty answer passes an irrelevance sample; a refused request must not.
    assert score_sample(irrelevant, Completion(raw="")).scores["irrelevance"].value == 1.0
    assert record.scores["irrelevance"].value == 0.0
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "samples.jsonl").write_text(record.to_json() + "\n")
    rescore(folder)
    (line,) = (folder / "samples.jsonl").read_text().splitlines()
    assert json.loads(line)["error_type"] == "request_rejected"


def test_a_server_that_goes_down_stops_the_run_naming_the_sample_in_flight(
    start_stub, dev, tmp_path
):
    stub = start_stub("--fail-after", "20")
    out = tmp_path / "run"
    result = cli.invoke(app, eval_args(stub.url, out, "--concurrency", "1"))
    assert result.exit_code == 3, result.output
    assert ids(out) == [s.id for s in dev.samples[:20]], "every finished sample is kept"
    in_flight = dev.samples[20].id
    assert f"sample {in_flight} was in flight" in result.output
    assert "20 finished samples are kept" in result.output
    command = resume(result.output)
    assert command[1:] == eval_args(stub.url, out, "--concurrency", "1")


def test_a_refusal_of_every_request_stops_the_run_instead_of_filling_it(start_stub, tmp_path):
    stub = start_stub("--refuse-all", "404")
    out = tmp_path / "run"
    result = cli.invoke(app, eval_args(stub.url, out, "--concurrency", "1"))
    assert result.exit_code == 3, result.output
    assert "HTTP 404: The model `stub` does not exist." in result.output
    assert "check the URL, the model name 'stub'" in result.output
    assert ids(out) == [] and stub.stats()["requests"] == 1


def test_the_stream_has_no_batch_barrier_and_one_connection_pool(start_stub, dev, tmp_path):
    # dev_0000 takes 2 s; the others are quick. Batches of 16 would wait for it before asking
    # for sample 17; a stream keeps its other workers busy with the rest of the suite.
    slow = user_text(dev, "dev_0000")
    server = start_stub("--slow", slow, "--slow-s", "2", "--median-ms", "5")
    out = tmp_path / "run"
    result = cli.invoke(app, eval_args(server.url, out, "--concurrency", "4"))
    assert result.exit_code == 0, result.output
    stats = server.stats()
    assert stats["requests"] == 240
    assert stats["during_slow"] > 16, stats
    assert stats["max_in_flight"] == 4, "--concurrency is the bound"
    assert stats["connections"] <= 4 + 1, "one pool for the run (+1: the stats request)"
    assert len(ids(out)) == 240


@pytest.fixture
def start_eval(request):
    """Starts `redline eval` with the given arguments; each is stopped when the test ends."""

    def start_one(args: list[str]) -> subprocess.Popen:
        proc = processes.start(
            [str(BIN / "redline"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        request.addfinalizer(lambda: processes.stop(proc, grace=0))
        return proc

    return start_one


def wait_for_records(out: Path, n: int, proc: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if len(ids(out)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{out} did not reach {n} records (exit {proc.poll()})")


def stop_with(proc: subprocess.Popen, sig: int) -> str:
    try:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return err


def resume(err: str) -> list[str]:
    """The command the message says resumes the run, with this environment's redline."""
    lines = err.splitlines()
    (at,) = [
        i for i, line in enumerate(lines) if line.endswith("run the same command again to resume:")
    ]
    words = shlex.split(lines[at + 1])
    assert words[0] == "redline"
    return [str(BIN / "redline"), *words[1:]]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_keeps_finished_records_and_prints_the_command_that_resumes(
    start_stub, start_eval, sig, tmp_path
):
    stub = start_stub("--median-ms", "300", "--sigma", "0.1")
    out = tmp_path / "run"
    proc = start_eval(eval_args(stub.url, out, "--limit", "30", "--concurrency", "2"))
    wait_for_records(out, 4, proc)
    err = stop_with(proc, sig)
    assert proc.returncode == 130, err
    kept = ids(out)
    assert 4 <= len(kept) < 30 and len(set(kept)) == len(kept)
    assert f"stopped by {sig.name}: {len(kept)} of 30 samples are kept" in err
    done = subprocess.run(resume(err), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    final = ids(out)
    assert len(final) == 30 and len(set(final)) == 30 and final[: len(kept)] == kept


def test_bfcl_keeps_rejected_samples_and_exits_4_and_resumes_after_a_signal(
    start_stub, start_eval, tmp_path
):
    # One rejected request: that sample's record, the other categories still run, exit 4.
    (sample,) = load_suite("bfcl:multiple", first=1).samples
    text = json.dumps(sample.messages[-1]["content"])[1:-1]
    stub = start_stub("--reject", text)
    out = tmp_path / "lb"
    args = ["bfcl", "--model", f"openai:{stub.url}#stub", "--out", str(out), "--first", "3"]
    args += ["-c", "simple_python", "-c", "multiple", "-c", "parallel"]
    result = cli.invoke(app, args)
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())
    assert "1 requests were rejected" in said and f"first: multiple: {sample.id}: HTTP 400" in said
    assert [len(ids(out / c)) for c in ("simple_python", "multiple", "parallel")] == [3, 3, 3]
    assert (out / "bfcl_scores.csv").exists()
    # SIGINT mid-category: finished records kept, the printed command resumes.
    slow = start_stub("--median-ms", "300", "--sigma", "0.1")
    out = tmp_path / "lb2"
    args = ["bfcl", "--model", f"openai:{slow.url}#stub", "--out", str(out), "--first", "20"]
    proc = start_eval([*args, "-c", "simple_python", "--concurrency", "2"])
    wait_for_records(out / "simple_python", 3, proc)
    err = stop_with(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    kept = ids(out / "simple_python")
    assert f"stopped by SIGINT in simple_python: {len(kept)} of 20 samples are kept" in " ".join(
        err.split()
    )
    done = subprocess.run(resume(err), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(set(ids(out / "simple_python"))) == 20


def test_progress_lines_go_to_stderr_without_a_terminal(start_stub, tmp_path):
    stub = start_stub("--median-ms", "100", "--sigma", "0.1")
    out = tmp_path / "run"
    done = subprocess.run(
        [str(BIN / "redline"), *eval_args(stub.url, out, "--limit", "40", "--concurrency", "2")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^fc:dev: (\d+)/40 \(\d+%\), [\d.]+ samples/s", done.stderr, re.M)
    assert len(lines) >= 2, done.stderr
    assert int(lines[-1]) == 40 and int(lines[0]) < 40


def with_context(model: Path, positions: int) -> None:
    config = model / "config.json"
    config.write_text(
        json.dumps({**json.loads(config.read_text()), "max_position_embeddings": positions})
    )


def test_progress_lines_keep_coming_while_the_run_waits(
    start_stub, dev, tmp_path, monkeypatch, capfd
):
    import redline.harness.runner as runner
    from redline.harness.openai_backend import OpenAIBackend

    # One request that takes 3 s: no record arrives meanwhile, the heartbeat still reports.
    monkeypatch.setattr(runner, "LINE_MAX_S", 0.5)
    stub = start_stub("--slow", user_text(dev, "dev_0000"), "--slow-s", "3")
    suite = Suite(name="fc:dev", version="1", samples=dev.samples[:1])
    capfd.readouterr()
    run_eval(suite, OpenAIBackend(stub.url, "stub"), tmp_path / "run", fmt="json")
    err = capfd.readouterr().err  # captured: not a terminal
    assert len(re.findall(r"^fc:dev: 0/1 \(0%\)", err, re.M)) >= 3, err
    assert re.search(r"^fc:dev: 1/1 \(100%\)", err, re.M), "and where it ended"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A folder with the tiny model twice: ``tinym`` takes 256 tokens (fc:dev's prompts are
    longer), ``long`` takes 4096."""
    root = tmp_path_factory.mktemp("tiny")
    tiny_model(root / "tinym")
    with_context(root / "tinym", 256)
    (root / "long").mkdir()
    for item in (root / "tinym").iterdir():
        (root / "long" / item.name).write_bytes(item.read_bytes())
    with_context(root / "long", 4096)
    return root


def test_hf_rejects_a_prompt_longer_than_the_context_and_batches_by_length(tiny, tmp_path):
    backend = HFBackend(tiny / "tinym", mode="json", sampling=Sampling(max_new_tokens=4))
    assert backend.context_length == 256
    plain = dict(messages=[{"role": "user", "content": "hi"}], expect="answer", category="c")
    short = Sample(id="short", **plain, metadata={"checks": []})
    long_text = "weather in Paris " * 200
    long = short.model_copy(
        update={"id": "long", "messages": [{"role": "user", "content": long_text}]}
    )
    middle = short.model_copy(
        update={"id": "middle", "messages": [{"role": "user", "content": "weather " * 20}]}
    )
    assert [s.id for s in backend.batch_order([long, middle, short])] == [
        "short",
        "middle",
        "long",
    ]
    suite = Suite(name="t", version="1", samples=[long, short])
    result = run_eval(suite, backend, tmp_path / "run", fmt="json", progress=False)
    by_id = {r["sample"]["id"]: r for r in records(tmp_path / "run")}
    assert by_id["long"]["error_type"] == "request_rejected"
    assert "but the model takes at most 256" in by_id["long"]["error_detail"]
    assert by_id["short"]["completion"]["rejected"] is None
    assert result.rejected == 1 and result.first_rejection.startswith("long: the prompt has ")


def test_sigint_in_hf_batches_keeps_finished_batches_and_says_so(tiny, start_eval, tmp_path):
    out = tmp_path / "run"
    args = ["eval", "--model", f"hf:{tiny / 'long'}", "--suite", "fc:dev", "--out", str(out)]
    args += ["--batch-size", "2", "--max-new-tokens", "24"]
    proc = start_eval(args)
    wait_for_records(out, 4, proc, limit=240)
    err = stop_with(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    kept = ids(out)
    assert len(kept) >= 4 and len(kept) % 2 == 0, "whole batches"
    assert f"stopped by SIGINT: {len(kept)} of 240 samples are kept" in err
    assert resume(err)[1:3] == ["eval", "--model"]


def test_transformers_serve_rejects_an_over_long_prompt_and_eval_exits_4(tiny, tmp_path):
    # The tiny model takes 256 tokens; fc:dev's prompts are longer, and transformers >= 5.25
    # answers HTTP 400 for them.
    server = ServeProcess(tiny, "./tinym")
    try:
        out = tmp_path / "run"
        args = ["eval", "--model", f"openai:{server.url}#./tinym", "--suite", "fc:dev"]
        args += ["--limit", "2", "--max-new-tokens", "4", "--out", str(out)]
        done = subprocess.run([str(BIN / "redline"), *args], capture_output=True, text=True)
    finally:
        server.stop()
    assert done.returncode == 4, done.stderr
    kept = records(out)
    assert len(kept) == 2 and {r["error_type"] for r in kept} == {"request_rejected"}
    assert "takes at most 256" in kept[0]["error_detail"]
    assert "2 of 2 requests were rejected" in done.stderr and "HTTP 400" in done.stderr


class ServeProcess:
    """`transformers serve` on a free port, for a model folder given relative to ``workdir``."""

    def __init__(self, workdir: Path, model: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc = subprocess.Popen(
            [str(BIN / "transformers"), "serve", "--port", str(self.port), model],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    health = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
                    if health.status_code == 200:
                        return
                except httpx.HTTPError:
                    time.sleep(0.3)
            raise RuntimeError("transformers serve did not start")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def test_the_benchmark_prints_both_timings_and_their_ratio():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_openai_runner.py")]
        + ["--samples", "40", "--median-ms", "5", "--repeats", "1", "--concurrency", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT / "benchmarks",
    )
    assert done.returncode == 0, done.stderr
    for label in (r"bare httpx client +[\d.]+ s", r"redline eval +[\d.]+ s", r"ratio +[\d.]+x"):
        assert re.search(label, done.stdout), done.stdout


def test_a_signal_sets_the_stop_and_interrupts_only_where_allowed():
    from redline.harness.runner import Interrupted, stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signal_name == "SIGTERM", "noted, nothing raised"
    assert signal.getsignal(signal.SIGTERM) is before
    with stop_on_signals() as stop, pytest.raises(Interrupted):
        with stop.interruptible():  # model loading, a batch's generation
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # not reached: the handler raises
