"""Suites beyond BFCL: the seeded offline dev set and xlam-60k's format (read through HF
datasets from a local file in that format; the hub is never reached in tests)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.truth import truth_records
from redline.suites import xlam
from redline.suites.devset import generate_dev_set
from redline.suites.registry import SuiteError, load_suite


def test_dev_set_is_seeded_and_scores_perfectly_on_its_answers():
    first, again, other = generate_dev_set(), generate_dev_set(), generate_dev_set(seed=1)
    assert first == again and first != other
    assert len(first) == 240 and len({s.id for s in first}) == 240
    kinds = {s.category for s in first}
    assert kinds == {"dev_single", "dev_parallel", "dev_irrelevance"}
    records = list(truth_records(first))
    assert all(r.error_type is None for r in records)
    assert all(r.scores["exec"].value in (1.0, None) for r in records)
    parallel = [s for s in first if s.category == "dev_parallel"]
    assert all(len(s.expected) == 2 for s in parallel)


def xlam_rows(n=20):
    tool = {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"city": {"type": "str", "description": "City"}},
    }
    rows = []
    for i in range(n):
        answers = [] if i % 5 == 0 else [{"name": "get_weather", "arguments": {"city": f"c{i}"}}]
        rows.append(
            {
                "id": i,
                "query": f"Weather in c{i}?",
                "tools": json.dumps([tool]),
                "answers": json.dumps(answers),
            }
        )
    return rows


def test_xlam_split_from_a_local_file(tmp_path, monkeypatch):
    path = tmp_path / "xlam.json"
    path.write_text(json.dumps(xlam_rows()))
    monkeypatch.setenv(xlam.ENV_VAR, str(path))
    test, train = xlam.load_xlam("test"), xlam.load_xlam("train")
    assert len(test) == 2 and len(train) == 18
    assert {s.id for s in test}.isdisjoint({s.id for s in train})
    assert xlam.load_xlam("test") == test, "the split is seeded (42)"
    sample = next(s for s in train if s.expected)
    assert sample.expected[0].name == "get_weather" and sample.messages[0]["role"] == "user"
    assert any(s.expect == "no_call" for s in train + test)
    suite = load_suite("xlam:train")
    assert suite.version.startswith("xlam@") and len(suite.samples) == 18
    result = CliRunner().invoke(
        app, ["eval", "--model", "truth", "--suite", "xlam:test", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "schema", "optional"),
    [
        ("str", {"type": "string"}, False),
        ("int, optional", {"type": "integer"}, True),
        ("List[int]", {"type": "array", "items": {"type": "integer"}}, False),
        ("Optional[float]", {"type": "number"}, True),
        ("Dict[str, Any]", {"type": "object"}, False),
        ("Union[int, float]", {}, False),
        ("Callable", {}, False),
    ],
)
def test_xlam_types_become_json_schema(text, schema, optional):
    assert xlam._schema_of(text) == (schema, optional)


def test_xlam_tool_required_parameters():
    tool = xlam.xlam_tool(
        {
            "name": "f",
            "parameters": {
                "a": {"type": "str", "description": "A"},
                "b": {"type": "int", "default": 3},
                "c": {"type": "float, optional"},
            },
        }
    )
    assert tool["parameters"]["required"] == ["a"]
    assert tool["parameters"]["properties"]["a"] == {"type": "string", "description": "A"}


def test_xlam_errors_name_the_row_or_source(tmp_path, monkeypatch):
    rows = xlam_rows(3)
    rows[1]["answers"] = "not json"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(xlam.XlamError, match="xlam row"):
        xlam.load_xlam("train", source=str(path))
    monkeypatch.setenv(xlam.ENV_VAR, str(tmp_path / "missing.json"))
    with pytest.raises(SuiteError, match="cannot load xlam data from"):
        load_suite("xlam:test")
    with pytest.raises(xlam.XlamError, match="unknown xlam split"):
        xlam.load_xlam("dev", source=str(path))
    monkeypatch.delenv(xlam.ENV_VAR)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("datasets.config.HF_HUB_OFFLINE", True)
    with pytest.raises(SuiteError, match=r"from Salesforce/.*set REDLINE_XLAM to a local"):
        load_suite("xlam:test")


def test_suites_list_the_dev_set():
    result = CliRunner().invoke(app, ["suites"])
    assert result.exit_code == 0
    assert any("fc:dev" in line and "240" in line for line in result.output.splitlines())
