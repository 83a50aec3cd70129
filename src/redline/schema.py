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
_NESTING = frozenset({"properties", "required", *_SUBSCHEMA_KEYS})  # what _walk looks inside


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
    _walk(schema, (where,), problems, top=True)
    return problems


def _place(path: tuple[Any, ...]) -> str:
    # Spelled out only when there is a problem to name: most schemas have none.
    where = path[0]
    for step in path[1:]:
        where = f"{where}.{step}"
    return where


def _walk(schema: Any, path: tuple[Any, ...], problems: list[str], top: bool = False) -> None:
    if not isinstance(schema, dict):
        problems.append(f"{_place(path)}: schema must be an object, got {type(schema).__name__}")
        return
    type_ = schema.get("type")
    if type_ is not None:
        names = type_ if isinstance(type_, list) else (type_,)
        for name in names:
            if not isinstance(name, str) or name not in TYPE_TO_JSON_SCHEMA:
                problems.append(f"{_place(path)}: unknown type {name!r}")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            problems.append(f"{_place(path)}: 'properties' must be an object")
        else:
            for name, sub in props.items():
                # Most parameters are a known type and words: nothing below them to check.
                if type(sub) is dict and _NESTING.isdisjoint(sub):
                    kind = sub.get("type")
                    if kind is None or (type(kind) is str and kind in TYPE_TO_JSON_SCHEMA):
                        continue
                _walk(sub, (*path, name), problems)
    required = schema.get("required")
    if required is not None:
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            problems.append(f"{_place(path)}: 'required' must be a list of names")
        elif isinstance(props, dict):
            for name in required:
                if name not in props:
                    problems.append(
                        f"{_place(path)}: required parameter {name!r} is not in 'properties'"
                    )
    if top and props is None and type_ not in (None, "object", "dict"):
        problems.append(f"{_place(path)}: parameters must be an object schema")
    for key in _SUBSCHEMA_KEYS:
        sub = schema.get(key)
        if isinstance(sub, dict):
            _walk(sub, (*path, key), problems)


# --- argument validation -----------------------------------------------------------------------
#
# jsonschema is the reference, but building and running its validator costs tens of
# microseconds a call, and rewards must keep up with GRPO. Tool schemas use a small part of
# JSON Schema, so that part is compiled here, in one walk, into plain closures; any schema using
# a keyword outside it is validated by jsonschema itself. tests/test_schema_validation.py checks
# the two agree on generated schemas and instances.

Violation = tuple[str, tuple[Any, ...], str]  # (failed keyword, path to the value, message)
Validate = Callable[[Any], "Violation | None"]
# A compiled check: a violation with its path relative to the value checked, or None. A leaf
# whose only rule is its type is kept as (allowed python types, integral floats count, shown).
_Check = Callable[[Any], "Violation | None"]
_Leaf = tuple[frozenset[type], bool, Any]

# Keywords that constrain nothing; "optional" is BFCL's, unknown to JSON Schema and so ignored.
_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "default",
        "examples",
        "$comment",
        "format",
        "$schema",
        "deprecated",
        "optional",
    }
)
# Python types of each JSON Schema type; "integer" also takes integral floats (1.0).
_PYTHON_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
    "array": frozenset({list}),
    "object": frozenset({dict}),
}
_NO_LIMIT = object()  # a type the dialect maps to "no constraint" (BFCL's "any")


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


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


def _type_names(value: Any, dialect: bool) -> list[str] | None | object:
    """The JSON Schema type names of a ``type`` keyword; None when outside the compiled subset,
    _NO_LIMIT when the dialect drops it (as to_json_schema does)."""
    if isinstance(value, str):
        if dialect:
            value = TYPE_TO_JSON_SCHEMA.get(value, value)
            if value is None:
                return _NO_LIMIT
        return [value] if value in _PYTHON_TYPES else None
    if not isinstance(value, list):
        return None
    if dialect:
        value = [TYPE_TO_JSON_SCHEMA.get(v, v) for v in value if isinstance(v, str)]
    if not value or not all(isinstance(n, str) and n in _PYTHON_TYPES for n in value):
        return None
    return value


def _type_leaf(names: list[str]) -> _Leaf:
    if len(names) == 1 and names[0] in _LEAVES:
        return _LEAVES[names[0]]
    allowed = frozenset().union(*(_PYTHON_TYPES[n] for n in names))
    integral = "integer" in names and float not in allowed
    return allowed, integral, names[0] if len(names) == 1 else names


def _leaf_violation(leaf: _Leaf, value: Any) -> Violation | None:
    allowed, integral, shown = leaf
    if type(value) in allowed or (integral and type(value) is float and value.is_integer()):
        return None
    return "type", (), f"{value!r} is not of type {shown!r}"


_BOUNDS = {
    "minimum": (lambda v, b: v < b, "less than the minimum of"),
    "maximum": (lambda v, b: v > b, "greater than the maximum of"),
    "exclusiveMinimum": (lambda v, b: v <= b, "less than or equal to the minimum of"),
    "exclusiveMaximum": (lambda v, b: v >= b, "greater than or equal to the maximum of"),
}
_SIZES = {
    "minLength": (str, lambda n, b: n < b),
    "maxLength": (str, lambda n, b: n > b),
    "minItems": (list, lambda n, b: n < b),
    "maxItems": (list, lambda n, b: n > b),
}
_CHECK_ORDER = ("type", "enum", "const", *_BOUNDS, *_SIZES, "required")


def _compile(schema: Any, dialect: bool = False) -> _Check | _Leaf | None:
    """The compiled check of ``schema``, or None when it uses JSON Schema beyond the subset.

    With ``dialect``, type names are read as to_json_schema translates them (BFCL's names)."""
    if type(schema) is not dict:
        return None
    name = schema.get("type")
    if type(name) is str and _LEAF_KEYS.issuperset(schema):  # most parameters: a type alone
        leaf = (_DIALECT_LEAVES if dialect else _LEAVES).get(name)
        if leaf is not None:
            return leaf
    own: dict[str, Any] = {}  # the keywords checked on the value itself
    properties: dict[str, _Check | _Leaf] = {}
    extra: Any = True
    items: Any = True
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "type":
            names = _type_names(value, dialect)
            if names is None:
                return None
            if names is not _NO_LIMIT:
                own["type"] = names
        elif key == "properties":
            if not isinstance(value, dict):
                return None
            for name, sub in value.items():
                compiled = _compile(sub, dialect)
                if compiled is None:
                    return None
                properties[name] = compiled
        elif key == "items" or key == "additionalProperties":
            compiled = value if isinstance(value, bool) else _compile(value, dialect)
            if compiled is None:
                return None
            if key == "items":
                items = compiled
            else:
                extra = compiled
        elif key == "required":
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                return None
            own[key] = value
        elif key == "enum":
            if not isinstance(value, list):
                return None
            own[key] = value
        elif key in _SIZES:
            if type(value) is not int or value < 0:
                return None
            own[key] = value
        elif key in _BOUNDS:
            if not _is_number(value):
                return None
            own[key] = value
        elif key == "const":
            own[key] = value
        else:
            return None
    if not properties and extra is True and items is True:
        if not own:
            return _anything
        if len(own) == 1 and "type" in own:
            return _type_leaf(own["type"])
    return _assemble(own, properties, extra, items)


def _anything(value: Any) -> None:
    return None


_LEAF_KEYS = _ANNOTATIONS | {"type"}
_LEAVES: dict[str, _Leaf] = {}
_LEAVES.update((n, _type_leaf([n])) for n in _PYTHON_TYPES)
_DIALECT_LEAVES: dict[str, _Check | _Leaf] = {
    n: _anything if json_name is None else _LEAVES[json_name]
    for n, json_name in TYPE_TO_JSON_SCHEMA.items()
}


def _run(check: _Check | _Leaf, value: Any) -> Violation | None:
    return _leaf_violation(check, value) if type(check) is tuple else check(value)


def _own_check(key: str, bound: Any) -> _Check:
    """The check of one keyword on the value itself."""
    if key == "type":
        leaf = _type_leaf(bound)
        return lambda value: _leaf_violation(leaf, value)
    if key == "enum":
        if all(isinstance(o, str) for o in bound):
            return _string_enum(None, bound)

        def check_enum(value: Any) -> Violation | None:
            if not any(json_equal(value, o) for o in bound):
                return "enum", (), f"{value!r} is not one of {bound!r}"
            return None

        return check_enum
    if key == "const":

        def check_const(value: Any) -> Violation | None:
            if not json_equal(value, bound):
                return "const", (), f"{bound!r} was expected"
            return None

        return check_const
    if key in _BOUNDS:
        broken, words = _BOUNDS[key]

        def check_bound(value: Any) -> Violation | None:
            if _is_number(value) and broken(value, bound):
                return key, (), f"{value!r} is {words} {bound!r}"
            return None

        return check_bound
    if key in _SIZES:
        kind, too = _SIZES[key]

        def check_size(value: Any) -> Violation | None:
            if type(value) is kind and too(len(value), bound):
                return key, (), f"{value!r} breaks {key} {bound}"
            return None

        return check_size

    def check_required(value: Any) -> Violation | None:
        if type(value) is dict:
            for name in bound:
                if name not in value:
                    return "required", (), f"{name!r} is a required property"
        return None

    return check_required


def _object_check(
    properties: dict[str, _Check | _Leaf], extra: Any, leaf: _Leaf | None, required: list[str]
) -> _Check:
    """The check of an object's properties; with ``leaf`` and ``required``, also of the object's
    own type and required names, first (most tool schemas need no other check)."""

    def check_object(value: Any) -> Violation | None:
        if leaf is not None:
            found = _leaf_violation(leaf, value)
            if found is not None:
                return found
        if type(value) is not dict:
            return None
        for name in required:
            if name not in value:
                return "required", (), f"{name!r} is a required property"
        nested = None
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None:
                if extra is False:  # wins over a nested problem met earlier
                    return "additionalProperties", (), f"unexpected property {key!r}"
                if extra is True:
                    continue
                sub = extra
            if type(sub) is tuple:  # a leaf: its type test, inline
                allowed, integral, shown = sub
                if type(item) in allowed or (
                    integral and type(item) is float and item.is_integer()
                ):
                    continue
                found = "type", (), f"{item!r} is not of type {shown!r}"
            else:
                found = sub(item)
                if found is None:
                    continue
            if nested is None:
                nested = (found[0], (key, *found[1]), found[2])
                if extra is not False:
                    return nested  # nothing later can take precedence
        return nested

    return check_object


def _string_enum(leaf: _Leaf | None, options: list[str]) -> _Check:
    """An enum of strings, after the value's type when ``leaf`` is given (a common parameter)."""
    strings = frozenset(options)  # JSON equality with a string is string equality

    def check_strings(value: Any) -> Violation | None:
        if leaf is not None:
            found = _leaf_violation(leaf, value)
            if found is not None:
                return found
        if isinstance(value, str) and value in strings:
            return None
        return "enum", (), f"{value!r} is not one of {options!r}"

    return check_strings


def _assemble(
    own: dict[str, Any],
    properties: dict[str, _Check | _Leaf],
    extra: Any,
    items: Any,
) -> _Check:
    has_object = bool(properties) or extra is not True
    if (
        not has_object
        and items is True
        and own.keys() == {"type", "enum"}
        and all(isinstance(o, str) for o in own["enum"])
    ):
        return _string_enum(_type_leaf(own["type"]), own["enum"])
    if has_object and items is True and own.keys() <= {"type", "required"}:
        leaf = _type_leaf(own["type"]) if "type" in own else None
        return _object_check(properties, extra, leaf, own.get("required", ()))
    # Problems with the value itself come before problems deeper inside it.
    checks = [_own_check(key, own[key]) for key in _CHECK_ORDER if key in own]
    if has_object:
        checks.append(_object_check(properties, extra, None, ()))
    if items is not True:

        def check_items(value: Any) -> Violation | None:
            if type(value) is not list:
                return None
            for index, item in enumerate(value):
                if items is False:
                    return "items", (), "no items are allowed"
                found = _run(items, item)
                if found is not None:
                    return found[0], (index, *found[1]), found[2]
            return None

        checks.append(check_items)
    if len(checks) == 1:
        return checks[0]

    def validate(value: Any) -> Violation | None:
        for check in checks:
            found = check(value)
            if found is not None:
                return found
        return None

    return validate


def _compilable(schema: Any) -> bool:
    return _compile(schema) is not None


def compile_validator(schema: Any, *, dialect: bool = False) -> Validate:
    """A function giving a problem of an argument object against ``schema``, or None if valid.

    A problem with a value itself is reported before problems inside it (a missing required
    parameter before a bad value in another one). Schemas outside the compiled subset go to
    jsonschema, whose ``SchemaError`` then surfaces when validating. With ``dialect``, the
    schema is read in BFCL's dialect: the same as compiling ``to_json_schema(schema)``.
    """
    compiled = _compile(schema, dialect)
    if type(compiled) is tuple:
        leaf = compiled
        return lambda value: _leaf_violation(leaf, value)
    if compiled is not None:
        return compiled

    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(to_json_schema(schema) if dialect else schema)

    def validate(value: Any) -> Violation | None:
        errors = list(validator.iter_errors(value))
        if not errors:
            return None
        error = min(errors, key=lambda e: len(e.path))
        return str(error.validator), tuple(error.absolute_path), error.message

    return validate
