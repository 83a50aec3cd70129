"""Hypothesis properties of redline.parsing: round trips, invariances, robustness.

Serialised calls parse back to the same calls in every format, whitespace between calls does not
matter, reasoning never yields calls, and no parser raises on arbitrary or near-miss text.
"""

from __future__ import annotations

import json
import keyword
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from redline.parsing import (
    PARSERS,
    format_calls,
    parse,
    parse_openai_message,
    strip_reasoning,
)
from redline.parsing.formats import _parse_searching
from redline.parsing.json import bare_json
from redline.records import Completion, ParseErrorKind, ToolCall

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["json", "hermes", "python", "openai"]
TAGS = ["<think>", "</think>", "<tool_call>", "</tool_call>"]

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
)
names = st.lists(identifiers, min_size=1, max_size=3).map(".".join)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
# The python format spells argument names as keywords, so they must be identifiers there. No
# values are excluded for it: repr round-trips every finite float and every string exactly,
# negative numbers come back through unary minus, and dicts/lists are literals.
python_calls = st.lists(
    st.builds(
        ToolCall, name=names, arguments=st.dictionaries(identifiers, json_values, max_size=4)
    ),
    max_size=4,
)
json_calls = st.lists(
    st.builds(
        ToolCall,
        name=names,
        arguments=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    ),
    max_size=4,
)
whitespace = st.text(alphabet=" \t\n\r", max_size=4)


def calls_for(fmt: str) -> st.SearchStrategy[list[ToolCall]]:
    return python_calls if fmt == "python" else json_calls


def assert_sound(completion: Completion) -> None:
    """What every parse result must satisfy, whatever the input."""
    assert isinstance(completion, Completion)
    assert not (completion.calls and completion.parse_error)
    if completion.parse_error:
        # The last-resort guard in the parsers must never be what answered.
        assert not completion.parse_error.message.startswith("parser raised")
    for call in completion.calls:
        assert json.loads(json.dumps(call.arguments, allow_nan=False)) == call.arguments
    assert Completion.model_validate_json(completion.model_dump_json()) == completion


# --- round trips ----------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), fmt=st.sampled_from(FORMATS))
def test_round_trip(data: st.DataObject, fmt: str) -> None:
    calls = data.draw(calls_for(fmt))
    completion = parse(format_calls(calls, fmt), fmt)
    assert completion.calls == calls
    if calls:
        assert completion.parse_error is None and completion.extra_text == ""
    assert_sound(completion)
    # The record is self-contained: parsing its raw text again gives the same completion.
    assert parse(completion.raw, fmt) == completion


@SETTINGS
@given(
    calls=json_calls, indent=st.sampled_from([None, 0, 2, "\t"]), pad=whitespace, pad2=whitespace
)
def test_json_whitespace_does_not_matter(
    calls: list[ToolCall], indent: Any, pad: str, pad2: str
) -> None:
    objects = [{"name": c.name, "arguments": c.arguments} for c in calls]
    text = pad + json.dumps(objects, indent=indent, ensure_ascii=False) + pad2
    assume(not any(tag in text for tag in TAGS))  # tags inside values are a separate concern
    assert parse(text, "json").calls == calls


@SETTINGS
@given(calls=json_calls.filter(bool), data=st.data())
def test_hermes_whitespace_does_not_matter(calls: list[ToolCall], data: st.DataObject) -> None:
    blocks = []
    for call in calls:
        body = (
            format_calls([call], "hermes")
            .removeprefix("<tool_call>\n")
            .removesuffix("\n</tool_call>")
        )
        inner_left, inner_right, sep = (
            data.draw(whitespace),
            data.draw(whitespace),
            data.draw(whitespace),
        )
        blocks.append(f"{sep}<tool_call>{inner_left}{body}{inner_right}</tool_call>")
    text = "".join(blocks) + data.draw(whitespace)
    assert parse(text, "hermes").calls == calls


@SETTINGS
@given(calls=python_calls.filter(bool), data=st.data())
def test_python_whitespace_does_not_matter(calls: list[ToolCall], data: st.DataObject) -> None:
    pieces = [format_calls([c], "python")[1:-1] for c in calls]  # drop each call's own [ ]
    text = "[" + data.draw(whitespace)
    for i, piece in enumerate(pieces):
        text += piece + data.draw(whitespace)
        if i < len(pieces) - 1:
            text += "," + data.draw(whitespace)
    text += "]"
    bare = text[1:-1].strip() if data.draw(st.booleans()) else text  # BFCL allows no brackets
    assert parse(bare, "python").calls == calls


# --- reasoning ------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), fmt=st.sampled_from(["json", "hermes", "python"]), closed=st.booleans())
def test_calls_inside_think_are_never_calls(data: st.DataObject, fmt: str, closed: bool) -> None:
    calls = data.draw(calls_for(fmt))
    serialised = format_calls(calls, fmt)
    text = "<think>" + serialised + ("</think>" if closed else "")
    completion = parse(text, fmt)
    assert completion.calls == []
    assert (
        completion.parse_error is not None and completion.parse_error.kind == ParseErrorKind.empty
    )
    assert completion.reasoning == (serialised.strip() or None)
    # The same holds for an OpenAI message whose content carries the calls as text.
    message = {"role": "assistant", "content": text}
    assert parse_openai_message(message).calls == []


@SETTINGS
@given(data=st.data(), fmt=st.sampled_from(["json", "hermes", "python"]), thought=st.text())
def test_reasoning_before_calls_is_kept_apart(data: st.DataObject, fmt: str, thought: str) -> None:
    assume(not any(tag in thought for tag in TAGS))
    calls = data.draw(calls_for(fmt))
    completion = parse(f"<think>{thought}</think>\n" + format_calls(calls, fmt), fmt)
    assert completion.calls == calls
    assert completion.reasoning == (thought.strip() or None)


@SETTINGS
@given(text=st.text())
def test_strip_reasoning_never_leaves_a_think_block(text: str) -> None:
    reasoning, rest = strip_reasoning(text)
    assert "<think>" not in rest
    assert reasoning is None or reasoning == reasoning.strip() != ""


# --- robustness -----------------------------------------------------------------------------

# Tokens that make near-misses likely: JSON and python punctuation, tags, fences, keywords.
tokens = st.sampled_from(
    list("{}[]()\"',:=\\ \n-.0123456789eE")
    + TAGS
    + ["```", "```json\n", '"name"', '"arguments"', '"parameters"', "f", "true", "null", "NaN"]
)
token_soup = st.lists(tokens, max_size=60).map("".join)


@SETTINGS
@given(text=st.one_of(st.text(), token_soup), fmt=st.sampled_from(FORMATS))
def test_no_parser_raises_on_any_text(text: str, fmt: str) -> None:
    assert_sound(parse(text, fmt))
    reasoning, rest = strip_reasoning(text)
    assert isinstance(rest, str)


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[str, str]:
    """Serialised calls, then truncated, with characters deleted, or with noise inserted."""
    fmt = draw(st.sampled_from(FORMATS))
    text = format_calls(draw(calls_for(fmt)), fmt)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "delete", "insert"]))
        i = draw(st.integers(0, len(text)))
        if kind == "truncate":
            text = text[:i]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 3)) :]
        else:
            text = text[:i] + draw(st.sampled_from(list("{}[]()\"',:") + TAGS + ["```"])) + text[i:]
    return fmt, text


@SETTINGS
@given(case=near_misses(), fmt=st.sampled_from(FORMATS))
def test_no_parser_raises_on_near_misses(case: tuple[str, str], fmt: str) -> None:
    _, text = case
    assert_sound(parse(text, fmt))


@SETTINGS
@given(data=st.data(), fmt=st.sampled_from(FORMATS))
def test_truncation_never_passes_for_complete(data: st.DataObject, fmt: str) -> None:
    calls = data.draw(calls_for(fmt).filter(bool))
    text = format_calls(calls, fmt)
    cut = data.draw(st.integers(1, len(text) - 1))
    completion = parse(text[:cut], fmt)
    assert_sound(completion)
    if fmt == "hermes":
        # Whole blocks before the cut may parse; never a call that was not fully written.
        assert completion.parse_error is not None or (
            len(completion.calls) < len(calls)
            and completion.calls == calls[: len(completion.calls)]
        )
    else:
        # One JSON document, python list or message: any strict prefix is a parse error.
        assert completion.parse_error is not None


@SETTINGS
@given(
    message=st.dictionaries(
        st.sampled_from(["role", "content", "tool_calls", "reasoning_content", "reasoning"]),
        json_values,
    )
    | st.builds(
        lambda content, calls: {"content": content, "tool_calls": calls},
        st.none() | st.text(),
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "function": st.fixed_dictionaries(
                        {},
                        optional={"name": json_values, "arguments": json_values | st.text()},
                    )
                    | json_values
                },
            )
            | json_values,
            max_size=3,
        ),
    )
)
def test_openai_parser_never_raises(message: dict[str, Any]) -> None:
    completion = parse_openai_message(message)
    assert_sound(completion)
    assert parse(completion.raw, "openai") == completion


def test_every_format_is_covered() -> None:
    assert sorted(PARSERS) == sorted(FORMATS)


# --- the fast path ----------------------------------------------------------------------------


@st.composite
def json_outputs(draw: st.DrawFn) -> str:
    """JSON-format outputs, mostly well formed: bare, padded, with "parameters" for "arguments",
    a single object, odd values (strings of arguments, blank names), prose or tags around."""
    calls = draw(json_calls)
    key = draw(st.sampled_from(["arguments", "parameters"]))
    objects: list[Any] = [{"name": c.name, key: c.arguments} for c in calls]
    if objects and draw(st.booleans()):  # a tag inside a value: it decides the format
        tag = draw(st.sampled_from([*TAGS, TAGS[2]]))  # <tool_call> twice: only it flips the format
        objects[-1][key] = {**objects[-1][key], "note": tag}
    if objects and draw(st.booleans()):
        odd = draw(st.sampled_from([json.dumps(objects[0][key]), None, "", [], " ", 3]))
        objects[0] = {**objects[0], "name" if odd in (" ", 3) else key: odd}
    value: Any = objects[0] if len(objects) == 1 and draw(st.booleans()) else objects
    text = json.dumps(value, indent=draw(st.sampled_from([None, 2])), ensure_ascii=False)
    if draw(st.booleans()):
        return text + draw(whitespace)
    around = st.sampled_from(["", " \n", "ok ", "```json\n", "<think>x</think>", "<tool_call>"])
    return draw(around) + text + draw(around)


@settings(SETTINGS, max_examples=300)
@given(
    text=st.one_of(json_outputs(), json_outputs(), token_soup, near_misses().map(lambda c: c[1]))
)
def test_fast_path_agrees_with_the_search(text: str) -> None:
    # parse reads the usual output (bare JSON calls) without searching; whenever it does,
    # the result is what the search gives.
    fast = bare_json(text)
    if fast is None:
        return
    for fmt in ("auto", "json"):
        slow = _parse_searching(text, fmt)
        got = (fast.raw, fast.format, fast.reasoning, fast.calls, fast.parse_error, fast.extra_text)
        assert got == (
            slow.raw,
            slow.format,
            slow.reasoning,
            slow.calls,
            slow.parse_error,
            slow.extra_text,
        )


def test_fast_path_takes_the_usual_output() -> None:
    text = ' [{"name": "f", "arguments": {"a": 1}}]\n'
    assert bare_json(text) is not None
    assert bare_json(" [ ]\n").calls == []
    for other in ("ok " + text, text + "<think>", '{"name": "f", "arguments": "{}"}', "{}"):
        assert bare_json(other) is None
    # A tag inside a value still decides how the whole output is read (reasoning, hermes).
    for tag in TAGS:
        inside = json.dumps([{"name": "f", "arguments": {"note": tag}}])
        assert bare_json(inside) is None or tag == "</tool_call>"
        test_fast_path_agrees_with_the_search.hypothesis.inner_test(inside)
