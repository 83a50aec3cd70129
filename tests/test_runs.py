"""Runs are records: `redline eval` writes manifest, samples and metrics; a stopped run resumes
with every sample exactly once; replay re-scores outputs made elsewhere (redline's own or BFCL's
result files); `redline score` re-scores a folder offline; bad files are named, line by line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.runs import RunError, RunFolder, new_manifest, read_records
from redline.suites import bfcl_data
from redline.suites.bfcl_cases import mutations, truth

runner = CliRunner()


def eval_run(out, *args):
    return runner.invoke(app, ["eval", "--model", "truth", "--out", str(out), *args])


def lines(path):
    return path.read_text().splitlines()


def _header(output: str) -> list[str]:
    """The column names of the summary table `redline eval` prints."""
    row = next(line for line in output.splitlines() if "category" in line)
    return [cell.strip() for cell in row.strip("┃ ").split("┃")]


def test_the_summary_shows_the_metrics_that_apply(tmp_path):
    result = eval_run(tmp_path / "fc", "--suite", "fc:dev", "--limit", "12")
    assert result.exit_code == 0, result.output
    header = _header(result.output)
    assert header[2:] == ["parse", "AST", "irrelevance", "param F1", "schema", "exec", "top errors"]
    overall = next(line for line in result.output.splitlines() if "overall" in line)
    assert "100.0" in overall
    assert "metrics.json: parse_rate, ast_accuracy, irrelevance, param_f1," in result.output
    assert "…" not in result.output  # nothing cut short at 120 columns
    result = eval_run(tmp_path / "general", "--suite", "regression", "--limit", "6")
    assert result.exit_code == 0, result.output
    assert _header(result.output) == ["category", "n", "answer", "top errors"]
    assert "metrics.json: answer_accuracy;" in result.output


def test_eval_writes_a_run_folder(tmp_path):
    out = tmp_path / "run"
    result = eval_run(out, "--suite", "bfcl:parallel", "--limit", "30")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    for key in (
        "model",
        "suite",
        "suite_version",
        "suite_hash",
        "redline_version",
        "git",
        "packages",
    ):
        assert manifest[key], key
    assert manifest["suite"] == "bfcl:parallel" and manifest["samples"] == 30
    assert manifest["suite_version"].startswith("bfcl-v4@") and manifest["finished"]
    assert len(lines(out / "samples.jsonl")) == 30
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["samples"] == 30
    assert metrics["overall"]["metrics"]["ast_accuracy"] == {
        "value": 1.0,
        "scored": 30,
        "unscored": 0,
        "not_applicable": 0,
    }
    assert "parallel" in metrics["categories"]
    assert "30 samples scored now" in result.output


def test_a_stopped_run_resumes_with_every_sample_once(tmp_path):
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "bfcl:simple_python", "--limit", "40").exit_code == 0
    kept = lines(out / "samples.jsonl")
    # As if killed mid-write: 12 whole lines and half of the 13th.
    (out / "samples.jsonl").write_text("\n".join(kept[:12]) + "\n" + kept[12][:50])
    result = eval_run(out, "--suite", "bfcl:simple_python", "--limit", "40")
    assert result.exit_code == 0, result.output
    assert "28 samples scored now, 12 resumed" in result.output
    ids = [json.loads(line)["sample"]["id"] for line in lines(out / "samples.jsonl")]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert json.loads((out / "manifest.json").read_text())["resumed"]


def test_a_folder_of_another_run_is_refused(tmp_path):
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "bfcl:parallel", "--limit", "5").exit_code == 0
    result = eval_run(out, "--suite", "bfcl:multiple", "--limit", "5")
    assert result.exit_code == 2
    assert "belongs to another run" in result.output and "suite" in result.output
    assert len(lines(out / "samples.jsonl")) == 5, "nothing was lost"


def test_replay_of_a_redline_run_gives_the_same_scores(tmp_path):
    first = tmp_path / "first"
    assert eval_run(first, "--suite", "bfcl:live_simple", "--limit", "25").exit_code == 0
    replay = runner.invoke(
        app,
        [
            "eval",
            "--model",
            f"replay:{first / 'samples.jsonl'}",
            "--suite",
            "bfcl:live_simple",
            "--limit",
            "25",
            "--out",
            str(tmp_path / "again"),
        ],
    )
    assert replay.exit_code == 0, replay.output
    one = json.loads((first / "metrics.json").read_text())["overall"]["metrics"]
    two = json.loads((tmp_path / "again" / "metrics.json").read_text())["overall"]["metrics"]
    assert one == two


def test_replay_rescores_a_bfcl_result_file(tmp_path, official_checker, python_language):
    entries = bfcl_data.load_entries("multiple")[:40]
    results, expected_valid = [], 0
    for entry in entries:
        kinds = dict(mutations(entry, entry["function"]))
        calls = kinds["truth"] if int(entry["id"].split("_")[-1]) % 2 else kinds["wrong_value"]
        # Half as Python call strings (BFCL prompting output), half already decoded.
        if len(results) % 4 < 2:
            text = ", ".join(
                f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
                for call in calls
                for name, args in call.items()
            )
            results.append({"id": entry["id"], "result": f"[{text}]"})
        else:
            results.append({"id": entry["id"], "result": calls})
        verdict = official_checker.ast_checker(
            entry["function"], calls, entry["ground_truth"], python_language, "multiple", "m"
        )
        expected_valid += verdict["valid"]
    path = tmp_path / "BFCL_v4_multiple_result.json"
    path.write_text("\n".join(json.dumps(r) for r in results) + "\n")
    result = runner.invoke(
        app,
        [
            "eval",
            "--model",
            f"replay:{path}",
            "--suite",
            "bfcl:multiple",
            "--first",
            "40",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["overall"]["metrics"]
    assert metrics["ast_accuracy"]["value"] * 40 == expected_valid
    assert 0 < expected_valid < 40


def test_bad_replay_files_are_named(tmp_path):
    bad = tmp_path / "out.jsonl"
    bad.write_text('{"id": "multiple_0", "result": "[f()]"}\n{"id": \n')
    result = runner.invoke(app, ["eval", "--model", f"replay:{bad}", "--suite", "bfcl:multiple"])
    assert result.exit_code == 2 and f"{bad}:2: not JSON" in result.output
    result = runner.invoke(app, ["eval", "--model", "gpt:x", "--suite", "bfcl:multiple"])
    assert result.exit_code == 2 and "unknown model spec 'gpt:x'" in result.output
    result = runner.invoke(app, ["eval", "--model", "truth", "--suite", "bfcl:cobol"])
    assert result.exit_code == 2 and "unknown suite 'bfcl:cobol'" in result.output


def test_damaged_records_are_named_by_line_and_field(tmp_path):
    # A record whose call breaks a validator's rule: the problem names the line, the field and
    # the rule in the validator's own words (not pydantic's "Value error, " wording).
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "fc:dev", "--limit", "3").exit_code == 0
    records = [json.loads(line) for line in lines(out / "samples.jsonl")]
    records[1]["completion"]["calls"] = [{"name": "f", "arguments": {}, "parameters": {}}]
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (problem,) = read_records(damaged).problems
    assert problem.startswith(f"{damaged}:2: not a sample record (completion.calls.0: a call ")
    assert "Value error" not in problem
    result = runner.invoke(
        app, ["eval", "--model", f"replay:{damaged}", "--suite", "fc:dev", "--limit", "3"]
    )
    assert result.exit_code == 2
    assert "completion.calls.0: a call gives both" in result.output
    assert "Value error" not in result.output


def test_score_rescores_offline_and_refuses_damaged_folders(tmp_path):
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "bfcl:irrelevance", "--limit", "10").exit_code == 0
    before = json.loads((out / "metrics.json").read_text())
    (out / "metrics.json").unlink()
    result = runner.invoke(app, ["score", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text()) == before
    with (out / "samples.jsonl").open("a") as fh:
        fh.write('{"sample": {"id": "x"}}\n')
    result = runner.invoke(app, ["score", str(out)])
    assert result.exit_code == 2 and "samples.jsonl:11" in result.output
    assert len(lines(out / "samples.jsonl")) == 11, "nothing rewritten"
    loaded = read_records(out / "samples.jsonl")
    assert len(loaded.records) == 10 and len(loaded.problems) == 1


def test_suites_are_listed():
    result = runner.invoke(app, ["suites"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "bfcl:simple_python " in line)
    assert "400" in row and "bfcl-v4@" in row
    assert any("bfcl:single_turn" in line and "3641" in line for line in result.output.splitlines())


def test_each_hub_suite_names_its_own_local_copy_variable(monkeypatch):
    for var in ("REDLINE_XLAM", "REDLINE_IFEVAL", "REDLINE_GSM8K", "REDLINE_MMLU"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(app, ["suites"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    for suite, var in [
        ("xlam:test", "REDLINE_XLAM"),
        ("regression:ifeval", "REDLINE_IFEVAL"),
        ("regression:gsm8k", "REDLINE_GSM8K"),
        ("regression:mmlu", "REDLINE_MMLU"),
    ]:
        assert f"set {var} " in rows[suite], rows[suite]


def test_truth_replay_of_ground_truth_helper_is_consistent():
    entry = bfcl_data.load_entries("parallel")[0]
    assert truth(entry) == [
        c.to_bfcl() for c in bfcl_data.entry_to_sample(entry, "parallel").expected
    ]


# --- a run folder holds one run ---


def test_records_without_a_manifest_are_refused(tmp_path):
    # Today's mix: fc:dev records whose manifest is gone, then a bfcl run into the same folder.
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "fc:dev", "--limit", "6").exit_code == 0
    (out / "manifest.json").unlink()
    before = (out / "samples.jsonl").read_bytes()
    result = eval_run(out, "--suite", "bfcl:simple_python", "--limit", "6")
    assert result.exit_code == 2, result.output
    assert f"{out} holds samples.jsonl but no manifest.json" in result.output
    assert "choose another --out" in result.output
    assert (out / "samples.jsonl").read_bytes() == before and not (out / "manifest.json").exists()


def _manifest(**changes):
    sampling = {"max_new_tokens": 48, "temperature": 0.0, "top_p": 1.0, "seed": 0}
    sampling["enable_thinking"] = False
    settings = {"limit": None, "batch_size": 16, "mode": "json", "sampling": sampling}
    for key, value in changes.items():
        if key in settings:
            settings[key] = value
        else:
            sampling[key] = value
    return new_manifest(
        model="hf:some/model",
        suite="fc:dev",
        suite_version="fc-dev@1",
        suite_hash="abc",
        format="json",
        samples=240,
        selection={},
        sample_ids=None,
        samples_hash="abc",
        settings=settings,
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"max_new_tokens": 16}, "max_new_tokens: 48 there, 16 now"),
        ({"temperature": 0.7}, "temperature: 0.0 there, 0.7 now"),
        ({"top_p": 0.9}, "top_p: 1.0 there, 0.9 now"),
        ({"seed": 3}, "seed: 0 there, 3 now"),
        ({"enable_thinking": True}, "thinking: False there, True now"),
        ({"mode": "python"}, "mode: 'json' there, 'python' now"),
    ],
)
def test_resuming_with_other_sampling_settings_is_refused(tmp_path, change, named):
    RunFolder(tmp_path, _manifest())
    written = (tmp_path / "manifest.json").read_text()
    with pytest.raises(RunError, match="belongs to another run") as caught:
        RunFolder(tmp_path, _manifest(**change))
    assert named in str(caught.value)
    assert (tmp_path / "manifest.json").read_text() == written
    # What may change between invocations does not stop a resume.
    resumed = RunFolder(tmp_path, _manifest(batch_size=4))
    assert resumed.manifest["settings"]["batch_size"] == 4 and resumed.manifest["resumed"]


def test_raising_the_limit_resumes_and_lowering_it_is_refused(tmp_path):
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "regression", "--limit", "10").exit_code == 0
    first_ids = json.loads((out / "manifest.json").read_text())["sample_ids"]
    result = eval_run(out, "--suite", "regression", "--limit", "25")
    assert result.exit_code == 0, result.output
    assert "15 samples scored now, 10 resumed" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["selection"]["limit"] == 25 and manifest["samples"] == 25
    assert manifest["settings"]["limit"] == 25 and manifest["resumed"]
    assert set(first_ids) < set(manifest["sample_ids"])
    ids = [json.loads(line)["sample"]["id"] for line in lines(out / "samples.jsonl")]
    assert sorted(ids) == sorted(manifest["sample_ids"])
    # Lowering it would make a smaller run of this folder's records: refused, nothing lost.
    for smaller in (["--limit", "5"], ["--first", "5"]):
        result = eval_run(out, "--suite", "regression", *smaller)
        assert result.exit_code == 2, result.output
        assert "holds a run of 25 samples (--limit 25)" in result.output
        assert "Resume it with --limit 25 or more, or choose another --out" in result.output
    # Another draw takes other samples: refused, naming one of them.
    result = eval_run(out, "--suite", "regression", "--limit", "25", "--draw-seed", "1")
    assert result.exit_code == 2 and "are not among the samples of --limit 25 --draw-seed 1" in (
        result.output
    )
    assert len(lines(out / "samples.jsonl")) == 25
    result = eval_run(out, "--suite", "regression")
    assert result.exit_code == 0 and "295 samples scored now, 25 resumed" in result.output
    assert json.loads((out / "manifest.json").read_text())["sample_ids"] is None
    result = eval_run(out, "--suite", "regression", "--limit", "25")
    assert result.exit_code == 2 and "Resume it with no limit, or choose another" in result.output


def test_a_malformed_line_in_the_middle_stops_a_resume_by_file_and_line(tmp_path):
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "fc:dev", "--limit", "8").exit_code == 0
    kept = lines(out / "samples.jsonl")
    # Line 3 damaged, and a cut last line as a killed run leaves it.
    damaged = [*kept[:2], '{"sample": {"id": "dev_x"', *kept[3:7], kept[7][:40]]
    (out / "samples.jsonl").write_text("\n".join(damaged))
    before = (out / "samples.jsonl").read_bytes()
    result = eval_run(out, "--suite", "fc:dev", "--limit", "8")
    assert result.exit_code == 2, result.output
    assert f"{out / 'samples.jsonl'}:3: not a sample record" in result.output
    assert "samples.jsonl:8" not in result.output  # the cut last line is not the problem
    assert (out / "samples.jsonl").read_bytes() == before, "nothing changed"
    # Mended, the run resumes; the cut last line is dropped and its sample runs again.
    (out / "samples.jsonl").write_text("\n".join([*kept[:2], *kept[3:7], kept[7][:40]]))
    result = eval_run(out, "--suite", "fc:dev", "--limit", "8")
    assert result.exit_code == 0, result.output
    assert "2 samples scored now, 6 resumed" in result.output
    # A whole last record without its newline is kept, not cut and never run again.
    (out / "samples.jsonl").write_text("\n".join(kept[:5]))
    result = eval_run(out, "--suite", "fc:dev", "--limit", "8")
    assert result.exit_code == 0 and "3 samples scored now, 5 resumed" in result.output
    assert sorted(lines(out / "samples.jsonl")) == sorted(kept)


def test_a_run_from_before_the_draw_resumes_with_first(tmp_path):
    # Manifests written before --limit drew by category hashed the samples they ran.
    out = tmp_path / "run"
    assert eval_run(out, "--suite", "fc:dev", "--first", "6").exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    old = {k: v for k, v in manifest.items() if k not in ("selection", "sample_ids")}
    old["suite_hash"] = old.pop("samples_hash")
    (out / "manifest.json").write_text(json.dumps(old))
    result = eval_run(out, "--suite", "fc:dev", "--limit", "6")
    assert result.exit_code == 2 and "resume it with --first N" in result.output
    result = eval_run(out, "--suite", "fc:dev", "--first", "6")
    assert result.exit_code == 0 and "0 samples scored now, 6 resumed" in result.output
    assert json.loads((out / "manifest.json").read_text())["suite_hash"] == manifest["suite_hash"]


def test_replay_reads_bfcl_function_calling_results(tmp_path, official_checker, python_language):
    # BFCL's function-calling handlers write each call's arguments as JSON text:
    # {"id": ..., "result": [{"func_name": "{\"arg\": 1}"}]}.
    entries = bfcl_data.load_entries("parallel")[:20]
    results, expected_valid = [], 0
    for i, entry in enumerate(entries):
        kinds = dict(mutations(entry, entry["function"]))
        calls = kinds["truth"] if i % 2 else kinds["wrong_value"]
        encoded = [{name: json.dumps(args)} for call in calls for name, args in call.items()]
        results.append({"id": entry["id"], "result": encoded})
        verdict = official_checker.ast_checker(
            entry["function"], calls, entry["ground_truth"], python_language, "parallel", "m"
        )
        expected_valid += verdict["valid"]
    path = tmp_path / "BFCL_v4_parallel_result.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in results))
    out = tmp_path / "run"
    args = ["eval", "--model", f"replay:{path}", "--suite", "bfcl:parallel", "--first", "20"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = read_records(out / "samples.jsonl").records
    assert not [r for r in records if r.error_type and r.error_type.value == "decode_failed"]
    metrics = json.loads((out / "metrics.json").read_text())["overall"]["metrics"]
    assert metrics["parse_rate"]["value"] == 1.0
    assert metrics["ast_accuracy"]["value"] * 20 == expected_valid == 10
    # Arguments that are not JSON text are this sample's decode failure, named by line.
    path.write_text(json.dumps({"id": entries[0]["id"], "result": [{"f": "{oops"}]}) + "\n")
    again = runner.invoke(
        app,
        ["eval", "--model", f"replay:{path}", "--suite", "bfcl:parallel", "--first", "1"]
        + ["--out", str(tmp_path / "bad")],
    )
    assert again.exit_code == 0, again.output
    (record,) = read_records(tmp_path / "bad" / "samples.jsonl").records
    assert record.error_type.value == "decode_failed"
    assert f"{path}:1" in record.error_detail and "not JSON" in record.error_detail


def _bfcl_lines(category: str, n: int) -> list[str]:
    """Truth outputs of the first ``n`` entries of a category, as BFCL result lines (prose
    where no call is the answer)."""
    return [
        json.dumps({"id": e["id"], "result": truth(e) if "ground_truth" in e else "No fit."}) + "\n"
        for e in bfcl_data.load_entries(category)[:n]
    ]


def replay_eval(path, out, *args):
    return runner.invoke(app, ["eval", "--model", f"replay:{path}", "--out", str(out), *args])


def test_a_replay_missing_ids_is_refused_with_the_counts(tmp_path):
    path = tmp_path / "out.jsonl"
    lines_ = _bfcl_lines("irrelevance", 10)
    path.write_text("".join(lines_[:3] + lines_[6:]))  # irrelevance_3..5 missing
    out = tmp_path / "run"
    result = replay_eval(path, out, "--suite", "bfcl:irrelevance", "--first", "10")
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"{path} has outputs for 7 of the 10 samples of bfcl:irrelevance" in said
    assert "none for 3 (irrelevance_3, irrelevance_4, irrelevance_5)" in said
    assert "--allow-missing" in said and not out.exists(), "refused before anything ran"
    # Allowed: the missing samples are no_output failures (never a pass of irrelevance).
    result = replay_eval(
        path, out, "--suite", "bfcl:irrelevance", "--first", "10", "--allow-missing"
    )
    assert result.exit_code == 0, result.output
    assert "recorded as no_output" in " ".join(result.output.split())
    records = read_records(out / "samples.jsonl").records
    failed = {r.sample.id: r.error_type.value for r in records if r.error_type}
    assert failed == {f"irrelevance_{i}": "no_output" for i in (3, 4, 5)}
    metrics = json.loads((out / "metrics.json").read_text())["overall"]
    assert metrics["metrics"]["irrelevance"]["value"] == 0.7
    assert metrics["errors"] == {"no_output": 3}
    rescored = runner.invoke(app, ["score", str(out)])
    assert rescored.exit_code == 0, rescored.output
    assert json.loads((out / "metrics.json").read_text())["overall"] == metrics


def test_an_empty_or_misspelled_replay_is_refused(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = replay_eval(empty, tmp_path / "a", "--suite", "bfcl:multiple", "--first", "5")
    assert result.exit_code == 2
    assert f"{empty} is empty: no output for any of the 5 samples" in " ".join(
        result.output.split()
    )
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(_bfcl_lines("multiple", 5)).replace('"multiple_', '"multi_'))
    result = replay_eval(wrong, tmp_path / "b", "--suite", "bfcl:multiple", "--first", "5")
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "outputs for 0 of the 5 samples" in said
    assert "5 of its outputs are for other ids (multi_0, multi_1, multi_2, ... 2 more)" in said


def test_a_repeated_id_is_always_refused_naming_both_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    lines_ = _bfcl_lines("multiple", 4)
    path.write_text("".join([*lines_, lines_[1]]))
    for extra in ([], ["--allow-missing"]):
        result = replay_eval(
            path, tmp_path / "run", "--suite", "bfcl:multiple", "--first", "4", *extra
        )
        said = " ".join(result.output.split())
        assert result.exit_code == 2, said
        assert f"{path}: id 'multiple_1' is given twice, on lines 2 and 5" in said


def test_bfcl_checks_a_replay_against_every_category_first(tmp_path):
    path = tmp_path / "BFCL_v4_multiple_result.json"
    path.write_text("".join(_bfcl_lines("multiple", 5)))
    out = tmp_path / "lb"
    args = ["bfcl", "--model", f"replay:{path}", "--out", str(out), "--first", "5"]
    result = runner.invoke(app, [*args, "-c", "multiple", "-c", "parallel", "-c", "irrelevance"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "outputs for 5 of the 15 samples of the 3 BFCL categories and none for 10" in said
    assert "missing by category: parallel 5, irrelevance 5" in said
    assert not out.exists(), "nothing ran"
    result = runner.invoke(app, [*args, "-c", "multiple", "-c", "parallel", "--allow-missing"])
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "metrics.json").read_text())["scores"]
    assert scores["multiple"]["accuracy"] == 1.0 and scores["parallel"]["accuracy"] == 0.0
    assert scores["parallel"]["no_output"] == 5 and "5 without output" in result.output
    assert "recorded as no_output" in " ".join(result.output.split())
