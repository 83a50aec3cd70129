"""Tool parameter schemas: BFCL's dialect translated to JSON Schema, and a well-formedness check.

Translation only; validating arguments against a schema is the metrics' job.
"""

from __future__ import annotations

from typing import Any

# BFCL and its Java/JavaScript categories use type names outside JSON Schema.
TYPE_TO_JSON_SCHEMA: dict[str, str | None] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "float": "number",
    "double": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "object": "object",
    "dict": "object",
    "null": "null",
    "any": None,  # no constraint
    "Any": None,
    "String": "string",
    "char": "string",
    "Boolean": "boolean",
    "long": "integer",
    "short": "integer",
    "byte": "integer",
    "Bigint": "integer",
    "Array": "array",
    "ArrayList": "array",
    "Queue": "array",
    "Stack": "array",
    "Set": "array",
    "HashMap": "object",
    "Hashtable": "object",
}

_SUBSCHEMA_KEYS = ("items", "additionalProperties")


def to_json_schema(schema: Any) -> Any:
    """Return a copy of ``schema`` with every ``type`` in standard JSON Schema terms."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            mapped = TYPE_TO_JSON_SCHEMA.get(value, value)
            if mapped is not None:
                out["type"] = mapped
        elif key == "type" and isinstance(value, list):
            out["type"] = [TYPE_TO_JSON_SCHEMA.get(v, v) for v in value if isinstance(v, str)]
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_KEYS or key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    # BFCL's "tuple" is an array; "dict" without properties is a free-form object.
    return out


def schema_problems(schema: Any, where: str = "parameters") -> list[str]:
    """List the reasons ``schema`` is not a usable parameter schema (empty when it is)."""
    problems: list[str] = []
    _walk(schema, where, problems, top=True)
    return problems


def _walk(schema: Any, where: str, problems: list[str], top: bool = False) -> None:
    if not isinstance(schema, dict):
        problems.append(f"{where}: schema must be an object, got {type(schema).__name__}")
        return
    type_ = schema.get("type")
    if type_ is not None:
        names = type_ if isinstance(type_, list) else [type_]
        for name in names:
            if not isinstance(name, str) or name not in TYPE_TO_JSON_SCHEMA:
                problems.append(f"{where}: unknown type {name!r}")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            problems.append(f"{where}: 'properties' must be an object")
        else:
            for name, sub in props.items():
                _walk(sub, f"{where}.{name}", problems)
    required = schema.get("required")
    if required is not None:
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            problems.append(f"{where}: 'required' must be a list of names")
        elif isinstance(props, dict):
            for name in required:
                if name not in props:
                    problems.append(f"{where}: required parameter {name!r} is not in 'properties'")
    if top and props is None and type_ not in (None, "object", "dict"):
        problems.append(f"{where}: parameters must be an object schema")
    for key in _SUBSCHEMA_KEYS:
        sub = schema.get(key)
        if isinstance(sub, dict):
            _walk(sub, f"{where}.{key}", problems)
