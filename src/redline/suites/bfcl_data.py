"""BFCL v4 data: locate the files shipped in the `bfcl-eval` package and turn entries into Samples.

The package is located with importlib's spec lookup and never imported (importing it pulls in
dozens of API clients). Generation and scoring live elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

from redline.metrics.bfcl import ground_truth_calls
from redline.records import Expectation, Sample, ToolSpec

ENV_VAR = "REDLINE_BFCL_DATA"
PACKAGE = "bfcl_eval"
VERSION = "v4"

# Single-turn categories with AST-checked answers, and the (ir)relevance ones without answers,
# in the leaderboard's two halves, non-live and live.
NON_LIVE_AST = (
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
)
LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
AST_CATEGORIES = NON_LIVE_AST + LIVE_AST
NON_LIVE_CATEGORIES = (*NON_LIVE_AST, "irrelevance")
LIVE_CATEGORIES = (*LIVE_AST, "live_irrelevance", "live_relevance")
PYTHON_AST_CATEGORIES = tuple(
    c for c in AST_CATEGORIES if c not in ("simple_java", "simple_javascript")
)
RELEVANCE_CATEGORIES = ("irrelevance", "live_irrelevance", "live_relevance")
SINGLE_TURN_CATEGORIES = AST_CATEGORIES + RELEVANCE_CATEGORIES
EXPECTATION: dict[str, Expectation] = {
    "irrelevance": "no_call",
    "live_irrelevance": "no_call",
    "live_relevance": "any_call",
}


class BFCLDataError(RuntimeError):
    """BFCL data cannot be found or read; the message says where and what to do."""


def bfcl_data_dir(override: str | os.PathLike | None = None) -> Path:
    """The BFCL data folder: ``override``, else ``$REDLINE_BFCL_DATA``, else bfcl-eval's own."""
    if override is not None or os.environ.get(ENV_VAR):
        path = Path(override if override is not None else os.environ[ENV_VAR])
        source = "--bfcl-data" if override is not None else f"${ENV_VAR}"
        if not path.is_dir():
            raise BFCLDataError(f"{source} points at {path}, which is not a folder")
        return path
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BFCLDataError(
            "BFCL data not found: install it with `pip install --no-deps bfcl-eval` "
            f"(make setup does), or point --bfcl-data / ${ENV_VAR} at a copy of its data/ folder"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not path.is_dir():
        raise BFCLDataError(f"the bfcl-eval package at {path.parent} has no data/ folder")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BFCLDataError(f"missing BFCL file {path}")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BFCLDataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
    return rows


def load_entries(category: str, data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Raw BFCL entries of one category, each with its ``ground_truth`` attached when it has one."""
    if category not in SINGLE_TURN_CATEGORIES:
        raise BFCLDataError(
            f"unknown BFCL category {category!r}; known: {', '.join(SINGLE_TURN_CATEGORIES)}"
        )
    root = bfcl_data_dir(data_dir)
    name = f"BFCL_{VERSION}_{category}.json"
    entries = _read_jsonl(root / name)
    if category in AST_CATEGORIES:
        answers = {
            row["id"]: row["ground_truth"] for row in _read_jsonl(root / "possible_answer" / name)
        }
        for entry in entries:
            if entry["id"] not in answers:
                raise BFCLDataError(
                    f"{root / 'possible_answer' / name}: no answer for {entry['id']}"
                )
            entry["ground_truth"] = answers[entry["id"]]
    return entries


def entry_to_sample(entry: dict[str, Any], category: str) -> Sample:
    """A BFCL single-turn entry as a Sample (first turn's messages, functions as tools)."""
    question = entry.get("question") or [[]]
    messages = question[0] if question and isinstance(question[0], list) else question
    answer = entry.get("ground_truth")
    return Sample(
        id=entry["id"],
        messages=messages,
        tools=[ToolSpec.model_validate(f) for f in entry.get("function", [])],
        expect=EXPECTATION.get(category, "calls"),
        expected=ground_truth_calls(answer, entry.get("function")) if answer is not None else None,
        possible_answer=answer,
        category=category,
        bfcl_category=category,
    )


def load_samples(category: str, data_dir: str | os.PathLike | None = None) -> list[Sample]:
    return [entry_to_sample(e, category) for e in load_entries(category, data_dir)]


def load_official_checker() -> types.ModuleType:
    """Import bfcl-eval's own AST checker, unchanged, for differential tests and benchmarks.

    Only ``bfcl_eval.constants.model_config`` pulls in the API clients, so a stand-in with the
    one name the checker reads (``MODEL_CONFIG_MAPPING``) is placed in ``sys.modules`` first.
    Every model name maps to a config without underscore-to-dot renaming.
    """
    name = "bfcl_eval.constants.model_config"
    if name not in sys.modules:
        stand_in = types.ModuleType(name)

        class _Config:
            underscore_to_dot = False

        class _Mapping(dict):
            # Stored on first use, so later look-ups cost what the real dict's do.
            def __missing__(self, key: str) -> _Config:
                config = self[key] = _Config()
                return config

        stand_in.MODEL_CONFIG_MAPPING = _Mapping()
        sys.modules[name] = stand_in
    from bfcl_eval.eval_checker.ast_eval import ast_checker

    return ast_checker


def load_official_format_check():
    """bfcl-eval's own output-format check (``is_function_calling_format_output``), unchanged.

    The official runner applies it before the AST checker. Its module imports ``filelock``,
    which the no-deps install lacks and the check never uses, so a stand-in is provided when the
    real package is missing.
    """
    load_official_checker()
    if importlib.util.find_spec("filelock") is None and "filelock" not in sys.modules:
        stand_in = types.ModuleType("filelock")
        stand_in.FileLock = object
        sys.modules["filelock"] = stand_in
    from bfcl_eval.utils import is_function_calling_format_output

    return is_function_calling_format_output
