"""`redline fuzz-reward`: a TRL-shaped reward function, loaded from a module or a file, run
through the property battery of redline.rewards.testing; violations and margins printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from redline.cli.common import console, err_console


def fuzz_reward(
    target: Annotated[
        str,
        typer.Argument(
            help="The reward function as MODULE:NAME or FILE.py:NAME, e.g. "
            "redline.rewards:composite, my_rewards:tool_reward (modules in the current folder "
            "are found) or train/rewards.py:tool_reward."
        ),
    ],
    examples: Annotated[int, typer.Option(help="Hypothesis examples per property.", min=1)] = 100,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Output format(s) completions are written in (default: the function's own, "
            "else json, hermes and python).",
        ),
    ] = None,
    time_limit: Annotated[
        float, typer.Option(help="Seconds a 100 KB completion may take to score.")
    ] = 0.1,
    reward_range: Annotated[
        tuple[float, float] | None,
        typer.Option(
            "--range",
            help="LOW HIGH the rewards must stay within (default: the function's own "
            "reward_range, else only finite).",
        ),
    ] = None,
    conversational: Annotated[
        bool,
        typer.Option(
            "--conversational",
            help="Hand completions over as TRL does with a chat template: each a list holding "
            "one assistant message (prompts: one user message).",
        ),
    ] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            help="GIVEN=NAME: hand the battery's ground-truth column GIVEN (tools or answers) "
            "over as the keyword NAME your reward reads, e.g. --column answers=solution. "
            "Repeat for both.",
        ),
    ] = None,
    objects: Annotated[
        bool,
        typer.Option(
            "--objects",
            help="Hand tools and answers over decoded (lists of objects) instead of as JSON "
            "text, as a datasets column of objects gives them.",
        ),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this property (repeat for more)."),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="Leave this property out (repeat for more)."),
    ] = None,
    show_margins: Annotated[
        bool,
        typer.Option(
            "--margins",
            help="Also score each named corruption against the perfect completion of the "
            "same case (--examples cases each) and print what it costs: mean rewards, the "
            "drop, and how often it scores below, the same as (ties: a mistake the reward "
            "does not see) or above the perfect one. Does not change the exit status.",
        ),
    ] = False,
) -> None:
    """Fuzz a TRL-shaped reward function with the property battery; exit 1 on any violation,
    and on any property that ran no example to completion (not tested: every call raised or
    gave None).

    Properties: no_exception, not_always_none, bounded, deterministic,
    perfect_beats_corruption (no corruption above the perfect completion; drop_required,
    wrong_type, wrong_value and rename_function below it in at least 75% of cases, but those the
    reward's blind_to attribute says it does not look at), key_order_and_whitespace,
    more_calls_never_help, think_earns_nothing, batch_consistent, linear_time. Each violation
    is printed with hypothesis' minimal example. The function is
    called as f(prompts=..., completions=..., tools=[JSON], answers=[JSON]), one JSON text per
    completion in each column, as TRL passes dataset columns: tools in OpenAI's form, answers
    as [{"name", "arguments"}]. A reward that reads its own columns gets them renamed with
    --column, and decoded with --objects.
    """
    from redline.parsing import PARSERS
    from redline.rewards.testing import (
        NOT_TESTED,
        PROPERTIES,
        blind_spots,
        check_reward,
        column_names,
        margins,
    )

    where, _, attr = target.rpartition(":")  # the last colon: a Windows path has one too
    if not where or not attr:
        raise typer.BadParameter(
            "give the function as MODULE:NAME or FILE.py:NAME", param_hint="TARGET"
        )
    for name in fmt or []:
        if name not in PARSERS:
            raise typer.BadParameter(f"unknown format {name!r}", param_hint="--format")
    if reward_range is not None and not reward_range[0] <= reward_range[1]:
        raise typer.BadParameter("give LOW then HIGH, LOW <= HIGH", param_hint="--range")
    renamed: dict[str, str] = {}
    for item in column or []:
        given, equals, name = item.partition("=")
        if not equals or given in renamed:
            raise typer.BadParameter(
                f"{item!r}: give GIVEN=NAME, once per column", param_hint="--column"
            )
        renamed[given] = name
    try:
        column_names(renamed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--column") from exc
    if only and skip:
        raise typer.BadParameter("give --only or --skip, not both", param_hint="--only")
    for hint, names in (("--only", only), ("--skip", skip)):
        for name in names or []:
            if name not in PROPERTIES:
                raise typer.BadParameter(
                    f"unknown property {name!r}; known: {', '.join(PROPERTIES)}", param_hint=hint
                )
    chosen = [p for p in PROPERTIES if (p in only if only else p not in (skip or []))]
    if not chosen:
        raise typer.BadParameter("that leaves no property to run", param_hint="--skip")
    try:
        fn = getattr(_import_target(where), attr)
    except Exception as exc:  # noqa: BLE001 - the user's module may raise anything on import
        err_console.print(f"[red]error:[/red] cannot load {target}: {_import_failure(exc)}")
        raise typer.Exit(2) from exc
    if not callable(fn):
        err_console.print(f"[red]error:[/red] {target} is not callable")
        raise typer.Exit(2)
    try:
        blind = blind_spots(fn)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {target}: {exc}")
        raise typer.Exit(2) from exc
    console.print(f"fuzzing {target} with {examples} examples per property ...")
    left_out = [p for p in PROPERTIES if p not in chosen]
    if only:
        console.print(f"  only {', '.join(chosen)}")
    elif left_out:
        console.print(f"  leaving out {', '.join(left_out)}")

    def said(prop: str, found: Any, seconds: float) -> None:
        if found is None:
            mark = "[green]ok[/green]        "
        elif found.status == NOT_TESTED:
            mark = "[yellow]not tested[/yellow]"
        else:
            mark = "[red]FAIL[/red]      "
        console.print(f"  {mark} {prop:<26} {seconds:6.1f} s")

    # How the battery and the margins hand completions and ground truth to the reward.
    handing: dict[str, Any] = {
        "examples": examples,
        "formats": fmt or None,
        "conversational": conversational,
        "columns": renamed,
        "objects": objects,
    }
    with console.status("checking the properties (a violated one is shrunk, which takes time)"):
        violations = check_reward(
            fn,
            reward_range=reward_range,
            time_limit=time_limit,
            progress=said,
            properties=chosen,
            **handing,
        )
    if show_margins:
        with console.status("scoring each corruption against the perfect completion"):
            rows = margins(fn, **handing)
        _print_margins(rows, examples, blind)
    if blind and "perfect_beats_corruption" in chosen:
        console.print(
            "perfect_beats_corruption holds the reward to what it claims; it says it does not "
            "look at " + _blind_said(blind),
            soft_wrap=True,
        )
    broken = [v for v in violations if v.status != NOT_TESTED]
    untested = [v for v in violations if v.status == NOT_TESTED]
    for v in broken:
        console.print(f"[red]VIOLATED[/red] {v.prop}: {v.message}", soft_wrap=True)
        if v.example:
            console.print_json(json.dumps(v.example, default=repr, ensure_ascii=False))
    said: dict[str, list[str]] = {}  # properties not tested for the same reason, said once
    for v in untested:
        said.setdefault(v.message, []).append(v.prop)
    for message, props in said.items():
        console.print(f"[yellow]NOT TESTED[/yellow] {', '.join(props)}: {message}", soft_wrap=True)
    if violations:
        parts = []
        if broken:
            parts.append(f"{len(broken)} propert{'y' if len(broken) == 1 else 'ies'} violated")
        if untested:
            parts.append(f"{len(untested)} not tested (no example ran to completion)")
        console.print(", ".join(parts))
        raise typer.Exit(1)
    if left_out:
        console.print(f"the properties run hold ({len(left_out)} of {len(PROPERTIES)} left out)")
    else:
        console.print("all properties hold")


def _blind_said(blind: dict[str, str]) -> str:
    """What a reward declares it does not look at, each reason said once."""
    by_reason: dict[str, list[str]] = {}
    for name, why in blind.items():
        by_reason.setdefault(why, []).append(name)
    return "; ".join(f"{', '.join(names)} ({why})" for why, names in by_reason.items())


def _print_margins(rows: list[Any], examples: int, blind: dict[str, str]) -> None:
    """fuzz-reward's margins table (see redline.rewards.testing.margins)."""
    console.print(
        f"margins: each corruption against the perfect completion, up to {examples} cases "
        "each\n(below, ties, above: shares of the scored cases; drop: mean perfect - mean "
        "corrupted)"
    )
    columns = ("cases", "scored", "raised", "unscored", "perfect", "corrupted", "drop")
    header = "".join(f"{c:>10}" for c in (*columns, "below", "ties", "above"))
    console.print(f"  {'corruption':<16}{header}", highlight=False)

    def mean(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    def share(count: int, of: int) -> str:
        return "-" if of == 0 else f"{count / of:.0%}"

    for m in rows:
        cells = [m.cases, m.scored, m.raised, m.unscored]
        cells += [mean(m.perfect_mean), mean(m.corrupted_mean), mean(m.mean_drop)]
        cells += [share(n, m.scored) for n in (m.below, m.ties, m.above)]
        console.print(f"  {m.corruption:<16}" + "".join(f"{c:>10}" for c in cells), highlight=False)
    unseen = [
        f"{m.corruption} {share(m.ties, m.scored)}"
        + (" (declared: does not look at it)" if m.corruption in blind else "")
        for m in rows
        if m.ties
    ]
    if unseen:
        console.print(
            f"ties (cases the reward cannot tell from the perfect one): {', '.join(unseen)}",
            soft_wrap=True,
        )


def _import_target(where: str) -> ModuleType:
    """The module named by fuzz-reward's target: a file (``path/to/rewards.py``) or a module
    name, found from the current folder too. A file's own folder is put on the path so that
    it can import its neighbours."""
    import importlib.util
    import os

    if where.endswith(".py") or os.sep in where or "/" in where:
        path = Path(where).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such file {where}")
        name = "_redline_target_" + "".join(c if c.isalnum() else "_" for c in path.stem)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{where} cannot be imported as Python")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # what it defines (dataclasses, pickles) can find it
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(where)


def _import_failure(exc: Exception) -> str:
    """Why a target could not be loaded, with where in the user's code it went wrong."""
    if isinstance(exc, (FileNotFoundError, AttributeError, ModuleNotFoundError)):
        return str(exc)
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    place = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{place}"
