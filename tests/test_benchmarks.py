"""The benchmark scripts run and print every figure they promise (on a few inputs: the timings
themselves are taken by `make bench`, never asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
RATE = r"[\d,]+ (?:completions|entries|checks)/s"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        cwd=BENCHMARKS,
        timeout=300,
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
