"""Hypothesis strategies for tool schemas and calls that fit them, for testing scorers and rewards.

Generates data only; the properties that use it live in the tests (and, later, check_reward).
"""

from __future__ import annotations

import keyword
from typing import Any

from hypothesis import strategies as st

from redline.records import ToolCall, ToolSpec

_names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n) and not keyword.issoftkeyword(n)
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)

# One generator of values per schema type.
_SCALAR_TYPES = ("string", "integer", "number", "boolean")


@st.composite
def _param_schema(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kinds = list(_SCALAR_TYPES) + ["enum", "array"] + (["object"] if depth == 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "enum":
        return {
            "type": "string",
            "enum": draw(st.lists(_names, min_size=1, max_size=4, unique=True)),
        }
    if kind == "array":
        return {"type": "array", "items": {"type": draw(st.sampled_from(_SCALAR_TYPES))}}
    if kind == "object":
        props = draw(st.dictionaries(_names, _param_schema(depth=1), min_size=1, max_size=3))
        return {"type": "object", "properties": props, "required": sorted(props)[:1]}
    return {"type": kind}


@st.composite
def tool_schemas(draw: st.DrawFn, name: str | None = None) -> ToolSpec:
    """A well-formed tool in JSON Schema form: scalars, enums, arrays and one level of objects."""
    props = draw(st.dictionaries(_names, _param_schema(), max_size=5))
    required = [p for p in props if draw(st.booleans())]
    return ToolSpec(
        name=name or draw(_names),
        description=draw(_text),
        parameters={"type": "object", "properties": props, "required": required},
    )


def _value_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return _text
    if kind == "integer":
        return st.integers(-1000, 1000)
    if kind == "number":
        return st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_value_for(schema.get("items", {})), max_size=3)
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: _value_for(v) for k, v in props.items() if k in required},
            optional={k: _value_for(v) for k, v in props.items() if k not in required},
        )
    return _text


def calls_for(tool: ToolSpec) -> st.SearchStrategy[ToolCall]:
    """Calls of ``tool`` whose arguments validate against its schema (every required one given)."""
    props = tool.properties
    required = set(tool.required)
    arguments = st.fixed_dictionaries(
        {k: _value_for(v) for k, v in props.items() if k in required},
        optional={k: _value_for(v) for k, v in props.items() if k not in required},
    )
    return arguments.map(lambda args: ToolCall(name=tool.name, arguments=args))
