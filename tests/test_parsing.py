"""Table-driven tests for redline.parsing: one case per parser behaviour.

Each case names the format, the raw output and what the parser must make of it; invariants that
hold for every case (calls xor error, JSON round trip of the record) are checked on all of them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from redline.parsing import (
    PARSERS,
    format_calls,
    parse,
    parse_openai_message,
    strip_reasoning,
    to_openai_tool_calls,
)
from redline.records import Completion, ParseErrorKind, ToolCall

E = ParseErrorKind
ANY = object()  # "not checked by this case"


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(name=name, arguments=arguments)


def case(
    id: str,
    fmt: str,
    text: str,
    calls: list[ToolCall] | tuple[()] = (),
    error: ParseErrorKind | None = None,
    extra: Any = ANY,
    reasoning: Any = ANY,
) -> Any:
    return pytest.param(fmt, text, list(calls), error, extra, reasoning, id=f"{fmt}-{id}")


F = call("f", a=1)
G = call("get_weather", city="Paris", unit="c")

TEXT_CASES = [
    # --- json -----------------------------------------------------------------------------
    case("object", "json", '{"name": "f", "arguments": {"a": 1}}', [F], extra=""),
    case(
        "list-parallel",
        "json",
        '[{"name": "f", "arguments": {"a": 1}}, '
        '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]',
        [F, G],
    ),
    case(
        "json-fence-with-prose",
        "json",
        'Sure, calling it:\n```json\n{"name": "f", "arguments": {"a": 1}}\n```\nDone.',
        [F],
        extra="Sure, calling it:\nDone.",
    ),
    case("plain-fence", "json", '```\n{"name": "f", "arguments": {"a": 1}}\n```', [F], extra=""),
    case(
        "prose-around-no-fence",
        "json",
        'I will call f. {"name": "f", "arguments": {"a": 1}} Hope that helps.',
        [F],
        extra="I will call f.\nHope that helps.",
    ),
    case("parameters-alias", "json", '{"name": "f", "parameters": {"a": 1}}', [F]),
    case("arguments-as-string", "json", '{"name": "f", "arguments": "{\\"a\\": 1}"}', [F]),
    case("arguments-absent", "json", '{"name": "f"}', [call("f")]),
    case("arguments-null", "json", '{"name": "f", "arguments": null}', [call("f")]),
    case("arguments-empty-string", "json", '{"name": "f", "arguments": ""}', [call("f")]),
    case(
        "raw-newline-in-string",
        "json",
        '{"name": "write", "arguments": {"text": "line 1\nline 2"}}',
        [call("write", text="line 1\nline 2")],
    ),
    case("empty-list-is-no-call", "json", "[]", [], None, extra=""),
    case(
        "empty-list-with-prose",
        "json",
        "None of the tools fit.\n```json\n[]\n```",
        [],
        None,
        extra="None of the tools fit.",
    ),
    case("name-not-string", "json", '{"name": 5, "arguments": {}}', error=E.bad_structure),
    case("name-empty", "json", '{"name": "", "arguments": {}}', error=E.bad_structure),
    case("arguments-array", "json", '{"name": "f", "arguments": [1]}', error=E.bad_structure),
    case(
        "arguments-string-of-array",
        "json",
        '{"name": "f", "arguments": "[1]"}',
        error=E.bad_structure,
    ),
    case(
        "arguments-string-not-json",
        "json",
        '{"name": "f", "arguments": "{a: 1}"}',
        error=E.invalid_syntax,
    ),
    case(
        "list-element-without-name",
        "json",
        '[{"name": "f", "arguments": {}}, {"arguments": {}}]',
        error=E.bad_structure,
    ),
    case(
        "list-element-not-object",
        "json",
        '[{"name": "f", "arguments": {}}, 3]',
        error=E.bad_structure,
    ),
    case("json-but-not-a-call", "json", '{"answer": 42}', error=E.bad_structure),
    case("nan-argument", "json", '{"name": "f", "arguments": {"x": NaN}}', error=E.bad_structure),
    case(
        "truncated-object",
        "json",
        '{"name": "f", "arguments": {"a": 1',
        error=E.invalid_syntax,
        extra='{"name": "f", "arguments": {"a": 1',
    ),
    case(
        # The complete first element must not be taken for the answer.
        "truncated-list",
        "json",
        '[{"name": "f", "arguments": {}}, {"name": "g", "argu',
        error=E.invalid_syntax,
    ),
    case(
        "broken-element-inside-list",
        "json",
        '[{"name": "f", "arguments": {\'a\': 1}}, {"name": "g", "arguments": {}}]',
        error=E.invalid_syntax,
    ),
    case("single-quotes", "json", "{'name': 'f', 'arguments': {}}", error=E.invalid_syntax),
    case("unquoted-keys", "json", "{name: 'f'}", error=E.invalid_syntax),
    case("lone-brace", "json", "Calling now: {", error=E.invalid_syntax),
    case(
        "no-braces", "json", "The weather is sunny.", error=E.no_call, extra="The weather is sunny."
    ),
    case("prose-brackets", "json", "Dear [Your Name], see [the docs](x).", error=E.no_call),
    case("prose-citation", "json", "As shown in [1] and [2, 3].", error=E.no_call),
    case(
        "prose-bracket-then-call",
        "json",
        'Per [the manual]: {"name": "f", "arguments": {"a": 1}}',
        [F],
        extra="Per [the manual]:",
    ),
    case("empty", "json", "", error=E.empty, reasoning=None),
    case("whitespace", "json", " \n\t ", error=E.empty),
    case("deep-nesting", "json", "[" * 100_000, error=E.invalid_syntax),
    case(
        "think-closed-then-call",
        "json",
        '<think>The user wants f.</think>\n{"name": "f", "arguments": {"a": 1}}',
        [F],
        extra="",
        reasoning="The user wants f.",
    ),
    case(
        "call-inside-think-ignored",
        "json",
        '<think>maybe {"name": "f", "arguments": {"a": 1}}</think>',
        error=E.empty,
        reasoning='maybe {"name": "f", "arguments": {"a": 1}}',
    ),
    case(
        "call-inside-think-prose-after",
        "json",
        '<think>{"name": "f", "arguments": {"a": 1}}</think>No tool fits.',
        error=E.no_call,
        extra="No tool fits.",
    ),
    case(
        "think-unclosed-swallows-rest",
        "json",
        '<think>let me think {"name": "f", "arguments": {"a": 1}}',
        error=E.empty,
        reasoning='let me think {"name": "f", "arguments": {"a": 1}}',
    ),
    case(
        "think-opened-in-prompt",
        "json",
        'thinking...\n</think>\n{"name": "f", "arguments": {"a": 1}}',
        [F],
        reasoning="thinking...",
    ),
    case(
        "several-think-blocks",
        "json",
        '<think>a</think>{"name": "f", "arguments": {"a": 1}}<think>b</think>',
        [F],
        reasoning="a\n\nb",
    ),
    case(
        "empty-think-block",
        "json",
        '<think>\n\n</think>\n\n{"name": "f"}',
        [call("f")],
        None,
        "",
        None,
    ),
    # --- hermes ---------------------------------------------------------------------------
    case(
        "block-with-newlines",
        "hermes",
        '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>',
        [F],
        extra="",
    ),
    case(
        "block-no-newlines",
        "hermes",
        '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>',
        [F],
    ),
    case(
        "arguments-as-string",
        "hermes",
        '<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>',
        [F],
    ),
    case(
        "parallel-blocks-with-text",
        "hermes",
        'Checking both.\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>\n'
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'
        "</tool_call>\nWill report back.",
        [F, G],
        extra="Checking both.\nWill report back.",
    ),
    case(
        "unclosed-final-block",
        "hermes",
        '<tool_call>\n{"name": "f", "arguments": {"a": 1}}',
        error=E.invalid_syntax,
    ),
    case(
        "unclosed-after-complete-block",
        "hermes",
        '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>\n'
        '<tool_call>{"name": "g", "arg',
        error=E.invalid_syntax,
    ),
    case("stray-closing-tag", "hermes", '{"name": "f"}</tool_call>', error=E.invalid_syntax),
    case(
        "no-tag", "hermes", "It is sunny in Paris.", error=E.no_call, extra="It is sunny in Paris."
    ),
    case("bare-json-is-not-hermes", "hermes", '{"name": "f", "arguments": {}}', error=E.no_call),
    case("empty", "hermes", "", error=E.empty),
    case(
        "invalid-json-in-block",
        "hermes",
        "<tool_call>{'name': 'f'}</tool_call>",
        error=E.invalid_syntax,
    ),
    case("empty-block", "hermes", "<tool_call>\n</tool_call>", error=E.bad_structure),
    case(
        "text-after-json-in-block",
        "hermes",
        '<tool_call>{"name": "f"} and more</tool_call>',
        error=E.invalid_syntax,
    ),
    case(
        "block-without-name",
        "hermes",
        '<tool_call>{"arguments": {}}</tool_call>',
        error=E.bad_structure,
    ),
    case(
        "call-inside-think-ignored",
        "hermes",
        '<think><tool_call>{"name": "f"}</tool_call></think>\nNo call needed.',
        error=E.no_call,
        extra="No call needed.",
    ),
    case(
        "qwen3-empty-think-then-call",
        "hermes",
        '<think>\n\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>',
        [F],
        None,
        "",
        None,
    ),
    # --- python ---------------------------------------------------------------------------
    case(
        "list-of-calls",
        "python",
        '[f(a=1), get_weather(city="Paris", unit="c")]',
        [F, G],
        extra="",
    ),
    case("bare-call", "python", "f(a=1)", [F]),
    case("bare-calls-no-brackets", "python", 'f(a=1), get_weather(city="Paris", unit="c")', [F, G]),
    case(
        "fence-with-prose",
        "python",
        "Here you go:\n```python\n[f(a=1)]\n```\nThat is all.",
        [F],
        extra="Here you go:\nThat is all.",
    ),
    case("inline-backticks", "python", "`f(a=1)`", [F]),
    case("quoted", "python", '"f(a=1)"', [F]),
    case("dotted-name", "python", "[math.factorial(n=5)]", [call("math.factorial", n=5)]),
    case(
        "literals",
        "python",
        "[f(a=-1.5, b=+2, c=(1, 2), d={3}, e={'k': [None, True, False]}, s='x')]",
        [call("f", a=-1.5, b=2, c=[1, 2], d=[3], e={"k": [None, True, False]}, s="x")],
    ),
    case("variable-name", "python", "[f(a=x, b=np.pi)]", [call("f", a="x", b="np.pi")]),
    case(
        "arithmetic",
        "python",
        "[f(a=2**3, b=1/2, c=3*4, d=7//2, e=7 % 3, f=1 + 2 - 4, g=-2**2, h=2**-1)]",
        [call("f", a=8, b=0.5, c=12, d=3, e=1, f=-1, g=-4, h=0.5)],
    ),
    case("huge-power", "python", "[f(a=10**100000)]", error=E.bad_structure),
    case("float-overflow", "python", "[f(a=2.0**10000)]", error=E.bad_structure),
    case("division-by-zero", "python", "[f(a=1/0)]", error=E.bad_structure),
    case("complex-result", "python", "[f(a=(-8)**0.5)]", error=E.bad_structure),
    case(
        "nested-call-keywords",
        "python",
        "[f(a=g(b=1, c=h.k(d='x')))]",
        [call("f", a={"g": {"b": 1, "c": {"h.k": {"d": "x"}}}})],
    ),
    case(
        "nested-call-no-keywords",
        "python",
        "[f(a=g(1, 2), b=now())]",
        [call("f", a="g(1, 2)", b="now()")],
    ),
    case("positional-args", "python", "[f(1)]", error=E.bad_structure),
    case("kwargs-unpacking", "python", "[f(**opts)]", error=E.bad_structure),
    case("repeated-keyword", "python", "[f(a=1, a=2)]", error=E.invalid_syntax),
    case("lambda-value", "python", "[f(a=lambda: 1)]", error=E.bad_structure),
    case("fstring-value", "python", "[f(a=f'{x}')]", error=E.bad_structure),
    case("bytes-value", "python", "[f(a=b'x')]", error=E.bad_structure),
    case("dict-int-key", "python", "[f(a={1: 'x'})]", error=E.bad_structure),
    case("subscript-name", "python", "[f[0](a=1)]", error=E.bad_structure),
    case("non-call-element", "python", "[f(a=1), 3]", error=E.bad_structure),
    case("truncated", "python", "[f(a=1), g(b=", error=E.invalid_syntax),
    case("missing-close-bracket-not-repaired", "python", "[f(a=1)", error=E.invalid_syntax),
    case("syntax-error-with-call", "python", "Call get_weather(city) now.", error=E.invalid_syntax),
    case("prose-no-paren", "python", "I cannot help with that.", error=E.no_call),
    case("prose-with-paren", "python", "I can't do that (sorry).", error=E.no_call),
    case("prose-that-parses", "python", "Hello", error=E.no_call, extra="Hello"),
    case("empty-list", "python", "[]", [], None, extra=""),
    case("empty", "python", "", error=E.empty),
    case("empty-fence", "python", "Nothing to call:\n```\n```", error=E.no_call),
    case("null-byte", "python", "[f(a=1)]\x00", error=E.invalid_syntax),
    case("deep-brackets", "python", "[f(a=" + "[" * 100_000 + ")]", error=E.invalid_syntax),
    case("deep-unary", "python", "[f(a=" + "-" * 100_000 + "1)]", error=E.invalid_syntax),
    case(
        "call-inside-think-ignored",
        "python",
        "<think>[f(a=1)]</think>",
        error=E.empty,
        reasoning="[f(a=1)]",
    ),
    case(
        "think-then-call",
        "python",
        "<think>use f</think>[f(a=1)]",
        [F],
        reasoning="use f",
    ),
]


@pytest.mark.parametrize("fmt, text, calls, error, extra, reasoning", TEXT_CASES)
def test_text_formats(
    fmt: str,
    text: str,
    calls: list[ToolCall],
    error: ParseErrorKind | None,
    extra: Any,
    reasoning: Any,
) -> None:
    completion = parse(text, fmt)
    assert completion.calls == calls
    assert (completion.parse_error.kind if completion.parse_error else None) == error
    if extra is not ANY:
        assert completion.extra_text == extra
    if reasoning is not ANY:
        assert completion.reasoning == reasoning
    assert completion.raw == text
    assert completion.format == fmt
    check_invariants(completion)


def check_invariants(completion: Completion) -> None:
    # Calls xor error; the last-resort guard never fired; the record survives JSON.
    assert not (completion.calls and completion.parse_error)
    if completion.parse_error:
        assert not completion.parse_error.message.startswith("parser raised")
    assert Completion.model_validate_json(completion.model_dump_json()) == completion


# --- openai ---------------------------------------------------------------------------------


def tool_call(name: str, arguments: Any, i: int = 0) -> dict[str, Any]:
    return {"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": arguments}}


def message(content: Any = None, tool_calls: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": content, **extra}
    if tool_calls is not None:
        out["tool_calls"] = tool_calls
    return out


OPENAI_CASES = [
    pytest.param(
        message(None, [tool_call("f", '{"a": 1}')]), [F], None, "", None, id="string-args"
    ),
    pytest.param(message(None, [tool_call("f", {"a": 1})]), [F], None, "", None, id="object-args"),
    pytest.param(
        message(None, [tool_call("f", '{"a": 1}'), tool_call("get_weather", G.arguments, 1)]),
        [F, G],
        None,
        "",
        None,
        id="parallel",
    ),
    pytest.param(
        message("Calling f.", [tool_call("f", {"a": 1})], reasoning_content="User wants f."),
        [F],
        None,
        "Calling f.",
        "User wants f.",
        id="reasoning-content",
    ),
    pytest.param(
        message(None, [tool_call("f", {"a": 1})], reasoning="User wants f."),
        [F],
        None,
        "",
        "User wants f.",
        id="reasoning-field",
    ),
    pytest.param(
        message("<think>hmm</think>ok", [tool_call("f", {"a": 1})], reasoning_content="first"),
        [F],
        None,
        "ok",
        "first\n\nhmm",
        id="think-in-content",
    ),
    pytest.param(
        message(
            [{"type": "text", "text": "Calling "}, {"type": "text", "text": "f."}],
            [tool_call("f", {"a": 1})],
        ),
        [F],
        None,
        "Calling f.",
        None,
        id="content-parts",
    ),
    pytest.param(
        message(None, [tool_call("f", "")]), [call("f")], None, "", None, id="empty-args-string"
    ),
    pytest.param(message("It is sunny."), [], E.no_call, "It is sunny.", None, id="no-tool-calls"),
    pytest.param(message(None, []), [], E.empty, "", None, id="empty"),
    pytest.param(
        message('<think>{"name": "f"}</think>'),
        [],
        E.empty,
        "",
        '{"name": "f"}',
        id="call-in-think",
    ),
    pytest.param(
        message(None, [tool_call("f", '{"a": 1')]),
        [],
        E.invalid_syntax,
        "",
        None,
        id="truncated-args",
    ),
    pytest.param(
        message(None, [tool_call("f", "[1]")]), [], E.bad_structure, "", None, id="args-array"
    ),
    pytest.param(
        message(None, [tool_call(7, {})]), [], E.bad_structure, "", None, id="name-not-string"
    ),
    pytest.param(message(None, [{"id": "x"}]), [], E.bad_structure, "", None, id="no-function"),
    pytest.param(message(None, {"f": 1}), [], E.bad_structure, "", None, id="tool-calls-not-list"),
    pytest.param(message(7, None), [], E.bad_structure, "", None, id="content-not-text"),
    pytest.param(["not", "a", "message"], [], E.bad_structure, "", None, id="not-a-dict"),
]


@pytest.mark.parametrize("msg, calls, error, extra, reasoning", OPENAI_CASES)
def test_openai_message(
    msg: Any, calls: list[ToolCall], error: ParseErrorKind | None, extra: str, reasoning: Any
) -> None:
    completion = parse_openai_message(msg)
    assert completion.calls == calls
    assert (completion.parse_error.kind if completion.parse_error else None) == error
    assert completion.extra_text == extra
    assert completion.reasoning == reasoning
    assert completion.format == "openai"
    # raw is the whole message as JSON, and parsing it again gives the same completion.
    assert json.loads(completion.raw) == msg
    assert parse(completion.raw, "openai") == completion
    check_invariants(completion)


@pytest.mark.parametrize(
    "text, error",
    [("", E.empty), ("{not json", E.invalid_syntax), ('{"role": "assistant"', E.invalid_syntax)],
)
def test_openai_text_errors(text: str, error: ParseErrorKind) -> None:
    completion = parse(text, "openai")
    assert completion.parse_error is not None and completion.parse_error.kind == error


# --- strip_reasoning ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, reasoning, rest",
    [
        pytest.param("no reasoning", None, "no reasoning", id="none"),
        pytest.param("<think> a </think> b", "a", "b", id="closed"),
        pytest.param("x <think> a", "a", "x", id="unclosed"),
        pytest.param("<think>a</think>b<think>c</think>d", "a\n\nc", "bd", id="several"),
        pytest.param("<think>a</think>b<think>c", "a\n\nc", "b", id="closed-then-unclosed"),
        pytest.param("pre-opened</think>answer", "pre-opened", "answer", id="opened-in-prompt"),
        pytest.param("<think>\n\n</think>\n\nanswer", None, "answer", id="empty-block"),
        pytest.param("a</think>b</think>c", "a", "b</think>c", id="second-stray-close-kept"),
        pytest.param("", None, "", id="empty"),
    ],
)
def test_strip_reasoning(text: str, reasoning: str | None, rest: str) -> None:
    assert strip_reasoning(text) == (reasoning, rest)


# --- registry and serialisers ----------------------------------------------------------------


def test_registry_and_unknown_format() -> None:
    assert set(PARSERS) == {"json", "hermes", "python", "openai"}
    with pytest.raises(ValueError, match="unknown output format"):
        parse("x", "xml")
    with pytest.raises(ValueError, match="unknown output format"):
        format_calls([F], "xml")


@pytest.mark.parametrize(
    "fmt, calls, text",
    [
        ("json", [F], '{"name": "f", "arguments": {"a": 1}}'),
        ("json", [], "[]"),
        (
            "json",
            [F, F],
            '[{"name": "f", "arguments": {"a": 1}}, {"name": "f", "arguments": {"a": 1}}]',
        ),
        ("hermes", [F], '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'),
        ("hermes", [], ""),
        ("python", [F, call("m.g", s="x", v=[1.5, None])], "[f(a=1), m.g(s='x', v=[1.5, None])]"),
        ("python", [], "[]"),
        # Tag-like text inside values is escaped so it cannot be read back as a tag or fence.
        ("json", [call("f", s="<think>")], '{"name": "f", "arguments": {"s": "\\u003cthink>"}}'),
        ("python", [call("f", s="<think>`")], "[f(s='\\x3cthink>\\x60')]"),
    ],
)
def test_format_calls(fmt: str, calls: list[ToolCall], text: str) -> None:
    assert format_calls(calls, fmt) == text
    assert parse(text, fmt).calls == calls


@pytest.mark.parametrize(
    "bad",
    [call("class"), call("f", **{"not an identifier": 1}), call("f", **{"a.b": 1}), call("1f")],
    ids=["keyword-name", "space-in-key", "dotted-key", "digit-first"],
)
def test_python_format_refuses_unspellable_names(bad: ToolCall) -> None:
    with pytest.raises(ValueError):
        format_calls([bad], "python")


def test_to_openai_tool_calls() -> None:
    out = to_openai_tool_calls([F, G])
    assert out[0] == {
        "id": "call_0",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a": 1}'},
    }
    assert parse_openai_message(message(None, out)).calls == [F, G]


@pytest.mark.parametrize("fmt", sorted(PARSERS))
def test_non_text_input_does_not_raise(fmt: str) -> None:
    completion = PARSERS[fmt](None)  # type: ignore[arg-type]
    assert completion.parse_error is not None
    assert completion.parse_error.kind == E.bad_structure
    assert completion.parse_error.message.startswith("expected the output as text")


def test_openai_sdk_message_object() -> None:
    class SdkMessage:  # stands in for openai's ChatCompletionMessage (a pydantic model)
        def model_dump(self, exclude_none: bool = False) -> dict[str, Any]:
            return message("ok", [tool_call("f", '{"a": 1}')])

    completion = parse_openai_message(SdkMessage())  # type: ignore[arg-type]
    assert completion.calls == [F] and completion.extra_text == "ok"


# --- time on large inputs -------------------------------------------------------------------

_BIG = 100_000
_MANY_JSON = json.dumps([{"name": "f", "arguments": {"a": i}} for i in range(4000)])
LARGE_INPUTS = {
    "opening-braces": "{" * _BIG,
    "opening-brackets": "[" * _BIG,
    "nested-keys": '{"a":' * (_BIG // 5),
    "list-of-ones": "[1," * (_BIG // 3),
    "quotes-and-brackets": '[" ' * (_BIG // 3),
    "prose": "word " * (_BIG // 5),
    "prose-brackets": "a[i] " * (_BIG // 5),
    "bare-key-objects": "{a:1} " * (_BIG // 6),
    "empty-objects": "{} " * (_BIG // 3),
    "strings-in-brackets": '["x"' * (_BIG // 4),
    "think-tags": "<think>" * (_BIG // 7),
    "close-think-tags": "</think>" * (_BIG // 8),
    "tool-call-tags": "<tool_call>" * (_BIG // 11),
    "parens": "(" * _BIG,
    "call-parens": "f(" * (_BIG // 2),
    "unary": "-" * _BIG,
    "many-json-calls": _MANY_JSON,
    "many-json-calls-truncated": _MANY_JSON[:-3],
    "many-python-calls": "[" + ", ".join(f"f(a={i})" for i in range(10_000)) + "]",
    "many-hermes-blocks": '<tool_call>{"name": "f"}</tool_call>' * 2500,
    "long-string": '{"name": "f", "arguments": {"s": "' + "x" * _BIG + '"}}',
    "backslashes": '{"' + "\\" * _BIG,
    "fences": "```" * (_BIG // 3),
}


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@pytest.mark.parametrize("name", sorted(LARGE_INPUTS))
def test_large_inputs_parse_fast(fmt: str, name: str) -> None:
    text = LARGE_INPUTS[name]
    # CPU time of this process, not wall time: a busy machine (CI on two shared cores) must not
    # fail a parser that is fast; a quadratic one still blows far past the bound.
    start = time.process_time()
    completion = parse(text, fmt)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"{fmt} took {elapsed:.2f}s of CPU on {name}"
    assert not (completion.calls and completion.parse_error)
    if completion.parse_error:
        assert not completion.parse_error.message.startswith("parser raised")


def test_python_parser_is_silent_about_odd_escapes():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        completion = parse('[f(pattern="\\{x\\}")]', "python")
    assert completion.calls[0].arguments == {"pattern": "\\{x\\}"}


@pytest.mark.parametrize(
    ("text", "fmt", "names"),
    [
        # The tag inside a string argument: still a python call list (was a broken hermes block,
        # so a perfect completion scored 0 under auto).
        ("[f(a='<tool_call>'), f(a='x')]", "python", ["f", "f"]),
        ('[send(body="wrap it in <tool_call> tags")]', "python", ["send"]),
        # Prose that opens like a call, then a real hermes block: hermes as before.
        ('Sure (here) <tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>', "hermes", ["f"]),
        # An unfinished python list holding the tag does not read as python: hermes's error.
        ("[f(a='<tool_call>'", "hermes", []),
    ],
)
def test_auto_tells_a_tool_call_tag_inside_a_python_string_from_a_hermes_block(text, fmt, names):
    from redline.parsing import detect_format

    completion = parse(text, "auto")
    assert detect_format(text) == completion.format == fmt
    assert [c.name for c in completion.calls] == names
