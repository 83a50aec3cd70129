"""What every format's parser shares: the plain result (``Parsed``), the typed failure a parser
stops with, the guard that keeps a parser from raising, and the limits on what a call may hold.

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


def as_record(parser: Callable[[Any], Parsed], name: str) -> Callable[[Any], Completion]:
    """The public form of a parser: the same, giving the Completion record."""

    @functools.wraps(parser)
    def records(text: Any) -> Completion:
        return parser(text).completion()

    records.__name__ = records.__qualname__ = name
    return records


def join(*pieces: str) -> str:
    """The non-blank pieces, stripped, one per line (text found outside the calls)."""
    return "\n".join(p.strip() for p in pieces if p.strip())


def build_parsed(
    text: str,
    fmt: str,
    reasoning: str | None,
    rest: str,
    calls: list[Call] | None = None,
    extra: str | None = None,
    error: tuple[ParseErrorKind, str] | None = None,
) -> Parsed:
    """A format's result: its calls and the text outside them (``extra``), or, with an error, no
    calls and all of the text left once reasoning is removed (``rest``)."""
    return Parsed(
        text,
        fmt,
        reasoning,
        [] if error else (calls or []),
        error,
        rest if error or extra is None else extra,
    )


# The error of an output that is nothing but reasoning (or nothing at all).
EMPTY = (ParseErrorKind.empty, "no output besides reasoning")
