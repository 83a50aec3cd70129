"""`redline report`: the static report of the fixture runs as HTML and Markdown — metrics,
per-category and error-type breakdowns, consecutive comparisons by the gate, training curves,
plots as real PNG images, broken folders named while the rest is reported."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.gate import Gate, fmt_points
from redline.reports.loading import pct
from redline.reports.report import write_report
from tests.explore_runs import BASELINE, STEP4, TRAIN

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts, and every image's src."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[dict[str, str]] = []
        self.problems: list[str] = []
        self._cell: list[str] | None = None
        self._problem = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "div" and attrs.get("class") == "problem":
            self._problem = True
            self.problems.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "div":
            self._problem = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._problem:
            self.problems[-1] += data

    def table_with(self, header: list[str]) -> list[list[str]]:
        return [t for t in self.tables if t[0][: len(header)] == header]


def paths(root):
    return [
        root / BASELINE / "fc-dev",
        root / STEP4 / "eval" / "fc-dev",
        root / "broken",
        root / TRAIN,
    ]


@pytest.fixture(scope="module")
def html_report(explore_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    written = write_report(paths(explore_runs), out)
    page = Tables()
    page.feed(out.read_text())
    return written, page, out.read_text()


def test_every_run_has_its_metrics_categories_and_error_types(html_report, explore_runs):
    _, page, text = html_report
    metrics = json.loads((explore_runs / STEP4 / "eval" / "fc-dev" / "metrics.json").read_text())
    assert "<h2>Run grpo-demo/checkpoints/step-000004/eval/fc-dev</h2>" in text
    tables = page.table_with(["metric", "value", "scored", "unscored", "not applicable"])
    step4 = {row[0]: row[1:] for row in tables[1][1:]}
    for name, value in metrics["overall"]["metrics"].items():
        if value["scored"]:
            assert step4[name] == [
                pct(value["value"]),
                str(value["scored"]),
                "0",
                str(value["not_applicable"]),
            ]
    categories = page.table_with(["category", "n", "parse_rate", "ast_accuracy"])[1]
    rows = {row[0]: row for row in categories[1:]}
    assert rows["dev_single"][1] == "36"
    assert rows["dev_single"][3] == pct(
        metrics["categories"]["dev_single"]["metrics"]["ast_accuracy"]["value"]
    )
    assert rows["overall"][-1] == "no_call 6, value_error 5"
    errors = page.table_with(["error type", "samples", "share of all samples"])
    assert errors[0][1:] == [["no_call", "6", "10.0%"], ["value_error", "5", "8.3%"]]


def test_consecutive_runs_are_compared_by_the_gate(html_report, explore_runs):
    _, page, text = html_report
    result = Gate(explore_runs / BASELINE / "fc-dev").check(
        explore_runs / STEP4 / "eval" / "fc-dev"
    )
    (table,) = page.table_with(["metric", "baseline", "candidate", "delta (points)"])
    rows = {row[0]: row for row in table[1:]}
    # Overall metrics first, then per category.
    assert [r[0] for r in table[1:]][0] == "fc/ast_accuracy"
    for row in result.table:
        if row.metric in rows:
            got = rows[row.metric]
            assert got[3:7] == [
                fmt_points(row.delta),
                f"{fmt_points(row.low)} .. {fmt_points(row.high)}",
                str(row.pass_to_fail),
                str(row.fail_to_pass),
            ]
    assert "fc/parse_rate" in rows and "fc/dev_single/ast_accuracy" in rows
    assert "Gate verdict: <strong>a red line is crossed</strong>." in text
    assert "Sample verdicts: pass→fail 11, fail→pass 0, other error 0" in text
    (flips,) = page.table_with(["sample", "category", "baseline", "candidate", "flip"])
    assert flips[1] == ["dev_0000", "dev_parallel", "passed", "no_call", "pass→fail"]
    assert (
        "Not compared: grpo-demo/checkpoints/step-000004/eval/fc-dev ran fc:dev, "
        "broken/no-manifest ran unknown suite." in text
    )


def test_broken_folders_are_named_and_the_rest_is_reported(html_report):
    written, page, text = html_report
    assert any("broken/no-manifest: no manifest.json" in p for p in page.problems)
    assert any(
        "broken/truncated: the last line of samples.jsonl is cut short" in p for p in page.problems
    )
    assert "<h2>Run broken/truncated</h2>" in text and "<h2>Run broken/no-manifest</h2>" in text
    assert any("no metrics.json" in p for p in written.problems)


def test_training_runs_get_curves_gate_decisions_and_checkpoints(html_report):
    _, page, text = html_report
    assert f"<h2>Training {TRAIN}</h2>" in text
    (gates,) = page.table_with(["step", "checkpoint", "held", "action"])
    assert [r[:4] for r in gates[1:]] == [
        ["2", "checkpoints/step-000002", "yes", "continue"],
        ["4", "checkpoints/step-000004", "no", "raise_beta"],
    ]
    assert "fc/parse_rate" in gates[2][-1]
    (checkpoints,) = page.table_with(["checkpoint", "suite", "n", "verdict metric"])
    assert [r[:2] for r in checkpoints[1:]] == [
        ["baseline", "fc:dev"],
        ["baseline", "regression"],
        ["checkpoints/step-000002", "fc:dev"],
        ["checkpoints/step-000002", "regression"],
        ["checkpoints/step-000004", "fc:dev"],
        ["checkpoints/step-000004", "regression"],
    ]
    assert checkpoints[-1][3:5] == ["answer_accuracy", "82.5"]


def test_plots_are_embedded_png_images(html_report):
    _, page, _ = html_report
    names = [img["data-plot"] for img in page.images]
    assert names == [
        "grpo-demo-baseline-fc-dev-categories",
        "grpo-demo-checkpoints-step-000004-eval-fc-dev-categories",
        "grpo-demo-checkpoints-step-000004-eval-fc-dev-errors",
        "broken-no-manifest-categories",
        "broken-truncated-categories",
        "grpo-demo-reward",
        "grpo-demo-kl",
        "grpo-demo-loss",
    ]
    for img in page.images:
        prefix, data = img["src"].split(",", 1)
        assert prefix == "data:image/png;base64"
        assert base64.b64decode(data).startswith(PNG)
        assert img["alt"]


def test_markdown_report_writes_its_plots_beside_it(explore_runs, tmp_path):
    out = tmp_path / "out" / "report.md"
    written = write_report(paths(explore_runs), out)
    text = out.read_text()
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert len(links) == 8 and len(written.images) == 8
    for link in links:
        assert link.startswith("report_files/")
        assert (out.parent / link).read_bytes().startswith(PNG)
    assert "| no_call | 6 | 10.0% |" in text
    assert "|---|---:|---:|" in text  # numbers right-aligned
    assert "> **problem:** broken/truncated: the last line" in text


def test_two_runs_with_one_name_are_told_apart(explore_runs, tmp_path):
    out = tmp_path / "r.md"
    write_report(
        [explore_runs / BASELINE / "regression", explore_runs / STEP4 / "eval" / "regression"], out
    )
    text = out.read_text()
    assert "## Run baseline/regression" in text
    assert "## Run checkpoints/step-000004/eval/regression" in text
    assert "### baseline/regression → checkpoints/step-000004/eval/regression" in text


def test_report_command(explore_runs, tmp_path):
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *map(str, paths(explore_runs)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.stdout
    assert "warning: broken/truncated: the last line" in result.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    lines = tmp_path / "lines.yaml"
    lines.write_text('- {metric: "fc/ast_accuracy", min: 50}\n')
    out = tmp_path / "held.md"
    result = runner.invoke(
        app,
        [
            "report",
            str(explore_runs / BASELINE / "fc-dev"),
            str(explore_runs / STEP4 / "eval" / "fc-dev"),
            "-o",
            str(out),
            "--redlines",
            str(lines),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Gate verdict: **every red line holds**." in out.read_text()


def test_report_command_errors(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "no runs found" in result.stderr
    result = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2 and "written as .html or .md" in result.stderr


def test_help_explains_report_and_explore():
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0
    for words in ("per-category", "error types", "flips", "reward and KL", "never recomputed"):
        assert words in " ".join(result.output.split())
    result = runner.invoke(app, ["explore", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in ("Runs", "Errors", "Compare", "Sample", "Training", "127.0.0.1", "--host"):
        assert words in text


def test_explore_refuses_what_it_cannot_open(tmp_path):
    result = runner.invoke(app, ["explore", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "is not a folder" in result.stderr
    result = runner.invoke(app, ["explore", str(tmp_path), "--redlines", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2 and "is not a file" in result.stderr


def test_a_malformed_line_in_the_middle_is_named(explore_runs, tmp_path):
    run = tmp_path / "runs" / "damaged"
    shutil.copytree(explore_runs / BASELINE / "fc-dev", run)
    lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
    lines[6] = '{"sample": {"id": "dev_0006"}}\n'
    (run / "samples.jsonl").write_text("".join(lines))
    written = write_report([run], tmp_path / "report.md")
    assert any(f"{run / 'samples.jsonl'}:7: not a sample record" in p for p in written.problems)
    assert f"{run / 'samples.jsonl'}:7: not a sample record" in (tmp_path / "report.md").read_text()
