"""Runs for gate tests: a baseline from the suite's own answers, and a damaged replay of it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from redline.cli import app

runner = CliRunner()


def baseline_and_damaged(root: Path, suite: str, text: str, offset: int = 0) -> tuple[Path, Path]:
    """A truth run of ``suite``, and a replay of it with every 10th output replaced by ``text``."""
    base = root / "base"
    result = runner.invoke(app, ["eval", "--model", "truth", "--suite", suite, "--out", str(base)])
    assert result.exit_code == 0, result.output
    damaged = []
    for i, line in enumerate((base / "samples.jsonl").read_text().splitlines()):
        record = json.loads(line)
        if i % 10 == offset:
            record["completion"]["raw"] = text
        damaged.append(json.dumps(record))
    replay = root / "damaged.jsonl"
    replay.write_text("\n".join(damaged) + "\n")
    worse = root / "worse"
    result = runner.invoke(
        app, ["eval", "--model", f"replay:{replay}", "--suite", suite, "--out", str(worse)]
    )
    assert result.exit_code == 0, result.output
    return base, worse
