"""Salesforce/xlam-function-calling-60k as Samples, read through HF ``datasets`` from the hub id
or a local file in the same format (``query``, ``tools`` and ``answers`` as JSON strings).

The 90/10 train/test split uses seed 42, as in the seed project. Loading only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from redline.records import Sample, ToolCall, ToolSpec

HUB_ID = "Salesforce/xlam-function-calling-60k"
ENV_VAR = "REDLINE_XLAM"  # a local file, or another hub id
SPLIT_SEED = 42
TEST_SIZE = 0.1


class XlamError(ValueError):
    """The xlam data cannot be loaded or a row is malformed; the message names the row."""


def _load(source: str) -> Any:
    from datasets import load_dataset

    path = Path(source)
    if path.is_file():
        kind = "json" if path.suffix in (".json", ".jsonl") else path.suffix.lstrip(".")
        return load_dataset(kind, data_files=str(path), split="train")
    # A hub id: needs network (users have it; tests use local files).
    return load_dataset(source, split="train")


_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "tuple": "array",
    "set": "array",
    "dict": "object",
}
_GENERIC = re.compile(r"^(\w+)\[(.*)\]$")


def _schema_of(type_text: str) -> tuple[dict[str, Any], bool]:
    """xlam's Python-style type text as JSON Schema, and whether it says it is optional."""
    text = type_text.strip()
    optional = False
    if text.lower().endswith(", optional"):
        text, optional = text[: -len(", optional")].strip(), True
    match = _GENERIC.match(text)
    if match:
        outer, inner = match.group(1).lower(), match.group(2)
        if outer == "optional":
            return _schema_of(inner)[0], True
        if outer in ("list", "set", "tuple", "sequence"):
            item = _schema_of(inner)[0] if "," not in inner else {}
            return ({"type": "array", "items": item} if item else {"type": "array"}), optional
        if outer in ("dict", "mapping"):
            return {"type": "object"}, optional
        return {}, optional  # Union, Callable[...] and the like: no constraint
    mapped = _TYPES.get(text.lower())
    return ({"type": mapped} if mapped else {}), optional


def xlam_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """An xlam tool (parameters as ``{name: {type: "str", description, default}}``) in JSON
    Schema form. A parameter with a default or typed optional is optional."""
    properties, required = {}, []
    for name, spec in (tool.get("parameters") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        schema, optional = _schema_of(str(spec.get("type", "")))
        if spec.get("description"):
            schema["description"] = spec["description"]
        properties[name] = schema
        if not optional and "default" not in spec:
            required.append(name)
    return {
        "name": tool["name"],
        "description": tool.get("description", ""),
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def row_to_sample(row: dict[str, Any], index: int) -> Sample:
    """One xlam row as a Sample; a row with no answers expects no call."""
    try:
        tools = json.loads(row["tools"]) if isinstance(row["tools"], str) else row["tools"]
        answers = json.loads(row["answers"]) if isinstance(row["answers"], str) else row["answers"]
        calls = [ToolCall.model_validate(a) for a in answers]
        return Sample(
            id=f"xlam_{row.get('id', index)}",
            messages=[{"role": "user", "content": row["query"]}],
            tools=[ToolSpec.model_validate(xlam_tool(t)) for t in tools],
            expect="calls" if calls else "no_call",
            expected=calls or None,
            category="xlam_parallel" if len(calls) > 1 else "xlam_single",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise XlamError(f"xlam row {index}: {type(exc).__name__}: {exc}") from exc


def load_xlam(split: str = "test", source: str | None = None) -> list[Sample]:
    """The ``train`` or ``test`` part of the 90/10 split (seed 42)."""
    if split not in ("train", "test"):
        raise XlamError(f"unknown xlam split {split!r}; use train or test")
    source = source or os.environ.get(ENV_VAR) or HUB_ID
    try:
        dataset = _load(source)
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; say which source
        offline = f"; set {ENV_VAR} to a local copy to work offline" if source == HUB_ID else ""
        raise XlamError(f"cannot load xlam data from {source}: {exc}{offline}") from exc
    parts = dataset.train_test_split(test_size=TEST_SIZE, seed=SPLIT_SEED)
    return [row_to_sample(row, i) for i, row in enumerate(parts[split])]
