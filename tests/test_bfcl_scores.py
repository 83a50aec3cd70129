"""BFCL v4 aggregates: the leaderboard's formulas on hand-computed numbers, categories not run
(or run but unscored) counted as 0 with their full size, the data_overall.csv row, and
`redline bfcl` end to end: the console, metrics.json and the CSV show the same numbers."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.metrics.bfcl_scores import (
    OVERALL_COLUMNS,
    CategoryRun,
    category_run,
    leaderboard,
    overall_row,
)
from redline.suites import bfcl_data

# Every category's full size, from the data itself.
SIZES = {c: len(bfcl_data.load_entries(c)) for c in bfcl_data.SINGLE_TURN_CATEGORIES}


def test_aggregates_follow_the_leaderboard():
    acc = {
        "simple_python": 0.9,
        "simple_java": 0.6,
        "simple_javascript": 0.3,
        "multiple": 0.8,
        "parallel": 0.7,
        "parallel_multiple": 0.5,
        "live_simple": 0.75,
        "live_multiple": 0.5,
        "live_parallel": 0.25,
        "live_parallel_multiple": 0.0,
        "irrelevance": 0.9,
        "live_irrelevance": 0.7,
        "live_relevance": 1.0,
    }
    board = leaderboard({k: CategoryRun(v, SIZES[k]) for k, v in acc.items()}, SIZES)
    simple = (0.9 + 0.6 + 0.3) / 3
    non_live = (simple + 0.8 + 0.7 + 0.5) / 4
    live = (0.75 * 258 + 0.5 * 1053 + 0.25 * 16 + 0.0 * 24) / (258 + 1053 + 16 + 24)
    irrelevance = (0.9 + 0.7) / 2
    assert board["simple"].accuracy == pytest.approx(simple)
    assert board["non_live"].accuracy == pytest.approx(non_live)
    assert board["live"].accuracy == pytest.approx(live)
    assert board["irrelevance_total"].accuracy == pytest.approx(irrelevance)
    # Multi-turn and agentic are not run by redline: 0 in the overall, which is partial.
    assert board["overall"].accuracy == pytest.approx(
        (10 * non_live + 10 * live + 10 * irrelevance) / 100
    )
    assert not board["overall"].complete and board["non_live"].complete


def test_categories_not_run_count_as_zero_with_their_full_size():
    board = leaderboard({"live_simple": CategoryRun(1.0, 258)}, SIZES)
    assert board["live"].accuracy == pytest.approx(258 / (258 + 1053 + 16 + 24))
    assert board["live"].shown() == f"{100 * 258 / 1351:.2f} (partial)"
    assert board["live"].zeroed == ("live_multiple", "live_parallel", "live_parallel_multiple")
    assert board["live_multiple"].shown() == "not run"
    row = dict(zip([c for c, _ in OVERALL_COLUMNS], overall_row("m", board), strict=True))
    assert row["Live Simple AST"] == "100.00%" and row["Live Multiple AST"] == "N/A"
    assert row["Live Acc"] == f"{100 * 258 / 1351:.2f}%", "shown even when partial, as BFCL"
    assert row["Non-Live AST Acc"] == "N/A" and row["Model"] == "m"


def test_bfcl_command_writes_leaderboard_files(tmp_path):
    out = tmp_path / "lb"
    result = CliRunner().invoke(
        app,
        [
            "bfcl",
            "--model",
            "truth",
            "--out",
            str(out),
            "--limit",
            "10",
            "-c",
            "simple_python",
            "-c",
            "multiple",
            "-c",
            "irrelevance",
            "-c",
            "live_simple",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["categories"] == {
        "bfcl/simple_python": 1.0,
        "bfcl/multiple": 1.0,
        "bfcl/irrelevance": 1.0,
        "bfcl/live_simple": 1.0,
    }
    assert metrics["overall_partial"] is True
    non_live = metrics["scores"]["non_live"]
    assert non_live["status"] == "partial", "java, javascript, parallel missing"
    assert non_live["accuracy"] == pytest.approx((1 / 3 + 1 + 0 + 0) / 4)
    assert non_live["counted_as_zero"] == [
        "simple_java",
        "simple_javascript",
        "parallel",
        "parallel_multiple",
    ]
    rows = list(csv.reader((out / "bfcl_scores.csv").open()))
    assert rows[0][:3] == ["Rank", "Overall Acc", "Model"] and len(rows[0]) == len(rows[1])
    assert (out / "simple_python" / "samples.jsonl").exists()
    again = CliRunner().invoke(
        app, ["bfcl", "--model", "truth", "--out", str(out), "--limit", "10", "-c", "multiple"]
    )
    assert again.exit_code == 0 and "multiple" in again.output
    # A raised limit resumes each category's run with the samples it already has.
    before = json.loads((out / "multiple" / "manifest.json").read_text())["sample_ids"]
    more = CliRunner().invoke(
        app, ["bfcl", "--model", "truth", "--out", str(out), "--limit", "15", "-c", "multiple"]
    )
    assert more.exit_code == 0, more.output
    after = json.loads((out / "multiple" / "manifest.json").read_text())["sample_ids"]
    assert set(before) < set(after) and len(after) == 15
    assert len((out / "multiple" / "samples.jsonl").read_text().splitlines()) == 15


def test_a_category_that_ran_unscored_is_not_shown_as_not_run():
    # Java ran, but redline cannot check it yet: every sample unscored.
    java = category_run(
        {"value": None, "scored": 0, "unscored": 100, "not_applicable": 0},
        {"unsupported": 100},
    )
    board = leaderboard({"simple_python": CategoryRun(1.0, 400), "simple_java": java}, SIZES)
    assert board["simple_java"].status == "unscored" and board["simple_java"].shown() == "unscored"
    assert board["simple_java"].unscored == 100 and "unsupported 100" in java.why_unscored
    assert board["simple_javascript"].shown() == "not run"
    # Both count as 0 with their full size, as a category missing on the leaderboard does.
    assert board["simple"].accuracy == pytest.approx(1 / 3)
    assert board["simple"].zeroed == ("simple_java", "simple_javascript")
    assert board["simple"].shown() == "33.33 (partial)"
    # A category with some samples unscored keeps the mean of the ones scored, and says so.
    half = category_run(
        {"value": 0.5, "scored": 10, "unscored": 2, "not_applicable": 0},
        {"value_error": 5, "invalid_sample": 2},
    )
    assert half == CategoryRun(0.5, 10, 2, "invalid_sample 2")


def _console_rows(output: str) -> dict[str, list[str]]:
    """The rows of the table `redline bfcl` prints: score name -> the other cells."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if line.startswith("│") and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def test_console_metrics_json_and_csv_agree(tmp_path):
    out = tmp_path / "lb"
    chosen = ["simple_python", "simple_java", "live_parallel", "live_relevance"]
    args = ["bfcl", "--model", "truth", "--out", str(out), "--limit", "8"]
    result = CliRunner().invoke(app, [*args, *(x for c in chosen for x in ("-c", c))])
    assert result.exit_code == 0, result.output
    console = _console_rows(result.output)
    # What the old code showed: Java "not run" although it ran, live "not run" in the console
    # while the CSV had a number for it, and truth failing every live_relevance sample.
    assert console["simple_java"][0] != "not run" and console["live"][0] != "not run"
    assert console["live_relevance"][0] == "100.00"
    metrics = json.loads((out / "metrics.json").read_text())
    scores = metrics["scores"]
    rows = list(csv.reader((out / "bfcl_scores.csv").open()))
    csv_row = dict(zip(rows[0], rows[1], strict=True))
    # Java ran: unscored, never "not run", in the console and in metrics.json.
    assert (
        console["simple_java"][0] == "unscored"
        and "8 ran, none scored" in console["simple_java"][2]
    )
    assert scores["simple_java"]["status"] == "unscored"
    assert (
        scores["simple_java"]["unscored"] == 8 and metrics["categories"]["bfcl/simple_java"] is None
    )
    # Truth makes a call on every relevance sample: it passes live_relevance (BFCL's rule).
    assert scores["live_relevance"]["accuracy"] == 1.0 and console["live_relevance"][0] == "100.00"
    assert csv_row["Relevance Detection"] == "100.00%"
    # Live and overall: the same number in all three places.
    live = 100 * 8 / (258 + 1053 + 8 + 24)
    assert scores["live"]["accuracy"] == pytest.approx(live / 100)
    assert console["live"][0] == f"{live:.2f} (partial)" and csv_row["Live Acc"] == f"{live:.2f}%"
    overall = 100 * scores["overall"]["accuracy"]
    assert metrics["overall"] == scores["overall"]["accuracy"] > 0
    assert console["overall"][0] == f"{overall:.2f} (partial)"
    assert csv_row["Overall Acc"] == f"{overall:.2f}%"
    # An aggregate the CSV leaves N/A (the leaderboard's rule) still has its number elsewhere.
    assert csv_row["Non-Live Simple AST"] == "N/A" and console["simple"][0] == "33.33 (partial)"
    assert scores["simple"]["counted_as_zero"] == ["simple_java", "simple_javascript"]
