"""`redline data ...` and `redline train ...`: typer commands over redline.training.

Options in, library calls, tables out; the work is in redline.training's data, sft and grpo.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from redline.cli.common import console, err_console

data_app = typer.Typer(help="Prepare training data.", no_args_is_help=True)
train_app = typer.Typer(
    help="Train with TRL + PEFT: LoRA SFT, merge, and GRPO under the red-line gate.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


@data_app.command("prepare")
def prepare_cmd(
    source: Annotated[
        str,
        typer.Option(
            help="builtin (the offline set, made from the dev set's tools with other wording), "
            "xlam (Salesforce's xlam-function-calling-60k from the hub, or $REDLINE_XLAM; its "
            "train part only), or a local file in xlam's format (JSON or JSON lines)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder to write the prepared data into.")],
    mode: Annotated[
        str, typer.Option(help="Prompt mode the data is written for: json, native or python.")
    ] = "json",
    negatives: Annotated[
        float,
        typer.Option(
            help="Share of negative samples (no offered tool fits; answered without a call).",
            min=0.0,
            max=0.9,
        ),
    ] = 0.1,
    limit: Annotated[int | None, typer.Option(help="Read only the first N rows.", min=1)] = None,
    builtin_size: Annotated[
        int, typer.Option(help="Rows generated for --source builtin.", min=1)
    ] = 1200,
    general_share: Annotated[
        float,
        typer.Option(
            help="Share of general replay items: plain requests with no tools, answered as the "
            "starting model answers them, so SFT keeps its general behaviour (the seed: 1-5%).",
            min=0.0,
            max=0.5,
        ),
    ] = 0.0,
    general: Annotated[
        str,
        typer.Option(
            help="General prompts: builtin (144 seeded requests) or a JSON-lines file of "
            '{"prompt": ..., "response": ...} (response optional).'
        ),
    ] = "builtin",
    general_model: Annotated[
        str | None,
        typer.Option(
            help="Model that answers general prompts given without a response (usually the "
            "base model: smollm2, hf:PATH or openai:URL#MODEL)."
        ),
    ] = None,
    general_max_new_tokens: Annotated[
        int, typer.Option(help="Longest general answer generated, in tokens.", min=1)
    ] = 160,
) -> None:
    """Validate examples in three layers (format: the answers parse as calls; execution: the
    arguments validate against the tool schemas; semantic: no empty required strings, values
    within enums and ranges), drop duplicates and every prompt an evaluation suite asks, add
    negatives and general replay, split 90/10 with seed 42, and write OUT/train.jsonl and
    OUT/val.jsonl (TRL conversational prompt-completion rows with a tools column), OUT/sharegpt/
    with dataset_info.json for LLaMA-Factory, OUT/prepare_report.json and OUT/dropped.jsonl."""
    from redline.harness.backends import BackendError
    from redline.training.data import DataError, prepare, write_prepared
    from redline.training.general import model_answerer

    if (general_model or general != "builtin") and not general_share:
        raise _fail("--general and --general-model take effect only with --general-share above 0")
    try:
        answerer = None
        if general_share and general_model:
            answerer = model_answerer(general_model, max_new_tokens=general_max_new_tokens)
        prepared = prepare(
            source,
            mode=mode,
            negatives=negatives,
            limit=limit,
            builtin_size=builtin_size,
            general=general,
            general_share=general_share,
            answerer=answerer,
        )
    except (DataError, BackendError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    write_prepared(prepared, out, mode)
    report = prepared.report()
    table = Table(title=f"prepared {source} -> {out}")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_column("why", overflow="fold")
    table.add_row("read", str(report["read"]), "")
    for layer, count in report["dropped"].items():
        reasons = report["drop_reasons"].get(layer, {})
        why = ", ".join(f"{k} ({v})" for k, v in list(reasons.items())[:4])
        table.add_row(f"dropped: {layer}", str(count), why)
    table.add_row("negatives added", str(report["negatives_added"]), "")
    if general_share:
        added, wanted = report["general_added"], report["general_wanted"]
        why = general if added == wanted else f"{general}: {wanted} wanted, the prompts ran out"
        table.add_row("general replay added", str(added), why)
    table.add_row("train / val", f"{report['train']} / {report['val']}", "seed 42, 90/10")
    console.print(table)
    console.print(f"checked against {len(report['suites_checked'])} evaluation suites")
    if prepared.unreadable:
        first = prepared.unreadable[0]
        count = len(prepared.unreadable)
        console.print(
            f"[yellow]{count} bad line{'s' if count != 1 else ''}[/yellow] (not JSON, or not an "
            f"object) dropped and the rest prepared; each is in {out / 'dropped.jsonl'} with its "
            f"FILE:LINE. First: {first.where}: {first.reason}",
            soft_wrap=True,
        )


ConfigArg = Annotated[Path, typer.Option("--config", help="YAML config (see the README).")]
OutOption = Annotated[Path | None, typer.Option(help="Run folder (overrides the config's out).")]
StepsOption = Annotated[
    int | None,
    typer.Option(help="Stop after N optimizer steps (overrides the config).", min=1),
]


@train_app.command("sft")
def sft_cmd(config: ConfigArg, out: OutOption = None, max_steps: StepsOption = None) -> None:
    """LoRA SFT with TRL's SFTTrainer. Defaults are the seed's: r=32, alpha=64, all linear
    layers, lr 2e-4, 3 epochs, seed 42, bf16 and gradient checkpointing on a GPU that has them.
    Only base_model and data are required. Writes OUT/adapter, OUT/training.json and
    OUT/train_log.jsonl."""
    from redline.training.config import ConfigError, SFTSettings, load_config
    from redline.training.sft import run_sft

    try:
        settings = load_config(config, SFTSettings, out=out, max_steps=max_steps)
        adapter = run_sft(settings)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"adapter saved: {adapter}")


@train_app.command("merge")
def merge_cmd(
    base: Annotated[str, typer.Option(help="Base model: smollm2, a hub id or a folder.")],
    adapter: Annotated[Path, typer.Option(help="LoRA adapter folder.")],
    out: Annotated[Path, typer.Option(help="Folder for the merged model.")],
) -> None:
    """Fold a LoRA adapter into its base model and save a plain model folder with the
    tokenizer (servable by vLLM or `transformers serve`, loadable as hf:OUT)."""
    from redline.training.config import ConfigError, adapter_problem
    from redline.training.sft import merge_adapter

    problem = adapter_problem(adapter)
    if problem:
        raise _fail(problem)
    try:
        merged = merge_adapter(base, adapter, out)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"merged model saved: {merged}")


@train_app.command("grpo")
def grpo_cmd(config: ConfigArg, out: OutOption = None, max_steps: StepsOption = None) -> None:
    """GRPO with TRL's GRPOTrainer, PEFT LoRA and redline's rewards (the config's composite
    spec; each component is logged). beta > 0, so the KL term exists. Every gate.every steps
    the red-line gate evaluates the adapter on gate.suites, compares with the starting
    checkpoint's runs and acts: raise beta, then lower the learning rate, then stop and restore
    the best checkpoint that held. Decisions go to OUT/gate_log.jsonl."""
    from redline.training.config import ConfigError, GRPOSettings, load_config
    from redline.training.grpo import run_grpo

    try:
        settings = load_config(config, GRPOSettings, out=out, max_steps=max_steps)
        adapter = run_grpo(settings)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    gate_log = settings.out / "gate_log.jsonl"
    if gate_log.is_file():
        table = Table(title="gate decisions")
        cols = ("step", "held", "action", "beta", "lr scale", "KL probe", "breaches")
        for col in (*cols, "underpowered lines"):
            table.add_column(col)
        for line in gate_log.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            kl = row.get("kl_probe")
            table.add_row(
                str(row["step"]),
                "yes" if row["held"] else "no",
                row["action"] + (f" -> {row['restored']}" if row.get("restored") else ""),
                f"{row['beta']:.3g}",
                f"{row['lr_scale']:.3g}",
                "-" if kl is None else f"{kl:.4f}",
                "; ".join(b["metric"] for b in row["breaches"]) or "-",
                # Lines that held on too few samples to detect a drop of their max_drop.
                str(sum(c["underpowered"] for c in row.get("checks", []))),
            )
        console.print(table)
    console.print(f"adapter saved: {adapter}")
