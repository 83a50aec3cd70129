"""`redline eval` (a model on a suite, into a run folder), `redline score` (a run re-scored
from its folder), `redline suites` (what can be run) and `redline parse` (one output parsed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from redline.cli.common import (
    DEFAULT_CONCURRENCY,
    MODEL_SPEC_HELP,
    AllowMissingOption,
    BfclDataOption,
    ConcurrencyOption,
    MaxNewTokensOption,
    SeedOption,
    TemperatureOption,
    ThinkingOption,
    check_replay,
    check_run_options,
    console,
    err_console,
    exit_if_rejected,
    metrics_table,
    resume_command,
    run_exits,
    run_settings,
)


def parse_cmd(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="Output format: auto (detected, as the rewards do), json, hermes, python, or "
            "openai (an OpenAI assistant message as JSON).",
        ),
    ] = "auto",
    file: Annotated[
        Path | None,
        typer.Argument(help="File with one model output (default, or -: standard input)."),
    ] = None,
) -> None:
    """Parse one model output; print its completion record (calls, reasoning, error) as JSON.
    Exit 1 when it holds no usable call."""
    from redline.parsing import PARSERS, parse

    if fmt != "auto" and fmt not in PARSERS:
        raise typer.BadParameter(
            f"unknown format {fmt!r}; choose from auto, {', '.join(PARSERS)}",
            param_hint="--format",
        )
    if file is not None and str(file) == "-":
        file = None
    if file is not None and not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    text = file.read_text(encoding="utf-8") if file is not None else sys.stdin.read()
    completion = parse(text, fmt)
    console.print_json(json.dumps(completion.model_dump(mode="json")))
    if completion.parse_error is not None:
        raise typer.Exit(1)


def suites_cmd(bfcl_data: BfclDataOption = None) -> None:
    """List the registered suites with their size and version: BFCL v4 categories and groups,
    the offline dev set fc:dev, xlam-60k's 90/10 split (seed 42), the regression set and its
    parts, and the public sets IFEval, GSM8K and MMLU. Hub sets read a local copy in the same
    format when $REDLINE_XLAM, $REDLINE_IFEVAL, $REDLINE_GSM8K or $REDLINE_MMLU names one."""
    from redline.suites.registry import (
        SuiteError,
        load_suite,
        local_copy_variable,
        needs_network,
        suite_names,
    )

    table = Table(title="suites")
    for col in ("suite", "samples", "version"):
        table.add_column(col, justify="right" if col == "samples" else "left")
    for name in suite_names():
        if needs_network(name):
            variable = local_copy_variable(name)
            table.add_row(
                name, "-", f"from the hub (set {variable} to a local file to use offline)"
            )
            continue
        try:
            suite = load_suite(name, bfcl_data=bfcl_data)
        except SuiteError as exc:
            table.add_row(name, "-", f"unavailable: {exc}")
            continue
        table.add_row(name, str(len(suite.samples)), suite.version)
    console.print(table)


def eval_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help=f"Model spec: {MODEL_SPEC_HELP}.")],
    suite: Annotated[str, typer.Option(help="Suite name (see `redline suites`).")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run folder (default runs/SUITE-MODEL, e.g. runs/fc-dev-smollm2); an existing "
            "one resumes."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Run N samples drawn by category, in proportion to the categories' sizes (every "
            "category once first). The same N and --draw-seed draw the same samples, and a larger "
            "N keeps a smaller one's, so raising it resumes a run.",
            min=1,
        ),
    ] = None,
    first: Annotated[
        int | None,
        typer.Option(
            help="Run the suite's first N samples, in its order (instead of --limit).", min=1
        ),
    ] = None,
    draw_seed: Annotated[int, typer.Option(help="Seed of the --limit draw.")] = 0,
    mode: Annotated[
        str,
        typer.Option(help="Prompt mode: json (the seed's prompt), python (BFCL's) or native."),
    ] = "json",
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Parser for the outputs (default: the prompt mode's; auto for replay and truth).",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Samples per generation batch (smollm2, hf:).", min=1)
    ] = 16,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    max_new_tokens: MaxNewTokensOption = 256,
    temperature: TemperatureOption = 0.0,
    seed: SeedOption = 0,
    thinking: ThinkingOption = False,
    allow_missing: AllowMissingOption = False,
    bfcl_data: BfclDataOption = None,
) -> None:
    """Run a model on a suite: one record per sample in OUT/samples.jsonl (appended as each
    finishes), metrics in OUT/metrics.json, how it was made in OUT/manifest.json. Run it again
    with the same --out to resume a stopped run, or with a larger --limit to extend it; a folder
    of another run (model, suite, sampling settings, a smaller or other draw) is refused.

    openai: models stream (--concurrency requests in flight over the whole suite); local models
    run in batches of like prompt length. Exit 4 when the server rejected a request (each such
    sample is kept as a failed `request_rejected` record), 3 when the server is down (finished
    samples kept), 130 on Ctrl-C or SIGTERM (finished samples kept; the command that resumes is
    printed)."""
    from redline.harness.backends import make_backend, model_label
    from redline.harness.models import Sampling
    from redline.harness.prompts import MODES
    from redline.harness.runner import run_eval, stop_on_signals
    from redline.parsing import PARSERS
    from redline.suites.registry import load_suite

    check_run_options(mode, limit, first)
    if fmt is not None and fmt != "auto" and fmt not in PARSERS:
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    offline = model == "truth" or model.startswith("replay:")
    fmt = fmt or ("auto" if offline else MODES[mode].parser)
    sampling = Sampling(
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, enable_thinking=thinking
    )
    out = out or Path("runs") / f"{_suite_label(suite)}-{model_label(model)}"
    resume = resume_command(ctx, out)
    with run_exits(resume), stop_on_signals() as stop:
        with stop.interruptible():  # loading a model takes a while: Ctrl-C stops it at once
            loaded = load_suite(
                suite, limit=limit, bfcl_data=bfcl_data, first=first, draw_seed=draw_seed
            )
            backend = make_backend(
                model,
                mode=mode,
                sampling=sampling,
                allow_missing=allow_missing,
                concurrency=concurrency,
            )
        said = check_replay(backend, loaded.samples, suite)
        result = run_eval(
            loaded,
            backend,
            out,
            fmt=fmt,
            batch_size=batch_size,
            progress=True,
            stop=stop,
            settings=run_settings(model, mode, sampling, limit, batch_size, concurrency),
        )
    for problem in [*result.problems, *said]:
        err_console.print(f"[yellow]warning:[/yellow] {problem}")
    if result.interrupted:
        err_console.print(
            f"stopped by {result.interrupted}: {result.kept} of {len(loaded.samples)} samples "
            f"are kept in {result.path / 'samples.jsonl'} ({result.scored} scored now); run the "
            f"same command again to resume:\n  {resume}"
        )
        raise typer.Exit(130)
    console.print(metrics_table(f"{suite} with {model}", result.metrics))
    console.print(
        f"{result.scored} samples scored now, {result.resumed} resumed; run folder: {result.path}"
    )
    exit_if_rejected(result.rejected, result.first_rejection, f" of {len(loaded.samples)}")


def _suite_label(suite: str) -> str:
    """A suite name as part of a folder name: ``bfcl:simple_python`` -> ``bfcl-simple_python``."""
    return "".join(c if c.isalnum() or c in "._+-" else "-" for c in suite)


def score_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by `redline eval`.")],
) -> None:
    """Re-score a finished run offline from its folder (after a parser or scorer change)."""
    from redline.harness.runner import rescore
    from redline.harness.runs import RunError

    try:
        result = rescore(run)
    except RunError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(metrics_table(f"{run} re-scored", result.metrics))
