"""Training end to end on CPU with a tiny randomly initialised model: prepare -> LoRA SFT ->
merge -> GRPO with gate checks, through the CLI; and the gate's escalation on a forced breach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from redline.cli import app
from redline.gate import RedLine
from redline.training.config import ConfigError, GRPOSettings, SFTSettings, load_config
from redline.training.grpo import _policy, run_grpo
from tests.tiny_models import tiny_model

runner = CliRunner()
GATE = {
    "every": 2,
    "suites": {"fc:dev": 4, "regression": 4},
    "max_new_tokens": 8,
    "batch_size": 4,
    "kl_prompts": 4,
}


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def write_yaml(path: Path, data: dict | list) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    model = tiny_model(root / "tiny")
    invoke(
        "data",
        "prepare",
        "--source",
        "builtin",
        "--builtin-size",
        "80",
        "--general-share",
        "0.1",
        "--general-model",
        f"hf:{model}",
        "--general-max-new-tokens",
        "8",
        "--out",
        str(root / "data"),
    )
    return root, model


def test_prepare_replays_general_prompts_answered_by_the_model(workspace):
    root, _ = workspace
    report = json.loads((root / "data" / "prepare_report.json").read_text())
    rows = read_jsonl(root / "data" / "train.jsonl") + read_jsonl(root / "data" / "val.jsonl")
    general = [r for r in rows if r["expect"] == "answer"]
    empty = (
        report["drop_reasons"].get("format", {}).get("the model gave an empty general answer", 0)
    )
    # 10% of the final set: what was kept plus negatives, then the replay on top.
    others = len(rows) - len(general)
    assert report["general_wanted"] == round(0.1 * others / 0.9)
    assert len(general) + empty == report["general_wanted"] and len(general) > 0
    assert report["general_added"] == len(general)
    assert all(r["completion"][0]["content"].strip() and r["tools"] == "[]" for r in general)


def grpo_config(root: Path, model: str, out: Path, **extra) -> dict:
    return {
        "base_model": model,
        "data": str(root / "data"),
        "out": str(out),
        "max_steps": 4,
        "batch_size": 4,
        "num_generations": 2,
        "max_completion_length": 8,
        "limit": 16,
        "gate": GATE,
        **extra,
    }


def test_prepare_sft_merge_grpo_with_two_gate_checks(workspace):
    root, model = workspace
    sft = write_yaml(
        root / "sft.yaml",
        {
            "base_model": model,
            "data": str(root / "data"),
            "out": str(root / "sft"),
            "max_steps": 2,
            "batch_size": 2,
            "gradient_accumulation_steps": 1,
            "logging_steps": 1,
            "max_length": 2048,
            "limit": 8,
        },
    )
    invoke("train", "sft", "--config", str(sft))
    adapter = root / "sft" / "adapter"
    assert (adapter / "adapter_config.json").is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 32
    info = json.loads((root / "sft" / "training.json").read_text())
    assert info["kind"] == "sft" and info["steps"] == 2 and info["config"]["mode"] == "json"
    assert [r["step"] for r in read_jsonl(root / "sft" / "train_log.jsonl")][:2] == [1, 2]

    merged = root / "merged"
    invoke("train", "merge", "--base", model, "--adapter", str(adapter), "--out", str(merged))
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 9, 14, 30, 2]])
    with torch.no_grad():
        with_adapter = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(model), str(adapter)
        )(input_ids=ids).logits
        folded = AutoModelForCausalLM.from_pretrained(str(merged))(input_ids=ids).logits
    torch.testing.assert_close(folded, with_adapter, atol=1e-5, rtol=1e-4)
    # GRPO's `adapter:` folds the SFT adapter into the base the same way.
    policy, _ = _policy(GRPOSettings(base_model=model, data=root / "data", adapter=adapter))
    with torch.no_grad():
        torch.testing.assert_close(policy(input_ids=ids).logits, with_adapter, atol=1e-5, rtol=1e-4)

    # The tiny model holds these lines (nothing can drop 100 points); the fc floors would not.
    lines = root / "lenient.yaml"
    lines.write_text(yaml.safe_dump([{"metric": "regression/*", "max_drop": 100.0}]))
    out = root / "grpo"
    config = grpo_config(root, str(merged), out, gate={**GATE, "redlines": str(lines)})
    result = invoke("train", "grpo", "--config", str(write_yaml(root / "grpo.yaml", config)))
    assert "gate decisions" in result.output and "underpowered lines" in result.output

    gate_log = read_jsonl(out / "gate_log.jsonl")
    assert [(g["step"], g["action"], g["held"]) for g in gate_log] == [
        (2, "continue", True),
        (4, "continue", True),
    ]
    for entry in gate_log:
        checkpoint = out / entry["checkpoint"]
        assert (checkpoint / "adapter" / "adapter_model.safetensors").is_file()
        assert set(entry["evals"]) == {"fc:dev", "regression"}
        for run in entry["evals"].values():
            assert {"manifest.json", "samples.jsonl", "metrics.json"} <= {
                p.name for p in (out / run).iterdir()
            }
        assert len((out / entry["evals"]["fc:dev"] / "samples.jsonl").read_text().splitlines()) == 4
        assert entry["kl_probe"] is not None and entry["kl_probe"] >= 0
        assert any(row["metric"].startswith("regression/") for row in entry["table"])
        # 4 items a suite cannot show any drop significant: every line says so, and holds.
        assert entry["checks"] and all(
            c["underpowered"] and c["verdict"] == "underpowered" for c in entry["checks"]
        )
    for suite in ("fc-dev", "regression"):
        assert (out / "baseline" / suite / "metrics.json").is_file()
    logs = read_jsonl(out / "train_log.jsonl")
    stepped = [r for r in logs if "reward" in r]
    assert [r["step"] for r in stepped] == [1, 2, 3, 4]
    for name in ("composite", "parse", "schema_hit", "exec", "semantic_f1", "abstain"):
        assert f"rewards/{name}/mean" in stepped[0], name
    assert all(r["beta"] == 0.04 and "kl" in r for r in stepped)
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "training.json").read_text())["stopped_by_gate"] is False


def test_forced_breach_raises_beta_then_lowers_lr_then_stops_and_restores(workspace):
    root, model = workspace
    out = root / "breach"
    settings = GRPOSettings.model_validate(
        grpo_config(
            root,
            model,
            out,
            max_steps=10,
            learning_rate=1e-3,
            lr_scheduler="constant",
            warmup_ratio=0.0,
            # A random model's completions often all score alike (no advantage, no gradient);
            # AdamW's decay still moves the adapter every step, so the restore is visible.
            weight_decay=0.1,
            gate={**GATE, "suites": {"fc:dev": 4}},
        )
    )
    # A floor of 100% a random model cannot hold (it parses no call): every check breaches.
    run_grpo(settings, lines=[RedLine(metric="fc/parse_rate", min=100)], progress=False)

    gate_log = read_jsonl(out / "gate_log.jsonl")
    assert [g["action"] for g in gate_log] == ["raise_beta", "lower_lr", "stop"]
    assert [g["step"] for g in gate_log] == [2, 4, 6]
    assert all(not g["held"] and g["breaches"][0]["metric"] == "fc/parse_rate" for g in gate_log)
    assert [g["beta"] for g in gate_log] == [0.08, 0.08, 0.08]
    assert [g["lr_scale"] for g in gate_log] == [1.0, 0.5, 0.5]
    assert gate_log[-1]["restored"] == "checkpoints/step-000000"

    logs = {r["step"]: r for r in read_jsonl(out / "train_log.jsonl") if "reward" in r}
    assert max(logs) == 6, "training stopped at the third breach"
    assert logs[2]["beta"] == 0.08 and logs[1]["beta"] == 0.04
    assert logs[4]["learning_rate"] == pytest.approx(1e-3)
    assert logs[5]["learning_rate"] == pytest.approx(5e-4), "the scheduler's rate was halved"

    start = load_file(out / "checkpoints/step-000000/adapter/adapter_model.safetensors")
    final = load_file(out / "adapter" / "adapter_model.safetensors")
    moved = load_file(out / "checkpoints/step-000006/adapter/adapter_model.safetensors")
    assert start.keys() == final.keys()
    assert all(torch.equal(start[k], final[k]) for k in start), "the start was restored"
    assert any(not torch.equal(start[k], moved[k]) for k in start), "training had moved it"
    assert json.loads((out / "best" / "best.json").read_text())["step"] == 0
    assert json.loads((out / "training.json").read_text())["stopped_by_gate"] is True

    # The explorer's report reads this folder as it is: decisions, the restore, checkpoints.
    from redline.reports.report import write_report

    written = write_report([out], root / "breach.html")
    html = written.path.read_text()
    assert not written.problems, written.problems
    assert "checkpoints/step-000006 (restored checkpoints/step-000000)" in html
    for action in ("raise_beta", "lower_lr", "stop"):
        assert action in html


def test_configs_name_the_file_and_the_field(tmp_path):
    bad = write_yaml(tmp_path / "sft.yaml", {"data": "x"})
    with pytest.raises(ConfigError, match=r"sft\.yaml: base_model: Field required"):
        load_config(bad, SFTSettings)
    groups = write_yaml(
        tmp_path / "grpo.yaml",
        {"base_model": "m", "data": "d", "batch_size": 3, "num_generations": 2},
    )
    with pytest.raises(ConfigError, match="multiple of num_generations"):
        load_config(groups, GRPOSettings)
    with pytest.raises(ConfigError, match="beta"):
        load_config(
            write_yaml(tmp_path / "b.yaml", {"base_model": "m", "data": "d", "beta": 0}),
            GRPOSettings,
        )
    defaults = load_config(
        write_yaml(tmp_path / "ok.yaml", {"base_model": "m", "data": "d"}), SFTSettings
    )
    assert (defaults.lora.r, defaults.lora.alpha, defaults.lora.target_modules) == (
        32,
        64,
        "all-linear",
    )
    assert (defaults.learning_rate, defaults.epochs, defaults.seed) == (2e-4, 3, 42)
    result = runner.invoke(app, ["train", "grpo", "--config", str(groups)])
    assert result.exit_code == 2 and "grpo.yaml" in result.output
    missing = runner.invoke(app, ["train", "sft", "--config", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml" in missing.output


def test_a_bad_reward_spec_is_a_config_error_before_anything_is_written(tmp_path):
    spec = [{"name": "semantic_f1", "weight": 0.5}, {"name": "bogus", "weight": 1}]
    config = write_yaml(tmp_path / "grpo.yaml", {"base_model": "m", "data": "d", "rewards": spec})
    with pytest.raises(ConfigError, match=r"grpo\.yaml: rewards: spec: item 1: unknown reward"):
        load_config(config, GRPOSettings)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "grpo", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "unknown reward 'bogus'" in result.output and not out.exists()
    # A spec file is read and checked too.
    (tmp_path / "rewards.yaml").write_text("- {name: parse, weight: nope}\n")
    config = write_yaml(
        tmp_path / "file.yaml",
        {"base_model": "m", "data": "d", "rewards": str(tmp_path / "rewards.yaml")},
    )
    with pytest.raises(ConfigError, match=r"file\.yaml: rewards: .*rewards\.yaml"):
        load_config(config, GRPOSettings)


def test_a_model_that_cannot_be_loaded_stops_before_the_run_folder(tmp_path, monkeypatch):
    for field, value, message in [
        ("base_model", str(tmp_path / "nope"), r"base_model: '.*nope' is neither a model folder"),
        ("adapter", str(tmp_path), r"adapter: .* is not a LoRA adapter folder"),
    ]:
        config = write_yaml(tmp_path / "g.yaml", {"base_model": "m", "data": "d", field: value})
        with pytest.raises(ConfigError, match=message):
            load_config(config, GRPOSettings)
    # A hub id that cannot be fetched fails when loading, before anything is written.
    data = tmp_path / "data"
    result = runner.invoke(
        app, ["data", "prepare", "--source", "builtin", "--out", str(data), "--limit", "40"]
    )
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read once at import: set it where it is kept too
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    for kind in ("sft", "grpo"):
        out = tmp_path / kind
        config = write_yaml(
            tmp_path / f"{kind}.yaml",
            {"base_model": "no-such-org/no-such-model", "data": str(data), "out": str(out)},
        )
        result = runner.invoke(app, ["train", kind, "--config", str(config)])
        assert result.exit_code == 2, result.output
        assert "cannot load the model no-such-org/no-such-model" in result.output
        assert not (out / "training.json").exists()


def test_merge_names_what_it_cannot_load(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    out = tmp_path / "merged"
    args = ["train", "merge", "--adapter", str(adapter), "--out", str(out)]
    result = runner.invoke(app, [*args, "--base", "no-such-org/no-such-model"])
    assert result.exit_code == 2 and "cannot load the model no-such-org/no-such-model" in (
        result.output
    )
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["train", "merge", "--adapter", str(empty), "--out", str(out), "--base", "smollm2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "is not a LoRA adapter folder" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "gate,message",
    [
        ({"suites": {"bogus:x": 4}}, r"gate\.suites: unknown suite\(s\) \['bogus:x'\]"),
        ({"redlines": "missing.yaml"}, r"gate\.redlines: cannot read red lines missing\.yaml"),
        (
            {"baseline": {"fc:dev": "nowhere"}},
            r"gate: baseline: nowhere holds no samples\.jsonl: not a run folder",
        ),
        (
            {"suites": {"fc:dev": 4}, "baseline": {"regression": "."}},
            r"gate: baseline: 'regression' is not a gated suite",
        ),
    ],
)
def test_a_bad_gate_is_a_config_error_before_anything_is_written(tmp_path, gate, message):
    config = write_yaml(tmp_path / "grpo.yaml", {"base_model": "m", "data": "d", "gate": gate})
    with pytest.raises(ConfigError, match=message):
        load_config(config, GRPOSettings)


def test_gate_red_lines_must_concern_a_gated_suite_and_may_require_power(tmp_path):
    lines = write_yaml(tmp_path / "lines.yaml", [{"metric": "regression/*", "max_drop": 2.0}])
    gate = {"suites": {"fc:dev": 4}, "redlines": str(lines)}
    config = write_yaml(tmp_path / "grpo.yaml", {"base_model": "m", "data": "d", "gate": gate})
    with pytest.raises(ConfigError, match=r"regression/\*: max_drop 2 .* concerns no gated suite"):
        load_config(config, GRPOSettings)
    gate = {"suites": {"regression": 4}, "redlines": str(lines), "require_power": True}
    config = write_yaml(tmp_path / "grpo.yaml", {"base_model": "m", "data": "d", "gate": gate})
    assert load_config(config, GRPOSettings).gate.require_power is True


def test_a_red_line_matching_no_metric_stops_grpo_before_the_first_step(workspace):
    root, model = workspace
    out = root / "typo"
    settings = GRPOSettings.model_validate(
        grpo_config(root, model, out, max_steps=2, gate={**GATE, "suites": {"fc:dev": 4}})
    )
    with pytest.raises(ConfigError, match="fc/parse_rat: min 95% matches no metric.*fc/parse_rate"):
        run_grpo(settings, lines=[RedLine(metric="fc/parse_rat", min=95)], progress=False)
    assert not (out / "gate_log.jsonl").exists() and not (out / "checkpoints/step-000002").exists()


def test_a_run_folder_that_holds_a_run_is_refused(workspace):
    root, model = workspace
    out = root / "taken"
    out.mkdir()
    (out / "training.json").write_text("{}")
    config = write_yaml(root / "taken.yaml", grpo_config(root, model, out))
    result = runner.invoke(app, ["train", "grpo", "--config", str(config)])
    assert result.exit_code == 2 and "already holds a training run" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["training.json"], "nothing was touched"


@pytest.mark.parametrize("kind", ["sft", "grpo"])
@pytest.mark.parametrize("steps", ["-5", "0"])
def test_max_steps_must_be_positive_and_is_refused_before_a_model_loads(
    tmp_path, monkeypatch, kind, steps
):
    # `train sft --max-steps -5` used to run a full 3-epoch training.
    started = []
    monkeypatch.setattr(f"redline.training.{kind}.run_{kind}", lambda s: started.append(s))
    config = write_yaml(tmp_path / "c.yaml", {"base_model": "m", "data": "d"})
    result = runner.invoke(app, ["train", kind, "--config", str(config), "--max-steps", steps])
    assert result.exit_code == 2, result.output
    assert "--max-steps" in result.output and not started
    config = write_yaml(tmp_path / "c.yaml", {"base_model": "m", "data": "d", "max_steps": -5})
    result = runner.invoke(app, ["train", kind, "--config", str(config)])
    assert result.exit_code == 2 and "max_steps" in result.output and not started


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_steps": -5}, "max_steps"),
        ({"max_steps": 0}, "max_steps"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"epochs": float("inf")}, "epochs"),
        ({"weight_decay": float("inf")}, "weight_decay"),
        ({"limit": 0}, "limit"),
        ({"lora": {"r": 0}}, r"lora\.r"),
        ({"gate": {"suites": {"fc:dev": 0}}}, r"gate\.suites"),
        ({"gate": {"suites": {"fc:dev": -4}}}, r"gate\.suites"),
        ({"beta": float("inf")}, "beta"),
        ({"temperature": float("nan")}, "temperature"),
        ({"gate": {"beta_factor": float("inf")}}, r"gate\.beta_factor"),
    ],
)
def test_numeric_config_fields_are_checked(tmp_path, fields, message):
    config = write_yaml(tmp_path / "g.yaml", {"base_model": "m", "data": "d", **fields})
    with pytest.raises(ConfigError, match=rf"g\.yaml: {message}"):
        load_config(config, GRPOSettings)


def test_max_steps_minus_one_still_means_train_for_the_epochs(tmp_path):
    config = write_yaml(tmp_path / "s.yaml", {"base_model": "m", "data": "d", "max_steps": -1})
    assert load_config(config, SFTSettings).max_steps == -1
    assert load_config(config, SFTSettings, max_steps=7).max_steps == 7
