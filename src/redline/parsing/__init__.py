"""Output parsers: one per tool-call format (json, hermes, python, openai), plus serialisers back.

Each parser turns a model's raw output into a Completion (calls, typed parse error, reasoning, text
outside the calls) and never raises or evaluates code. Nothing here checks calls against schemas.
"""

from __future__ import annotations

import ast
import functools
import json
import keyword
import math
import operator
import re
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any

from redline.records import Completion, ParseError, ParseErrorKind, ToolCall

# What a caller can rely on, for every format:
# - A Completion carries calls or a parse error, never both. With an error, ``extra_text`` is all
#   of the text left once reasoning is removed; with calls, it is the text outside them.
# - ``empty``: nothing but whitespace once reasoning is removed. ``no_call``: prose with nothing
#   call-shaped in it. ``invalid_syntax``: call-shaped text that does not parse, truncation
#   included. ``bad_structure``: it parses, but is not a well-formed call.
# - For ``openai``, ``raw`` is the whole message dumped as JSON, so ``parse(c.raw, c.format) == c``
#   holds for every format and a run can be re-parsed offline from its records.

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

# pydantic refuses to serialise values nested ~250 deep; a call nested this deep is not a real
# call, so it is refused here rather than breaking the run's records later.
MAX_ARGUMENT_DEPTH = 100
# Python refuses to print ints beyond 4300 digits (json.dumps would raise on the record), and
# arithmetic in python-format arguments must not be able to build enormous numbers.
MAX_INT_BITS = 14_000

# strict=False: models often put raw newlines inside string arguments (code, multi-line text).
_DECODER = json.JSONDecoder(strict=False)
# The decoder's scanner itself: (value, end) at an index, StopIteration when nothing is there.
_SCAN = _DECODER.scan_once
_OPENER = re.compile(r"[\[{]")
# A `{`/`[` is tried as JSON only when what follows looks like JSON (a key, a nested value, a
# close, or the end of the text), so `[Your Name]` or `a[i]` in prose is neither a call nor a
# broken one; a single-quoted or bare key still counts, so Python-dict output is invalid_syntax.
_JSONISH = re.compile(r"\s*(?:[\"'{\[\]}]|[A-Za-z_]\w*\s*:|\Z)")
_FENCE_LANG = re.compile(r"[\w+.-]*")
# A python-format output is call-shaped when a name is directly followed by `(`; prose with
# parentheses ("I can't (sorry)") is not, so it is reported as no_call, not invalid_syntax.
_PY_CALLISH = re.compile(r"\w\(")


Call = tuple[str, dict[str, Any]]  # (name, arguments)


class Parsed:
    """What a parser made of an output, as plain values: a Completion's fields with the calls as
    ``(name, arguments)`` pairs and the error as ``(kind, message)``. Scoring reads this form so
    that hot paths (rewards) never build records; :meth:`completion` gives the record, once.
    """

    __slots__ = ("raw", "reasoning", "calls", "error", "extra_text", "format", "_record")

    def __init__(
        self,
        raw: str,
        fmt: str,
        reasoning: str | None = None,
        calls: list[Call] | tuple[()] = (),
        error: tuple[ParseErrorKind, str] | None = None,
        extra_text: str = "",
    ) -> None:
        self.raw = raw
        self.format = fmt
        self.reasoning = reasoning
        self.calls = calls
        self.error = error
        self.extra_text = extra_text
        self._record: Completion | None = None

    def completion(self) -> Completion:
        """The Completion record of this output (built on first use, then kept)."""
        if self._record is None:
            error = self.error
            record = Completion(
                raw=self.raw,
                reasoning=self.reasoning,
                calls=[ToolCall(name=name, arguments=args) for name, args in self.calls],
                parse_error=None if error is None else ParseError(kind=error[0], message=error[1]),
                extra_text=self.extra_text,
                format=self.format,
            )
            record.memo(_PARSED, lambda _: self)
            self._record = record
        return self._record

    def tool_calls(self) -> list[ToolCall]:
        """The calls as ToolCall records."""
        return self.completion().calls

    @staticmethod
    def of(completion: Completion) -> Parsed:
        """The plain form of a Completion record (computed once per record)."""
        return completion.memo(_PARSED, _from_record)


_PARSED = "parsing.parsed"


def _from_record(completion: Completion) -> Parsed:
    error = completion.parse_error
    parsed = Parsed(
        completion.raw,
        completion.format,
        completion.reasoning,
        [(c.name, c.arguments) for c in completion.calls],
        None if error is None else (error.kind, error.message),
        completion.extra_text,
    )
    parsed._record = completion
    return parsed


class _Fail(Exception):
    """Internal: stop parsing with a typed error (never leaves this module)."""

    def __init__(self, kind: ParseErrorKind, message: str) -> None:
        super().__init__(message)
        self.error = (kind, message)


def _bad(message: str) -> _Fail:
    return _Fail(ParseErrorKind.bad_structure, message)


def _syntax(message: str) -> _Fail:
    return _Fail(ParseErrorKind.invalid_syntax, message)


def _never_raises(
    fmt: str, takes_text: bool = True
) -> Callable[[Callable[[Any], Parsed]], Callable[[Any], Parsed]]:
    """Last resort: every known failure is handled inside the parsers; this only guards bugs."""

    def wrap(parser: Callable[[Any], Parsed]) -> Callable[[Any], Parsed]:
        @functools.wraps(parser)
        def safe(text: Any, *stripped: Any) -> Parsed:
            if takes_text and not isinstance(text, str):
                message = f"expected the output as text, got {type(text).__name__}"
                return Parsed(repr(text), fmt, error=(ParseErrorKind.bad_structure, message))
            try:
                return parser(text, *stripped)
            except Exception as exc:  # a parser must not take a run down
                raw = text if isinstance(text, str) else repr(text)
                message = f"parser raised {type(exc).__name__}: {exc}"[:500]
                return Parsed(raw, fmt, error=(ParseErrorKind.bad_structure, message))

        return safe

    return wrap


def _as_record(parser: Callable[[Any], Parsed], name: str) -> Callable[[Any], Completion]:
    """The public form of a parser: the same, giving the Completion record."""

    @functools.wraps(parser)
    def records(text: Any) -> Completion:
        return parser(text).completion()

    records.__name__ = records.__qualname__ = name
    return records


# --- reasoning ------------------------------------------------------------------------------


def strip_reasoning(text: str) -> tuple[str | None, str]:
    """Split ``<think>`` blocks out of ``text``: ``(reasoning or None, remaining text)``.

    An unclosed ``<think>`` swallows the rest of the text (the model ran out of tokens while
    thinking). A ``</think>`` before any ``<think>`` closes reasoning that the chat template
    opened in the prompt, so everything before it is reasoning. Several blocks are joined with a
    blank line; the remaining text is the outside pieces joined as they were, then stripped.
    """
    if "think>" not in text:  # most outputs: no tag of either kind
        return None, text.strip()
    reasoning: list[str] = []
    outside: list[str] = []
    pos = 0
    first_close = text.find(THINK_CLOSE)
    first_open = text.find(THINK_OPEN)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        reasoning.append(text[:first_close])
        pos = first_close + len(THINK_CLOSE)
    while True:
        start = text.find(THINK_OPEN, pos)
        if start == -1:
            outside.append(text[pos:])
            break
        outside.append(text[pos:start])
        body = start + len(THINK_OPEN)
        end = text.find(THINK_CLOSE, body)
        if end == -1:
            reasoning.append(text[body:])
            break
        reasoning.append(text[body:end])
        pos = end + len(THINK_CLOSE)
    parts = [r.strip() for r in reasoning if r.strip()]
    return ("\n\n".join(parts) if parts else None), "".join(outside).strip()


# --- JSON values shared by json, hermes and openai --------------------------------------------


def _plainly_json(value: Any, depth: int) -> bool:
    """True when ``value`` (a dict or list at ``depth``) is certainly a recordable JSON value; the
    fast path of _json_problem for what decoders give. False only means "look closer"."""
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


def _json_problem(value: Any) -> str | None:
    """Why ``value`` is not a recordable JSON value, or None."""
    if type(value) is dict and _plainly_json(value, 1):
        return None
    return _json_walk(value)


def _json_walk(value: Any) -> str | None:
    """_json_problem the careful way. Iterative: depth is checked here."""
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
            value = _DECODER.decode(value.strip())
        except RecursionError:
            raise _syntax(f"arguments of {where} are nested too deeply to decode") from None
        except ValueError as err:  # JSONDecodeError, or an integer too long to convert
            raise _syntax(f"arguments of {where} are not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise _bad(f"arguments of {where} must be an object, got {_json_type(value)}")
    problem = _json_problem(value)
    if problem:
        raise _bad(f"{where}: {problem}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)


def _call_from_object(item: Any, where: str | int | None) -> Call:
    """One call object; ``where`` names it in messages (its index in a list, None: the only one,
    or the words)."""
    return _well_formed_call(item) or _checked_call(item, where)


def _well_formed_call(item: Any) -> Call | None:
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
    """_call_from_object the careful way, naming what is wrong."""
    if where is None:
        where = "the call"
    elif isinstance(where, int):
        where = f"call {where}"
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object, got {_json_type(item)}")
    if "name" not in item:
        raise _bad(f"{where} has no 'name'")
    name = item["name"]
    if not isinstance(name, str) or not name.strip():
        raise _bad(f"name of {where} must be a non-empty string, got {name!r}"[:200])
    # "parameters" is what several open models write instead of "arguments".
    args = item["arguments"] if "arguments" in item else item.get("parameters")
    return name, _decode_arguments(args, f"{where} ({name})")


def _calls_from_value(value: Any) -> list[Call]:
    if isinstance(value, list):
        return [_call_from_object(item, i) for i, item in enumerate(value)]
    return [_call_from_object(value, None)]


def _is_callish(value: Any) -> bool:
    """A dict with a name, or a list holding one: the JSON the model meant as its call(s)."""
    if isinstance(value, dict):
        return "name" in value
    return isinstance(value, list) and any(isinstance(v, dict) and "name" in v for v in value)


def _string_end(text: str, i: int) -> int:
    """Index just past the JSON string whose body starts at ``i``, or -1 if it never closes."""
    while True:
        j = text.find('"', i)
        if j == -1:
            return -1
        k = j
        while k > i and text[k - 1] == "\\":
            k -= 1
        if (j - k) % 2 == 0:
            return j + 1
        i = j + 1


_STRUCTURAL = re.compile(r'[\[\]{}"]')


def _skip_balanced(text: str, start: int) -> int:
    """Index just past the bracket matching the one at ``start`` (strings skipped), or len."""
    depth = 0
    i = start
    while True:
        m = _STRUCTURAL.search(text, i)
        if m is None:
            return len(text)
        ch, i = m.group(), m.end()
        if ch == '"':
            i = _string_end(text, i)
            if i == -1:
                return len(text)
        elif ch in "[{":
            depth += 1
        else:
            depth -= 1
            if depth <= 0:
                return i


def _find_json_call(text: str) -> tuple[list[Call], int, int]:
    """Scan for the first JSON value meant as a call; return its calls and its span.

    Each JSON-looking `{`/`[` is cut out to its matching bracket (or to the end when it never
    closes) and decoded alone. A failed one is skipped as a whole, so a value nested inside a
    broken or truncated list is never taken for the answer; decoding the cut-out piece, not the
    whole text, keeps this linear (a JSONDecodeError counts lines up to where it failed).
    """
    pos = 0
    first = True
    failure: str | None = None
    not_a_call: str | None = None
    empty_list: tuple[int, int] | None = None
    while True:
        if pos == 0 and text[:1] in ("{", "["):  # the usual output opens with its JSON
            s = 0
        else:
            m = _OPENER.search(text, pos)
            if m is None:
                break
            s = m.start()
        if text[s + 1 : s + 2] != '"' and not _JSONISH.match(text, s + 1):  # '"': a key, fast
            pos = s + 1  # prose brackets and lists of numbers ("see [1]") are not call attempts
            continue
        if first:
            # Most outputs are one well-formed value: decode it in place, skipping the bracket
            # walk. Only the first try, so a failure's line counting stays linear overall.
            first = False
            try:
                value, end = _SCAN(text, s)
            except (StopIteration, ValueError, RecursionError):
                pass
            else:
                if _is_callish(value):
                    return _calls_from_value(value), s, end
        e = _skip_balanced(text, s)
        try:
            value, end = _DECODER.raw_decode(text[s:e])
        except RecursionError:
            failure = failure or f"JSON at position {s} is nested too deeply to decode"
            break
        except json.JSONDecodeError as err:
            failure = (
                failure or f"JSON at position {s} does not parse: {err.msg} (at {s + err.pos})"
            )
            pos = e
            continue
        except ValueError as err:  # an integer too long to convert
            failure = failure or f"JSON at position {s} does not parse: {err}"
            pos = e
            continue
        end += s
        if _is_callish(value):
            return _calls_from_value(value), s, end
        if value == [] and empty_list is None:
            empty_list = (s, end)
        elif not_a_call is None:
            not_a_call = f"JSON {_json_type(value)} at position {s} is not a call (no 'name')"
        pos = end
    if empty_list is not None:
        return [], *empty_list
    if failure:
        raise _syntax(failure)
    if not_a_call:
        raise _bad(not_a_call)
    raise _Fail(ParseErrorKind.no_call, "no JSON call in the output")


def _trim_fences(before: str, after: str) -> str:
    """Prose around a JSON value, without the ``` fence lines that wrapped it."""
    before = before.rstrip()
    fence = before.rfind("```")
    if fence != -1 and _FENCE_LANG.fullmatch(before[fence + 3 :]):
        before = before[:fence]
    after = after.lstrip()
    if after.startswith("```"):
        after = after[3:]
    return _join(before, after)


def _join(*pieces: str) -> str:
    return "\n".join(p.strip() for p in pieces if p.strip())


def _completion(
    text: str,
    fmt: str,
    reasoning: str | None,
    rest: str,
    calls: list[Call] | None = None,
    extra: str | None = None,
    error: tuple[ParseErrorKind, str] | None = None,
) -> Parsed:
    return Parsed(
        text,
        fmt,
        reasoning,
        [] if error else (calls or []),
        error,
        rest if error or extra is None else extra,
    )


_EMPTY = (ParseErrorKind.empty, "no output besides reasoning")


# --- json -----------------------------------------------------------------------------------


@_never_raises("json")
def _plain_json(text: str, *stripped: Any) -> Parsed:
    """One ``{"name", "arguments"}`` object or a JSON list of them, anywhere in the text.

    Prose and ``` fences around the JSON go to ``extra_text``. ``"parameters"`` is accepted for
    ``"arguments"``, arguments may be a JSON string of an object, and a missing arguments key
    means ``{}``. An empty list ``[]`` is a deliberate "no call": zero calls and no error.
    """
    reasoning, rest = stripped or strip_reasoning(text)  # given when the format was detected
    if not rest:
        return _completion(text, "json", reasoning, rest, error=_EMPTY)
    try:
        calls, start, end = _find_json_call(rest)
    except _Fail as fail:
        return _completion(text, "json", reasoning, rest, error=fail.error)
    # The common case, one bare JSON value, has no prose around it to trim.
    extra = "" if start == 0 and end == len(rest) else _trim_fences(rest[:start], rest[end:])
    return Parsed(text, "json", reasoning, calls, None, extra)


# --- hermes ---------------------------------------------------------------------------------


def _calls_from_block(body: str, index: int) -> list[Call]:
    body = body.strip()
    if not body:
        raise _bad(f"<tool_call> block {index} is empty")
    try:
        value, end = _DECODER.raw_decode(body)
    except RecursionError:
        raise _syntax(f"<tool_call> block {index} is nested too deeply to decode") from None
    except ValueError as err:
        raise _syntax(f"<tool_call> block {index} is not valid JSON: {err}") from None
    if body[end:].strip():
        raise _syntax(f"<tool_call> block {index} has text after its JSON")
    try:
        return _calls_from_value(value)
    except _Fail as fail:
        kind, message = fail.error
        raise _Fail(kind, f"<tool_call> block {index}: {message}") from None


def _hermes_calls(rest: str) -> tuple[list[Call], str]:
    calls: list[Call] = []
    outside: list[str] = []
    pos = 0
    blocks = 0
    while True:
        start = rest.find(TOOL_CALL_OPEN, pos)
        close = rest.find(TOOL_CALL_CLOSE, pos)
        if close != -1 and (start == -1 or close < start):
            raise _syntax(f"{TOOL_CALL_CLOSE} at position {close} without an opening tag")
        if start == -1:
            outside.append(rest[pos:])
            break
        outside.append(rest[pos:start])
        body = start + len(TOOL_CALL_OPEN)
        end = rest.find(TOOL_CALL_CLOSE, body)
        if end == -1:
            raise _syntax(f"<tool_call> block {blocks} is never closed (truncated output?)")
        calls.extend(_calls_from_block(rest[body:end], blocks))
        blocks += 1
        pos = end + len(TOOL_CALL_CLOSE)
    if blocks == 0:
        raise _Fail(ParseErrorKind.no_call, "no <tool_call> block in the output")
    return calls, _join(*outside)


@_never_raises("hermes")
def _plain_hermes(text: str, *stripped: Any) -> Parsed:
    """``<tool_call>{json}</tool_call>`` blocks as Qwen2.5/Qwen3 write them; several are parallel.

    Arguments may be an object or a JSON string. An unclosed block (truncated output) or a stray
    closing tag is invalid_syntax; text outside the blocks goes to ``extra_text``.
    """
    reasoning, rest = stripped or strip_reasoning(text)  # given when the format was detected
    if not rest:
        return _completion(text, "hermes", reasoning, rest, error=_EMPTY)
    try:
        calls, extra = _hermes_calls(rest)
    except _Fail as fail:
        return _completion(text, "hermes", reasoning, rest, error=fail.error)
    return _completion(text, "hermes", reasoning, rest, calls=calls, extra=extra)


# --- python ---------------------------------------------------------------------------------


def _unfence(text: str) -> tuple[str, str]:
    """The body of the first ``` fence (language tag dropped) and the text around it."""
    start = text.find("```")
    if start == -1:
        return text, ""
    body = start + 3
    newline = text.find("\n", body)
    if newline != -1 and _FENCE_LANG.fullmatch(text[body:newline].strip()):
        body = newline + 1
    end = text.find("```", body)
    if end == -1:  # unclosed fence: the output was cut, keep what there is
        return text[body:], text[:start].strip()
    return text[body:end], _join(text[:start], text[end + 3 :])


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
        raise _bad(f"{_snippet(node)!r} is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _bad(f"{_snippet(node)!r} is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(f"{_snippet(node)!r} is not a finite number")
    return value


def _arithmetic(node: ast.BinOp) -> int | float:
    """Arithmetic on numeric constants (``2**3``, ``1/2``), bounded so it stays cheap."""
    fn = _BINOPS.get(type(node.op))
    if fn is None:
        raise _bad(f"unsupported operator in {_snippet(node)!r}")
    left = _checked_number(_py_value(node.left), node.left)
    right = _checked_number(_py_value(node.right), node.right)
    if isinstance(node.op, ast.Pow) and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
            raise _bad(f"{_snippet(node)!r} is too large")
    try:
        result = fn(left, right)
    except (ArithmeticError, ValueError) as err:  # 1/0, float overflow
        raise _bad(f"{_snippet(node)!r} cannot be computed: {err}") from None
    return _checked_number(result, node)  # also rejects complex results such as (-8) ** 0.5


def _py_value(node: ast.expr) -> Any:
    """A JSON-native value from an argument expression; never evaluates code."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            return _checked_number(value, node)
        raise _bad(f"constant {_snippet(node)!r} is not a JSON value")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _checked_number(_py_value(node.operand), node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _arithmetic(node)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        # Tuples and sets become lists so the record stays JSON; set order is the source order.
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise _bad(f"unpacking in {_snippet(node)!r} is not supported")
        return [_py_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                raise _bad(f"** unpacking in {_snippet(node)!r} is not supported")
            key = _py_value(key_node)
            if not isinstance(key, str):
                raise _bad(f"dict key {_snippet(key_node)!r} is not a string")
            out[key] = _py_value(value_node)
        return out
    if isinstance(node, (ast.Name, ast.Attribute)):
        # BFCL's convention: a bare variable name stands for itself, as a string.
        name = _dotted_name(node)
        if name is None:
            raise _bad(f"unsupported expression {_snippet(node)!r}")
        return name
    if isinstance(node, ast.Call):
        name = _dotted_name(node.func)
        keywords_only = not node.args and all(k.arg is not None for k in node.keywords)
        if name is not None and node.keywords and keywords_only:
            return {name: {k.arg: _py_value(k.value) for k in node.keywords}}
        # Without keywords there is nothing to structure; the source text loses nothing.
        return ast.unparse(node)
    raise _bad(f"unsupported expression {_snippet(node)!r} ({type(node).__name__})")


def _py_call(node: ast.expr, index: int) -> Call:
    if not isinstance(node, ast.Call):
        raise _bad(f"element {index} ({_snippet(node)!r}) is not a call")
    name = _dotted_name(node.func)
    if name is None:
        raise _bad(f"call {index} has no plain function name: {_snippet(node.func)!r}")
    if node.args:
        raise _bad(f"call {index} ({name}) has positional arguments; only keywords are allowed")
    arguments: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise _bad(f"call {index} ({name}) uses ** unpacking")
        if kw.arg in arguments:  # ast.parse lets this through; Python's compiler refuses it
            raise _syntax(f"call {index} ({name}) repeats keyword argument {kw.arg!r}")
        arguments[kw.arg] = _py_value(kw.value)
    problem = _json_problem(arguments)
    if problem:
        raise _bad(f"call {index} ({name}): {problem}")
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
        raise _syntax("python expression is nested too deeply to parse") from None
    except (SyntaxError, ValueError) as err:  # ValueError: null bytes in the source
        if not _PY_CALLISH.search(code):
            raise _Fail(ParseErrorKind.no_call, "no python call in the output") from None
        raise _syntax(f"not a python list of calls: {type(err).__name__}: {err}"[:300]) from None
    body = tree.body
    elements = body.elts if isinstance(body, ast.List) else None
    if elements is not None and not elements:
        return []
    if elements is None or not any(isinstance(e, ast.Call) for e in elements):
        if not _PY_CALLISH.search(code):
            raise _Fail(ParseErrorKind.no_call, "no python call in the output")
        raise _bad(f"expected a list of calls, got {_snippet(body)!r}")
    return [_py_call(e, i) for i, e in enumerate(elements)]


@_never_raises("python")
def _plain_python(text: str, *stripped: Any) -> Parsed:
    """BFCL prompting output: ``[f(a=1), math.g(b="x")]`` or a bare call, parsed with ``ast``.

    Keyword arguments only. Values are literals, negative numbers, bounded arithmetic on numbers,
    bare names (as strings, BFCL's variable convention) and nested calls (``{name: {args}}`` with
    keywords, else their source text). Text around a ``` fence goes to ``extra_text``.
    """
    reasoning, rest = stripped or strip_reasoning(text)  # given when the format was detected
    if not rest:
        return _completion(text, "python", reasoning, rest, error=_EMPTY)
    code, extra = _unfence(rest)
    code = code.strip().strip("`").strip()
    if len(code) >= 2 and code[0] == code[-1] and code[0] in "'\"":
        code = code[1:-1].strip()  # the whole answer quoted as a string
    try:
        if not code:
            raise _Fail(ParseErrorKind.no_call, "the code fence is empty")
        calls = _python_calls(code)
    except RecursionError:
        error = (ParseErrorKind.invalid_syntax, "nesting too deep")
        return _completion(text, "python", reasoning, rest, error=error)
    except _Fail as fail:
        return _completion(text, "python", reasoning, rest, error=fail.error)
    return _completion(text, "python", reasoning, rest, calls=calls, extra=extra)


# --- openai ---------------------------------------------------------------------------------


def _message_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    raise _bad(
        f"message content must be a string, a list of parts or null, got {_json_type(content)}"
    )


def _openai_calls(tool_calls: Any) -> list[Call]:
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise _bad(f"tool_calls must be a list, got {_json_type(tool_calls)}")
    calls = []
    for i, item in enumerate(tool_calls):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            raise _bad(f"tool_calls[{i}] has no 'function' object")
        calls.append(_call_from_object(function, f"tool_calls[{i}]"))
    return calls


def _dump_message(message: Any) -> str:
    try:
        return json.dumps(message, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(message)


@_never_raises("openai", takes_text=False)
def parse_openai_message_plain(message: dict[str, Any]) -> Parsed:
    """The ``message`` of an OpenAI-compatible chat response: its ``tool_calls`` are the calls.

    ``arguments`` may be a JSON string or an object. ``reasoning_content`` (or ``reasoning``) and
    ``<think>`` blocks in the content both go to ``reasoning``; the rest of the content goes to
    ``extra_text``. ``raw`` is the whole message as JSON, so ``parse(raw, "openai")`` redoes it.
    An OpenAI SDK message object (anything with ``model_dump``) is dumped to a dict first.
    """
    if not isinstance(message, dict) and callable(getattr(message, "model_dump", None)):
        message = message.model_dump(exclude_none=True)
    raw = _dump_message(message)
    if not isinstance(message, dict):
        error = _bad(f"a message must be an object, got {_json_type(message)}").error
        return Parsed(raw, "openai", error=error)
    think: str | None = None
    rest = ""
    try:
        think, rest = strip_reasoning(_message_text(message.get("content")))
        calls = _openai_calls(message.get("tool_calls"))
        if not calls:
            if rest:
                raise _Fail(ParseErrorKind.no_call, "the message has no tool_calls")
            raise _Fail(ParseErrorKind.empty, "the message has no tool_calls and no content")
        error = None
    except _Fail as fail:
        calls, error = [], fail.error
    # Servers differ on the field's name: some send "reasoning_content", others "reasoning".
    given = message.get("reasoning_content")
    if not isinstance(given, str):
        given = message.get("reasoning")
    given = given.strip() if isinstance(given, str) else ""
    parts = [p for p in (given, think) if p]
    reasoning = "\n\n".join(parts) if parts else None
    return Parsed(raw, "openai", reasoning, calls, error, rest)


@_never_raises("openai")
def _plain_openai_text(text: str) -> Parsed:
    if not text.strip():
        return Parsed(text, "openai", error=_EMPTY)
    try:
        message = _DECODER.decode(text.strip())
    except (ValueError, RecursionError) as err:
        error = _syntax(f"not a JSON message: {type(err).__name__}: {err}"[:300]).error
        return Parsed(text, "openai", error=error, extra_text=text.strip())
    parsed = parse_openai_message_plain(message)  # a fresh object: setting raw is safe
    parsed.raw = text
    return parsed


# --- registry -------------------------------------------------------------------------------

parse_json = _as_record(_plain_json, "parse_json")
parse_hermes = _as_record(_plain_hermes, "parse_hermes")
parse_python = _as_record(_plain_python, "parse_python")
parse_openai_message = _as_record(parse_openai_message_plain, "parse_openai_message")
parse_openai_text = _as_record(_plain_openai_text, "parse_openai_text")
parse_openai_text.__doc__ = (
    "An OpenAI message given as JSON text (what ``Completion.raw`` holds for this format)."
)

PARSERS: dict[str, Callable[[str], Completion]] = {
    "json": parse_json,
    "hermes": parse_hermes,
    "python": parse_python,
    "openai": parse_openai_text,
}
# The same parsers giving the plain form (see Parsed).
PLAIN_PARSERS: dict[str, Callable[[str], Parsed]] = {
    "json": _plain_json,
    "hermes": _plain_hermes,
    "python": _plain_python,
    "openai": _plain_openai_text,
}


_PYTHON_CALL = re.compile(r"\s*(?:```\w*\s*)?\[?\s*[A-Za-z_][\w.]*\s*\(")


def detect_format(text: str) -> str:
    """The format an output is written in, judged outside the reasoning: ``hermes`` when it has
    a ``<tool_call>`` tag, ``python`` when it opens with a call, else ``json``."""
    return _format_of(strip_reasoning(text)[1])


def _format_of(rest: str) -> str:
    if TOOL_CALL_OPEN in rest:
        return "hermes"
    if rest[:1] == "{":  # cannot open a python call: skip the pattern
        return "json"
    if _PYTHON_CALL.match(rest):
        return "python"
    return "json"


def parse(text: str, fmt: str) -> Completion:
    """Parse ``text`` in output format ``fmt`` (a key of PARSERS, or ``auto`` to detect it)."""
    return parse_plain(text, fmt).completion()


def _bare_json(text: str) -> Parsed | None:
    """The usual output, nothing but well-formed JSON calls (no reasoning, prose or tags), read
    without the general path's search; None for anything else. The same Parsed as the search
    gives (see test_parsing_properties' fast-path property)."""
    rest = text.strip()
    if rest[:1] not in _OPENERS or "think>" in rest or TOOL_CALL_OPEN in rest:
        return None
    try:
        value, end = _SCAN(rest, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(rest):
        return None
    items = value if type(value) is list else (value,)
    calls = []
    for item in items:
        call = _well_formed_call(item)
        if call is None:
            return None
        calls.append(call)
    return Parsed(text, "json", None, calls, None, "")  # [] too: a deliberate "no call"


_OPENERS = ("[", "{")


def parse_plain(text: str, fmt: str) -> Parsed:
    """:func:`parse`, giving the plain form (see Parsed) without building the record."""
    if (fmt == "auto" or fmt == "json") and type(text) is str:
        parsed = _bare_json(text)
        if parsed is not None:
            return parsed
    return _parse_searching(text, fmt)


def _parse_searching(text: str, fmt: str) -> Parsed:
    """parse_plain without the fast path: find the format and the calls anywhere in the text."""
    if fmt == "auto":
        if type(text) is str:  # reasoning is split off once, for detecting and for parsing
            stripped = strip_reasoning(text)
            return PLAIN_PARSERS[_format_of(stripped[1])](text, *stripped)
        fmt = detect_format(text)
    try:
        parser = PLAIN_PARSERS[fmt]
    except KeyError:
        known = ", ".join(["auto", *sorted(PARSERS)])
        raise ValueError(f"unknown output format {fmt!r}; known: {known}") from None
    return parser(text)


# --- serialisers ----------------------------------------------------------------------------

# Escapes that keep tag-like text inside argument strings from being read as tags or fences
# when the output is parsed back; they only ever land inside string literals.
_JSON_TAG_ESCAPES = [
    (t, "\\u003c" + t[1:]) for t in (THINK_OPEN, THINK_CLOSE, TOOL_CALL_OPEN, TOOL_CALL_CLOSE)
]
_PY_TAG_ESCAPES = [(t, "\\x3c" + t[1:]) for t in (THINK_OPEN, THINK_CLOSE)] + [("`", "\\x60")]


def _json_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    for tag, escaped in _JSON_TAG_ESCAPES:
        text = text.replace(tag, escaped)
    return text


def _call_object(call: ToolCall) -> dict[str, Any]:
    return {"name": call.name, "arguments": call.arguments}


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


def to_openai_tool_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    """Calls as an OpenAI ``tool_calls`` list (arguments as JSON strings, ids ``call_0``...)."""
    return [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": json.dumps(call.arguments, ensure_ascii=False, allow_nan=False),
            },
        }
        for i, call in enumerate(calls)
    ]


def format_calls(calls: list[ToolCall], fmt: str) -> str:
    """Write calls as a model would in ``fmt``; ``parse`` gives the same calls back.

    json: one object, or a list when there are zero or several calls. hermes: one block per call
    (zero calls is the empty string). python: ``[f(a=1), g(b='x')]``. openai: the message JSON.
    Raises ValueError for values that are not JSON, or names the python format cannot spell.
    """
    if fmt == "json":
        objects = [_call_object(c) for c in calls]
        return _json_text(objects[0] if len(objects) == 1 else objects)
    if fmt == "hermes":
        return "\n".join(
            f"{TOOL_CALL_OPEN}\n{_json_text(_call_object(c))}\n{TOOL_CALL_CLOSE}" for c in calls
        )
    if fmt == "python":
        text = "[" + ", ".join(_py_call_text(c) for c in calls) + "]"
        for tag, escaped in _PY_TAG_ESCAPES:
            text = text.replace(tag, escaped)
        return text
    if fmt == "openai":
        message = {"role": "assistant", "content": None, "tool_calls": to_openai_tool_calls(calls)}
        return json.dumps(message, ensure_ascii=False, allow_nan=False)
    raise ValueError(f"unknown output format {fmt!r}; known: {sorted(PARSERS)}")
