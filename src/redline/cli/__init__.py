"""The `redline` command line: a thin typer layer over the harness, metrics and suites.

Each command parses options, calls library functions and prints; no scoring logic lives here.
One module per command group: `evaluate` (eval, score, suites, parse), `bfcl` (bfcl,
bfcl-truth), `gate`, `reports` (report, explore), `fuzz` (fuzz-reward) and `training` (the
`data` and `train` groups), with what they share in `common`. The training commands moved in
from redline.training so that every command is found here and typer is imported nowhere else:
the packages below are libraries, usable without the command line. A command imports what it
runs inside its function, so that `redline --help` imports none of torch, transformers or
httpx. The table below registers the commands in the order --help lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from redline import __version__
from redline.cli import bfcl, evaluate, fuzz, gate, reports, training
from redline.cli.common import console

app = typer.Typer(
    help="redline: evaluation-first harness for function-calling models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _print_version(wanted: bool) -> None:
    if wanted:
        console.print(__version__)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print redline's version and exit (as `redline version` does).",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    # Only the top-level options live here; each command is its own function in its module.
    pass


def version() -> None:
    """Print redline's version."""
    _print_version(True)


app.command("version")(version)
app.command("bfcl-truth")(bfcl.bfcl_truth)
app.command("parse")(evaluate.parse_cmd)
app.command("fuzz-reward")(fuzz.fuzz_reward)
app.command("suites")(evaluate.suites_cmd)
app.command("eval")(evaluate.eval_cmd)
app.command("bfcl")(bfcl.bfcl_cmd)
app.command("gate")(gate.gate_cmd)
app.command("score")(evaluate.score_cmd)
app.command("report")(reports.report_cmd)
app.command("explore")(reports.explore_cmd)


app.add_typer(training.data_app, name="data")
app.add_typer(training.train_app, name="train")


def main() -> None:  # pragma: no cover - console entry point
    app()
