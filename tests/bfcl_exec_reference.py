"""Runs BFCL's own multi-turn executor on call strings, for the parity test; run it only in a
subprocess (the official executor evaluates its input). Reads a JSON list of entries on stdin,
writes each entry's per-turn result strings and final public state as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any


def snapshot(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """A JSON form of a value that two processes can compare: objects become their class name and
    public attributes (as BFCL's state check reads them), cycles a marker."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if id(value) in _seen:
        return "<cycle>"
    seen = _seen | {id(value)}
    if isinstance(value, dict):
        return {"__dict__": [[repr(k), snapshot(v, seen)] for k, v in value.items()]}
    if isinstance(value, list):
        return [snapshot(v, seen) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [snapshot(v, seen) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted(repr(v) for v in value)}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        public = {k: v for k, v in vars(value).items() if not k.startswith("_")}
        return {
            "__class__": type(value).__name__,
            **{k: snapshot(v, seen) for k, v in public.items()},
        }
    return repr(value)


def main() -> None:
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import (
        execute_multi_turn_func_call,
    )

    entries = json.load(sys.stdin)
    # A fresh model name per run: the official executor caches instances in module globals.
    model = f"parity_{uuid.uuid4().hex}"
    out = []
    for entry in entries:
        results, instances = [], {}
        for turn in entry["turns"]:
            turn_results, instances = execute_multi_turn_func_call(
                turn,
                entry["initial_config"],
                entry["involved_classes"],
                model,
                entry["id"],
                long_context=entry["long_context"],
            )
            results.append(turn_results)
        state = {name: snapshot(inst) for name, inst in instances.items()}
        out.append({"id": entry["id"], "results": results, "state": state})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
