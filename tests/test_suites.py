"""Suites beyond BFCL: the seeded offline dev set and xlam-60k's format (read through HF
datasets from a local file in that format; the hub is never reached in tests), and the part of
a suite a run takes (--limit: a seeded draw stratified by category; --first)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.truth import truth_records
from redline.records import Sample
from redline.suites import xlam
from redline.suites.devset import generate_dev_set
from redline.suites.registry import REGRESSION_PARTS, SuiteError, load_suite, select


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


# --- the part of a suite a run takes: --limit draws by category, --first keeps the old order ---


def _samples(sizes: list[int]) -> list[Sample]:
    return [
        Sample(id=f"c{c}_{i}", messages=[{"role": "user", "content": "q"}], category=f"c{c}")
        for c, size in enumerate(sizes)
        for i in range(size)
    ]


def _ids(samples, limit: int, seed: int = 0) -> list[str]:
    part, _ = select(samples, limit=limit, seed=seed)
    return [s.id for s in part]


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_a_larger_limit_keeps_the_draw_of_a_smaller_one(sizes, seed, data):
    samples = _samples(sizes)
    total = len(samples)
    small = data.draw(st.integers(1, total), label="small")
    large = data.draw(st.integers(small, total + 3), label="large")
    drawn, more = _ids(samples, small, seed), _ids(samples, large, seed)
    assert set(drawn) <= set(more)  # raising the limit resumes: nothing drawn is dropped
    assert len(drawn) == small and len(more) == min(large, total)
    assert drawn == _ids(samples, small, seed)  # the same N and seed, the same ids
    # The suite's order does not decide the draw, only the seed does.
    shuffled = data.draw(st.permutations(samples), label="order")
    assert set(_ids(shuffled, small, seed)) == set(drawn)
    # Stratified: every category once before any twice, then never above its proportional
    # count rounded up.
    counts = {f"c{c}": sum(i.startswith(f"c{c}_") for i in drawn) for c in range(len(sizes))}
    for c, size in enumerate(sizes):
        if small >= len(sizes):
            assert counts[f"c{c}"] >= 1, counts
        assert counts[f"c{c}"] <= -(-small * size // total), (counts, sizes)


def test_the_draw_depends_on_the_seed_and_first_keeps_the_suite_order():
    whole = load_suite("fc:dev")
    drawn = load_suite("fc:dev", limit=20)
    assert [s.id for s in drawn.samples] == [s.id for s in load_suite("fc:dev", limit=20).samples]
    other = load_suite("fc:dev", limit=20, draw_seed=1)
    assert {s.id for s in other.samples} != {s.id for s in drawn.samples}
    first = load_suite("fc:dev", first=20)
    assert first.samples == whole.samples[:20]
    assert first.selection == {"first": 20, "of": 240, "partial": True}
    assert drawn.selection == {"limit": 20, "draw_seed": 0, "of": 240, "partial": True}
    # The identity of a run is the whole suite's hash; the samples taken are listed apart.
    assert drawn.suite_hash == first.suite_hash == whole.suite_hash == whole.content_hash
    assert drawn.content_hash != whole.content_hash
    assert drawn.sample_ids == [s.id for s in drawn.samples] and whole.sample_ids is None
    assert load_suite("fc:dev", limit=500).samples == whole.samples
    with pytest.raises(SuiteError, match="not both"):
        load_suite("fc:dev", limit=5, first=5)


def test_train_demo_regression_limit_draws_every_category(tmp_path):
    # `make train-demo` gates "general ability" on `regression --limit 48`: the first 48 items
    # were all instruction items; a draw takes every part of the suite, in proportion.
    result = CliRunner().invoke(
        app,
        ["eval", "--model", "truth", "--suite", "regression", "--limit", "48"]
        + ["--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    sizes = Counter(s.category for s in load_suite("regression").samples)
    counts = {c: t["samples"] for c, t in metrics["categories"].items()}
    assert set(counts) == set(REGRESSION_PARTS) == set(sizes)
    for part, count in counts.items():
        assert abs(count - 48 * sizes[part] / 320) < 2, counts
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["selection"]["limit"] == 48 and len(manifest["sample_ids"]) == 48
    assert {s.id for s in load_suite("regression", limit=48).samples} == set(manifest["sample_ids"])
    bad = CliRunner().invoke(
        app, ["eval", "--model", "truth", "--suite", "regression", "--limit", "4", "--first", "4"]
    )
    assert bad.exit_code == 2 and "not both" in bad.output
