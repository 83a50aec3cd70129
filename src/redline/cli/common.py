"""What the command groups share: the consoles, the options `eval` and `bfcl` both take, the
command line that resumes a run, their exit statuses, and the metrics table `eval` and `score`
print.

Importing it imports typer and rich only, so that `redline --help` stays fast."""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

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
DEFAULT_CONCURRENCY = 32


ConcurrencyOption = Annotated[
    int,
    typer.Option(
        help="Requests in flight at once (openai:). The default suits vLLM or SGLang, which "
        "batch what they hold; use 1-4 for a llama.cpp server with few slots or a "
        "rate-limited API.",
        min=1,
    ),
]


def resume_command(ctx: typer.Context, out: Path) -> str:
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


def fmt_percent(value: float | None) -> str:
    """A rate (0-1) in percent with one decimal, as the tables show it; '-' for none."""
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


# The summary's columns: metrics.json's names, and the short headers they are shown under.
_TABLE_METRICS = {
    "parse_rate": "parse",
    "ast_accuracy": "AST",
    "irrelevance": "irrelevance",
    "param_f1": "param F1",
    "schema_hit_rate": "schema",
    "exec_rate": "exec",
}


def metrics_table(title: str, metrics: dict) -> Group:
    """A run's metrics.json as a table: overall, then each category, with the top errors."""
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
        values = [
            fmt_percent(part["metrics"][m]["value"]) if m in part["metrics"] else "-" for m in names
        ]
        errors = ", ".join(f"{k} {v}" for k, v in list(part["errors"].items())[:2]) or "-"
        table.add_row(name, str(part["samples"]), *values, errors)
    legend = f"in metrics.json: {', '.join(names)}; '-' = not applicable"
    return Group(table, Text(legend, style="dim"))


def check_replay(backend: Any, samples: list, suite: str) -> list[str]:
    """A replay file is checked against the whole suite before anything runs: one that misses
    samples is refused (BackendError, exit 2) with the counts; under --allow-missing the
    message that says how many become no_output is returned, to be printed."""
    from redline.harness.backends import ReplayBackend

    if not isinstance(backend, ReplayBackend):
        return []
    said = backend.check(samples, suite)
    return [said] if said else []


def check_run_options(mode: str, limit: int | None, first: int | None) -> None:
    """The option checks eval and bfcl share: a known prompt mode, and a draw or a first N."""
    from redline.harness.prompts import MODES

    if mode not in MODES:
        raise typer.BadParameter(f"unknown prompt mode {mode!r}", param_hint="--mode")
    if limit is not None and first is not None:
        raise typer.BadParameter(
            "give --limit (a draw by category) or --first (the first N), not both",
            param_hint="--first",
        )


def run_settings(
    model: str, mode: str, sampling: Any, limit: int | None, batch_size: int, concurrency: int
) -> dict[str, Any]:
    """What a run's manifest records of how eval and bfcl generate (offline specs generate
    nothing, so they record no mode or sampling)."""
    offline = model == "truth" or model.startswith("replay:")
    return {
        "limit": limit,
        "batch_size": batch_size,
        "concurrency": concurrency if model.startswith("openai:") else None,
        "mode": None if offline else mode,
        "sampling": None if offline else sampling.__dict__,
    }


@contextmanager
def run_exits(resume: str, extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """The exit statuses eval and bfcl share: 2 for a suite, backend or run folder that cannot
    be used (and ``extra``), 130 for a signal before any sample ran, 3 for a server that is down,
    each with its message; what finished is kept in every case."""
    from redline.harness.backends import BackendError
    from redline.harness.openai_backend import ServerError
    from redline.harness.runner import Interrupted
    from redline.harness.runs import RunError
    from redline.suites.registry import SuiteError

    try:
        yield
    except (SuiteError, BackendError, RunError, *extra) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except Interrupted as exc:
        name = signal.Signals(exc.args[0]).name if exc.args else "a signal"
        err_console.print(f"stopped by {name} before any sample ran")
        raise typer.Exit(130) from exc
    except ServerError as exc:
        kept = "".join(f"\n{note};" for note in getattr(exc, "__notes__", []))
        err_console.print(
            f"[red]error:[/red] {exc}{kept}\nrun the same command again to resume:\n  {resume}"
        )
        raise typer.Exit(3) from exc


def exit_if_rejected(rejected: int, first: str, of: str) -> None:
    """Exit 4 when the server rejected requests, naming how many and the first."""
    if rejected:
        err_console.print(
            f"[red]error:[/red] {rejected}{of} requests were rejected (kept as failed "
            f"request_rejected records); first: {first}"
        )
        raise typer.Exit(4)
