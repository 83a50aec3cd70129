"""The runner: suite -> backend -> completions -> scorers -> records in a run folder.

Generation and scoring are separate stages: ``rescore`` rebuilds every record of a finished
run from the folder alone. Each record is appended the moment its sample is scored, so a stopped
run keeps what it finished. Scoring rules stay in redline.metrics.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import aclosing, contextmanager, nullcontext
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
from redline.records import ErrorType, SampleRecord

T = TypeVar("T")
# Without a terminal, a progress line when another 5% is done (at most one a second), and at
# least every 10 s, also while the run waits on something slow.
LINE_STEP = 0.05
LINE_MIN_S = 1.0
LINE_MAX_S = 10.0


_REPARSED = ("json", "hermes", "python", "openai")  # formats rescore parses again


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Interrupted(BaseException):
    """Raised out of a batch backend's generation when a stop signal arrives (a BaseException,
    so that no ``except Exception`` in a model's code swallows it)."""


class Stop:
    """A request to stop taking samples, set by SIGINT or SIGTERM (see ``stop_on_signals``).

    A stream stops at once: the records finished are kept, the requests in flight dropped. A
    batch backend is interrupted mid-batch, which loses only that batch. A second signal stops
    whatever is running.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._interruptible = False
        self.wake: Any = None  # set by a stream: wakes its event loop

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def request(self, signum: int, frame: Any = None) -> None:
        """The signal handler."""
        again = self.signum is not None
        self.signum = self.signum or signum
        if again or self._interruptible:
            self._interruptible = False
            raise Interrupted(signum)
        if self.wake is not None:
            self.wake()

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """While inside, a signal raises Interrupted here instead of waiting for the batch."""
        if self.requested:
            raise Interrupted(self.signum)
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """A Stop that SIGINT and SIGTERM set while inside; the previous handlers come back after."""
    stop = Stop()
    previous = {sig: signal.signal(sig, stop.request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Report:
    """Progress: a live bar on a terminal; without one (CI, nohup, a pipe) plain lines to
    stderr, so a long run still shows it is moving: one when another 5% is done, and one from a
    heartbeat thread when none came for LINE_MAX_S (a long batch, a slow server)."""

    def __init__(self, name: str, total: int, resumed: int, backend: Backend, show: bool) -> None:
        self.name, self.total, self.backend, self.show = name, total, backend, show
        bar = show and sys.stderr.isatty()
        self.done = resumed
        self.new = 0
        self.rejected = 0
        self.start = self.last_line = time.perf_counter()
        self.last_done = resumed
        self.bar: Progress | None = None
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._beat: threading.Thread | None = None
        if show and not bar:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()
        if bar:
            self.bar = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            self.task = self.bar.add_task(name, total=total, completed=resumed, rate="")
            self.bar.start()

    def rate(self) -> str:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        text = f"{self.new / elapsed:,.1f} samples/s"
        tokens = getattr(self.backend, "generated_tokens", None)
        if tokens:
            text += f", {tokens / elapsed:,.0f} tokens/s"
        return text

    def advance(self, records: Sequence[SampleRecord]) -> None:
        self.done += len(records)
        self.new += len(records)
        self.rejected += sum(r.error_type == ErrorType.request_rejected for r in records)
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(self.task, advance=len(records), rate=self.rate())
            return
        if not self.show:
            return
        if (
            self.done - self.last_done >= LINE_STEP * self.total
            and now - self.last_line >= LINE_MIN_S
        ):
            self.line()

    def _heartbeat(self) -> None:
        while not self._quit.wait(LINE_MAX_S / 4):
            if time.perf_counter() - self.last_line >= LINE_MAX_S:
                self.line()

    def line(self) -> None:
        with self._lock:
            self.last_line, self.last_done = time.perf_counter(), self.done
            share = self.done / self.total if self.total else 1.0
            rejected = f", {self.rejected} rejected" if self.rejected else ""
            elapsed = time.perf_counter() - self.start
            print(
                f"{self.name}: {self.done}/{self.total} ({share:.0%}), {self.rate()}{rejected}, "
                f"{elapsed:,.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._beat is not None:
            self._quit.set()
            self._beat.join()
        if self.bar is not None:
            self.bar.stop()
        elif self.show and self.last_done != self.done and self.last_line > self.start:
            self.line()  # the last line says where it ended, if any line was printed


@dataclass
class RunResult:
    path: Path
    metrics: dict[str, Any]  # empty when the run was interrupted
    scored: int  # samples scored in this invocation
    resumed: int  # samples already in the folder
    problems: list[str]
    kept: int = 0  # records in the folder now
    rejected: int = 0  # records of the run whose request was rejected (request_rejected)
    first_rejection: str = ""  # "SAMPLE_ID: message" of the first of them
    interrupted: str = ""  # the signal that stopped the run ("SIGINT"), "" when it finished


def run_eval(
    suite: Suite,
    backend: Backend,
    out: str | os.PathLike,
    fmt: str = "auto",
    batch_size: int = 16,
    progress: bool = True,
    settings: dict[str, Any] | None = None,
    stop: Stop | None = None,
) -> RunResult:
    """Run ``backend`` on ``suite`` into the run folder ``out``, resuming what is already there.

    A backend with ``stream`` (openai:) runs as one stream over the suite; others run in
    batches of ``batch_size`` (in the backend's ``batch_order`` when it has one). Each record is
    appended and flushed as soon as it is scored. ``stop`` (see ``stop_on_signals``) ends the
    run early, keeping every finished record; an error raised by the backend leaves them kept
    too, with a note saying how many.
    """
    manifest = new_manifest(
        model=backend.spec,
        suite=suite.name,
        suite_version=suite.version,
        suite_hash=suite.suite_hash,
        samples=len(suite.samples),
        # Which part of the suite this run takes (a --limit draw, --first N), so that a raised
        # limit resumes it and a lowered or other one is refused.
        selection=suite.selection,
        sample_ids=suite.sample_ids,
        samples_hash=suite.content_hash,
        format=fmt,
        scorers=sorted(SCORERS),
        settings=settings or {},
    )
    folder = RunFolder(out, manifest)
    todo = [s for s in suite.samples if s.id not in folder.done]
    resumed = len(suite.samples) - len(todo)
    report = _Report(suite.name, len(suite.samples), resumed, backend, progress)
    first_rejection = ""

    def keep(records: Sequence[SampleRecord]) -> None:
        nonlocal first_rejection
        for record in records:
            folder.append_one(record)
            if not first_rejection and record.error_type == ErrorType.request_rejected:
                first_rejection = f"{record.sample.id}: {record.error_detail}"
        report.advance(records)

    try:
        if hasattr(backend, "stream"):
            asyncio.run(_stream(backend, todo, fmt, keep, stop))
        else:
            _batches(backend, todo, fmt, batch_size, keep, stop)
    except Interrupted:
        pass  # a signal in a batch's generation (that batch runs again on resume), or a second
    except Exception as exc:
        exc.add_note(f"{len(folder.done)} finished samples are kept in {folder.samples_path}")
        raise
    finally:
        folder.close()
        report.close()
    result = RunResult(folder.path, {}, report.new, resumed, folder.problems, len(folder.done))
    if stop is not None and stop.requested:
        result.interrupted = stop.signal_name
        return result
    result.metrics = folder.finish()
    result.rejected = result.metrics["overall"]["errors"].get(ErrorType.request_rejected, 0)
    if result.rejected and not first_rejection:  # rejected in an earlier invocation
        for record in read_records(folder.samples_path).records:
            if record.error_type == ErrorType.request_rejected:
                first_rejection = f"{record.sample.id}: {record.error_detail}"
                break
    result.first_rejection = first_rejection
    return result


def _batches(
    backend: Backend, todo: list[Any], fmt: str, batch_size: int, keep: Any, stop: Stop | None
) -> None:
    order = getattr(backend, "batch_order", None)
    if order is not None and len(todo) > 1:
        todo = order(todo)
    for batch in _chunks(todo, max(1, batch_size)):
        if stop is not None and stop.requested:
            return
        with stop.interruptible() if stop is not None else nullcontext():
            completions = backend.complete(batch, fmt)
        keep([score_sample(s, c) for s, c in zip(batch, completions, strict=True)])


async def _stream(backend: Any, todo: list[Any], fmt: str, keep: Any, stop: Stop | None) -> None:
    stopping = asyncio.Event()
    if stop is not None:
        loop = asyncio.get_running_loop()
        stop.wake = lambda: loop.call_soon_threadsafe(stopping.set)
        if stop.requested:
            stopping.set()
    try:
        async with aclosing(backend.stream(todo, fmt, stopping)) as completions:
            async for sample, completion in completions:
                keep([score_sample(sample, completion)])
    finally:
        if stop is not None:
            stop.wake = None


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
        # A rejected request has no output to parse: its record keeps the refusal.
        if completion.rejected is None and completion.format in _REPARSED:
            completion = parse(completion.raw, completion.format)
        records.append(score_sample(record.sample, completion))
    tmp = samples.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(record.to_json() + "\n")
    tmp.replace(samples)
    metrics = write_metrics(folder, records)
    return RunResult(folder, metrics, len(records), 0, loaded.problems)
