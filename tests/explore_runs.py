"""A small runs folder for the report and explorer tests: a GRPO training run (baseline, two
checkpoints with fc:dev and regression evals, real gate checks) and two broken eval runs.
Made by the truth and replay backends; the checkpoints replay damaged answers.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from redline.gate import Gate
from redline.harness.backends import make_backend
from redline.harness.runner import run_eval
from redline.suites.registry import load_suite

TRAIN = "grpo-demo"
STEP2 = f"{TRAIN}/checkpoints/step-000002"
STEP4 = f"{TRAIN}/checkpoints/step-000004"
BASELINE = f"{TRAIN}/baseline"
FC_LIMIT = 60
REG_LIMIT = 40
SAMPLING = {"max_new_tokens": 128, "temperature": 0.7, "top_p": 0.95, "seed": 3}
# Outputs the step-4 checkpoint gives, by sample index modulo 10 (others are the answers).
PROSE = "I am not sure which tool to use here."
THINK = "<think>The user wants this done; pick the matching tool.</think>"


def _eval(suite: str, limit: int, model: str, out: Path) -> Path:
    settings = {"limit": limit, "mode": "json", "sampling": SAMPLING}
    run_eval(
        load_suite(suite, first=limit),
        make_backend(model),
        out,
        progress=False,
        settings=settings,
    )
    return out


def _bump_value(raw: str) -> str:
    """The same call with its first string argument changed: a value_error."""
    return re.sub(r'("arguments": \{"[^"]+": )"([^"]*)"', r'\1"\2-X"', raw, count=1)


def _replay(base: Path, out: Path, change) -> Path:
    lines = []
    for i, line in enumerate((base / "samples.jsonl").read_text().splitlines()):
        record = json.loads(line)
        record["completion"]["raw"] = change(i, record["completion"]["raw"])
        lines.append(json.dumps(record))
    out.write_text("\n".join(lines) + "\n")
    return out


def step4_output(i: int, raw: str) -> str:
    if i % 10 == 0:
        return PROSE
    if i % 10 == 3:
        return _bump_value(raw)
    if i % 10 == 5:
        return THINK + raw
    return raw


def build_runs(root: Path) -> Path:
    """Write the runs folder under ``root`` and return it."""
    train = root / TRAIN
    train.mkdir(parents=True)
    scratch = root.parent / f"{root.name}-replays"
    scratch.mkdir()
    base_fc = _eval("fc:dev", FC_LIMIT, "truth", root / BASELINE / "fc-dev")
    base_reg = _eval("regression", REG_LIMIT, "truth", root / BASELINE / "regression")
    changes = {
        STEP2: (lambda i, raw: PROSE if i % 30 == 0 else raw, lambda i, raw: raw),
        STEP4: (step4_output, lambda i, raw: "no idea" if i % 5 == 0 else raw),
    }
    gate_log = []
    for step, (checkpoint, (fc_change, reg_change)) in zip((2, 4), changes.items(), strict=True):
        fc = _replay(base_fc, scratch / f"fc-{step}.jsonl", fc_change)
        reg = _replay(base_reg, scratch / f"reg-{step}.jsonl", reg_change)
        cand_fc = _eval("fc:dev", FC_LIMIT, f"replay:{fc}", root / checkpoint / "eval" / "fc-dev")
        cand_reg = _eval(
            "regression", REG_LIMIT, f"replay:{reg}", root / checkpoint / "eval" / "regression"
        )
        (root / checkpoint / "adapter").mkdir()
        verdict = Gate(base_fc).check(cand_fc).to_dict()
        regression = Gate(base_reg).check(cand_reg).to_dict()
        held = verdict["held"] and regression["held"]
        rel = checkpoint.removeprefix(f"{TRAIN}/")
        gate_log.append(
            {
                "step": step,
                "checkpoint": rel,
                "held": held,
                "action": "continue" if held else "raise_beta",
                "beta": 0.04 * step / 2,
                "lr_scale": 1.0,
                "kl_probe": 0.01 * step,
                "breaches": verdict["breaches"] + regression["breaches"],
                "table": verdict["table"] + regression["table"],
                "evals": {"fc:dev": f"{rel}/eval/fc-dev", "regression": f"{rel}/eval/regression"},
            }
        )
    (train / "training.json").write_text(
        json.dumps(
            {
                "kind": "grpo",
                "base_model": "smollm2",
                "config": {"learning_rate": 1e-5, "beta": 0.04, "num_generations": 4},
                "started": "2026-11-21T10:00:00+00:00",
                "finished": "2026-11-21T10:20:00+00:00",
            }
        )
    )
    train_log = [
        {
            "step": step,
            "epoch": step / 8,
            "loss": 0.5 - 0.03 * step,
            "learning_rate": 1e-5,
            "reward": 0.2 + 0.05 * step,
            "reward_std": 0.1,
            "rewards/parse/mean": 0.3 + 0.06 * step,
            "rewards/abstain/mean": 0.1 + 0.02 * step,
            "kl": 0.002 * step,
            "beta": 0.04 if step <= 4 else 0.08,  # raised by the gate check at step 4
        }
        for step in range(1, 7)
    ]
    (train / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_log))
    (train / "gate_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gate_log))

    # A folder of records with no manifest, and a run whose last line was cut mid-write.
    no_manifest = root / "broken" / "no-manifest"
    no_manifest.mkdir(parents=True)
    lines = (base_fc / "samples.jsonl").read_text().splitlines(keepends=True)
    (no_manifest / "samples.jsonl").write_text("".join(lines[:12]))
    truncated = root / "broken" / "truncated"
    shutil.copytree(base_fc, truncated)
    (truncated / "samples.jsonl").write_text("".join(lines[:20]) + lines[20][:150])
    shutil.rmtree(scratch)
    return root


BFCL_RUN = "bfcl-truth"  # every single-turn category, as `redline bfcl` lays it out
BFCL_OTHER = "bfcl-some"  # two of them, in a run of its own
BFCL_SHARED = ("simple_python", "irrelevance")


def build_bfcl_runs(root: Path) -> Path:
    """A folder of standalone runs, in name order: records with no manifest (its suite unknown),
    two `redline bfcl` runs that share two categories, and a regression run."""
    from typer.testing import CliRunner

    from redline.cli import app

    def bfcl(out: Path, *args: str) -> None:
        result = CliRunner().invoke(
            app, ["bfcl", "--model", "truth", "--first", "2", "--out", str(out), *args]
        )
        assert result.exit_code == 0, result.output

    bfcl(root / BFCL_RUN)
    bfcl(root / BFCL_OTHER, *(arg for c in BFCL_SHARED for arg in ("-c", c)))
    notes = root / "a-notes"
    notes.mkdir()
    shutil.copy(root / BFCL_RUN / "simple_python" / "samples.jsonl", notes / "samples.jsonl")
    _eval("regression", 4, "truth", root / "zz-regression")
    return root
