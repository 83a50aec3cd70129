"""The ground-truth backend: answers every sample with its own expected calls, as text.

Writes the answer in a prompt format, parses it back and scores it, so a run over ground truth
exercises serialiser, parser and scorers end to end. Scoring rules stay in redline.metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from redline.metrics.scorers import score_sample
from redline.parsing import format_calls, parse
from redline.records import Sample, SampleRecord, ToolCall

NO_CALL_TEXT = "None of the offered functions can answer this request."


def truth_text(sample: Sample, fmt: str) -> tuple[str, str]:
    """The sample's answer as model output, and the format it is written in.

    Prose when no call is expected. An answer that format ``fmt`` cannot express (BFCL has
    parameters named ``from`` or ``class``, which Python call syntax rejects) is written as JSON.
    """
    if sample.expect == "answer":
        return str(sample.metadata.get("reference", "")), fmt
    calls = sample.expected
    if sample.expect == "any_call" and not calls and sample.tools:
        # Relevance: some call is the right answer, its content is not checked (BFCL passes any
        # call that decodes), so the truth calls the first offered tool with example values.
        tool = sample.tools[0]
        calls = [ToolCall(name=tool.name, arguments=example_value(tool.json_schema()))]
    if sample.expect == "no_call" or not calls:
        return NO_CALL_TEXT, fmt
    try:
        return format_calls(calls, fmt), fmt
    except ValueError:
        return format_calls(calls, "json"), "json"


_EXAMPLES: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "null": None,
}


def example_value(schema: Any) -> Any:
    """A value a JSON Schema accepts in the usual cases: an enum's first member, an object with
    its required properties filled in, a plain value of the (first) type otherwise."""
    if not isinstance(schema, dict):
        return "example"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = kind[0] if kind else "string"
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        return {name: example_value(properties.get(name)) for name in required}
    return _EXAMPLES.get(kind, "example")


def truth_records(samples: Iterable[Sample], fmt: str = "json") -> Iterator[SampleRecord]:
    for sample in samples:
        text, written_as = truth_text(sample, fmt)
        yield score_sample(sample, parse(text, written_as))
