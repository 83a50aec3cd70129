"""The compiled argument validator against jsonschema, the reference: same validity on generated
schemas and instances, and every problem it reports is one jsonschema reports too."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from redline.schema import _compilable, compile_validator, json_equal, to_json_schema

scalars = st.sampled_from(["string", "integer", "number", "boolean", "null"])
keys = st.sampled_from(["a", "b", "c", "unit", "n"])
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 1.0, 1.5, -2.0])
    | st.sampled_from(["", "a", "x y", "celsius"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


def schemas(depth: int = 2):
    leaf = st.fixed_dictionaries(
        {"type": scalars | st.lists(scalars, min_size=1, max_size=2, unique=True)},
        optional={
            "enum": st.lists(values, min_size=1, max_size=3),
            "const": values,
            "minimum": st.integers(-2, 2),
            "exclusiveMaximum": st.sampled_from([0, 1.5, 3]),
            "minLength": st.integers(0, 2),
            "maxLength": st.integers(0, 3),
            "description": st.just("d"),
            "optional": st.booleans(),  # BFCL's: not JSON Schema, so jsonschema ignores it
        },
    )
    if depth == 0:
        return leaf
    inner = schemas(depth - 1)
    obj = st.fixed_dictionaries(
        {"type": st.just("object"), "properties": st.dictionaries(keys, inner, max_size=3)},
        optional={
            "required": st.lists(keys, max_size=3, unique=True),
            "additionalProperties": st.booleans() | inner,
        },
    )
    arr = st.fixed_dictionaries(
        {"type": st.just("array")},
        optional={"items": inner, "minItems": st.integers(0, 2), "maxItems": st.integers(0, 3)},
    )
    return leaf | obj | arr


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=schemas(), instance=values)
def test_agrees_with_jsonschema(schema, instance):
    assert _compilable(schema)
    reference = list(Draft202012Validator(schema).iter_errors(instance))
    found = compile_validator(schema)(instance)
    assert (found is None) == (not reference), (found, [e.message for e in reference])
    if found is not None:
        keyword, path, _ = found
        assert (keyword, path) in {(e.validator, tuple(e.absolute_path)) for e in reference}


def test_schemas_outside_the_subset_go_to_jsonschema():
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]+$"}}}
    assert not _compilable(schema)
    validate = compile_validator(schema)
    assert validate({"code": "ABC"}) is None
    keyword, path, _ = validate({"code": "abc"})
    assert (keyword, path) == ("pattern", ("code",))


def test_json_equality_keeps_booleans_apart():
    assert json_equal(1, 1.0) and not json_equal(1, True) and not json_equal([0], [False])
    assert json_equal({"a": [1, "x"]}, {"a": [1.0, "x"]})


bfcl_types = st.sampled_from(
    ["string", "integer", "float", "dict", "any", "tuple", "list", "boolean", "Any", "long", "x"]
)


def bfcl_schemas(depth: int = 2):
    leaf = st.fixed_dictionaries(
        {"type": bfcl_types | st.lists(bfcl_types, max_size=2)},
        optional={
            "enum": st.lists(values, min_size=1, max_size=3)
            | st.lists(st.sampled_from(["a", "celsius", ""]), min_size=1, max_size=3),
            "description": st.just("d"),
            "default": values,
            "optional": st.booleans(),
        },
    )
    if depth == 0:
        return leaf | st.just({})
    inner = bfcl_schemas(depth - 1)
    obj = st.fixed_dictionaries(
        {"type": st.sampled_from(["dict", "object"]), "properties": st.dictionaries(keys, inner)},
        optional={
            "required": st.lists(keys, max_size=3, unique=True),
            "additionalProperties": st.booleans() | inner,
        },
    )
    arr = st.fixed_dictionaries(
        {"type": st.sampled_from(["array", "tuple"])},
        optional={"items": inner, "minItems": st.integers(0, 2)},
    )
    return leaf | obj | arr


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=bfcl_schemas(), instance=values)
def test_bfcl_dialect_compiles_as_its_translation(schema, instance):
    # ToolSpec.validator compiles BFCL's type names directly: the same as translating first.
    direct = compile_validator(schema, dialect=True)
    translated = compile_validator(to_json_schema(schema))
    try:
        expected = translated(instance)
    except Exception as exc:  # noqa: BLE001 - jsonschema's SchemaError, UnknownType, ...
        with pytest.raises(type(exc)):
            direct(instance)
        return
    assert direct(instance) == expected
