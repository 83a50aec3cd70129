"""BFCL data access: found inside the bfcl-eval package without importing it, overridable by
option or environment, with clear errors naming the file and line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from redline.suites import bfcl_data as bd

ENTRY = {
    "id": "simple_python_0",
    "question": [[{"role": "user", "content": "Area of a triangle, base 10, height 5?"}]],
    "function": [
        {
            "name": "calc_area",
            "description": "Triangle area.",
            "parameters": {
                "type": "dict",
                "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}},
                "required": ["base", "height"],
            },
        }
    ],
}
ANSWER = {"id": "simple_python_0", "ground_truth": [{"calc_area": {"base": [10], "height": [5]}}]}


def write_fixture(root, entries=(ENTRY,), answers=(ANSWER,)):
    (root / "possible_answer").mkdir(parents=True)
    (root / "BFCL_v4_simple_python.json").write_text(
        "\n".join(json.dumps(e) for e in entries) + "\n"
    )
    (root / "possible_answer" / "BFCL_v4_simple_python.json").write_text(
        "\n".join(json.dumps(a) for a in answers) + "\n"
    )
    return root


def test_package_data_is_found_without_importing_the_package():
    code = (
        "import sys\n"
        "from redline.suites.bfcl_data import bfcl_data_dir, load_samples\n"
        "assert len(load_samples('live_parallel')) == 16\n"
        "assert 'bfcl_eval' not in sys.modules, 'bfcl_eval was imported'\n"
        "print(bfcl_data_dir())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("bfcl_eval/data")


def test_category_sizes_match_the_v4_release():
    sizes = {c: len(bd.load_entries(c)) for c in bd.PYTHON_AST_CATEGORIES}
    assert sizes == {
        "simple_python": 400,
        "multiple": 200,
        "parallel": 200,
        "parallel_multiple": 200,
        "live_simple": 258,
        "live_multiple": 1053,
        "live_parallel": 16,
        "live_parallel_multiple": 24,
    }


def test_samples_carry_the_declared_expectation():
    (irrelevant, *_) = bd.load_samples("irrelevance")
    assert irrelevant.expect == "no_call" and irrelevant.possible_answer is None
    (relevant, *_) = bd.load_samples("live_relevance")
    assert relevant.expect == "any_call"
    sample = bd.load_samples("parallel")[0]
    assert sample.expect == "calls" and sample.bfcl_category == "parallel"
    assert len(sample.expected) == len(sample.possible_answer) >= 2
    assert sample.messages[0]["role"] == "user"


def test_override_by_argument_and_environment(tmp_path, monkeypatch):
    root = write_fixture(tmp_path / "copy")
    (sample,) = bd.load_samples("simple_python", root)
    assert sample.expected[0].arguments == {"base": 10, "height": 5}
    monkeypatch.setenv(bd.ENV_VAR, str(root))
    assert bd.bfcl_data_dir() == root
    assert len(bd.load_entries("simple_python")) == 1


def test_errors_name_the_place(tmp_path, monkeypatch):
    with pytest.raises(
        bd.BFCLDataError, match="--bfcl-data points at .*nowhere, which is not a folder"
    ):
        bd.bfcl_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv(bd.ENV_VAR, str(tmp_path / "gone"))
    with pytest.raises(bd.BFCLDataError, match=r"\$REDLINE_BFCL_DATA points at"):
        bd.bfcl_data_dir()
    root = write_fixture(tmp_path / "bad")
    with (root / "BFCL_v4_simple_python.json").open("a") as fh:
        fh.write('{"id": "simple_python_1", "question": \n')
    with pytest.raises(bd.BFCLDataError, match=r"BFCL_v4_simple_python.json:2: not valid JSON"):
        bd.load_entries("simple_python", root)
    with pytest.raises(bd.BFCLDataError, match="unknown BFCL category 'simple_cobol'"):
        bd.load_entries("simple_cobol", root)
    with pytest.raises(bd.BFCLDataError, match="missing BFCL file .*BFCL_v4_multiple.json"):
        bd.load_entries("multiple", root)
    other = write_fixture(tmp_path / "unanswered", answers=[{"id": "x", "ground_truth": []}])
    with pytest.raises(bd.BFCLDataError, match="no answer for simple_python_0"):
        bd.load_entries("simple_python", other)
