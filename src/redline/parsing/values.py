"""JSON values and call objects, shared by the json, hermes and openai formats: decoding
arguments, the checks that keep a call recordable, and writing calls back as JSON text.

Values only; where the calls sit in an output is each format's module's business.
"""

from __future__ import annotations

import json
import math
from typing import Any

from redline.parsing.common import (
    MAX_ARGUMENT_DEPTH,
    MAX_INT_BITS,
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    Call,
    bad,
    syntax,
)
from redline.parsing.reasoning import THINK_CLOSE, THINK_OPEN
from redline.records import ToolCall

# strict=False: models often put raw newlines inside string arguments (code, multi-line text).
DECODER = json.JSONDecoder(strict=False)


def _plainly_json(value: Any, depth: int) -> bool:
    """True when ``value`` (a dict or list at ``depth``) is certainly a recordable JSON value; the
    fast path of json_problem for what decoders give. False only means "look closer"."""
    if depth >= MAX_ARGUMENT_DEPTH:
        return False
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                return False
        value = value.values()
    for item in value:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if item.bit_length() > MAX_INT_BITS:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is dict or kind is list:
            if not _plainly_json(item, depth + 1):
                return False
        else:
            return False
    return True


def json_problem(value: Any) -> str | None:
    """Why ``value`` is not a recordable JSON value, or None."""
    if type(value) is dict and _plainly_json(value, 1):
        return None
    return _json_walk(value)


def _json_walk(value: Any) -> str | None:
    """json_problem the careful way. Iterative: depth is checked here."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            return f"arguments are nested deeper than {MAX_ARGUMENT_DEPTH} levels"
        if item is None or isinstance(item, (bool, str)):
            continue
        if isinstance(item, int):
            if item.bit_length() > MAX_INT_BITS:
                return "an integer argument is too large to record"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"non-finite number {item!r} is not JSON"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return f"object key {key!r} is not a string"
                stack.append((sub, depth + 1))
        elif isinstance(item, list):
            stack.extend((sub, depth + 1) for sub in item)
        else:
            return f"{type(item).__name__} is not a JSON value"
    return None


def _decode_arguments(value: Any, where: str) -> dict[str, Any]:
    """Arguments as an object: given as one, as a JSON string of one, or absent/null/"" -> {}."""
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}  # some servers send "" for a call without arguments
        try:
            value = DECODER.decode(value.strip())
        except RecursionError:
            raise syntax(f"arguments of {where} are nested too deeply to decode") from None
        except ValueError as err:  # JSONDecodeError, or an integer too long to convert
            raise syntax(f"arguments of {where} are not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise bad(f"arguments of {where} must be an object, got {json_type(value)}")
    problem = json_problem(value)
    if problem:
        raise bad(f"{where}: {problem}")
    return value


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages ("object", "array", "number", ...)."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)


def call_from_object(item: Any, where: str | int | None) -> Call:
    """One call object; ``where`` names it in messages (its index in a list, None: the only one,
    or the words)."""
    return well_formed_call(item) or _checked_call(item, where)


def well_formed_call(item: Any) -> Call | None:
    """The usual call object, a name and an arguments object of plain JSON, checked fast; None
    means "look closer" (see _checked_call)."""
    if type(item) is dict and "name" in item:
        name = item["name"]
        args = item["arguments"] if "arguments" in item else item.get("parameters")
        if (
            type(name) is str
            and type(args) is dict
            and name
            and not name.isspace()
            and _plainly_json(args, 1)
        ):
            return name, args
    return None


def _checked_call(item: Any, where: str | int | None) -> Call:
    """call_from_object the careful way, naming what is wrong."""
    if where is None:
        where = "the call"
    elif isinstance(where, int):
        where = f"call {where}"
    if not isinstance(item, dict):
        raise bad(f"{where} must be an object, got {json_type(item)}")
    if "name" not in item:
        raise bad(f"{where} has no 'name'")
    name = item["name"]
    if not isinstance(name, str) or not name.strip():
        raise bad(f"name of {where} must be a non-empty string, got {name!r}"[:200])
    # "parameters" is what several open models write instead of "arguments".
    args = item["arguments"] if "arguments" in item else item.get("parameters")
    return name, _decode_arguments(args, f"{where} ({name})")


def calls_from_value(value: Any) -> list[Call]:
    """The calls of a decoded JSON value: one call object, or a list of them."""
    if isinstance(value, list):
        return [call_from_object(item, i) for i, item in enumerate(value)]
    return [call_from_object(value, None)]


def is_callish(value: Any) -> bool:
    """A dict with a name, or a list holding one: the JSON the model meant as its call(s)."""
    if isinstance(value, dict):
        return "name" in value
    return isinstance(value, list) and any(isinstance(v, dict) and "name" in v for v in value)


# --- writing ----------------------------------------------------------------------------

# Escapes that keep tag-like text inside argument strings from being read as tags or fences
# when the output is parsed back; they only ever land inside string literals.
_JSON_TAG_ESCAPES = [
    (t, "\\u003c" + t[1:]) for t in (THINK_OPEN, THINK_CLOSE, TOOL_CALL_OPEN, TOOL_CALL_CLOSE)
]


def json_text(value: Any) -> str:
    """``value`` as JSON text whose strings cannot be read back as tags."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    for tag, escaped in _JSON_TAG_ESCAPES:
        text = text.replace(tag, escaped)
    return text


def call_object(call: ToolCall) -> dict[str, Any]:
    """A call as the JSON object json and hermes write."""
    return {"name": call.name, "arguments": call.arguments}
