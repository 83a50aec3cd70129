"""The python format: BFCL's ``[f(a=1), math.g(b="x")]``, read with ``ast`` and never evaluated,
and its writer.

Values are turned into JSON-native ones here; what a call may hold is checked in
redline.parsing.values, as for every format.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import re
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any

from redline.parsing.common import (
    EMPTY,
    FENCE_LANG,
    MAX_INT_BITS,
    Call,
    ParseFailure,
    bad,
    build,
    join,
    never_raises,
    syntax,
)
from redline.parsing.reasoning import THINK_CLOSE, THINK_OPEN, strip_reasoning
from redline.parsing.values import json_problem
from redline.records import Completion, ParseErrorKind, ToolCall

# A python-format output is call-shaped when a name is directly followed by `(`; prose with
# parentheses ("I can't (sorry)") is not, so it is reported as no_call, not invalid_syntax.
_PY_CALLISH = re.compile(r"\w\(")


def _unfence(text: str) -> tuple[str, str]:
    """The body of the first ``` fence (language tag dropped) and the text around it."""
    start = text.find("```")
    if start == -1:
        return text, ""
    body = start + 3
    newline = text.find("\n", body)
    if newline != -1 and FENCE_LANG.fullmatch(text[body:newline].strip()):
        body = newline + 1
    end = text.find("```", body)
    if end == -1:  # unclosed fence: the output was cut, keep what there is
        return text[body:], text[:start].strip()
    return text[body:end], join(text[:start], text[end + 3 :])


def _dotted_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _snippet(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # only words an error message; never worth failing over
        return type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def _checked_number(value: Any, node: ast.AST) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(f"{_snippet(node)!r} is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise bad(f"{_snippet(node)!r} is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(f"{_snippet(node)!r} is not a finite number")
    return value


def _arithmetic(node: ast.BinOp) -> int | float:
    """Arithmetic on numeric constants (``2**3``, ``1/2``), bounded so it stays cheap."""
    fn = _BINOPS.get(type(node.op))
    if fn is None:
        raise bad(f"unsupported operator in {_snippet(node)!r}")
    left = _checked_number(_py_value(node.left), node.left)
    right = _checked_number(_py_value(node.right), node.right)
    if isinstance(node.op, ast.Pow) and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
            raise bad(f"{_snippet(node)!r} is too large")
    try:
        result = fn(left, right)
    except (ArithmeticError, ValueError) as err:  # 1/0, float overflow
        raise bad(f"{_snippet(node)!r} cannot be computed: {err}") from None
    return _checked_number(result, node)  # also rejects complex results such as (-8) ** 0.5


def _py_value(node: ast.expr) -> Any:
    """A JSON-native value from an argument expression; never evaluates code."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            return _checked_number(value, node)
        raise bad(f"constant {_snippet(node)!r} is not a JSON value")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _checked_number(_py_value(node.operand), node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _arithmetic(node)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        # Tuples and sets become lists so the record stays JSON; set order is the source order.
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise bad(f"unpacking in {_snippet(node)!r} is not supported")
        return [_py_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                raise bad(f"** unpacking in {_snippet(node)!r} is not supported")
            key = _py_value(key_node)
            if not isinstance(key, str):
                raise bad(f"dict key {_snippet(key_node)!r} is not a string")
            out[key] = _py_value(value_node)
        return out
    if isinstance(node, (ast.Name, ast.Attribute)):
        # BFCL's convention: a bare variable name stands for itself, as a string.
        name = _dotted_name(node)
        if name is None:
            raise bad(f"unsupported expression {_snippet(node)!r}")
        return name
    if isinstance(node, ast.Call):
        name = _dotted_name(node.func)
        keywords_only = not node.args and all(k.arg is not None for k in node.keywords)
        if name is not None and node.keywords and keywords_only:
            return {name: {k.arg: _py_value(k.value) for k in node.keywords}}
        # Without keywords there is nothing to structure; the source text loses nothing.
        return ast.unparse(node)
    raise bad(f"unsupported expression {_snippet(node)!r} ({type(node).__name__})")


def _py_call(node: ast.expr, index: int) -> Call:
    if not isinstance(node, ast.Call):
        raise bad(f"element {index} ({_snippet(node)!r}) is not a call")
    name = _dotted_name(node.func)
    if name is None:
        raise bad(f"call {index} has no plain function name: {_snippet(node.func)!r}")
    if node.args:
        raise bad(f"call {index} ({name}) has positional arguments; only keywords are allowed")
    arguments: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise bad(f"call {index} ({name}) uses ** unpacking")
        if kw.arg in arguments:  # ast.parse lets this through; Python's compiler refuses it
            raise syntax(f"call {index} ({name}) repeats keyword argument {kw.arg!r}")
        arguments[kw.arg] = _py_value(kw.value)
    problem = json_problem(arguments)
    if problem:
        raise bad(f"call {index} ({name}): {problem}")
    return name, arguments


def _python_calls(code: str) -> list[Call]:
    # Like BFCL, a bare `f(a=1)` or `f(a=1), g(b=2)` is wrapped in a list; unlike BFCL, a missing
    # `]` after an opening `[` is left alone, so truncated output is reported, not repaired.
    source = code if code.startswith("[") else f"[{code}\n]"
    try:
        with warnings.catch_warnings():
            # Model output is full of odd escapes ("\{"); Python's warnings about them are noise.
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(source, mode="eval")
    except (MemoryError, RecursionError):  # the parser's own stack ran out: nesting too deep
        raise syntax("python expression is nested too deeply to parse") from None
    except (SyntaxError, ValueError) as err:  # ValueError: null bytes in the source
        if not _PY_CALLISH.search(code):
            raise ParseFailure(ParseErrorKind.no_call, "no python call in the output") from None
        raise syntax(f"not a python list of calls: {type(err).__name__}: {err}"[:300]) from None
    body = tree.body
    elements = body.elts if isinstance(body, ast.List) else None
    if elements is not None and not elements:
        return []
    if elements is None or not any(isinstance(e, ast.Call) for e in elements):
        if not _PY_CALLISH.search(code):
            raise ParseFailure(ParseErrorKind.no_call, "no python call in the output")
        raise bad(f"expected a list of calls, got {_snippet(body)!r}")
    return [_py_call(e, i) for i, e in enumerate(elements)]


@never_raises("python")
def parse_python(text: str, *stripped: Any) -> Completion:
    """BFCL prompting output: ``[f(a=1), math.g(b="x")]`` or a bare call, parsed with ``ast``.

    Keyword arguments only. Values are literals, negative numbers, bounded arithmetic on numbers,
    bare names (as strings, BFCL's variable convention) and nested calls (``{name: {args}}`` with
    keywords, else their source text). Text around a ``` fence goes to ``extra_text``.
    """
    reasoning, rest = stripped or strip_reasoning(text)  # given when the format was detected
    if not rest:
        return build(text, "python", reasoning, rest, error=EMPTY)
    code, extra = _unfence(rest)
    code = code.strip().strip("`").strip()
    if len(code) >= 2 and code[0] == code[-1] and code[0] in "'\"":
        code = code[1:-1].strip()  # the whole answer quoted as a string
    try:
        if not code:
            raise ParseFailure(ParseErrorKind.no_call, "the code fence is empty")
        calls = _python_calls(code)
    except RecursionError:
        error = (ParseErrorKind.invalid_syntax, "nesting too deep")
        return build(text, "python", reasoning, rest, error=error)
    except ParseFailure as fail:
        return build(text, "python", reasoning, rest, error=fail.error)
    return build(text, "python", reasoning, rest, calls=calls, extra=extra)


# --- writing ----------------------------------------------------------------------------------

# Escapes that keep tag-like text and backticks inside argument strings from being read as tags
# or fences when the output is parsed back; they only ever land inside string literals.
_PY_TAG_ESCAPES = [(t, "\\x3c" + t[1:]) for t in (THINK_OPEN, THINK_CLOSE)] + [("`", "\\x60")]


def _is_py_identifier(word: str) -> bool:
    # ast normalises identifiers to NFKC, so only normalised ones read back unchanged.
    return (
        word.isidentifier()
        and not keyword.iskeyword(word)
        and unicodedata.normalize("NFKC", word) == word
    )


def _py_function_name(name: str) -> str:
    if not all(_is_py_identifier(part) for part in name.split(".")):
        raise ValueError(f"{name!r} is not a python name (dotted identifiers only)")
    return name


def _py_keyword(key: str) -> str:
    if not _is_py_identifier(key):
        raise ValueError(f"{key!r} cannot be a python keyword argument")
    return key


def _py_literal(value: Any) -> str:
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a JSON value")
        return repr(value)  # repr round-trips floats exactly
    if isinstance(value, list):
        return "[" + ", ".join(_py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, sub in value.items():
            if not isinstance(key, str):
                raise ValueError(f"object key {key!r} is not a string")
            items.append(f"{key!r}: {_py_literal(sub)}")
        return "{" + ", ".join(items) + "}"
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def _py_call_text(call: ToolCall) -> str:
    args = ", ".join(f"{_py_keyword(k)}={_py_literal(v)}" for k, v in call.arguments.items())
    return f"{_py_function_name(call.name)}({args})"


def format_python(calls: list[ToolCall]) -> str:
    """Calls as python-format text, ``[f(a=1), g(b='x')]``. Raises ValueError for values that are
    not JSON, or names the python format cannot spell."""
    text = "[" + ", ".join(_py_call_text(c) for c in calls) + "]"
    for tag, escaped in _PY_TAG_ESCAPES:
        text = text.replace(tag, escaped)
    return text
