"""The `redline` command line: a thin typer layer over the harness, metrics and suites.

Each command parses options, calls library functions and prints; no scoring logic lives here.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from redline import __version__

app = typer.Typer(
    help="redline: evaluation-first harness for function-calling models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
# Tables are wide; keep them readable when output goes to a pipe or a CI log.
console = Console(width=max(120, Console().width))
err_console = Console(stderr=True, soft_wrap=True)  # messages name files: never cut them

BfclDataOption = Annotated[
    Path | None,
    typer.Option(
        "--bfcl-data",
        envvar="REDLINE_BFCL_DATA",
        help="Folder with BFCL v4 data files (default: the data shipped in the bfcl-eval package).",
        show_default=False,
    ),
]

# Options `eval` and `bfcl` share, defined once so that the two commands cannot drift apart.
MODEL_SPEC_HELP = (
    "truth (the answers themselves, a self-test), replay:FILE (outputs made elsewhere: a "
    "redline samples.jsonl or a BFCL result file), smollm2 (the embedded default), "
    "smollm2+lora:ADAPTER (an adapter on it), hf:PATH_OR_ID[+lora:ADAPTER] (a transformers "
    "model, with an adapter) or openai:BASE_URL#MODEL (any OpenAI-compatible server; key from "
    "$OPENAI_API_KEY)"
)
MaxNewTokensOption = Annotated[int, typer.Option(help="Tokens generated at most.", min=1)]
TemperatureOption = Annotated[float, typer.Option(help="0 for greedy decoding.", min=0.0)]
SeedOption = Annotated[int, typer.Option(help="Sampling seed.")]
ThinkingOption = Annotated[
    bool, typer.Option(help="Let Qwen3-style chat templates reason first (off for calls).")
]
AllowMissingOption = Annotated[
    bool,
    typer.Option(
        "--allow-missing",
        help="For replay:FILE: record the samples the file has no output for as no_output "
        "(failures) and say how many, instead of refusing the file.",
    ),
]


# Requests in flight for openai: models (redline.harness.openai_backend.DEFAULT_CONCURRENCY,
# repeated so that --help does not import httpx).
_CONCURRENCY = 32


ConcurrencyOption = Annotated[
    int,
    typer.Option(
        help="Requests in flight at once (openai:). The default suits vLLM or SGLang, which "
        "batch what they hold; use 1-4 for a llama.cpp server with few slots or a "
        "rate-limited API.",
        min=1,
    ),
]


def _resume_command(ctx: typer.Context, out: Path) -> str:
    """The command line that runs this command again into ``out``: the options given, as
    parsed (so it is right however redline was started), with --out named."""
    import shlex

    parts = ["redline", ctx.info_name or ""]
    for param in ctx.command.params:
        if param.param_type_name != "option":
            continue
        value = out if param.name == "out" else ctx.params.get(param.name)
        if value is None or (value == param.default and param.name != "out"):
            continue
        if getattr(param, "is_flag", False):
            parts.append(param.opts[0] if value else param.secondary_opts[0])
        elif isinstance(value, list | tuple):  # a repeatable option: -c a -c b
            parts += [x for item in value for x in (max(param.opts, key=len), str(item))]
        else:
            parts += [max(param.opts, key=len), str(value)]
    return shlex.join(parts)


def _fmt(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


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
    # Only the top-level options live here; each command is its own function below.
    pass


@app.command()
def version() -> None:
    """Print redline's version."""
    _print_version(True)


@app.command("bfcl-truth")
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
            return _fmt(m[name].value if name in m else None)

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


@app.command("parse")
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


@app.command("fuzz-reward")
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


# The summary's columns: metrics.json's names, and the short headers they are shown under.
_TABLE_METRICS = {
    "parse_rate": "parse",
    "ast_accuracy": "AST",
    "irrelevance": "irrelevance",
    "param_f1": "param F1",
    "schema_hit_rate": "schema",
    "exec_rate": "exec",
}


def _metrics_table(title: str, metrics: dict) -> Group:
    overall = metrics["overall"]["metrics"]

    def applies(name: str) -> bool:  # some sample of the run was scored (or failed to be)
        counts = overall.get(name) or {}
        return counts.get("scored", 0) + counts.get("unscored", 0) > 0

    # Every run reports every metric; a general-ability run (answer accuracy) has none of the
    # function-calling ones, a function-calling run no answer accuracy.
    names = dict(_TABLE_METRICS)
    if applies("answer_accuracy"):
        if not any(applies(name) for name in _TABLE_METRICS):
            names = {}
        names["answer_accuracy"] = "answer"
    table = Table(title=title)
    table.add_column("category", no_wrap=True)
    table.add_column("n", justify="right")
    for label in names.values():
        table.add_column(label, justify="right")
    table.add_column("top errors")
    rows = [("overall", metrics["overall"])] + list(metrics["categories"].items())
    for name, part in rows:
        values = [_fmt(part["metrics"][m]["value"]) if m in part["metrics"] else "-" for m in names]
        errors = ", ".join(f"{k} {v}" for k, v in list(part["errors"].items())[:2]) or "-"
        table.add_row(name, str(part["samples"]), *values, errors)
    legend = f"in metrics.json: {', '.join(names)}; '-' = not applicable"
    return Group(table, Text(legend, style="dim"))


@app.command("suites")
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


@app.command("eval")
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
    concurrency: ConcurrencyOption = _CONCURRENCY,
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
    from redline.harness.backends import BackendError, make_backend, model_label
    from redline.harness.models import Sampling
    from redline.harness.openai_backend import ServerError
    from redline.harness.prompts import MODES
    from redline.harness.runner import Interrupted, run_eval, stop_on_signals
    from redline.harness.runs import RunError
    from redline.parsing import PARSERS
    from redline.suites.registry import SuiteError, load_suite

    if mode not in MODES:
        raise typer.BadParameter(f"unknown prompt mode {mode!r}", param_hint="--mode")
    if limit is not None and first is not None:
        raise typer.BadParameter(
            "give --limit (a draw by category) or --first (the first N), not both",
            param_hint="--first",
        )
    if fmt is not None and fmt != "auto" and fmt not in PARSERS:
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    offline = model == "truth" or model.startswith("replay:")
    fmt = fmt or ("auto" if offline else MODES[mode].parser)
    sampling = Sampling(
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, enable_thinking=thinking
    )
    out = out or Path("runs") / f"{_suite_label(suite)}-{model_label(model)}"
    resume = _resume_command(ctx, out)
    try:
        with stop_on_signals() as stop:
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
            said = _check_replay(backend, loaded.samples, suite)
            result = run_eval(
                loaded,
                backend,
                out,
                fmt=fmt,
                batch_size=batch_size,
                progress=True,
                stop=stop,
                settings={
                    "limit": limit,
                    "batch_size": batch_size,
                    "concurrency": concurrency if model.startswith("openai:") else None,
                    "mode": None if offline else mode,
                    "sampling": None if offline else sampling.__dict__,
                },
            )
    except (SuiteError, BackendError, RunError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except Interrupted as exc:
        err_console.print(f"stopped by {stop.signal_name} before any sample ran")
        raise typer.Exit(130) from exc
    except ServerError as exc:
        kept = "".join(f"\n{note};" for note in getattr(exc, "__notes__", []))
        err_console.print(
            f"[red]error:[/red] {exc}{kept}\nrun the same command again to resume:\n  {resume}"
        )
        raise typer.Exit(3) from exc
    for problem in [*result.problems, *said]:
        err_console.print(f"[yellow]warning:[/yellow] {problem}")
    if result.interrupted:
        err_console.print(
            f"stopped by {result.interrupted}: {result.kept} of {len(loaded.samples)} samples "
            f"are kept in {result.path / 'samples.jsonl'} ({result.scored} scored now); run the "
            f"same command again to resume:\n  {resume}"
        )
        raise typer.Exit(130)
    console.print(_metrics_table(f"{suite} with {model}", result.metrics))
    console.print(
        f"{result.scored} samples scored now, {result.resumed} resumed; run folder: {result.path}"
    )
    if result.rejected:
        err_console.print(
            f"[red]error:[/red] {result.rejected} of {len(loaded.samples)} requests were "
            f"rejected (kept as failed request_rejected records); first: {result.first_rejection}"
        )
        raise typer.Exit(4)


def _suite_label(suite: str) -> str:
    """A suite name as part of a folder name: ``bfcl:simple_python`` -> ``bfcl-simple_python``."""
    return "".join(c if c.isalnum() or c in "._+-" else "-" for c in suite)


def _check_replay(backend: Any, samples: list, suite: str) -> list[str]:
    """A replay file is checked against the whole suite before anything runs: one that misses
    samples is refused (BackendError, exit 2) with the counts; under --allow-missing the
    message that says how many become no_output is returned, to be printed."""
    from redline.harness.backends import ReplayBackend

    if not isinstance(backend, ReplayBackend):
        return []
    said = backend.check(samples, suite)
    return [said] if said else []


@app.command("bfcl")
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
    concurrency: ConcurrencyOption = _CONCURRENCY,
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

    from redline.harness.backends import BackendError, make_backend, model_label
    from redline.harness.models import Sampling
    from redline.harness.openai_backend import ServerError
    from redline.harness.prompts import MODES
    from redline.harness.runner import Interrupted, run_eval, stop_on_signals
    from redline.harness.runs import RunError
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
    from redline.suites.registry import SuiteError, load_suite

    if mode not in MODES:
        raise typer.BadParameter(f"unknown prompt mode {mode!r}", param_hint="--mode")
    if limit is not None and first is not None:
        raise typer.BadParameter(
            "give --limit (a draw) or --first (the first N), not both", param_hint="--first"
        )
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
    resume = _resume_command(ctx, folder)
    rejected: list[tuple[int, str]] = []  # per category: count, first message
    try:
        with stop_on_signals() as stop:
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
            said = _check_replay(backend, every, named)
            for category, suite in suites.items():
                result = run_eval(
                    suite,
                    backend,
                    folder / category,
                    fmt="auto" if offline else MODES[mode].parser,
                    batch_size=batch_size,
                    progress=True,  # a bar on a terminal, else lines on stderr
                    stop=stop,
                    settings={
                        "limit": limit,
                        "batch_size": batch_size,
                        "concurrency": concurrency if model.startswith("openai:") else None,
                        "mode": None if offline else mode,
                        "sampling": None if offline else sampling.__dict__,
                    },
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
    except (SuiteError, BackendError, RunError, bd.BFCLDataError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except Interrupted as exc:
        err_console.print(f"stopped by {stop.signal_name} before any sample ran")
        raise typer.Exit(130) from exc
    except ServerError as exc:
        kept = "".join(f"\n{note};" for note in getattr(exc, "__notes__", []))
        err_console.print(
            f"[red]error:[/red] {exc}{kept}\nrun the same command again to resume:\n  {resume}"
        )
        raise typer.Exit(3) from exc
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
    if rejected:
        count = sum(n for n, _ in rejected)
        err_console.print(
            f"[red]error:[/red] {count} requests were rejected (kept as failed request_rejected "
            f"records); first: {rejected[0][1]}"
        )
        raise typer.Exit(4)


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


@app.command("gate")
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


@app.command("score")
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
    console.print(_metrics_table(f"{run} re-scored", result.metrics))


RedlinesOption = Annotated[
    Path | None,
    typer.Option(
        help="YAML list of red lines for comparisons (default: the seed's rules; see "
        "`redline gate`)."
    ),
]


@app.command("report")
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


@app.command("explore")
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


def _add_training_commands() -> None:
    from redline.training.cli import data_app, train_app

    app.add_typer(data_app, name="data")
    app.add_typer(train_app, name="train")


_add_training_commands()


def main() -> None:  # pragma: no cover - console entry point
    app()
