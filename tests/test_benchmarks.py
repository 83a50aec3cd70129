"""The benchmark scripts run and print every figure they promise (on a few inputs: the timings
themselves are taken by `make bench`, never asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import processes

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
RATE = r"[\d,]+ (?:completions|entries|checks)/s"


def run(script: str, *args: str) -> str:
    done = processes.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        timeout=300,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=BENCHMARKS,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reward_benchmark_prints_each_rate():
    out = run("bench_rewards.py", "--completions", "300", "--repeats", "1", "--components")
    for label in (
        r"redline composite reward \(from text\)",
        r"official BFCL checker \(decoded input\)",
        r"a GRPO step's five rewards",
        r"official from BFCL python text",
        r"official from BFCL json +text",
        r"json.loads of the inputs alone",
        r"semantic_f1 reward alone",
    ):
        assert re.search(label + r".*?" + RATE, out), (label, out)
    assert re.search(r"ratio composite / official: \d+\.\d\dx", out), out


@pytest.mark.parametrize(
    "script,args,expected",
    [
        ("bench_bfcl_check.py", ("--repeats", "1"), r"official format check \+ ast_checker"),
        ("bench_explore_load.py", ("--samples", "200", "--repeats", "1"), r"explorer"),
    ],
)
def test_the_other_benchmarks_run(script, args, expected):
    assert re.search(expected, run(script, *args))


def test_grpo_step_benchmark_prints_the_rewards_share(tmp_path):
    # A real GRPOTrainer run on a tiny model built here: the script's figures, not its timings.
    from tests.tiny_models import tiny_model

    model = tiny_model(tmp_path / "tiny")
    out = run(
        "bench_grpo_step.py",
        *("--model", model, "--steps", "2", "--batch-size", "4", "--generations", "2"),
        *("--max-completion-length", "8"),
    )
    assert re.search(r"2 steps, 4 completions a step \(2 prompts x 2\)", out), out
    assert re.search(r"training loop \(trainer.train\) +: +[\d.]+ s, [\d.]+ s a step", out), out
    # the composite and its five parts (the default GRPO spec), each called once a step
    share = re.search(
        r"the 6 reward functions, every call +: +[\d.]+ ms, ([\d.]+)% of the loop", out
    )
    assert share and 0 < float(share.group(1)) < 100, out
    assert re.search(r"the rewards' own rate +: +[\d,]+ completions/s", out), out
