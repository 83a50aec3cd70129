"""The red-line gate: real runs (a baseline, a damaged candidate, itself, a better one), the
statistics (interval coverage at the nominal rate, sign flip on swap, McNemar) and floors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redline.cli import app
from redline.suites.gate import (
    Comparison,
    Gate,
    RedLine,
    judge,
    load_redlines,
    mcnemar,
    paired_bootstrap,
)
from tests.run_helpers import baseline_and_damaged

runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    # A candidate answering 10% of the samples with prose instead of its call.
    base, worse = baseline_and_damaged(root, "fc:dev", "I am not sure I can help with that.")
    return base, worse, root


def gate(base, cand, *extra):
    return runner.invoke(app, ["gate", "--baseline", str(base), "--candidate", str(cand), *extra])


def test_a_damaged_candidate_crosses_the_lines(runs):
    base, worse, root = runs
    result = gate(base, worse, "--json", str(root / "verdict.json"))
    assert result.exit_code == 1, result.output
    verdict = json.loads((root / "verdict.json").read_text())
    assert verdict["held"] is False
    assert any(
        b["metric"] == "fc/parse_rate" and "floor 0.95" in b["reason"] for b in verdict["breaches"]
    )
    lines = root / "lines.yaml"
    lines.write_text('- {metric: "fc/*", max_drop: 2.0, significance: 0.05}\n')
    result = gate(base, worse, "--redlines", str(lines), "--json", str(root / "v2.json"))
    assert result.exit_code == 1
    named = {b["metric"] for b in json.loads((root / "v2.json").read_text())["breaches"]}
    assert {"fc/ast_accuracy", "fc/dev_single/ast_accuracy"} <= named


def test_the_baseline_against_itself_holds(runs):
    base, _, _ = runs
    result = gate(base, base)
    assert result.exit_code == 0, result.output
    assert '"held": true' in result.output


def test_a_better_candidate_holds(runs):
    base, worse, root = runs
    lines = root / "drop.yaml"
    lines.write_text('- {metric: "fc/*", max_drop: 2.0}\n')
    assert gate(worse, base, "--redlines", str(lines)).exit_code == 0


def test_gate_api_and_errors(runs, tmp_path):
    base, worse, _ = runs
    result = Gate(base).check(worse)
    assert not result.held and result.breaches
    row = next(r for r in result.table if r.metric == "fc/ast_accuracy")
    assert row.pass_to_fail > 0 and row.fail_to_pass == 0 and row.delta < 0
    assert (
        runner.invoke(
            app, ["gate", "--baseline", str(tmp_path), "--candidate", str(base)]
        ).exit_code
        == 2
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {metric: fc/parse_rate}\n")
    with pytest.raises(ValueError, match="rule 0: a red line needs max_drop or min"):
        load_redlines(bad)
    assert [line.metric for line in load_redlines()] == [
        "regression/*",
        "fc/parse_rate",
        "fc/schema_hit_rate",
        "fc/exec_rate",
    ]


def test_the_interval_covers_the_true_delta_at_the_nominal_rate():
    rng = np.random.default_rng(7)
    # base ~ Bernoulli(0.7); cand keeps a pass with p 0.9 and turns a fail into a pass with p 0.3,
    # so E[cand] = 0.7 * 0.9 + 0.3 * 0.3 = 0.72 and the true delta is +0.02.
    true_delta, hits, trials = 0.02, 0, 300
    for trial in range(trials):
        base = (rng.random(200) < 0.7).astype(float)
        keep = rng.random(200)
        cand = np.where(base == 1, keep < 0.9, keep < 0.3).astype(float)
        low, high = paired_bootstrap(base, cand, samples=1000, seed=trial)
        hits += low <= true_delta <= high
    assert 0.91 <= hits / trials <= 0.98


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 0.5, 1.0])),
        min_size=1,
        max_size=40,
    )
)
def test_swapping_runs_flips_the_sign(pairs):
    base = np.array([p[0] for p in pairs])
    cand = np.array([p[1] for p in pairs])
    low, high = paired_bootstrap(base, cand, seed=3)
    back_low, back_high = paired_bootstrap(cand, base, seed=3)
    assert back_low == pytest.approx(-high) and back_high == pytest.approx(-low)


@settings(max_examples=100, deadline=None)
@given(
    floor=st.floats(0.05, 1.0),
    below=st.floats(0.0001, 0.05),
    delta=st.floats(-0.5, 0.5),
)
def test_a_candidate_under_a_floor_never_passes(floor, below, delta):
    value = floor - below
    row = Comparison("fc/parse_rate", value - delta, value, delta, -1, 1, 100, 0, 0, 1.0)
    assert not judge([row], [RedLine(metric="fc/*", min=floor)]).held


def test_mcnemar_exact():
    assert mcnemar(10, 0) == pytest.approx(2 * 0.5**10)
    assert mcnemar(0, 0) == 1.0
    assert mcnemar(5, 5) == 1.0
