"""Value corruptions shared by the generators of wrong model outputs (BFCL mutations, reward
fuzzing): a different value of the same type, or a value of another type.
"""

from __future__ import annotations

import json
from typing import Any


def other_value(value: Any) -> Any:
    """A value of the same JSON type that differs from ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + "zq"
    if isinstance(value, list):
        return value + [value[0]] if value else ["zq"]
    if isinstance(value, dict):
        if not value:
            return {"zq": 1}
        key = next(iter(value))
        return {**value, key: other_value(value[key])}
    return "zq"


def other_type(value: Any) -> Any:
    """A value of another JSON type standing for the same thing."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value)
    return 0
