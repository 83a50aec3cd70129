"""Tool parameter schemas: BFCL's dialect translated to JSON Schema, a well-formedness check,
and compiled validators of arguments. What a failed validation means is the metrics' business.
"""

from __future__ import annotations

from collections.abc import Callable
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


# --- argument validation -----------------------------------------------------------------------
#
# jsonschema is the reference, but building and running its validator costs tens of
# microseconds a call, and rewards must keep up with GRPO. Tool schemas use a small part of
# JSON Schema, so that part is compiled here into plain closures; any schema using a keyword
# outside it is validated by jsonschema itself. tests/test_schema_validation.py checks the two
# agree on generated schemas and instances.

Violation = tuple[str, tuple[Any, ...], str]  # (failed keyword, path to the value, message)
Validate = Callable[[Any], "Violation | None"]

_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "$comment", "format", "$schema", "deprecated"}
)
_COMPILED = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
    }
)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: type(v) is str,
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "number": _is_number,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "array": lambda v: type(v) is list,
    "object": lambda v: type(v) is dict,
}


def json_equal(one: Any, two: Any) -> bool:
    """JSON Schema equality (enum, const): booleans equal only booleans, 1 equals 1.0."""
    if type(one) is bool or type(two) is bool:
        return type(one) is type(two) and one == two
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(json_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(json_equal(one[k], two[k]) for k in one)
    return one == two


def _compilable(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key not in _COMPILED:
            return False
        if key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or not all(isinstance(n, str) and n in _TYPE_TESTS for n in names):
                return False
        elif key == "properties":
            if not isinstance(value, dict) or not all(_compilable(s) for s in value.values()):
                return False
        elif key == "items" or key == "additionalProperties":
            if not (isinstance(value, bool) or _compilable(value)):
                return False
        elif key == "required":
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                return False
        elif key == "enum":
            if not isinstance(value, list):
                return False
        elif key in ("minItems", "maxItems", "minLength", "maxLength"):
            if type(value) is not int or value < 0:
                return False
        elif key != "const" and not _is_number(value):
            return False
    return True


def _compile(schema: dict[str, Any]) -> Callable[[Any, tuple[Any, ...]], Violation | None]:
    checks: list[Callable[[Any, tuple[Any, ...]], Violation | None]] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        tests = [_TYPE_TESTS[n] for n in names]
        shown = names[0] if len(names) == 1 else names

        def check_type(value, path, tests=tests, shown=shown):
            if not any(test(value) for test in tests):
                return "type", path, f"{value!r} is not of type {shown!r}"
            return None

        checks.append(check_type)
    if "enum" in schema:
        options = schema["enum"]

        def check_enum(value, path, options=options):
            if not any(json_equal(value, o) for o in options):
                return "enum", path, f"{value!r} is not one of {options!r}"
            return None

        checks.append(check_enum)
    if "const" in schema:
        const = schema["const"]

        def check_const(value, path, const=const):
            if not json_equal(value, const):
                return "const", path, f"{const!r} was expected"
            return None

        checks.append(check_const)
    bounds = [
        ("minimum", lambda v, b: v < b, "less than the minimum of"),
        ("maximum", lambda v, b: v > b, "greater than the maximum of"),
        ("exclusiveMinimum", lambda v, b: v <= b, "less than or equal to the minimum of"),
        ("exclusiveMaximum", lambda v, b: v >= b, "greater than or equal to the maximum of"),
    ]
    for key, broken, words in bounds:
        if key in schema:

            def check_bound(value, path, key=key, bound=schema[key], broken=broken, words=words):
                if _is_number(value) and broken(value, bound):
                    return key, path, f"{value!r} is {words} {bound!r}"
                return None

            checks.append(check_bound)
    sizes = [
        ("minLength", str, lambda n, b: n < b),
        ("maxLength", str, lambda n, b: n > b),
        ("minItems", list, lambda n, b: n < b),
        ("maxItems", list, lambda n, b: n > b),
    ]
    for key, kind, broken in sizes:
        if key in schema:

            def check_size(value, path, key=key, bound=schema[key], kind=kind, broken=broken):
                if type(value) is kind and broken(len(value), bound):
                    return key, path, f"{value!r} breaks {key} {bound}"
                return None

            checks.append(check_size)
    if "required" in schema:
        required = schema["required"]

        def check_required(value, path, required=required):
            if type(value) is dict:
                for name in required:
                    if name not in value:
                        return "required", path, f"{name!r} is a required property"
            return None

        checks.append(check_required)
    properties = {k: _compile(v) for k, v in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    extra_check = _compile(extra) if isinstance(extra, dict) else None
    if properties or extra is not True:

        def check_object(value, path, properties=properties, extra=extra, extra_check=extra_check):
            if type(value) is not dict:
                return None
            nested = None
            for key, item in value.items():
                sub = properties.get(key)
                if sub is not None:
                    found = sub(item, (*path, key))
                elif extra is False:
                    return "additionalProperties", path, f"unexpected property {key!r}"
                elif extra_check is not None:
                    found = extra_check(item, (*path, key))
                else:
                    continue
                if found is not None and nested is None:
                    nested = found
            return nested

        checks.append(check_object)
    items = schema.get("items", True)
    if items is not True:
        item_check = _compile(items) if isinstance(items, dict) else None

        def check_items(value, path, item_check=item_check):
            if type(value) is not list:
                return None
            for index, item in enumerate(value):
                if item_check is None:
                    return "items", path, "no items are allowed"
                found = item_check(item, (*path, index))
                if found is not None:
                    return found
            return None

        checks.append(check_items)

    def validate(value: Any, path: tuple[Any, ...]) -> Violation | None:
        # Problems with the value itself come before problems deeper inside it.
        for check in checks:
            found = check(value, path)
            if found is not None:
                return found
        return None

    return validate


def compile_validator(schema: Any) -> Validate:
    """A function giving a problem of an argument object against ``schema``, or None if valid.

    A problem with a value itself is reported before problems inside it (a missing required
    parameter before a bad value in another one). Schemas outside the compiled subset go to
    jsonschema, whose ``SchemaError`` then surfaces when validating.
    """
    if _compilable(schema):
        compiled = _compile(schema)
        return lambda value: compiled(value, ())

    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)

    def validate(value: Any) -> Violation | None:
        errors = list(validator.iter_errors(value))
        if not errors:
            return None
        error = min(errors, key=lambda e: len(e.path))
        return str(error.validator), tuple(error.absolute_path), error.message

    return validate
