"""Finding and reading run folders: discovery of eval and training runs and their checkpoints,
records as columns, broken folders named as problems while the rest loads."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from redline.gate import Gate
from redline.harness.runs import read_records
from redline.reports import loading
from redline.suites.bfcl_data import SINGLE_TURN_CATEGORIES
from tests.explore_runs import (
    BASELINE,
    BFCL_OTHER,
    BFCL_RUN,
    BFCL_SHARED,
    FC_LIMIT,
    REG_LIMIT,
    STEP2,
    STEP4,
    TRAIN,
    build_bfcl_runs,
)


@pytest.fixture(scope="module")
def bfcl_runs(tmp_path_factory):
    return build_bfcl_runs(tmp_path_factory.mktemp("bfcl") / "runs")


def test_discovery_finds_training_checkpoints_and_standalone_runs(explore_runs):
    catalog = loading.discover(explore_runs)
    groups = catalog.checkpoints()
    # The baseline first, then steps in order, then runs outside any training run.
    assert list(groups) == [BASELINE, STEP2, STEP4, "broken/no-manifest", "broken/truncated"]
    assert [r.suite for r in groups[STEP4]] == ["fc:dev", "regression"]
    assert {r.training for r in groups[STEP4]} == {TRAIN}
    (training,) = catalog.trainings
    assert training.name == TRAIN and training.meta["kind"] == "grpo"
    assert training.checkpoints == [BASELINE, STEP2, STEP4]
    fc = catalog.run(f"{STEP4}/eval/fc-dev")
    assert fc.model.startswith("replay:") and fc.sampling["temperature"] == 0.7
    assert catalog.run(f"{BASELINE}/fc-dev").problems == []


def test_a_run_given_directly_keeps_its_name(explore_runs):
    catalog = loading.discover(explore_runs / STEP4 / "eval" / "fc-dev")
    assert [r.name for r in catalog.evals] == ["fc-dev"]
    assert catalog.evals[0].checkpoint == "fc-dev" and catalog.evals[0].training is None
    catalog = loading.discover(explore_runs / TRAIN)
    assert catalog.trainings[0].name == TRAIN
    assert catalog.trainings[0].checkpoints == [BASELINE, STEP2, STEP4]


def test_broken_folders_are_named_and_the_rest_loads(explore_runs):
    catalog = loading.discover(explore_runs)
    no_manifest = catalog.run("broken/no-manifest")
    assert no_manifest.suite == "unknown suite"
    assert any("no manifest.json" in p for p in no_manifest.problems)
    truncated = catalog.run("broken/truncated")
    assert any("cut short" in p for p in truncated.problems)
    loaded = loading.load_samples(truncated.path, truncated.name)
    assert len(loaded.frame) == 20
    assert loaded.problems == [
        "broken/truncated: samples.jsonl line 21 is cut short (the run stopped mid-write); "
        "it is skipped"
    ]
    assert len(loading.load_samples(no_manifest.path).frame) == 12


def test_a_bad_line_in_the_middle_is_skipped_and_named(explore_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(explore_runs / BASELINE / "fc-dev", run)
    lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
    lines[3] = "{not json\n"
    lines[5] = '{"sample": 1}\n'
    (run / "samples.jsonl").write_text("".join(lines))
    loaded = loading.load_samples(run, "run")
    assert len(loaded.frame) == FC_LIMIT - 2
    assert "line 4 is not JSON" in loaded.problems[0]
    assert "line 6 is not a sample record" in loaded.problems[1]
    # Discovery names them too (FILE:LINE, as `redline score` and the gate do), so the Runs
    # page and `redline report` do not pass over a damaged run.
    (found,) = loading.discover(run).evals
    assert [p.split(": not a sample record")[0] for p in found.problems] == [
        f"run: {run / 'samples.jsonl'}:4",
        f"run: {run / 'samples.jsonl'}:6",
    ]


def test_a_cut_last_line_is_named_once(explore_runs):
    (problem,) = loading.discover(explore_runs).run("broken/truncated").problems
    assert "the last line of samples.jsonl is cut short" in problem


def test_records_become_columns_read_not_recomputed(explore_runs):
    path = explore_runs / STEP4 / "eval" / "fc-dev"
    loaded = loading.load_samples(path)
    frame = loaded.frame
    records = read_records(path / "samples.jsonl").records
    assert len(frame) == len(records) == FC_LIMIT
    assert list(frame["id"]) == [r.sample.id for r in records]
    assert list(frame["error_type"].fillna("")) == [
        r.error_type.value if r.error_type else "" for r in records
    ]
    # The score columns carry each record's stored value, by metric name.
    assert loaded.metrics[:2] == ["parse_rate", "function_name_accuracy"]
    for row, record in zip(frame.itertuples(), records, strict=True):
        stored = record.scores["ast"].value
        value = row.ast_accuracy
        assert (math.isnan(value) and stored is None) or value == stored
    assert frame["reasoning"].sum() == 6  # every tenth sample, from index 5, thought first
    row = frame.iloc[5]
    record = loading.read_sample(path, int(row["offset"]), int(row["length"]))
    assert record == records[5] and record.completion.reasoning


def test_error_table_counts_by_category_and_type(explore_runs):
    frame = loading.load_samples(explore_runs / STEP4 / "eval" / "fc-dev").frame
    table = loading.error_table(frame)
    metrics = json.loads((explore_runs / STEP4 / "eval" / "fc-dev" / "metrics.json").read_text())
    assert list(table.columns)[-1] == loading.PASSED
    for category, part in metrics["categories"].items():
        for error, count in part["errors"].items():
            assert table.loc[category, error] == count
    assert table.to_numpy().sum() == FC_LIMIT


def test_flips_pair_samples_by_id(explore_runs):
    base = loading.load_samples(explore_runs / BASELINE / "fc-dev").frame
    cand = loading.load_samples(explore_runs / STEP4 / "eval" / "fc-dev").frame
    flipped = loading.flips(base, cand)
    assert set(flipped["flip"]) == {"pass→fail"}
    assert len(flipped) == cand["error_type"].notna().sum()
    assert set(loading.flips(cand, base)["flip"]) == {"fail→pass"}
    assert loading.flips(base, base).empty


def test_gate_between_is_the_gate(explore_runs):
    catalog = loading.discover(explore_runs)
    base, cand = catalog.run(f"{BASELINE}/fc-dev"), catalog.run(f"{STEP4}/eval/fc-dev")
    result, problems = loading.gate_between(base, cand)
    assert problems == []
    assert result.to_dict() == Gate(base.path).check(cand.path).to_dict()
    with pytest.raises(ValueError, match="ran 'fc:dev' but"):
        loading.gate_between(base, catalog.run(f"{STEP4}/eval/regression"))


def test_metrics_come_from_metrics_json_or_the_records(explore_runs, tmp_path):
    catalog = loading.discover(explore_runs)
    run = catalog.run(f"{STEP4}/eval/regression")
    metrics, note = loading.run_metrics(run)
    assert note is None and metrics["overall"]["samples"] == REG_LIMIT
    assert loading.verdict_metric(metrics["overall"]) == "answer_accuracy"
    assert loading.headline_metrics(metrics) == ["answer_accuracy"]
    shares = loading.error_shares(metrics["overall"])
    assert shares[0][0] == "check_failed" and shares[0][2] == shares[0][1] / REG_LIMIT
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run.path, unfinished)
    (unfinished / "metrics.json").unlink()
    metrics2, note = loading.run_metrics(loading.discover(unfinished).evals[0])
    assert "no metrics.json" in note and metrics2 == metrics


def test_training_logs(explore_runs):
    catalog = loading.discover(explore_runs)
    logs = loading.load_training(catalog.trainings[0])
    assert logs.problems == []
    assert list(logs.train.index) == list(range(1, 7))
    assert logs.reward_columns == ["reward", "rewards/abstain/mean", "rewards/parse/mean"]
    rows = loading.gate_rows(catalog.trainings[0], logs.gates)
    assert [r["step"] for r in rows] == [2, 4]
    assert [r["action"] for r in rows] == ["continue", "raise_beta"]
    assert rows[1]["evals"]["fc:dev"] == f"{STEP4}/eval/fc-dev"
    assert "fc/parse_rate" in rows[1]["breaches"]


def test_training_logs_skip_bad_lines(explore_runs, tmp_path):
    train = tmp_path / "t"
    train.mkdir()
    (train / "train_log.jsonl").write_text(
        '{"step": 1, "loss": 1.0}\n{"step": 1, "reward": 0.5}\n{"loss": 2}\n{"step": 2, "lo'
    )
    catalog = loading.discover(train)
    (run,) = catalog.trainings
    assert any("no training.json" in p for p in run.problems)
    logs = loading.load_training(run)
    assert list(logs.train.index) == [1]
    assert logs.train.loc[1, "reward"] == 0.5 and logs.train.loc[1, "loss"] == 1.0
    assert len(logs.problems) == 2 and "line 4 is not JSON" in logs.problems[1]


def test_an_empty_or_missing_folder_says_so(tmp_path):
    assert "no runs found" in loading.discover(tmp_path).problems[0]
    assert "no such folder" in loading.discover(tmp_path / "nope").problems[0]


def test_a_bfcl_run_is_one_checkpoint_of_its_categories(bfcl_runs):
    groups = loading.discover(bfcl_runs).checkpoints()
    assert list(groups) == ["a-notes", BFCL_OTHER, BFCL_RUN, "zz-regression"]
    assert len(groups[BFCL_RUN]) == len(SINGLE_TURN_CATEGORIES) == 13
    assert {r.suite for r in groups[BFCL_RUN]} == {f"bfcl:{c}" for c in SINGLE_TURN_CATEGORIES}
    assert [r.name for r in groups[BFCL_OTHER]] == [
        f"{BFCL_OTHER}/{c}" for c in sorted(BFCL_SHARED)
    ]
    # Given directly, it is still one checkpoint, by its own name.
    direct = loading.discover(bfcl_runs / BFCL_RUN)
    assert list(direct.checkpoints()) == [BFCL_RUN] and len(direct.evals) == 13
    # So is a run still going, before the leaderboard files are written.
    going = bfcl_runs.parent / "going"
    shutil.copytree(bfcl_runs / BFCL_OTHER, going / "bfcl")
    (going / "bfcl" / "metrics.json").unlink()
    (going / "bfcl" / "bfcl_scores.csv").unlink()
    assert list(loading.discover(going).checkpoints()) == ["bfcl"]
    # One category given directly stands alone.
    (alone,) = loading.discover(bfcl_runs / BFCL_RUN / "irrelevance").evals
    assert alone.checkpoint == "irrelevance"


def test_bfcl_categories_run_by_two_models_stay_apart(bfcl_runs, tmp_path):
    for category in BFCL_SHARED:
        shutil.copytree(bfcl_runs / BFCL_RUN / category, tmp_path / "mixed" / category)
    manifest = tmp_path / "mixed" / "irrelevance" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "model": "smollm2"}))
    catalog = loading.discover(tmp_path)
    assert list(catalog.checkpoints()) == ["mixed/irrelevance", "mixed/simple_python"]
    assert (
        "mixed: its BFCL categories were run by different models (smollm2, truth); each is "
        "shown as a checkpoint of its own" in catalog.problems
    )


def test_the_pair_to_compare_shares_a_suite(bfcl_runs, explore_runs):
    # Standalone runs: the first checkpoint that shares a suite with a later one, and the last
    # of those; a folder of records with no manifest shares nothing.
    assert loading.compare_pair(loading.discover(bfcl_runs)) == (BFCL_OTHER, BFCL_RUN)
    # A training run: its baseline and its last checkpoint, before any standalone run.
    assert loading.compare_pair(loading.discover(explore_runs)) == (BASELINE, STEP4)
    assert loading.compare_pair(loading.discover(bfcl_runs / BFCL_RUN)) is None
