"""What the benchmarks share: the official checker as the runner uses it, and best-of-N timing."""

from __future__ import annotations

import gc
import os
import platform
from collections.abc import Callable
from typing import Any

from redline.suites.bfcl_data import load_official_checker, load_official_format_check


def official_check() -> Callable[[Any, Any, Any, str], Any]:
    """bfcl-eval's two steps on decoded output: the format check, then ``ast_checker``."""
    checker = load_official_checker()
    format_ok = load_official_format_check()
    from bfcl_eval.constants.enums import Language

    def run(functions: Any, calls: Any, answer: Any, category: str) -> Any:
        if not format_ok(calls):
            return None
        try:
            return checker.ast_checker(functions, calls, answer, Language.PYTHON, category, "bench")
        except Exception:  # noqa: BLE001 - a crash counts as a failed check
            return None

    return run


def best_rates(
    passes: dict[str, Callable[[], float]], repeats: int, items: int
) -> dict[str, float]:
    """Items per second of each timed pass, best of ``repeats``; the passes are interleaved so
    drift on the machine hits all alike, and run without garbage-collector pauses (as timeit)."""
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(repeats):
        for name, run in passes.items():
            gc.collect()
            gc.disable()
            try:
                times[name].append(run())
            finally:
                gc.enable()
    # Best of N, as timeit recommends: noise on a shared machine only ever adds time.
    return {name: items / min(t) for name, t in times.items()}


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
