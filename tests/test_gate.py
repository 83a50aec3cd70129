"""The red-line gate: real runs (a baseline, a damaged candidate, itself, a better one), the
statistics (interval coverage at the nominal rate, sign flip on swap, McNemar, the detectable
drop against simulation), floors, units, and the checks that cannot pass vacuously."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redline.cli import app
from redline.gate import Gate, GateError, RedLine, judge, load_redlines
from redline.metrics.stats import (
    Comparison,
    detectable_drop,
    mcnemar,
    paired_bootstrap,
    paired_t,
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


def replayed(base: Path, out: Path, damage: set[int], text: str, *extra: str) -> Path:
    """A replay of ``base`` (same suite and options ``extra``) with the outputs at the positions
    in ``damage`` replaced by ``text``."""
    lines = []
    for i, line in enumerate((base / "samples.jsonl").read_text().splitlines()):
        record = json.loads(line)
        if i in damage:
            record["completion"]["raw"] = text
        lines.append(json.dumps(record))
    replay = out.with_suffix(".jsonl")
    replay.write_text("\n".join(lines) + "\n")
    suite = json.loads((base / "manifest.json").read_text())["suite"]
    args = ["eval", "--model", f"replay:{replay}", "--suite", suite, "--out", str(out), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def lines_file(folder: Path, text: str) -> Path:
    path = folder / f"lines-{abs(hash(text))}.yaml"
    path.write_text(text)
    return path


def test_a_damaged_candidate_crosses_the_lines(runs):
    base, worse, root = runs
    result = gate(base, worse, "--json", str(root / "verdict.json"))
    assert result.exit_code == 1, result.output
    verdict = json.loads((root / "verdict.json").read_text())
    assert verdict["held"] is False
    assert any(
        b["metric"] == "fc/parse_rate" and "under the floor 95" in b["reason"]
        for b in verdict["breaches"]
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


# -- a red line that matches nothing, and runs with nothing paired --------------------------------


def test_a_mistyped_metric_is_an_error_naming_the_nearest_names(runs):
    base, _, root = runs
    # Every output prose: the parse rate is 0.0, so a real floor of 95% is crossed.
    prose = replayed(base, root / "prose", set(range(240)), "No idea, sorry.")
    typo = lines_file(root, '- {metric: "fc/parse_rat", min: 95}\n')
    result = gate(base, prose, "--redlines", str(typo))
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "fc/parse_rat: min 95% matches no metric of either run" in message
    assert "nearest metric names: fc/parse_rate" in message
    # The same rule spelt right breaches.
    right = lines_file(root, '- {metric: "fc/parse_rate", min: 95}\n')
    result = gate(base, prose, "--redlines", str(right))
    assert result.exit_code == 1 and "0.0 is under the floor 95" in result.output
    # The API refuses as the command does.
    with pytest.raises(GateError, match="nearest metric names: fc/parse_rate"):
        Gate(base, typo).check(prose)


def test_red_lines_none_of_which_apply_are_an_error(runs):
    base, _, root = runs
    other = lines_file(root, '- {metric: "regression/*", max_drop: 2.0}\n')
    result = gate(base, base, "--redlines", str(other))
    assert result.exit_code == 2
    assert "none of the red lines applies to this fc run" in " ".join(result.stderr.split())


def test_runs_with_no_sample_in_common_are_an_error(runs, tmp_path):
    base, _, _ = runs
    records = (base / "samples.jsonl").read_text().splitlines()
    halves = []
    for name, part in (("first", records[:120]), ("second", records[120:])):
        folder = tmp_path / name
        shutil.copytree(base, folder)
        (folder / "samples.jsonl").write_text("\n".join(part) + "\n")
        halves.append(folder)
    drop = lines_file(tmp_path, '- {metric: "fc/*", max_drop: 2.0}\n')
    result = gate(*halves, "--redlines", str(drop))
    assert result.exit_code == 2, result.output
    assert "no paired samples" in result.stderr and "no sample id in common" in result.stderr


def test_a_matched_metric_with_no_pairs_is_an_error():
    nan = math.nan
    row = Comparison("fc/exec_rate", nan, nan, nan, nan, nan, 0, 0, 0, nan, "none", 30, 0)
    with pytest.raises(GateError, match="fc/exec_rate has no paired samples"):
        judge([row], [RedLine(metric="fc/*", max_drop=2.0)])


def test_the_table_shows_how_many_samples_were_paired(runs, tmp_path):
    base, _, _ = runs
    part = tmp_path / "part"
    shutil.copytree(base, part)
    records = (base / "samples.jsonl").read_text().splitlines()[:100]
    (part / "samples.jsonl").write_text("\n".join(records) + "\n")

    def parse_scored(lines) -> int:
        return sum(json.loads(r)["scores"]["parse"]["value"] is not None for r in lines)

    parsed, scored = parse_scored(records), parse_scored((base / "samples.jsonl").open())
    result = gate(base, part, "--json", str(tmp_path / "v.json"))
    assert result.exit_code == 0, result.output
    assert "paired" in result.output
    row = next(line for line in result.output.splitlines() if "│ fc/parse_rate " in line)
    assert f"{parsed} of {scored}" in row
    assert f"fc/parse_rate [fc/parse_rate: min 95%; {parsed} pairs]: held" in result.output
    table = json.loads((tmp_path / "v.json").read_text())["table"]
    entry = next(r for r in table if r["metric"] == "fc/parse_rate")
    assert (entry["pairs"], entry["baseline_n"], entry["candidate_n"]) == (parsed, scored, parsed)


# -- one unit: percent and percentage points ------------------------------------------------------


def test_red_lines_tables_and_json_are_in_percent_and_points(runs):
    base, worse, root = runs
    floor = lines_file(root, '- {metric: "fc/parse_rate", min: 95}\n')
    result = gate(base, base, "--redlines", str(floor))
    assert result.exit_code == 0, result.output  # 100% is above a floor of 95%
    out = root / "units.json"
    result = gate(worse, base, "--redlines", str(floor), "--json", str(out))
    verdict = json.loads(out.read_text())
    assert verdict["units"].startswith("percent (0-100)")
    row = next(r for r in verdict["table"] if r["metric"] == "fc/parse_rate")
    old, new = row["baseline"], row["candidate"]
    assert new == 100.0 and 85 < old < 95
    assert row["delta"] == pytest.approx(new - old) and row["low"] <= row["delta"] <= row["high"]
    assert result.exit_code == 0
    printed = next(line for line in result.output.splitlines() if "│ fc/parse_rate " in line)
    assert f"{old:.1f}" in printed and f"{new - old:+.1f}" in printed


@pytest.mark.parametrize(
    "rule,message",
    [
        ("{metric: fc/parse_rate, min: 0.95}", "min 0.95 looks like a fraction.*write min: 95"),
        ("{metric: fc/parse_rate, min: 150}", "min 150: a floor is a percent"),
        ("{metric: fc/parse_rate, min: 0}", "min 0: a floor is a percent above 1"),
        ("{metric: fc/parse_rate, max_drop: 250}", "max_drop 250: a drop is in percentage points"),
        ("{metric: fc/parse_rate, max_drop: -1}", "max_drop -1: a drop is in percentage points"),
        ("{metric: fc/parse_rate, max_drop: 2, significance: 5}", "significance 5: a probab"),
        ("{metric: parse_rate, min: 95}", "names start with a family, fc/ or regression/"),
        ("{metric: fcc/parse_rate, min: 95}", r"did you mean fc/\.\.\.\?"),
    ],
)
def test_a_rule_the_units_make_impossible_is_refused(runs, rule, message):
    base, _, root = runs
    result = gate(base, base, "--redlines", str(lines_file(root, f"- {rule}\n")))
    assert result.exit_code == 2, result.output
    assert re.search(message, " ".join(result.stderr.split())), result.stderr


def test_help_states_the_units_and_the_power():
    result = runner.invoke(app, ["gate", "--help"])
    text = " ".join(result.output.split())
    for words in ("percent, 0-100", "percentage points", "min: 95", "--require-power", "paired"):
        assert words in text


@settings(max_examples=100, deadline=None)
@given(
    floor=st.floats(1.5, 100.0),
    below=st.floats(0.01, 5.0),
    delta=st.floats(-50, 50),
)
def test_a_candidate_under_a_floor_never_passes(floor, below, delta):
    value = floor - below
    row = Comparison("fc/parse_rate", value - delta, value, delta, -1, 1, 100, 0, 0, 1.0)
    assert not judge([row], [RedLine(metric="fc/*", min=floor)]).held


# -- power -----------------------------------------------------------------------------------


def _rejections(b2f: np.ndarray, f2b: np.ndarray, alpha: float) -> float:
    """Share of trials in which the gate's McNemar finds a significant drop."""
    seen: dict[tuple[int, int], bool] = {}
    hits = 0
    for pair in zip(b2f.tolist(), f2b.tolist(), strict=True):
        if pair not in seen:
            seen[pair] = pair[0] > pair[1] and mcnemar(*pair) < alpha
        hits += seen[pair]
    return hits / len(b2f)


TRIALS = 3000
TOLERANCE = 0.035  # about 4 standard errors of a rate near 0.8 over TRIALS


@pytest.mark.parametrize(
    "pairs,discordance,alpha",
    # A discordance under the drop (it floors at the drop), and above it, at two alphas.
    [(48, 1 / 48, 0.05), (200, 0.15, 0.01), (400, 0.05, 0.05)],
)
def test_the_detectable_drop_of_a_pass_fail_metric_is_found_80pct_of_the_time(
    pairs, discordance, alpha
):
    drop = detectable_drop(pairs, alpha, binary=True, discordance=discordance)
    assert drop is not None and 0 < drop < 1
    psi = max(discordance, drop)  # a drop flips at least its own share of the samples
    rng = np.random.default_rng(pairs)
    u = rng.random((TRIALS, pairs))
    to_fail = (u < (psi + drop) / 2).sum(axis=1)
    to_pass = ((u >= (psi + drop) / 2) & (u < psi)).sum(axis=1)
    assert abs(_rejections(to_fail, to_pass, alpha) - 0.8) < TOLERANCE
    # Half the drop is found far less often: the figure is not a constant.
    half = rng.random((TRIALS, pairs))
    psi = max(discordance, drop / 2)
    to_fail = (half < (psi + drop / 2) / 2).sum(axis=1)
    to_pass = ((half >= (psi + drop / 2) / 2) & (half < psi)).sum(axis=1)
    assert _rejections(to_fail, to_pass, alpha) < 0.6


@pytest.mark.parametrize("pairs,sd,alpha", [(60, 0.3, 0.05), (200, 0.2, 0.01), (30, 0.0, 0.05)])
def test_the_detectable_drop_of_a_graded_metric_is_found_80pct_of_the_time(pairs, sd, alpha):
    drop = detectable_drop(pairs, alpha, binary=False, sd=sd)
    assert drop is not None and 0 < drop < 1
    spread = max(sd, math.sqrt(drop * (1 - drop)))  # as the gate floors it
    rng = np.random.default_rng(pairs)
    diffs = rng.normal(-drop, spread, size=(TRIALS, pairs))
    found = np.mean([d.mean() < 0 and paired_t(d) < alpha for d in diffs])
    assert abs(found - 0.8) < TOLERANCE


def test_too_few_pairs_detect_no_drop():
    # McNemar's exact p with 5 flips all one way is 2/32 > 0.05: nothing can be significant.
    assert detectable_drop(5, 0.05, binary=True, discordance=0.2) is None
    assert detectable_drop(6, 0.05, binary=True, discordance=0.2) is not None


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    """48 regression items (as make train-demo gates them), and a candidate that got one wrong."""
    root = tmp_path_factory.mktemp("small")
    base = root / "base"
    args = ["eval", "--model", "truth", "--suite", "regression", "--limit", "48"]
    result = runner.invoke(app, [*args, "--out", str(base)])
    assert result.exit_code == 0, result.output
    worse = replayed(base, root / "worse", {0}, "I would rather not say.", "--limit", "48")
    return base, worse, root


def test_an_underpowered_line_says_what_it_could_detect(small_runs):
    base, worse, root = small_runs
    lines = lines_file(root, '- {metric: "regression/answer_accuracy", max_drop: 2.0}\n')
    out = root / "power.json"
    result = gate(base, worse, "--redlines", str(lines), "--json", str(out))
    assert result.exit_code == 0, result.output
    (check,) = json.loads(out.read_text())["checks"]
    expected = 100 * detectable_drop(48, 0.05, binary=True, discordance=1 / 48)
    assert check["detectable_drop"] == pytest.approx(expected)
    assert check["verdict"] == "underpowered" and check["underpowered"] is True
    assert 10 < expected < 25  # a 2-point drop is one item of 48: far below what 48 can show
    assert (
        f"held (underpowered: could detect only drops of {expected:.1f} points or more)"
        in result.output
    )
    result = gate(base, worse, "--redlines", str(lines), "--require-power", "--json", str(out))
    assert result.exit_code == 1, result.output
    verdict = json.loads(out.read_text())
    assert verdict["held"] is False and verdict["require_power"] is True
    (breach,) = verdict["breaches"]
    assert breach["reason"].startswith(f"underpowered: could detect only drops of {expected:.1f}")


def test_a_line_the_run_can_resolve_is_not_flagged(runs):
    base, worse, root = runs
    lines = lines_file(root, '- {metric: "fc/parse_rate", max_drop: 20.0}\n')
    out = root / "powered.json"
    result = gate(base, worse, "--redlines", str(lines), "--require-power", "--json", str(out))
    assert result.exit_code == 0, result.output
    (check,) = json.loads(out.read_text())["checks"]
    assert check["verdict"] == "held" and check["detectable_drop"] < 20.0
    assert "fc/parse_rate [fc/parse_rate: max_drop 20 points at p<0.05; " in result.output


# -- the statistics ----------------------------------------------------------------------------


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


def test_mcnemar_exact():
    assert mcnemar(10, 0) == pytest.approx(2 * 0.5**10)
    assert mcnemar(0, 0) == 1.0
    assert mcnemar(5, 5) == 1.0
