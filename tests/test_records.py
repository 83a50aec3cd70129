"""Core records: the three tool dialects, schema translation and problems, JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from redline.records import (
    Completion,
    ErrorType,
    ParseError,
    ParseErrorKind,
    Sample,
    SampleRecord,
    Score,
    ToolCall,
    ToolSpec,
)

PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_tool_spec_accepts_openai_bare_and_bfcl_forms():
    openai = ToolSpec.model_validate(
        {"type": "function", "function": {"name": "w", "parameters": PARAMS}}
    )
    bare = ToolSpec.model_validate({"name": "w", "description": "", "parameters": PARAMS})
    assert openai == bare
    assert openai.required == ("city",)
    bfcl = ToolSpec.model_validate(
        {
            "name": "area",
            "parameters": {
                "type": "dict",
                "properties": {
                    "r": {"type": "float"},
                    "pt": {"type": "tuple", "items": {"type": "integer"}},
                    "x": {"type": "any"},
                    "opts": {"type": "dict", "properties": {"k": {"type": "String"}}},
                },
                "required": ["r"],
            },
        }
    )
    schema = bfcl.json_schema()
    assert schema["type"] == "object"
    assert schema["properties"]["r"] == {"type": "number"}
    assert schema["properties"]["pt"] == {"type": "array", "items": {"type": "integer"}}
    assert schema["properties"]["x"] == {}, "'any' carries no constraint"
    assert schema["properties"]["opts"]["properties"]["k"] == {"type": "string"}
    assert bfcl.problems() == ()
    assert bfcl.parameters["type"] == "dict", "the original dialect is kept for BFCL checking"
    assert bfcl.to_openai()["function"]["parameters"] == schema


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, "unknown type 'strin'"),
        ({"type": "object", "properties": ["a"]}, "'properties' must be an object"),
        ({"type": "object", "properties": {}, "required": "a"}, "'required' must be a list"),
        (
            {"type": "object", "properties": {}, "required": ["a"]},
            "required parameter 'a' is not in",
        ),
        ({"type": "string"}, "must be an object schema"),
        ({"type": "object", "properties": {"a": 3}}, "schema must be an object"),
    ],
)
def test_schema_problems_name_the_place(parameters, problem):
    problems = ToolSpec(name="t", parameters=parameters).problems()
    assert any(problem in p for p in problems), problems
    assert all(p.startswith("tool 't'") for p in problems)


def test_tool_spec_reads_null_or_json_text_parameters():
    # OpenAI lets a tool without parameters say null; some datasets keep the schema as text.
    none = ToolSpec.model_validate(
        {"type": "function", "function": {"name": "w", "parameters": None}}
    )
    assert none.parameters == {} and none.problems() == ()
    text = ToolSpec.model_validate({"name": "w", "parameters": json.dumps(PARAMS)})
    assert text.parameters == PARAMS
    with pytest.raises(ValidationError, match="parameters are text that is not JSON"):
        ToolSpec.model_validate({"name": "w", "parameters": "{type: object}"})


def test_tool_spec_rejects_a_nameless_tool():
    with pytest.raises(ValidationError):
        ToolSpec.model_validate({"description": "no name"})
    with pytest.raises(ValidationError, match="'function' must be an object"):
        ToolSpec.model_validate({"type": "function", "function": "w"})


@pytest.mark.parametrize(
    "form",
    [
        {"name": "w", "arguments": {"city": "Oslo"}},
        {"name": "w", "parameters": {"city": "Oslo"}},  # the name some datasets use
        {"name": "w", "arguments": '{"city": "Oslo"}'},  # JSON text, as OpenAI's API sends
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "w", "arguments": '{"city": "Oslo"}'},
        },
        {"function": {"name": "w", "arguments": {"city": "Oslo"}}},
    ],
)
def test_tool_call_accepts_the_usual_call_forms(form):
    # An answer column written in any of these must not lose its arguments.
    assert ToolCall.model_validate(form) == ToolCall(name="w", arguments={"city": "Oslo"})


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "w", "arguments": "{city: Oslo}"}, "arguments are text that is not JSON"),
        ({"name": "w", "arguments": "[1]"}, "arguments must be an object"),
        ({"name": "w", "arguments": {"city": "Oslo"}, "parameters": {"x": 1}}, "both"),
        ({"type": "function", "function": "w"}, "'function' must be an object"),
    ],
)
def test_tool_call_names_what_is_wrong(form, message):
    with pytest.raises(ValidationError, match=message):
        ToolCall.model_validate(form)


def test_bfcl_call_form():
    call = ToolCall(name="f.g", arguments={"a": [1, 2]})
    assert call.to_bfcl() == {"f.g": {"a": [1, 2]}}
    assert ToolCall.from_bfcl(call.to_bfcl()) == call
    with pytest.raises(ValueError, match="one-key object"):
        ToolCall.from_bfcl({"a": {}, "b": {}})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
calls = st.builds(
    ToolCall,
    name=st.text(min_size=1, max_size=12),
    arguments=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)


@settings(max_examples=150, deadline=None)
@given(
    calls=st.lists(calls, max_size=3),
    expected=st.none() | st.lists(calls, max_size=3),
    raw=st.text(),
    value=st.none() | st.floats(0, 1),
    error=st.none() | st.sampled_from(list(ErrorType)),
    parse_error=st.none() | st.sampled_from(list(ParseErrorKind)),
)
def test_records_round_trip_exactly(calls, expected, raw, value, error, parse_error):
    sample = Sample(
        id="s-1",
        messages=[{"role": "user", "content": raw}],
        tools=[ToolSpec(name="f", parameters=PARAMS)],
        expected=expected,
        possible_answer=[{"f": {"city": ["a", ""]}}],
        category="cat",
        metadata={"k": [1, 2.5, None]},
    )
    completion = Completion(
        raw=raw,
        reasoning=None if raw == "" else raw[:3],
        calls=calls,
        parse_error=None if parse_error is None else ParseError(kind=parse_error, message="m"),
        extra_text=raw[-2:],
        format="json",
    )
    record = SampleRecord(
        sample=sample,
        completion=completion,
        scores={"parse": Score(value=value, error_type=error, detail="d")},
        error_type=error,
    )
    line = record.to_json()
    again = SampleRecord.from_json(line)
    assert again == record
    assert again.to_json() == line
    assert json.loads(line)["completion"]["raw"] == raw
