"""`redline bfcl` (a BFCL v4 leaderboard run and its scores) and `redline bfcl-truth` (BFCL's
own ground truth scored by redline, a check of the parser and checker)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

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
    fmt_percent,
    resume_command,
    run_exits,
    run_settings,
)


def bfcl_truth(
    bfcl_data: BfclDataOption = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            "-c",
            help="BFCL category to score (repeatable; default: all single-turn).",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="Format the ground truth is written in and parsed from: json, hermes, python.",
        ),
    ] = "json",
    official: Annotated[
        bool,
        typer.Option(
            help="Also run the official bfcl-eval AST checker on the same calls; report agreement."
        ),
    ] = False,
) -> None:
    """Score BFCL's own ground truth with redline's parser and checker; print a per-category table.

    Every answer is written as model output (default: the seed's JSON format), parsed back and
    scored. Ground truth should score 100% everywhere; the table shows where it does not.
    """
    from redline.harness.truth import truth_records
    from redline.metrics.aggregate import error_counts, summarize
    from redline.parsing import PARSERS
    from redline.suites import bfcl_data as bd

    if fmt not in PARSERS:
        raise typer.BadParameter(
            f"unknown format {fmt!r}; choose from {', '.join(PARSERS)}", param_hint="--format"
        )
    # live_relevance has no ground truth to replay (any call to a fitting function is right).
    categories = category or [c for c in bd.SINGLE_TURN_CATEGORIES if c != "live_relevance"]
    try:
        data_dir = bd.bfcl_data_dir(bfcl_data)
    except bd.BFCLDataError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    checker = bd.load_official_checker() if official else None

    table = Table(title=f"BFCL {bd.VERSION} ground truth scored by redline ({fmt} format)")
    columns = ["category", "n", "parse", "verdict", "param F1", "schema", "exec", "top errors"]
    if official:
        columns.append("= official")
    for col in columns:
        left = col in ("category", "top errors")
        table.add_column(col, justify="left" if left else "right", no_wrap=col == "category")
    start = time.perf_counter()
    total = 0
    for cat in categories:
        try:
            samples = bd.load_samples(cat, data_dir)
        except bd.BFCLDataError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        records = list(truth_records(samples, fmt))
        total += len(records)
        m = summarize(records)

        def value(name: str, m=m) -> str:
            return fmt_percent(m[name].value if name in m else None)

        verdict = {
            "irrelevance": "irrelevance",
            "live_irrelevance": "irrelevance",
            "live_relevance": "relevance",
        }
        errors = ", ".join(f"{k} {v}" for k, v in error_counts(records).most_common(2))
        row = [
            cat,
            str(len(records)),
            value("parse_rate"),
            value(verdict.get(cat, "ast_accuracy")),
            value("param_f1"),
            value("schema_hit_rate"),
            value("exec_rate"),
            errors or "-",
        ]
        if checker is not None:
            row.append(_official_agreement(checker, cat, records))
        table.add_row(*row)
    console.print(table)
    console.print(
        f"{total} entries in {time.perf_counter() - start:.1f} s. verdict = BFCL AST accuracy "
        "(irrelevance for the irrelevance categories); '-' = not applicable or not scored.\n"
        f"data: {data_dir}"
    )


def _official_agreement(checker, category: str, records) -> str:
    from redline.suites.bfcl_data import PYTHON_AST_CATEGORIES

    if category not in PYTHON_AST_CATEGORIES:
        return "-"
    from bfcl_eval.constants.enums import Language

    same = 0
    for record in records:
        sample = record.sample
        calls = [c.to_bfcl() for c in record.completion.calls]
        functions = [t.model_dump() for t in sample.tools]
        try:
            valid = checker.ast_checker(
                functions, calls, sample.possible_answer, Language.PYTHON, category, "m"
            )["valid"]
        except Exception:  # noqa: BLE001 - the official checker crashing counts as a failure
            valid = False
        same += valid == (record.scores["ast"].value == 1.0)
    return f"{same}/{len(records)}"


def bfcl_cmd(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Option(help=f"Model spec, as for `redline eval`: {MODEL_SPEC_HELP}.")
    ],
    categories: Annotated[
        list[str] | None,
        typer.Option(
            "--category", "-c", help="BFCL category (repeatable; default all single-turn)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the leaderboard run (default runs/bfcl-MODEL, e.g. runs/bfcl-smollm2 "
            "or runs/bfcl-replay-NAME); an existing one resumes."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Run N samples of each category, a seeded draw (the same N draws the same "
            "samples, and a larger N keeps a smaller one's, so raising it resumes).",
            min=1,
        ),
    ] = None,
    first: Annotated[
        int | None,
        typer.Option(help="Run the first N samples of each category (instead of --limit).", min=1),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="Prompt mode: python (BFCL's), json or native.")
    ] = "python",
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
    """A BFCL leaderboard run: each category into OUT/CATEGORY/ (resumable), then
    per-category accuracy and the v4 aggregates in OUT/metrics.json and OUT/bfcl_scores.csv
    (columns as in the leaderboard's data_overall.csv); the console, metrics.json and the CSV
    show the same numbers. As on the leaderboard, a category not run counts as 0 with its full
    size; so does one that ran but could not be scored (Java and JavaScript are not checked
    yet), shown as unscored. Multi-turn and agentic categories are not run by redline, so the
    overall score is partial. Exit codes as for `redline eval`: 4 when the server rejected a
    request, 3 when it is down, 130 on Ctrl-C or SIGTERM (finished samples kept)."""
    import csv

    from redline.harness.backends import make_backend, model_label
    from redline.harness.models import Sampling
    from redline.harness.prompts import MODES
    from redline.harness.runner import run_eval, stop_on_signals
    from redline.metrics.bfcl_scores import (
        AGGREGATES,
        OVERALL_COLUMNS,
        CategoryRun,
        category_run,
        leaderboard,
        overall_row,
        summary,
    )
    from redline.suites import bfcl_data as bd
    from redline.suites.registry import load_suite

    check_run_options(mode, limit, first)
    chosen = list(dict.fromkeys(categories or bd.SINGLE_TURN_CATEGORIES))
    unknown = [c for c in chosen if c not in bd.SINGLE_TURN_CATEGORIES]
    if unknown:
        raise typer.BadParameter(f"unknown BFCL categories {unknown}", param_hint="--category")
    offline = model == "truth" or model.startswith("replay:")
    folder = out or Path("runs") / f"bfcl-{model_label(model)}"
    verdict = {"irrelevance": "irrelevance", "live_irrelevance": "irrelevance"}
    verdict["live_relevance"] = "relevance"
    sampling = Sampling(
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, enable_thinking=thinking
    )
    runs: dict[str, CategoryRun] = {}
    resume = resume_command(ctx, folder)
    rejected: list[tuple[int, str]] = []  # per category: count, first message
    with run_exits(resume, (bd.BFCLDataError,)), stop_on_signals() as stop:
        with stop.interruptible():  # loading a model takes a while: Ctrl-C stops it at once
            backend = make_backend(
                model,
                mode=mode,
                sampling=sampling,
                allow_missing=allow_missing,
                concurrency=concurrency,
            )
        sizes = {c: len(bd.load_entries(c, bfcl_data)) for c in bd.SINGLE_TURN_CATEGORIES}
        suites = {
            c: load_suite(f"bfcl:{c}", limit=limit, bfcl_data=bfcl_data, first=first)
            for c in chosen
        }
        # Every category is checked before the first runs: a wrong file leaves nothing
        # half-done.
        every = [sample for suite in suites.values() for sample in suite.samples]
        many = f"the {len(chosen)} BFCL categories"
        named = f"bfcl:{chosen[0]}" if len(chosen) == 1 else many
        said = check_replay(backend, every, named)
        for category, suite in suites.items():
            result = run_eval(
                suite,
                backend,
                folder / category,
                fmt="auto" if offline else MODES[mode].parser,
                batch_size=batch_size,
                progress=True,  # a bar on a terminal, else lines on stderr
                stop=stop,
                settings=run_settings(model, mode, sampling, limit, batch_size, concurrency),
            )
            if result.interrupted:
                err_console.print(
                    f"stopped by {result.interrupted} in {category}: {result.kept} of "
                    f"{len(suite.samples)} samples are kept in {folder / category} "
                    f"({len(runs)} categories finished before it); run the same command "
                    f"again to resume:\n  {resume}"
                )
                raise typer.Exit(130)
            if result.rejected:
                rejected.append((result.rejected, f"{category}: {result.first_rejection}"))
            said += result.problems
            overall = result.metrics["overall"]
            metric = overall["metrics"].get(verdict.get(category, "ast_accuracy"))
            runs[category] = category_run(metric, overall["errors"])
    for problem in said:
        err_console.print(f"[yellow]warning:[/yellow] {problem}")
    # One computation; the console, metrics.json and the CSV are three views of it.
    board = leaderboard(runs, sizes)
    written = {"model": model, **summary(board, chosen), "limit": limit, "first": first}
    (folder / "metrics.json").write_text(json.dumps(written, indent=2), encoding="utf-8")
    with (folder / "bfcl_scores.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([name for name, _ in OVERALL_COLUMNS])
        writer.writerow(overall_row(model, board))
    table = Table(
        title=f"BFCL v4 with {model}"
        + (f" ({limit} drawn per category)" if limit else "")
        + (f" (first {first} per category)" if first else "")
    )
    for col in ("score", "accuracy", "scored", "note"):
        table.add_column(col, justify="right" if col in ("accuracy", "scored") else "left")
    shown = [*chosen, *(a for a in AGGREGATES if a not in ("multi_turn", "agentic"))]
    for key in shown:
        part = board[key]
        table.add_row(key, part.shown(), str(part.scored), _bfcl_note(key, part, board))
    console.print(table)
    console.print(
        Text(
            "accuracy: % of the scored samples. partial: categories not run or unscored count "
            "as 0 with their full size, as on the leaderboard. bfcl_scores.csv has the same "
            "numbers, with N/A (the leaderboard's convention) for a category not run or "
            "unscored and for a partial aggregate other than Live and Overall.",
            style="dim",
        )
    )
    console.print(f"leaderboard files: {folder / 'metrics.json'}, {folder / 'bfcl_scores.csv'}")
    exit_if_rejected(sum(n for n, _ in rejected), rejected[0][1] if rejected else "", "")


def _bfcl_note(key: str, part: Any, board: dict[str, Any]) -> str:
    """What the console says beside a BFCL score: unscored samples, and for an aggregate the
    categories it counts as 0."""
    from redline.metrics.bfcl_scores import AGENTIC, MULTI_TURN, NOT_RUN, UNSCORED

    if key == "live_relevance":
        prefix = "not in the aggregates (as on the leaderboard)"
    else:
        prefix = ""
    if part.status == UNSCORED:
        note = f"{part.unscored} ran, none scored ({part.why_unscored}); counts as 0"
    elif part.status == NOT_RUN:
        note = "counts as 0"
    elif part.zeroed:
        groups: dict[str, list[str]] = {}
        beyond = [n for n in part.zeroed if n in (*MULTI_TURN, *AGENTIC)]
        for name in part.zeroed:
            if name not in beyond:
                status = board[name].status if name in board else NOT_RUN
                groups.setdefault(status, []).append(name)
        said = [f"{', '.join(names)} ({status})" for status, names in groups.items()]
        if beyond:
            said.append("multi-turn and agentic, which redline does not run")
        note = "counts as 0: " + "; ".join(said)
    elif part.unscored:
        note = f"{part.unscored} unscored ({part.why_unscored or 'see the run'})"
    else:
        note = ""
    if part.no_output:
        note += f"{'; ' if note else ''}{part.no_output} without output (no_output, failures)"
    return "; ".join(p for p in (prefix, note) if p)
