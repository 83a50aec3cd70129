"""Prompt modes: how a sample's conversation and tools become chat messages, and which parser
reads the answer. ``native`` hands the tools to the chat template (Hermes ``<tool_call>``
output), ``json`` is the seed's system prompt, ``python`` is BFCL's prompting format.

Text only; generation is the backends' job and scoring the metrics'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redline.records import Sample

# The seed's system prompt (its design documents, translated to English there already).
JSON_SYSTEM = (
    "You are a helpful assistant with access to tools. When you need to call a function, "
    "output a JSON object with 'name' and 'arguments' fields."
)
PYTHON_SYSTEM = (
    "You can call the functions listed below. To call functions, answer with nothing but a "
    "Python list of calls with keyword arguments, such as "
    "[function_one(param=value), function_two(param=value)]. "
    "If no function fits the request, or required values are missing, say so in plain words "
    "instead of calling anything."
)


@dataclass(frozen=True)
class PromptMode:
    name: str
    parser: str
    tools_in_template: bool  # pass ``tools=`` to the chat template instead of the system prompt

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        """The conversation to send, with the tools described where this mode puts them.
        General-ability items (``expect == "answer"``) go as they are, with no tool prompt."""
        if self.tools_in_template or sample.expect == "answer":
            return [dict(m) for m in sample.messages]
        listing = json.dumps([t.to_openai()["function"] for t in sample.tools], ensure_ascii=False)
        intro = JSON_SYSTEM if self.name == "json" else PYTHON_SYSTEM
        system = f"{intro}\n\nAvailable functions:\n{listing}"
        rest = [dict(m) for m in sample.messages]
        if rest and rest[0].get("role") == "system":
            # Keep the sample's own system text after the tool instructions.
            system = f"{system}\n\n{rest.pop(0).get('content') or ''}".rstrip()
        return [{"role": "system", "content": system}, *rest]

    def tools(self, sample: Sample) -> list[dict[str, Any]] | None:
        """What to pass as the chat template's ``tools=`` (None when the prompt holds them)."""
        if not self.tools_in_template or not sample.tools or sample.expect == "answer":
            return None
        return [t.to_openai() for t in sample.tools]


MODES: dict[str, PromptMode] = {
    "native": PromptMode("native", "hermes", True),
    "json": PromptMode("json", "json", False),
    "python": PromptMode("python", "python", False),
}


def get_mode(name: str) -> PromptMode:
    if name not in MODES:
        raise ValueError(f"unknown prompt mode {name!r}; choose from {', '.join(MODES)}")
    return MODES[name]
