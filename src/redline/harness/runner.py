"""The runner: suite -> backend -> completions -> scorers -> records in a run folder.

Generation and scoring are separate stages: ``rescore`` rebuilds every record of a finished
run from the folder alone. Scoring rules stay in redline.metrics.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from redline.harness.backends import Backend
from redline.harness.runs import (
    SAMPLES,
    RunError,
    RunFolder,
    new_manifest,
    read_records,
    write_metrics,
)
from redline.harness.suite import Suite
from redline.metrics.scorers import SCORERS, score_sample
from redline.parsing import parse

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class RunResult:
    path: Path
    metrics: dict[str, Any]
    scored: int  # samples scored in this invocation
    resumed: int  # samples already in the folder
    problems: list[str]


def run_eval(
    suite: Suite,
    backend: Backend,
    out: str | os.PathLike,
    fmt: str = "auto",
    batch_size: int = 16,
    progress: bool = True,
    settings: dict[str, Any] | None = None,
) -> RunResult:
    """Run ``backend`` on ``suite`` into the run folder ``out``, resuming what is already there."""
    manifest = new_manifest(
        model=backend.spec,
        suite=suite.name,
        suite_version=suite.version,
        suite_hash=suite.content_hash,
        samples=len(suite.samples),
        format=fmt,
        scorers=sorted(SCORERS),
        settings=settings or {},
    )
    folder = RunFolder(out, manifest)
    todo = [s for s in suite.samples if s.id not in folder.done]
    resumed = len(suite.samples) - len(todo)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    start = time.perf_counter()
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(suite.name, total=len(suite.samples), completed=resumed, rate="")
        done = 0
        for batch in _chunks(todo, max(1, batch_size)):
            completions = backend.complete(batch, fmt)
            folder.append(score_sample(s, c) for s, c in zip(batch, completions, strict=True))
            done += len(batch)
            elapsed = max(time.perf_counter() - start, 1e-9)
            rate = f"{done / elapsed:,.1f} samples/s"
            tokens = getattr(backend, "generated_tokens", None)
            if tokens:
                rate += f", {tokens / elapsed:,.0f} tokens/s"
            bar.update(task, advance=len(batch), rate=rate)
    metrics = folder.finish()
    return RunResult(folder.path, metrics, len(todo), resumed, folder.problems)


def rescore(path: str | os.PathLike) -> RunResult:
    """Score every record of a finished run again, offline, from the folder alone."""
    folder = Path(path)
    samples = folder / SAMPLES
    if not samples.exists():
        raise RunError(f"{folder} holds no {SAMPLES}: not a run folder")
    loaded = read_records(samples)
    if loaded.problems:
        # Rewriting would drop these lines: stop and say where they are instead.
        raise RunError("cannot re-score, unreadable lines: " + "; ".join(loaded.problems[:5]))
    records = []
    for record in loaded.records:
        # Re-parse the raw output in its own format, so parser and scorer changes both apply.
        completion = record.completion
        if completion.format in ("json", "hermes", "python", "openai"):
            completion = parse(completion.raw, completion.format)
        records.append(score_sample(record.sample, completion))
    tmp = samples.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(record.to_json() + "\n")
    tmp.replace(samples)
    metrics = write_metrics(folder, records)
    return RunResult(folder, metrics, len(records), 0, loaded.problems)
