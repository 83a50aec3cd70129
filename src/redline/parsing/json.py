"""The json format: one ``{"name", "arguments"}`` object or a JSON list of them, anywhere in the
output (the seed's format, and what most prompted models write), and its writer.

Finds the calls in the text; what a call may hold is checked in redline.parsing.values.
"""

from __future__ import annotations

import json
import re
from typing import Any

from redline.parsing.common import (
    EMPTY,
    FENCE_LANG,
    TOOL_CALL_OPEN,
    Call,
    ParseFailure,
    bad,
    build,
    completion,
    join,
    never_raises,
    syntax,
)
from redline.parsing.reasoning import strip_reasoning
from redline.parsing.values import (
    DECODER,
    call_object,
    calls_from_value,
    is_callish,
    json_text,
    json_type,
    well_formed_call,
)
from redline.records import Completion, ParseErrorKind, ToolCall

# The decoder's scanner itself: (value, end) at an index, StopIteration when nothing is there.
_SCAN = DECODER.scan_once
_OPENER = re.compile(r"[\[{]")
# A `{`/`[` is tried as JSON only when what follows looks like JSON (a key, a nested value, a
# close, or the end of the text), so `[Your Name]` or `a[i]` in prose is neither a call nor a
# broken one; a single-quoted or bare key still counts, so Python-dict output is invalid_syntax.
_JSONISH = re.compile(r"\s*(?:[\"'{\[\]}]|[A-Za-z_]\w*\s*:|\Z)")


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
                if is_callish(value):
                    return calls_from_value(value), s, end
        e = _skip_balanced(text, s)
        try:
            value, end = DECODER.raw_decode(text[s:e])
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
        if is_callish(value):
            return calls_from_value(value), s, end
        if value == [] and empty_list is None:
            empty_list = (s, end)
        elif not_a_call is None:
            not_a_call = f"JSON {json_type(value)} at position {s} is not a call (no 'name')"
        pos = end
    if empty_list is not None:
        return [], *empty_list
    if failure:
        raise syntax(failure)
    if not_a_call:
        raise bad(not_a_call)
    raise ParseFailure(ParseErrorKind.no_call, "no JSON call in the output")


def _trim_fences(before: str, after: str) -> str:
    """Prose around a JSON value, without the ``` fence lines that wrapped it."""
    before = before.rstrip()
    fence = before.rfind("```")
    if fence != -1 and FENCE_LANG.fullmatch(before[fence + 3 :]):
        before = before[:fence]
    after = after.lstrip()
    if after.startswith("```"):
        after = after[3:]
    return join(before, after)


@never_raises("json")
def parse_json(text: str, *stripped: Any) -> Completion:
    """One ``{"name", "arguments"}`` object or a JSON list of them, anywhere in the text.

    Prose and ``` fences around the JSON go to ``extra_text``. ``"parameters"`` is accepted for
    ``"arguments"``, arguments may be a JSON string of an object, and a missing arguments key
    means ``{}``. An empty list ``[]`` is a deliberate "no call": zero calls and no error.
    """
    reasoning, rest = stripped or strip_reasoning(text)  # given when the format was detected
    if not rest:
        return build(text, "json", reasoning, rest, error=EMPTY)
    try:
        calls, start, end = _find_json_call(rest)
    except ParseFailure as fail:
        return build(text, "json", reasoning, rest, error=fail.error)
    # The common case, one bare JSON value, has no prose around it to trim.
    extra = "" if start == 0 and end == len(rest) else _trim_fences(rest[:start], rest[end:])
    return completion(text, "json", reasoning, calls, None, extra)


_OPENERS = ("[", "{")


def bare_json(text: str) -> Completion | None:
    """The usual output, nothing but well-formed JSON calls (no reasoning, prose or tags), read
    without the general path's search; None for anything else. The same record as the search
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
        call = well_formed_call(item)
        if call is None:
            return None
        calls.append(call)
    return completion(text, "json", None, calls, None, "")  # [] too: a deliberate "no call"


def format_json(calls: list[ToolCall]) -> str:
    """Calls as json-format text: one object, or a list when there are zero or several calls."""
    objects = [call_object(c) for c in calls]
    return json_text(objects[0] if len(objects) == 1 else objects)
