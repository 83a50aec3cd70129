"""What the benchmarks share: the official checker (and decoder) as the runner uses them, and
best-of-N timing."""

from __future__ import annotations

import gc
import importlib.util
import os
import platform
import sys
import types
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


class _Unused:
    """Stands for any name of a package the decoder imports but these formats never call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Unused()

    def __getattr__(self, name: str) -> Any:
        return _Unused()


def official_decoder(fmt: str) -> Callable[[str], Any]:
    """bfcl-eval's own decoding of a prompting model's raw output, unchanged
    (``default_decode_ast_prompting``): ``python`` (BFCL's default format, read with ``ast``)
    or ``json`` (a list of ``{"function", "parameters"}``). Its module imports tenacity (for API
    retries) and tree-sitter (for Java and JavaScript), which the no-deps install lacks and
    these formats never use: stand-ins take their place when the real packages are missing."""
    for name in ("tenacity", "tree_sitter", "tree_sitter_java", "tree_sitter_javascript"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            stand_in = types.ModuleType(name)
            stand_in.__getattr__ = lambda attribute: _Unused()  # type: ignore[method-assign]
            sys.modules[name] = stand_in
    load_official_checker()  # its stand-in for the API clients' model table
    from bfcl_eval.constants.enums import ReturnFormat
    from bfcl_eval.model_handler.utils import default_decode_ast_prompting

    language = {"python": ReturnFormat.PYTHON, "json": ReturnFormat.JSON}[fmt]
    return lambda text: default_decode_ast_prompting(text, language)


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
