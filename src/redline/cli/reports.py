"""`redline report` (a static HTML or Markdown report of runs) and `redline explore` (the
Streamlit error explorer), both over run folders read by redline.reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli.common import console, err_console

RedlinesOption = Annotated[
    Path | None,
    typer.Option(
        help="YAML list of red lines for comparisons (default: the seed's rules; see "
        "`redline gate`)."
    ),
]


def report_cmd(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Eval run folders, training run folders, or folders holding runs; eval runs are "
            "shown and compared in the order given."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Report file: .html (one self-contained page, plots embedded) or .md (plots "
            "written as PNG files in NAME_files/ beside it).",
        ),
    ],
    redlines: RedlinesOption = None,
) -> None:
    """Write a static report of runs for sharing and CI artefacts: each run's metrics table,
    per-category breakdown and error types (counts and shares) with bar plots; consecutive runs
    of one suite compared by the red-line gate (deltas with 95% intervals, pass->fail and
    fail->pass flips, verdict); for a training run, reward and KL curves, gate decisions and its
    checkpoints' evals. Scores are read from the run folders, never recomputed. Folders that
    cannot be read in full are named in the report and on stderr; the rest is reported."""
    from redline.reports.report import write_report

    try:
        written = write_report(runs, out, redlines)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    for problem in written.problems:
        err_console.print(f"[yellow]warning:[/yellow] {problem}")
    console.print(
        f"report: {written.path}"
        + (f" ({len(written.images)} plots beside it)" if written.images else "")
    )


def explore_cmd(
    runs_dir: Annotated[
        Path, typer.Argument(help="Folder searched for eval and training runs.")
    ] = Path("runs"),
    host: Annotated[
        str,
        typer.Option(help="Address the app listens on; 127.0.0.1 keeps it to this machine."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the app listens on.", min=1, max=65535)] = 8501,
    redlines: RedlinesOption = None,
) -> None:
    """Open the error explorer, a Streamlit app, on the runs under RUNS_DIR. Pages: Runs (every
    run and checkpoint with its model, suite and sampling settings, and any folder that cannot
    be read); Errors (a checkpoint's error type x category table and chart, filtered by suite,
    category and error type); Compare (two checkpoints: flipped samples, metric deltas with the
    gate's intervals, the gate's verdict); Sample (messages, offered tools, raw output with the
    reasoning apart, parsed and expected calls, an argument-by-argument diff, every score);
    Training (reward components, KL and gate decisions over steps, linked to each checkpoint's
    eval). Stop it with Ctrl-C."""
    import os

    from streamlit.web import cli as streamlit_cli

    import redline.reports

    if not runs_dir.is_dir():
        err_console.print(f"[red]error:[/red] {runs_dir} is not a folder")
        raise typer.Exit(2)
    if redlines is not None and not redlines.is_file():
        err_console.print(f"[red]error:[/red] {redlines} is not a file")
        raise typer.Exit(2)
    # The app script runs in this process; it reads its inputs from the environment.
    os.environ["REDLINE_RUNS_DIR"] = str(runs_dir.resolve())
    if redlines is not None:
        os.environ["REDLINE_REDLINES"] = str(redlines.resolve())
    script = Path(redline.reports.__file__).with_name("app.py")
    flags = {
        "server.address": host,
        "server.port": str(port),
        "server.headless": "true",  # no browser opened, no e-mail prompt
        "browser.gatherUsageStats": "false",
        "server.fileWatcherType": "none",
        "client.toolbarMode": "viewer",  # no deploy button
    }
    args = ["run", str(script)] + [f"--{k}={v}" for k, v in flags.items()]
    streamlit_cli.main.main(args=args, prog_name="streamlit")
