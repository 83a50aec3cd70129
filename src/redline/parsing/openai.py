"""The openai format: the ``message`` of an OpenAI-compatible chat response, whose ``tool_calls``
are the calls, given as a dict (or SDK object) or as its JSON text; and its writer.

Each call's function object is read by redline.parsing.values, as json's calls are.
"""

from __future__ import annotations

import json
from typing import Any

from redline.parsing.common import (
    EMPTY,
    Call,
    ParseFailure,
    bad,
    completion,
    never_raises,
    syntax,
)
from redline.parsing.reasoning import strip_reasoning
from redline.parsing.values import DECODER, call_from_object, json_type
from redline.records import Completion, ParseErrorKind, ToolCall


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
    raise bad(
        f"message content must be a string, a list of parts or null, got {json_type(content)}"
    )


def _openai_calls(tool_calls: Any) -> list[Call]:
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise bad(f"tool_calls must be a list, got {json_type(tool_calls)}")
    calls = []
    for i, item in enumerate(tool_calls):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            raise bad(f"tool_calls[{i}] has no 'function' object")
        calls.append(call_from_object(function, f"tool_calls[{i}]"))
    return calls


def _dump_message(message: Any) -> str:
    try:
        return json.dumps(message, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(message)


@never_raises("openai", takes_text=False)
def parse_openai_message(message: dict[str, Any]) -> Completion:
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
        error = bad(f"a message must be an object, got {json_type(message)}").error
        return completion(raw, "openai", error=error)
    think: str | None = None
    rest = ""
    try:
        think, rest = strip_reasoning(_message_text(message.get("content")))
        calls = _openai_calls(message.get("tool_calls"))
        if not calls:
            if rest:
                raise ParseFailure(ParseErrorKind.no_call, "the message has no tool_calls")
            raise ParseFailure(ParseErrorKind.empty, "the message has no tool_calls and no content")
        error = None
    except ParseFailure as fail:
        calls, error = [], fail.error
    # Servers differ on the field's name: some send "reasoning_content", others "reasoning".
    given = message.get("reasoning_content")
    if not isinstance(given, str):
        given = message.get("reasoning")
    given = given.strip() if isinstance(given, str) else ""
    parts = [p for p in (given, think) if p]
    reasoning = "\n\n".join(parts) if parts else None
    return completion(raw, "openai", reasoning, calls, error, rest)


@never_raises("openai")
def parse_openai_text(text: str) -> Completion:
    """An OpenAI message given as JSON text (what ``Completion.raw`` holds for this format)."""
    if not text.strip():
        return completion(text, "openai", error=EMPTY)
    try:
        message = DECODER.decode(text.strip())
    except (ValueError, RecursionError) as err:
        error = syntax(f"not a JSON message: {type(err).__name__}: {err}"[:300]).error
        return completion(text, "openai", error=error, extra_text=text.strip())
    return parse_openai_message(message).model_copy(update={"raw": text})


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


def format_openai(calls: list[ToolCall]) -> str:
    """Calls as an assistant message's JSON (no content), what ``Completion.raw`` holds."""
    message = {"role": "assistant", "content": None, "tool_calls": to_openai_tool_calls(calls)}
    return json.dumps(message, ensure_ascii=False, allow_nan=False)
