"""The hermes format: ``<tool_call>{json}</tool_call>`` blocks as Qwen2.5/Qwen3 write them
(several blocks are parallel calls), and its writer.

Finds the blocks; the JSON inside each is read by redline.parsing.values.
"""

from __future__ import annotations

from typing import Any

from redline.parsing.common import (
    EMPTY,
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    Call,
    ParseFailure,
    bad,
    build,
    join,
    never_raises,
    syntax,
)
from redline.parsing.reasoning import strip_reasoning
from redline.parsing.values import DECODER, call_object, calls_from_value, json_text
from redline.records import Completion, ParseErrorKind, ToolCall


def _calls_from_block(body: str, index: int) -> list[Call]:
    body = body.strip()
    if not body:
        raise bad(f"<tool_call> block {index} is empty")
    try:
        value, end = DECODER.raw_decode(body)
    except RecursionError:
        raise syntax(f"<tool_call> block {index} is nested too deeply to decode") from None
    except ValueError as err:
        raise syntax(f"<tool_call> block {index} is not valid JSON: {err}") from None
    if body[end:].strip():
        raise syntax(f"<tool_call> block {index} has text after its JSON")
    try:
        return calls_from_value(value)
    except ParseFailure as fail:
        kind, message = fail.error
        raise ParseFailure(kind, f"<tool_call> block {index}: {message}") from None


def _hermes_calls(rest: str) -> tuple[list[Call], str]:
    calls: list[Call] = []
    outside: list[str] = []
    pos = 0
    blocks = 0
    while True:
        start = rest.find(TOOL_CALL_OPEN, pos)
        close = rest.find(TOOL_CALL_CLOSE, pos)
        if close != -1 and (start == -1 or close < start):
            raise syntax(f"{TOOL_CALL_CLOSE} at position {close} without an opening tag")
        if start == -1:
            outside.append(rest[pos:])
            break
        outside.append(rest[pos:start])
        body = start + len(TOOL_CALL_OPEN)
        end = rest.find(TOOL_CALL_CLOSE, body)
        if end == -1:
            raise syntax(f"<tool_call> block {blocks} is never closed (truncated output?)")
        calls.extend(_calls_from_block(rest[body:end], blocks))
        blocks += 1
        pos = end + len(TOOL_CALL_CLOSE)
    if blocks == 0:
        raise ParseFailure(ParseErrorKind.no_call, "no <tool_call> block in the output")
    return calls, join(*outside)


@never_raises("hermes")
def parse_hermes(text: str, *stripped: Any) -> Completion:
    """``<tool_call>{json}</tool_call>`` blocks as Qwen2.5/Qwen3 write them; several are parallel.

    Arguments may be an object or a JSON string. An unclosed block (truncated output) or a stray
    closing tag is invalid_syntax; text outside the blocks goes to ``extra_text``.
    """
    reasoning, rest = stripped or strip_reasoning(text)  # given when the format was detected
    if not rest:
        return build(text, "hermes", reasoning, rest, error=EMPTY)
    try:
        calls, extra = _hermes_calls(rest)
    except ParseFailure as fail:
        return build(text, "hermes", reasoning, rest, error=fail.error)
    return build(text, "hermes", reasoning, rest, calls=calls, extra=extra)


def format_hermes(calls: list[ToolCall]) -> str:
    """Calls as hermes-format text: one block per call (zero calls is the empty string)."""
    return "\n".join(
        f"{TOOL_CALL_OPEN}\n{json_text(call_object(c))}\n{TOOL_CALL_CLOSE}" for c in calls
    )
