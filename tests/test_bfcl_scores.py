"""BFCL v4 aggregates: the leaderboard's formulas on hand-computed numbers, categories not run
counted as 0 with their full size, the data_overall.csv row, and `redline bfcl` end to end."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.metrics.bfcl_scores import OVERALL_COLUMNS, leaderboard, overall_row
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
    board = leaderboard({k: (v, SIZES[k]) for k, v in acc.items()}, SIZES)
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
    board = leaderboard({"live_simple": (1.0, 258)}, SIZES)
    assert board["live"].accuracy == pytest.approx(258 / (258 + 1053 + 16 + 24))
    assert board["live"].shown() == "not run"
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
    assert metrics["aggregates"]["non_live"] == "not run", "java, javascript, parallel missing"
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
