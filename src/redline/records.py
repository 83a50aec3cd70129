"""Core records shared by every stage: tools, calls, samples, completions, scores, sample records.

Plain pydantic models whose JSON form round-trips exactly. Nothing here scores, parses or does I/O.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


def first_error(exc: ValidationError) -> tuple[str, str]:
    """Where (a dotted location, "" at the top) and what of a validation error's first problem,
    what in the validator's own words: without pydantic's "Value error, " prefix."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return where, first["msg"].removeprefix("Value error, ")


def error_text(exc: ValidationError) -> str:
    """A validation error's first problem as ``where: what`` (just ``what`` at the top)."""
    where, message = first_error(exc)
    return f"{where}: {message}" if where else message


def _function_object(data: dict[str, Any]) -> dict[str, Any]:
    """The object under OpenAI's ``"function"`` key, of a tool or of a tool call."""
    inner = data["function"]
    if not isinstance(inner, dict):
        raise ValueError("'function' must be an object with a 'name'")
    return inner


def _from_json_text(text: str, what: str) -> Any:
    """A field given as JSON text (``what`` names it), decoded."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} are text that is not JSON: {exc}") from None


class Record(BaseModel):
    """Base of every record: immutable, so derived data can be computed once and kept.

    Derived data lives in ``functools.cached_property`` attributes; ``model_copy`` drops them, so
    a copy made with ``update=`` never carries values computed from the original's fields.
    """

    model_config = ConfigDict(frozen=True)

    @cached_property
    def _derived(self) -> dict[str, Any]:
        return {}

    def memo(self, key: str, compute: Callable[[Any], Any]) -> Any:
        """``compute(self)``, computed once per record and kept (records are immutable)."""
        derived = self._derived
        if key not in derived:
            derived[key] = compute(self)
        return derived[key]

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        copy = super().model_copy(update=update, deep=deep)
        fields = type(self).model_fields
        for key in [k for k in copy.__dict__ if k not in fields]:
            del copy.__dict__[key]
        return copy


class ErrorType(StrEnum):
    """The closed set of reasons a sample failed, one per record (STYLE rule 4)."""

    decode_failed = "decode_failed"  # output looked like a call but could not be parsed
    no_call = "no_call"  # a call was expected, the model answered without one
    unexpected_call = "unexpected_call"  # no offered tool fits, the model called one anyway
    wrong_count = "wrong_count"  # number of calls differs from the answer
    wrong_function = "wrong_function"  # called a function the answer does not name
    missing_required = "missing_required"  # a required parameter is absent
    missing_param = "missing_param"  # a parameter the answer needs (not optional there) is absent
    unexpected_param = "unexpected_param"  # a parameter the schema or the answer does not allow
    type_error = "type_error"  # a value has the wrong type
    value_error = "value_error"  # a value has the right type but is not an accepted answer
    extra_text = "extra_text"  # prose outside the calls where the format allows none
    check_failed = "check_failed"  # a free-text answer fails its verifiable check
    invalid_sample = (
        "invalid_sample"  # the sample itself is malformed (schema, answer): not the model's fault
    )
    unsupported = "unsupported"  # the scorer cannot score this kind of sample yet (e.g. BFCL Java)
    no_output = "no_output"  # the model gave nothing for this sample (a replay file lacks its id)
    scorer_error = "scorer_error"  # the scorer raised; counted apart, never turned into 0
    # The server refused the request as the client's fault (HTTP 4xx, e.g. a prompt longer than
    # the context), or a local model could not take the prompt: no output, a failure of the sample.
    request_rejected = "request_rejected"


class ToolSpec(Record):
    """One offered function.

    Accepts the OpenAI form ``{"type": "function", "function": {...}}``, the bare form
    ``{"name", "description", "parameters"}`` and BFCL's dialect (``"type": "dict"``, ``"float"``,
    ``"tuple"``, ``"any"``). ``parameters`` is kept exactly as given so that BFCL-exact checking
    sees the original; :meth:`json_schema` gives the normalised JSON Schema.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "function" and "function" in data:
            data = _function_object(data)
        if isinstance(data, dict) and "parameters" in data:
            # OpenAI lets a tool without parameters say null; some datasets keep the schema as
            # JSON text.
            parameters = data["parameters"]
            if parameters is None:
                data = {k: v for k, v in data.items() if k != "parameters"}
            elif isinstance(parameters, str):
                data = {**data, "parameters": _from_json_text(parameters, "parameters")}
        return data

    @cached_property
    def properties(self) -> dict[str, Any]:
        props = self.parameters.get("properties", {})
        return props if isinstance(props, dict) else {}

    @cached_property
    def required(self) -> tuple[str, ...]:
        req = self.parameters.get("required", [])
        return tuple(r for r in req if isinstance(r, str)) if isinstance(req, list) else ()

    @cached_property
    def _problems(self) -> tuple[str, ...]:
        from redline.schema import schema_problems

        return tuple(schema_problems(self.parameters, where=f"tool {self.name!r}"))

    def problems(self) -> tuple[str, ...]:
        """Reasons this schema cannot be scored against; empty when it is well formed."""
        return self._problems

    @cached_property
    def _json_schema(self) -> dict[str, Any]:
        from redline.schema import to_json_schema

        return to_json_schema(self.parameters)

    def json_schema(self) -> dict[str, Any]:
        """The parameters as standard JSON Schema (BFCL's dialect translated)."""
        return copy.deepcopy(self._json_schema)

    @cached_property
    def validator(self) -> Any:
        """A compiled validator of arguments against :meth:`json_schema` (see redline.schema)."""
        from redline.schema import compile_validator

        # Compiled from the parameters as given, read in BFCL's dialect: the same validator as
        # compiling json_schema(), without translating the schema first.
        return compile_validator(self.parameters, dialect=True)

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.json_schema(),
            },
        }


class ToolCall(Record):
    """One function call: a name and its keyword arguments (JSON values only)."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _usual_forms(cls, data: Any) -> Any:
        """Also read OpenAI's tool call (``{"type": "function", "function": {...}}``), arguments
        given as JSON text (OpenAI's wire form) and arguments named ``parameters``: an answer
        written in any of them keeps its arguments instead of silently losing them."""
        if type(data) is not dict:
            return data
        if "function" in data and "name" not in data:
            data = _function_object(data)
        if "parameters" in data:
            if "arguments" in data:
                raise ValueError("a call gives both 'arguments' and 'parameters'; give one")
            data = {**data, "arguments": data["parameters"]}
            del data["parameters"]
        arguments = data.get("arguments")
        if isinstance(arguments, str):
            arguments = _from_json_text(arguments, "arguments") if arguments.strip() else {}
            if not isinstance(arguments, dict):
                raise ValueError(f"arguments must be an object, got {arguments!r:.80}")
            data = {**data, "arguments": arguments}
        return data

    def to_bfcl(self) -> dict[str, dict[str, Any]]:
        """BFCL's decoded form: ``{name: {arg: value}}``."""
        return {self.name: dict(self.arguments)}

    @classmethod
    def from_bfcl(cls, item: dict[str, Any]) -> ToolCall:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(
                f"a BFCL call is a one-key object {{name: {{arg: value}}}}, got {item!r}"
            )
        ((name, args),) = item.items()
        if not isinstance(args, dict):
            raise ValueError(f"arguments of {name!r} must be an object, got {type(args).__name__}")
        return cls(name=name, arguments=args)


Expectation = Literal["calls", "no_call", "any_call", "answer"]


class Sample(Record):
    """One evaluation item: the conversation, the offered tools and the answer.

    ``expect`` is the suite's declared property that decides how the sample is scored:
    ``calls`` (match ``expected`` / ``possible_answer``), ``no_call`` (irrelevance: no offered tool
    fits), ``any_call`` (relevance: some call is required, its content is not checked) or
    ``answer`` (a free-text answer judged by the checks in ``metadata["checks"]``).
    ``possible_answer`` is BFCL's ground-truth form, a list of ``{name: {param: [accepted]}}``;
    ``bfcl_category`` names the BFCL checker mode when the sample comes from BFCL.
    """

    id: str
    messages: list[dict[str, Any]]
    tools: list[ToolSpec] = Field(default_factory=list)
    expect: Expectation = "calls"
    expected: list[ToolCall] | None = None
    possible_answer: list[dict[str, Any]] | None = None
    category: str = ""
    bfcl_category: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ParseErrorKind(StrEnum):
    no_output = "no_output"  # there was no output to parse (a replay file lacks the sample)
    empty = "empty"  # nothing but whitespace (after reasoning was removed)
    no_call = "no_call"  # prose with nothing that looks like a call
    invalid_syntax = "invalid_syntax"  # call-shaped text that does not parse (incl. truncation)
    bad_structure = (
        "bad_structure"  # parses, but is not a call (missing name, arguments not an object, ...)
    )


class ParseError(Record):
    kind: ParseErrorKind
    message: str


class Completion(Record):
    """What the model produced, and what the parser made of it."""

    raw: str
    reasoning: str | None = None
    calls: list[ToolCall] = Field(default_factory=list)
    parse_error: ParseError | None = None
    extra_text: str = ""
    format: str = ""
    # Why no output exists: the server's (or the local model's) refusal, word for word.
    rejected: str | None = None

    @property
    def parsed(self) -> bool:
        return self.parse_error is None and bool(self.calls)


class Score(Record):
    """One scorer's verdict on one sample.

    ``value`` is None when the scorer cannot score (then ``error_type`` says why) or when the
    scorer does not apply to the sample (then ``error_type`` is None); both are left out of means.
    """

    value: float | None
    error_type: ErrorType | None = None
    detail: str = ""

    @property
    def scored(self) -> bool:
        return self.value is not None


class SampleRecord(Record):
    """Everything about one sample, end to end: input, output, every score, one error type."""

    sample: Sample
    completion: Completion
    scores: dict[str, Score] = Field(default_factory=dict)
    error_type: ErrorType | None = None
    error_detail: str = ""

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, line: str) -> SampleRecord:
        return cls.model_validate_json(line)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """A stable text key for a JSON value (sorted keys, no whitespace)."""
    return _CANONICAL.encode(value)
