"""The general-capability regression set: every item checked by code, its reference answers
pass, wrong answers fail, and the gate catches a candidate with 10% of its answers damaged."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.truth import truth_records
from redline.metrics.checks import failed_checks
from redline.metrics.scorers import score_sample
from redline.records import Completion
from redline.suites.registry import load_suite
from redline.suites.regression import generate_regression_set
from tests.run_helpers import baseline_and_damaged

runner = CliRunner()


def test_the_set_is_large_seeded_and_covers_its_parts():
    items = generate_regression_set()
    assert len(items) >= 300 and len({s.id for s in items}) == len(items)
    assert items == generate_regression_set()
    counts = Counter(s.category for s in items)
    assert set(counts) == {"instructions", "format", "knowledge", "arithmetic", "multilingual"}
    assert counts["multilingual"] >= 40
    assert any("的" in s.messages[0]["content"] for s in items), "Chinese items"
    assert len(load_suite("regression:format").samples) == counts["format"]


def test_every_reference_answer_passes_its_checks():
    records = list(truth_records(generate_regression_set()))
    failing = [(r.sample.id, r.error_detail) for r in records if r.error_type is not None]
    assert failing == []
    assert all(r.scores["answer"].value == 1.0 for r in records)
    assert all(r.scores["parse"].value is None for r in records), "no function-calling scores"


def test_a_wrong_answer_fails():
    items = generate_regression_set()
    wrong = [score_sample(s, Completion(raw="zzz")) for s in items]
    # Content checks all fail; an instruction such as "no commas" is met by any short text.
    content = [r for r in wrong if r.sample.category != "instructions"]
    assert all(r.scores["answer"].value == 0.0 for r in content)
    assert {r.error_type.value for r in content} == {"check_failed"}
    instructions = [r for r in wrong if r.sample.category == "instructions"]
    assert sum(r.scores["answer"].value == 0.0 for r in instructions) > len(instructions) / 2


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (
            {"kind": "json_object", "keys": ["a"], "values": {"a": 1}},
            '```json\n{"a": 1}\n```',
            '{"a": 2}',
        ),
        ({"kind": "yaml_mapping", "keys": ["city"]}, "city: Lima", "- Lima"),
        ({"kind": "csv_table", "header": ["x", "y"], "rows": 2}, "x,y\n1,2\n3,4", "x,y\n1,2"),
        (
            {"kind": "markdown_table", "columns": ["A", "B"], "rows": 1},
            "| A | B |\n|---|---|\n| 1 | 2 |",
            "A B\n1 2",
        ),
        ({"kind": "contains_any", "answers": ["Paris"]}, "It is  PARIS.", "Lyon"),
        ({"kind": "number", "value": 42}, "The answer is 42.", "The answer is 41."),
        ({"kind": "chinese"}, "这是中文。", "This is English."),
        (
            {"kind": "ifeval", "instruction_id": "punctuation:no_comma", "kwargs": {}},
            "no commas here",
            "a, b",
        ),
    ],
)
def test_checks(check, good, bad):
    assert failed_checks(good, [check]) == []
    assert failed_checks(bad, [check]) == [check["kind"]]


def test_gate_on_the_regression_set(tmp_path):
    base, worse = baseline_and_damaged(tmp_path, "regression", "I would rather not say.", offset=3)
    verdict = tmp_path / "verdict.json"
    result = runner.invoke(
        app, ["gate", "--baseline", str(base), "--candidate", str(worse), "--json", str(verdict)]
    )
    assert result.exit_code == 1, result.output
    breaches = json.loads(verdict.read_text())["breaches"]
    assert any(
        b["metric"] == "regression/answer_accuracy" and "regression/*" in b["line"]
        for b in breaches
    )
    assert (
        runner.invoke(app, ["gate", "--baseline", str(base), "--candidate", str(base)]).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["gate", "--baseline", str(worse), "--candidate", str(base)]).exit_code
        == 0
    )
