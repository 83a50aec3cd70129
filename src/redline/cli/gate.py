"""`redline gate`: a candidate run judged against a baseline run by the red lines; the
statistics and the reading of run folders are redline.gate's, the table and exit status here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from redline.cli.common import console, err_console


def gate_cmd(
    baseline: Annotated[Path, typer.Option(help="Run folder of the starting checkpoint.")],
    candidate: Annotated[Path, typer.Option(help="Run folder of the checkpoint to judge.")],
    redlines: Annotated[
        Path | None,
        typer.Option(
            help="YAML list of red lines in percent and percentage points, e.g. "
            '- {metric: "fc/parse_rate", min: 95} or - {metric: "regression/*", max_drop: 2.0, '
            "significance: 0.05} (default: the seed's rules, see the README)."
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the verdict as JSON to this file.")
    ] = None,
    require_power: Annotated[
        bool,
        typer.Option(
            "--require-power",
            help="Fail a max_drop line that held only because the runs are too small to detect "
            "a drop of max_drop (its detectable drop is larger).",
        ),
    ] = False,
) -> None:
    """Compare a candidate run with a baseline run of the same suite: per metric and category,
    both values, the delta with a 95% paired bootstrap interval, how many samples were paired,
    pass/fail flips and the paired test (McNemar's exact test for pass/fail scores, a paired
    t-test otherwise).

    One unit everywhere (red lines, tables, JSON): rates in percent, 0-100 (min: 95 is a floor
    of 95%), differences in percentage points (max_drop: 2.0 is two points). For each max_drop
    line the gate reports the smallest drop it could detect on these runs (power 0.8 at the
    line's significance); a line that holds while that exceeds max_drop is shown as
    "held (underpowered: ...)".

    Exit 0 when every red line holds, 1 when one is crossed (each is named), 2 when the gate
    cannot judge: a red line matching no metric (the nearest names are given), runs with no
    samples in common, a rule written in the wrong units."""
    from redline.gate import Gate, fmt_points, fmt_value
    from redline.harness.runs import RunError

    try:
        result = Gate(baseline, redlines, require_power=require_power).check(candidate)
    except (RunError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"gate: {candidate} against {baseline} (percent; deltas in points)")
    for col in (
        "metric",
        "baseline",
        "candidate",
        "delta",
        "95% interval",
        "paired",
        "flips -/+",
        "p (test)",
    ):
        table.add_column(col, justify="left" if col == "metric" else "right", overflow="fold")
    tests = {"mcnemar": "McNemar", "paired_t": "paired t"}
    for row in result.table:
        sizes = {row.baseline_n, row.candidate_n}
        paired = str(row.pairs) if sizes == {row.pairs} else f"{row.pairs} of {max(sizes)}"
        table.add_row(
            row.metric,
            fmt_value(row.baseline),
            fmt_value(row.candidate),
            fmt_points(row.delta),
            f"{fmt_points(row.low)} .. {fmt_points(row.high)}",
            paired,
            f"{row.pass_to_fail}/{row.fail_to_pass}",
            "-" if row.pairs == 0 else f"{row.p_value:.3g} ({tests[row.test]})",
        )
    console.print(table)
    console.print("red lines:", highlight=False)
    for check in result.checks:
        console.print(
            f"  {check.metric} [{check.line}; {check.pairs} pairs]: {check.label}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for line in result.not_applied:
        console.print(f"  not applied to this run: {line}", markup=False, soft_wrap=True)
    verdict = result.to_dict()
    if json_out is not None:
        json_out.write_text(json.dumps(verdict, indent=2), encoding="utf-8")
    console.print_json(json.dumps({"held": result.held, "breaches": verdict["breaches"]}))
    if not result.held:
        raise typer.Exit(1)
