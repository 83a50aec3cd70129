"""Output parsers: one module per tool-call format (json, hermes, python, openai), each with its
serialiser back; ``formats`` dispatches by name and detects the format (``auto``).

Each parser turns a model's raw output into a Completion (calls, typed parse error, reasoning,
text outside the calls) and never raises or evaluates code. Nothing here checks calls against
schemas or scores them: this package sits below redline.metrics and imports only the records.
"""

from redline.parsing.common import (
    MAX_ARGUMENT_DEPTH,
    MAX_INT_BITS,
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    Call,
)
from redline.parsing.formats import (
    PARSERS,
    detect_format,
    format_calls,
    parse,
)
from redline.parsing.hermes import parse_hermes
from redline.parsing.json import parse_json
from redline.parsing.openai import (
    parse_openai_message,
    parse_openai_text,
    to_openai_tool_calls,
)
from redline.parsing.python import parse_python
from redline.parsing.reasoning import THINK_CLOSE, THINK_OPEN, strip_reasoning

__all__ = [
    "MAX_ARGUMENT_DEPTH",
    "MAX_INT_BITS",
    "PARSERS",
    "THINK_CLOSE",
    "THINK_OPEN",
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "Call",
    "detect_format",
    "format_calls",
    "parse",
    "parse_hermes",
    "parse_json",
    "parse_openai_message",
    "parse_openai_text",
    "parse_python",
    "strip_reasoning",
    "to_openai_tool_calls",
]
