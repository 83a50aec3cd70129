"""The formats by name: ``parse`` and ``format_calls`` for any of them, and ``auto``, which
detects an output's format (a hermes tag, an opening python call, else json).

Dispatch only; each format's rules are in its own module.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from redline.parsing.common import TOOL_CALL_OPEN
from redline.parsing.hermes import format_hermes, parse_hermes
from redline.parsing.json import bare_json, format_json, parse_json
from redline.parsing.openai import format_openai, parse_openai_text
from redline.parsing.python import format_python, parse_python
from redline.parsing.reasoning import strip_reasoning
from redline.records import Completion, ToolCall

PARSERS: dict[str, Callable[..., Completion]] = {
    "json": parse_json,
    "hermes": parse_hermes,
    "python": parse_python,
    "openai": parse_openai_text,
}


_PYTHON_CALL = re.compile(r"\s*(?:```\w*\s*)?\[?\s*[A-Za-z_][\w.]*\s*\(")


def detect_format(text: str) -> str:
    """The format an output is written in, judged outside the reasoning: ``hermes`` when it has
    a ``<tool_call>`` tag, ``python`` when it opens with a call, else ``json``."""
    return _format_of(strip_reasoning(text)[1])


def _format_of(rest: str) -> str:
    if TOOL_CALL_OPEN in rest:
        # The tag can stand inside a string argument of a python call list: an output that
        # opens with a call and reads whole as python is python, not a broken hermes block.
        if _PYTHON_CALL.match(rest) and _reads_as_python(rest):
            return "python"
        return "hermes"
    if rest[:1] == "{":  # cannot open a python call: skip the pattern
        return "json"
    if _PYTHON_CALL.match(rest):
        return "python"
    return "json"


def _reads_as_python(text: str) -> bool:
    completion = PARSERS["python"](text)
    return completion.parse_error is None and bool(completion.calls)


def parse(text: str, fmt: str) -> Completion:
    """Parse ``text`` in output format ``fmt`` (a key of PARSERS, or ``auto`` to detect it)."""
    if (fmt == "auto" or fmt == "json") and type(text) is str:
        parsed = bare_json(text)
        if parsed is not None:
            return parsed
    return _parse_searching(text, fmt)


def _parse_searching(text: str, fmt: str) -> Completion:
    """parse without the fast path: find the format and the calls anywhere in the text."""
    if fmt == "auto":
        if type(text) is str:  # reasoning is split off once, for detecting and for parsing
            stripped = strip_reasoning(text)
            return PARSERS[_format_of(stripped[1])](text, *stripped)
        fmt = detect_format(text)
    try:
        parser = PARSERS[fmt]
    except KeyError:
        known = ", ".join(["auto", *sorted(PARSERS)])
        raise ValueError(f"unknown output format {fmt!r}; known: {known}") from None
    return parser(text)


_WRITERS: dict[str, Callable[[list[ToolCall]], str]] = {
    "json": format_json,
    "hermes": format_hermes,
    "python": format_python,
    "openai": format_openai,
}


def format_calls(calls: list[ToolCall], fmt: str) -> str:
    """Write calls as a model would in ``fmt``; ``parse`` gives the same calls back.

    json: one object, or a list when there are zero or several calls. hermes: one block per call
    (zero calls is the empty string). python: ``[f(a=1), g(b='x')]``. openai: the message JSON.
    Raises ValueError for values that are not JSON, or names the python format cannot spell.
    """
    writer = _WRITERS.get(fmt) if isinstance(fmt, str) else None
    if writer is None:
        raise ValueError(f"unknown output format {fmt!r}; known: {sorted(PARSERS)}")
    return writer(calls)
