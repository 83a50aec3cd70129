"""What every format's parser shares: the record it gives (``completion``), the typed failure a
parser stops with, the guard that keeps a parser from raising, and the limits on a call.

No format's rules live here; each format has its module beside this one.
"""

from __future__ import annotations

import functools
import re
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


# The hermes tags live here because more than one format's code looks for them: format
# detection, json's fast path and the JSON writers' escapes.
TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

# pydantic refuses to serialise values nested ~250 deep; a call nested this deep is not a real
# call, so it is refused here rather than breaking the run's records later.
MAX_ARGUMENT_DEPTH = 100
# Python refuses to print ints beyond 4300 digits (json.dumps would raise on the record), and
# arithmetic in python-format arguments must not be able to build enormous numbers.
MAX_INT_BITS = 14_000

# The language tag after a ``` fence ("json", "python", "tool_code", ...).
FENCE_LANG = re.compile(r"[\w+.-]*")


Call = tuple[str, dict[str, Any]]  # (name, arguments)


def completion(
    raw: str,
    fmt: str,
    reasoning: str | None = None,
    calls: list[Call] | tuple[()] = (),
    error: tuple[ParseErrorKind, str] | None = None,
    extra_text: str = "",
) -> Completion:
    """The Completion record of what a parser made of an output: calls as ``(name, arguments)``
    pairs, the error as ``(kind, message)``."""
    return Completion(
        raw=raw,
        reasoning=reasoning,
        calls=[ToolCall(name=name, arguments=args) for name, args in calls],
        parse_error=None if error is None else ParseError(kind=error[0], message=error[1]),
        extra_text=extra_text,
        format=fmt,
    )


class ParseFailure(Exception):
    """Stops a parser with a typed error; caught by the format's parser, so it never leaves
    redline.parsing."""

    def __init__(self, kind: ParseErrorKind, message: str) -> None:
        super().__init__(message)
        self.error = (kind, message)


def bad(message: str) -> ParseFailure:
    """It parses, but is not a well-formed call."""
    return ParseFailure(ParseErrorKind.bad_structure, message)


def syntax(message: str) -> ParseFailure:
    """Call-shaped text that does not parse (truncation included)."""
    return ParseFailure(ParseErrorKind.invalid_syntax, message)


def never_raises(
    fmt: str, takes_text: bool = True
) -> Callable[[Callable[..., Completion]], Callable[..., Completion]]:
    """Last resort: every known failure is handled inside the parsers; this only guards bugs."""

    def wrap(parser: Callable[..., Completion]) -> Callable[..., Completion]:
        @functools.wraps(parser)
        def safe(text: Any, *stripped: Any) -> Completion:
            if takes_text and not isinstance(text, str):
                message = f"expected the output as text, got {type(text).__name__}"
                return completion(repr(text), fmt, error=(ParseErrorKind.bad_structure, message))
            try:
                return parser(text, *stripped)
            except Exception as exc:  # a parser must not take a run down
                raw = text if isinstance(text, str) else repr(text)
                message = f"parser raised {type(exc).__name__}: {exc}"[:500]
                return completion(raw, fmt, error=(ParseErrorKind.bad_structure, message))

        return safe

    return wrap


def join(*pieces: str) -> str:
    """The non-blank pieces, stripped, one per line (text found outside the calls)."""
    return "\n".join(p.strip() for p in pieces if p.strip())


def build(
    text: str,
    fmt: str,
    reasoning: str | None,
    rest: str,
    calls: list[Call] | None = None,
    extra: str | None = None,
    error: tuple[ParseErrorKind, str] | None = None,
) -> Completion:
    """A format's result: its calls and the text outside them (``extra``), or, with an error, no
    calls and all of the text left once reasoning is removed (``rest``)."""
    return completion(
        text,
        fmt,
        reasoning,
        [] if error else (calls or []),
        error,
        rest if error or extra is None else extra,
    )


# The error of an output that is nothing but reasoning (or nothing at all).
EMPTY = (ParseErrorKind.empty, "no output besides reasoning")
