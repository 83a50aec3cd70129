"""The explorer's pages, driven by Streamlit's AppTest on the fixture runs: runs and manifests,
error breakdowns with filters, comparisons with the gate, one sample in full, training curves
and gate decisions, links between pages, and broken folders shown while the rest loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from redline.gate import Gate, fmt_points
from redline.harness.runs import read_records
from redline.reports import loading
from redline.reports.loading import pct
from redline.suites.bfcl_data import SINGLE_TURN_CATEGORIES
from tests.explore_runs import (
    BASELINE,
    BFCL_OTHER,
    BFCL_RUN,
    BFCL_SHARED,
    PROSE,
    STEP2,
    STEP4,
    TRAIN,
    build_bfcl_runs,
)

APP = str(Path(loading.__file__).with_name("app.py"))


@pytest.fixture
def app(explore_runs, monkeypatch):
    monkeypatch.setenv("REDLINE_RUNS_DIR", str(explore_runs))

    def start(**query: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        at.query_params.update(query)
        return run(at)

    return start


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def chart_data(chart) -> list:
    """The data sets an Altair chart sent to the browser, as frames, in layer order."""
    spec = json.loads(chart.proto.spec)
    frames = {d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets}
    return [frames[layer["data"]["name"]] for layer in spec["layer"]]


def goto(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page)
    return run(at)


def test_runs_page_lists_runs_checkpoints_and_manifests(app):
    at = app()
    assert at.sidebar.radio(key="page").value == "Runs"
    trainings, evals = (d.value for d in at.dataframe)
    assert list(trainings["training run"]) == [TRAIN]
    assert list(trainings["kind"]) == ["grpo"]
    assert list(evals["checkpoint"][:2]) == [BASELINE, BASELINE]
    row = evals[evals["folder"] == f"{STEP4}/eval/fc-dev"].iloc[0]
    assert (row["suite"], row["temperature"], row["max_new_tokens"], row["seed"]) == (
        "fc:dev",
        0.7,
        128,
        3,
    )
    assert row["model"].startswith("replay:")
    at.selectbox(key="manifest_of").set_value(f"{STEP4}/eval/regression")
    run(at)
    assert at.json[0].value and json.loads(at.json[0].value)["suite"] == "regression"


def test_broken_folders_are_shown_and_the_rest_loads(app):
    at = app()
    warnings = texts(at.warning)
    assert any("broken/no-manifest: no manifest.json" in w for w in warnings)
    assert any(
        "broken/truncated: the last line of samples.jsonl is cut short" in w for w in warnings
    )
    at = app(page="Errors", checkpoint="broken/truncated")
    assert any("line 21 is cut short" in w for w in texts(at.warning))
    table = at.table[1].value
    assert table.to_numpy().sum() == 20  # the 20 whole lines
    at = app(page="Sample", checkpoint="broken/no-manifest")
    assert at.selectbox(key="suite").value == "unknown suite"
    assert len(at.selectbox(key="sample").options) == 12


def test_runs_page_names_a_malformed_line_in_the_middle(explore_runs, tmp_path, monkeypatch):
    damaged = tmp_path / "damaged"
    shutil.copytree(explore_runs / BASELINE / "fc-dev", damaged)
    lines = (damaged / "samples.jsonl").read_text().splitlines(keepends=True)
    lines[4] = "{not json\n"
    (damaged / "samples.jsonl").write_text("".join(lines))
    monkeypatch.setenv("REDLINE_RUNS_DIR", str(tmp_path))
    warnings = texts(run_app().warning)
    assert any(f"{damaged / 'samples.jsonl'}:5: not a sample record" in w for w in warnings)


def run_app(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(query)
    return run(at)


def test_errors_page_breaks_down_a_checkpoint(app, explore_runs):
    at = app(page="Errors", checkpoint=STEP4)
    assert at.header[0].value == f"Errors · {STEP4}"
    metrics = at.table[0].value
    assert list(metrics["suite"]) == ["fc:dev", "regression"]
    stored = json.loads((explore_runs / STEP4 / "eval" / "fc-dev" / "metrics.json").read_text())
    assert metrics["parse_rate"][0] == pct(stored["overall"]["metrics"]["parse_rate"]["value"])
    table = at.table[1].value
    for suite, folder in (("fc:dev", "fc-dev"), ("regression", "regression")):
        stored = json.loads((explore_runs / STEP4 / "eval" / folder / "metrics.json").read_text())
        for category, part in stored["categories"].items():
            for error, count in part["errors"].items():
                assert table.loc[(suite, category), error] == count
    assert len(at.get("vega_lite_chart")) == 1
    shares = at.table[2].value
    assert shares.loc["no_call", "samples"] == 6 and shares.loc["no_call", "share"] == "6.0%"
    failed = at.dataframe[0].value
    assert set(failed["error_type"]) == {"no_call", "value_error", "check_failed"}


def test_errors_page_filters_by_suite_category_and_error_type(app):
    at = app(page="Errors", checkpoint=STEP4)
    at.multiselect(key="f_suite").set_value(["fc:dev"])
    run(at)
    table = at.table[1].value
    assert set(table.index.get_level_values(0)) == {"fc:dev"}
    assert "check_failed" not in table.columns
    at.multiselect(key="f_error").set_value(["value_error"])
    run(at)
    assert list(at.table[1].value.columns) == ["value_error"]
    at.multiselect(key="f_category").set_value(["dev_single"])
    run(at)
    table = at.table[1].value
    assert list(table.index) == [("fc:dev", "dev_single")] and table.iloc[0, 0] == 4
    assert set(at.dataframe[0].value["category"]) == {"dev_single"}


def test_errors_page_opens_a_failed_sample(app):
    at = app(page="Errors", checkpoint=STEP4)
    at.selectbox(key="open_failed").set_value("fc:dev · dev_0003")
    at.button(key="open_failed_button").click()
    run(at)
    assert at.sidebar.radio(key="page").value == "Sample"
    assert at.selectbox(key="sample").value == "dev_0003"
    assert at.query_params["sample"] in ("dev_0003", ["dev_0003"])


def test_sample_page_shows_one_sample_in_full(app, explore_runs):
    at = app(page="Sample", checkpoint=STEP4, suite="fc:dev", sample="dev_0003")
    records = {
        r.sample.id: r
        for r in read_records(explore_runs / STEP4 / "eval" / "fc-dev" / "samples.jsonl").records
    }
    record = records["dev_0003"]
    assert "value_error" in at.error[0].value
    assert record.sample.messages[0]["content"] in texts(at.text)
    assert [e.label for e in at.expander] == [t.name for t in record.sample.tools]
    assert at.code[0].value == record.completion.raw
    assert "No reasoning in this output." in texts(at.caption)
    parsed, expected = [v for v in (json.loads(j.value) for j in at.json) if isinstance(v, list)]
    assert parsed[0]["arguments"]["origin"].endswith("-X")
    assert expected[0]["arguments"]["origin"] == "CDG"
    diff = at.table[0].value
    row = diff[diff["parameter"] == "origin"].iloc[0]
    assert (row["expected"], row["got"], row["status"]) == ('"CDG"', '"CDG-X"', "differs")
    assert set(diff[diff["parameter"] != "origin"]["status"]) == {"equal"}
    scores = at.table[1].value.set_index("scorer")
    assert list(scores.index) == list(record.scores)
    assert scores.loc["ast", "error type"] == "value_error"
    assert scores.loc["parse", "value"] == "1.000" and scores.loc["answer", "value"] == "–"


def test_sample_page_shows_reasoning_apart_and_failed_only(app):
    at = app(page="Sample", checkpoint=STEP4, suite="fc:dev", sample="dev_0005")
    assert "passed" in at.success[0].value
    raw, reasoning = at.code[0].value, at.code[1].value
    assert reasoning == "The user wants this done; pick the matching tool."
    assert reasoning in raw and raw.startswith("<think>")
    at.checkbox(key="failed_only").check()
    run(at)
    options = at.selectbox(key="sample").options
    assert all("passed" not in o for o in options) and len(options) == 11
    at = app(page="Sample", checkpoint=STEP4, suite="fc:dev", sample="dev_0000")
    assert at.code[0].value == PROSE
    assert "no_call" in at.warning[0].value  # the parse error
    diff = at.table[0].value
    assert set(diff["status"]) == {"missing call"}


def test_sample_page_switches_suite(app):
    at = app(page="Sample", checkpoint=STEP4)
    at.selectbox(key="suite").set_value("regression")
    run(at)
    assert at.selectbox(key="sample").value.startswith("reg_")
    assert "No calls expected and none made." in texts(at.caption)


def test_compare_page_shows_flips_deltas_and_the_gate(app, explore_runs):
    at = app(page="Compare")
    # By default the training run's baseline against its last checkpoint.
    assert at.selectbox(key="base").value == BASELINE
    assert at.selectbox(key="cand").value == STEP4
    result = Gate(explore_runs / BASELINE / "fc-dev").check(
        explore_runs / STEP4 / "eval" / "fc-dev"
    )
    errors = texts(at.error)
    assert any(e.startswith("Gate: red line crossed") and "fc/parse_rate" in e for e in errors)
    assert "Overall: the gate is crossed on 2 suite(s)." in errors
    table = at.dataframe[0].value.set_index("metric")
    for row in result.table:
        assert table.loc[row.metric, "delta"] == fmt_points(row.delta)
        assert (
            table.loc[row.metric, "95% interval"]
            == f"{fmt_points(row.low)} .. {fmt_points(row.high)}"
        )
        assert table.loc[row.metric, "pass→fail"] == row.pass_to_fail
    flipped = at.table[0].value
    records = read_records(explore_runs / STEP4 / "eval" / "fc-dev" / "samples.jsonl").records
    failing = [r.sample.id for r in records if r.error_type]
    assert list(flipped["id"]) == failing and set(flipped["flip"]) == {"pass→fail"}
    at.selectbox(key="cand").set_value(STEP2)
    run(at)
    assert "Overall: the gate holds on all 2 suites." in texts(at.success)


def test_compare_page_uses_the_red_lines_explore_was_given(app, tmp_path, monkeypatch):
    lines = tmp_path / "lines.yaml"
    lines.write_text('- {metric: "fc/ast_accuracy", min: 50}\n')
    monkeypatch.setenv("REDLINE_REDLINES", str(lines))
    at = app(page="Compare", base=BASELINE, cand=STEP4)
    assert "Overall: the gate holds on all 2 suites." in texts(at.success)


def test_compare_page_opens_a_flipped_sample(app):
    at = app(page="Compare", base=BASELINE, cand=STEP4)
    at.selectbox(key="flip_fc:dev").set_value("dev_0013")
    at.button(key="flip_fc:dev_button").click()
    run(at)
    assert at.sidebar.radio(key="page").value == "Sample"
    assert at.sidebar.selectbox(key="checkpoint").value == STEP4
    assert at.selectbox(key="sample").value == "dev_0013"


def test_compare_page_with_no_shared_suite(app):
    at = app(page="Compare", base=BASELINE, cand="broken/no-manifest")
    assert "These checkpoints share no suite." in texts(at.warning)


def test_training_page_curves_gate_decisions_and_links(app):
    at = app(page="Training")
    assert at.selectbox(key="training").value == TRAIN
    assert "**grpo** from **smollm2**" in at.markdown[0].value
    assert [h.value for h in at.subheader][:4] == [
        "Reward and its components",
        "KL",
        "Beta",
        "Loss",
    ]
    charts = [chart_data(c) for c in at.get("vega_lite_chart")]
    assert len(charts) == 4
    rewards, checks = charts[0]
    assert set(rewards["series"]) == {"reward", "rewards/abstain/mean", "rewards/parse/mean"}
    assert list(rewards[rewards["series"] == "reward"]["step"]) == list(range(1, 7))
    kl, _ = charts[1]
    # The gate's probe, logged only at checks, still makes a line of its own.
    probe = kl[kl["series"] == "kl_probe (gate)"]
    assert list(zip(probe["step"], probe["value"], strict=True)) == [(2, 0.02), (4, 0.04)]
    # Every chart marks the gate checks with their action.
    for _, gates in charts:
        assert list(zip(gates["step"], gates["action"], strict=True)) == [
            (2, "continue"),
            (4, "raise_beta"),
        ]
    assert at.multiselect(key="train_more").options == [
        "epoch",
        "learning_rate",
        "reward_std",
    ]
    at.multiselect(key="train_more").set_value(["reward_std"])
    run(at)
    (more, _) = chart_data(at.get("vega_lite_chart")[4])
    assert set(more["series"]) == {"reward_std"} and len(more) == 6
    decisions = at.table[0].value
    assert list(decisions["step"]) == [2, 4]
    assert list(decisions["action"]) == ["continue", "raise_beta"]
    assert list(decisions["held"]) == ["yes", "no"]
    assert "fc/parse_rate" in decisions["breaches"][1]
    links = [m.value for m in at.markdown if m.value.startswith("- step")]
    assert len(links) == 2
    assert "?page=Errors&checkpoint=grpo-demo%2Fcheckpoints%2Fstep-000004" in links[1]
    assert (
        "?page=Sample&checkpoint=grpo-demo%2Fcheckpoints%2Fstep-000004&suite=fc%3Adev" in links[1]
    )
    assert (
        "?page=Compare&base=grpo-demo%2Fbaseline&cand=grpo-demo%2Fcheckpoints%2Fstep-000004"
        in links[1]
    )


def test_a_link_opens_its_page(app):
    at = app(page="Sample", checkpoint=STEP2, suite="regression", sample="reg_instr_003")
    assert at.sidebar.radio(key="page").value == "Sample"
    assert at.sidebar.selectbox(key="checkpoint").value == STEP2
    assert at.selectbox(key="suite").value == "regression"
    assert at.selectbox(key="sample").value == "reg_instr_003"
    # A selection no longer there falls back to the first option.
    at = app(page="Errors", checkpoint="gone")
    assert at.sidebar.selectbox(key="checkpoint").value == BASELINE


def test_selections_survive_page_changes(app):
    at = app(page="Sample", checkpoint=STEP4, suite="fc:dev", sample="dev_0007")
    goto(at, "Training")
    goto(at, "Sample")
    assert at.selectbox(key="sample").value == "dev_0007"
    assert at.query_params["page"] in ("Sample", ["Sample"])


def test_a_run_being_written_is_read_again(app, explore_runs, tmp_path, monkeypatch):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(explore_runs / BASELINE / "fc-dev", runs / "live")
    monkeypatch.setenv("REDLINE_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(page="Sample", checkpoint="live")
    run(at)
    assert len(at.selectbox(key="sample").options) == 60
    lines = (runs / "live" / "samples.jsonl").read_text().splitlines()
    (runs / "live" / "samples.jsonl").write_text("\n".join(lines[:30]) + "\n")
    run(at)
    assert len(at.selectbox(key="sample").options) == 30


def test_an_empty_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("REDLINE_RUNS_DIR", str(tmp_path))
    at = run(AppTest.from_file(APP, default_timeout=90))
    assert any("no runs found" in e for e in texts(at.error))
    goto(at, "Errors")
    assert any("No runs under" in i for i in texts(at.info))
    goto(at, "Training")
    assert "No training run to choose from." in texts(at.info)


def test_a_damaged_record_is_named_on_the_sample_page(explore_runs, tmp_path, monkeypatch):
    # The loader reads a few columns; the Sample page validates the whole record, and says which
    # field breaks which rule when it does not hold.
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(explore_runs / BASELINE / "fc-dev", runs / "live")
    path = runs / "live" / "samples.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["completion"]["calls"] = [{"name": "f", "arguments": {}, "parameters": {}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.setenv("REDLINE_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(page="Sample", checkpoint="live", sample=records[0]["sample"]["id"])
    run(at)
    (said,) = [e for e in texts(at.error) if "not a valid record" in e]
    assert "completion.calls.0: a call gives both 'arguments' and 'parameters'" in said


@pytest.fixture(scope="module")
def bfcl_runs(tmp_path_factory):
    return build_bfcl_runs(tmp_path_factory.mktemp("bfcl") / "runs")


@pytest.fixture
def standalone(bfcl_runs, monkeypatch):
    """The app on standalone runs: two `redline bfcl` runs, a regression run, loose records."""
    monkeypatch.setenv("REDLINE_RUNS_DIR", str(bfcl_runs))

    def start(**query: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        at.query_params.update(query)
        return run(at)

    return start


def test_compare_page_opens_on_checkpoints_that_share_a_suite(standalone):
    # In name order the first checkpoint has no manifest and the last ran only regression.
    at = standalone(page="Compare")
    assert at.selectbox(key="base").value == BFCL_OTHER
    assert at.selectbox(key="cand").value == BFCL_RUN
    assert "These checkpoints share no suite." not in texts(at.warning)
    others = sorted(f"bfcl:{c}" for c in SINGLE_TURN_CATEGORIES if c not in BFCL_SHARED)
    assert texts(at.info) == [
        f"{', '.join(others)} were run on only one of the two; they are not compared."
    ]
    assert [h.value for h in at.subheader] == [f"bfcl:{c}" for c in sorted(BFCL_SHARED)]
    # The default red lines name fc/ metrics an irrelevance run does not have: that suite is
    # shown as not judged, never counted as holding.
    assert any("fc/parse_rate: min 95% matches no metric" in e for e in texts(at.error))
    assert texts(at.success) == ["Gate: every red line holds."]
    assert (
        "Overall: the gate holds on 1 of 2 suites; 1 could not be judged (bfcl:irrelevance)."
        in texts(at.warning)
    )


def test_a_bfcl_run_is_one_checkpoint_in_the_explorer(standalone):
    at = standalone()
    evals = at.dataframe[0].value
    assert list(evals[evals["checkpoint"] == BFCL_RUN]["suite"]) == [
        f"bfcl:{c}" for c in sorted(SINGLE_TURN_CATEGORIES)
    ]
    at = standalone(page="Errors", checkpoint=BFCL_RUN)
    assert at.sidebar.selectbox(key="checkpoint").options.count(BFCL_RUN) == 1
    assert at.header[0].value == f"Errors · {BFCL_RUN}"
    assert len(at.table[0].value) == len(SINGLE_TURN_CATEGORIES)  # one metrics row a suite
    at = standalone(page="Sample", checkpoint=BFCL_RUN)
    assert len(at.selectbox(key="suite").options) == len(SINGLE_TURN_CATEGORIES)


def test_a_passed_irrelevance_sample_shows_no_parse_error(standalone, bfcl_runs):
    catalog = loading.discover(bfcl_runs)
    checkpoint = catalog.run(f"{BFCL_RUN}/irrelevance").checkpoint
    at = standalone(page="Sample", checkpoint=checkpoint, suite="bfcl:irrelevance")
    assert at.selectbox(key="sample").value == "irrelevance_0"
    assert "passed" in at.success[0].value
    assert not [w for w in texts(at.warning) if "parse error" in w]
    assert "No call was made, as this sample expects." in texts(at.caption)
    # (A sample that needed a call still shows its parse error: see dev_0000 above.)


def test_compare_page_names_the_suites_it_leaves_out(app):
    at = app(page="Compare", base=BASELINE, cand="broken/truncated")
    assert texts(at.info) == ["regression was run on only one of the two; it is not compared."]
    assert [h.value for h in at.subheader] == ["fc:dev"]
