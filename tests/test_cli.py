"""The `redline` command line: --help everywhere, the ground-truth demo, parse, clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from tests.test_bfcl_data import write_fixture

runner = CliRunner()


def command_names():
    return [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "redline"
    assert script.exists() or shutil.which("redline")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "bfcl-truth" in out.stdout


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200


def test_bfcl_truth_scores_ground_truth(tmp_path):
    result = runner.invoke(
        app, ["bfcl-truth", "-c", "simple_python", "-c", "irrelevance", "--official"]
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "simple_python" in line)
    assert "400" in row and row.count("100.0") >= 4 and "400/400" in row
    assert any("irrelevance" in line and "240" in line for line in result.output.splitlines())


def test_bfcl_truth_reads_another_copy(tmp_path):
    root = write_fixture(tmp_path / "bfcl")
    result = runner.invoke(app, ["bfcl-truth", "-c", "simple_python", "--bfcl-data", str(root)])
    assert result.exit_code == 0, result.output
    assert "simple_python" in result.output and str(root) in result.output.replace("\n", "")


def test_bfcl_truth_errors_are_clear(tmp_path):
    result = runner.invoke(app, ["bfcl-truth", "--bfcl-data", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "not a folder" in result.output
    result = runner.invoke(app, ["bfcl-truth", "--format", "xml"])
    assert result.exit_code == 2 and "unknown format 'xml'" in result.output


def test_parse_prints_the_completion(tmp_path):
    result = runner.invoke(
        app,
        ["parse", "--format", "hermes"],
        input='<think>hm</think><tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>',
    )
    assert result.exit_code == 0, result.output
    completion = json.loads(result.output)
    assert completion["calls"] == [{"name": "f", "arguments": {"a": 1}}]
    assert completion["reasoning"] == "hm"
    bad = tmp_path / "out.txt"
    bad.write_text("[f(a=1")
    result = runner.invoke(app, ["parse", "--format", "python", str(bad)])
    assert result.exit_code == 1
    assert json.loads(result.output)["parse_error"]["kind"] == "invalid_syntax"
