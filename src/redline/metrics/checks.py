"""Verifiable checks of free-text answers for the general-capability regression set: IFEval
instructions (through if-verifiable's official checkers), structured formats (JSON, YAML, CSV,
Markdown tables), short answers, numbers with a tolerance, multiple-choice letters, and Chinese
responses.

Pure functions of (answer text, check spec); no model judge, no I/O.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import yaml

Check = dict[str, Any]
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```\s*$", re.S)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LETTER = re.compile(r"[A-Za-z\u4e00-\u9fff]")


def _unfenced(text: str) -> str:
    match = _FENCE.match(text.strip())
    return match.group(1) if match else text.strip()


def _ifeval(text: str, check: Check) -> bool:
    from if_verifiable.common import evaluate_instructions
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    results, _ = evaluate_instructions(
        text,
        [check["instruction_id"]],
        [check.get("kwargs") or {}],
        check.get("prompt", ""),
        INSTRUCTION_DICT,
    )
    return bool(results) and results[0].strict_pass


def _json_object(text: str, check: Check) -> bool:
    try:
        value = json.loads(_unfenced(text))
    except ValueError:
        return False
    return isinstance(value, dict) and all(
        k in value and (k not in check.get("values", {}) or value[k] == check["values"][k])
        for k in check.get("keys", [])
    )


def _yaml_mapping(text: str, check: Check) -> bool:
    try:
        value = yaml.safe_load(_unfenced(text))
    except yaml.YAMLError:
        return False
    return isinstance(value, dict) and all(
        k in value and (k not in check.get("values", {}) or value[k] == check["values"][k])
        for k in check.get("keys", [])
    )


def _csv_table(text: str, check: Check) -> bool:
    rows = [r for r in csv.reader(io.StringIO(_unfenced(text))) if any(c.strip() for c in r)]
    if not rows:
        return False
    header = [c.strip().lower() for c in rows[0]]
    wanted = [c.lower() for c in check["header"]]
    return (
        header == wanted
        and len(rows) - 1 == check["rows"]
        and all(len(r) == len(header) for r in rows)
    )


def _markdown_table(text: str, check: Check) -> bool:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip().startswith("|")]
    if len(lines) < 2 or not re.fullmatch(r"\|?[\s:|-]+\|?", lines[1]):
        return False
    header = [c.strip().lower() for c in lines[0].strip("|").split("|")]
    return header == [c.lower() for c in check["columns"]] and len(lines) - 2 == check["rows"]


def _contains_any(text: str, check: Check) -> bool:
    folded = " ".join(text.casefold().split())
    return any(a.casefold() in folded for a in check["answers"])


def _number(text: str, check: Check) -> bool:
    found = _NUMBER.findall(text)
    if not found:
        return False
    value = float(found[-1].replace(",", ""))  # the last number is the answer
    return abs(value - check["value"]) <= check.get("tolerance", 1e-6)


_CHOICE = re.compile(r"\b([A-J])\b")


def _choice(text: str, check: Check) -> bool:
    # The first standalone capital letter is the model's choice ("B", "B.", "(B) ...").
    match = _CHOICE.search(text)
    return bool(match) and match.group(1) == check["letter"]


def _chinese(text: str, check: Check) -> bool:
    letters = _LETTER.findall(text)
    return bool(letters) and len(_CJK.findall(text)) / len(letters) >= check.get("share", 0.5)


CHECKS: dict[str, Callable[[str, Check], bool]] = {
    "ifeval": _ifeval,
    "json_object": _json_object,
    "yaml_mapping": _yaml_mapping,
    "csv_table": _csv_table,
    "markdown_table": _markdown_table,
    "contains_any": _contains_any,
    "number": _number,
    "chinese": _chinese,
    "choice": _choice,
}


def failed_checks(text: str, checks: list[Check]) -> list[str]:
    """The kinds of the checks ``text`` fails (empty: all hold). Unknown kinds raise KeyError."""
    return [c["kind"] for c in checks if not CHECKS[c["kind"]](text, c)]
