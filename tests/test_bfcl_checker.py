"""Table-driven tests of redline's BFCL checker: one case per rule and per official error type."""

from __future__ import annotations

import pytest

from redline.metrics.bfcl import BFCLChecker, check, ground_truth_calls, standardise
from redline.records import ErrorType, ToolCall

WEATHER = {
    "name": "weather.get",
    "parameters": {
        "type": "dict",
        "required": ["city"],
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "scale": {"type": "float"},
            "metric": {"type": "boolean"},
            "hours": {"type": "array", "items": {"type": "integer"}},
            "point": {"type": "tuple", "items": {"type": "float"}},
            "prefs": {"type": "dict", "properties": {}},
            "stops": {"type": "array", "items": {"type": "dict"}},
        },
    },
}
ANSWER = [
    {
        "weather.get": {
            "city": ["New York, NY", "NYC"],
            "days": [3, ""],
            "scale": [2.0],
            "metric": ["", True],
            "hours": [[1, 2], ""],
            "point": [[1.5, 2.5], ""],
            "prefs": [{"unit": ["C", "celsius"], "lang": ["", "en"]}, ""],
            "stops": [[{"name": ["a"]}, {"name": ["b"]}], ""],
        }
    }
]
GOOD = {"city": "new york ny", "scale": 2.0}


def simple(args, name="weather.get", **kw):
    return check([WEATHER], [{name: args}], ANSWER, "simple_python", **kw)


CASES = [
    ("minimal answer", GOOD, True, None),
    ("string standardised", {"city": "NEW-YORK, N.Y.", "scale": 2.0}, True, None),
    ("second option", {"city": "nyc", "scale": 2.0}, True, None),
    ("int accepted for float", {"city": "NYC", "scale": 2}, True, None),
    ("optional given", {**GOOD, "days": 3, "metric": True}, True, None),
    ("list", {**GOOD, "hours": [1, 2]}, True, None),
    ("tuple as list", {**GOOD, "point": [1.5, 2.5]}, True, None),
    ("dict", {**GOOD, "prefs": {"unit": "Celsius"}}, True, None),
    ("list of dicts", {**GOOD, "stops": [{"name": "A"}, {"name": "b"}]}, True, None),
    ("missing required", {"scale": 2.0}, False, "simple_function_checker:missing_required"),
    ("unexpected param", {**GOOD, "zip": "1"}, False, "simple_function_checker:unexpected_param"),
    ("missing answer param", {"city": "NYC"}, False, "simple_function_checker:missing_optional"),
    ("wrong string", {"city": "Boston", "scale": 2.0}, False, "value_error:string"),
    ("wrong number", {"city": "NYC", "scale": 3.0}, False, "value_error:others"),
    ("bool is not int", {**GOOD, "days": True}, False, "type_error:simple"),
    # "" among the options lets any list pass the nested type check; the value check then fails.
    ("int inside optional float list", {**GOOD, "point": [1, 2]}, False, "value_error:list/tuple"),
    ("string for int", {**GOOD, "days": "3"}, False, "type_error:simple"),
    ("wrong list", {**GOOD, "hours": [2, 1]}, False, "value_error:list/tuple"),
    ("dict bad value", {**GOOD, "prefs": {"unit": "F"}}, False, "value_error:dict_value"),
    ("dict bad key", {**GOOD, "prefs": {"unit": "C", "x": 1}}, False, "value_error:dict_key"),
    ("dict missing key", {**GOOD, "prefs": {"lang": "en"}}, False, "value_error:dict_key"),
    (
        "list of dicts count",
        {**GOOD, "stops": [{"name": "a"}]},
        False,
        "value_error:list_dict_count",
    ),
    # The last option tried ("") reports the count, as in BFCL.
    (
        "list of dicts value",
        {**GOOD, "stops": [{"name": "b"}, {"name": "a"}]},
        False,
        "value_error:list_dict_count",
    ),
]


@pytest.mark.parametrize(("label", "args", "valid", "bfcl_error"), CASES, ids=[c[0] for c in CASES])
def test_simple_rules(label, args, valid, bfcl_error, official_checker, python_language):
    verdict = simple(args)
    assert verdict.valid is valid, verdict
    assert verdict.bfcl_error_type == bfcl_error
    assert (verdict.error_type is None) is valid
    theirs = official_checker.ast_checker(
        [WEATHER], [{"weather.get": args}], ANSWER, python_language, "simple_python", "m"
    )
    assert (theirs["valid"], theirs.get("error_type") if not theirs["valid"] else None) == (
        valid,
        bfcl_error,
    )


def test_nested_type_error():
    answer = [{"weather.get": {"city": ["NYC"], "scale": [2.0], "point": [[1.5, 2.5]]}}]
    calls = [{"weather.get": {"city": "NYC", "scale": 2.0, "point": [1, 2]}}]
    verdict = check([WEATHER], calls, answer, "simple_python")
    assert verdict.bfcl_error_type == "type_error:nested"
    assert verdict.error_type is ErrorType.type_error


def test_error_types_map_onto_the_closed_enum():
    assert simple({"scale": 2.0}).error_type is ErrorType.missing_required
    assert simple({**GOOD, "zip": 1}).error_type is ErrorType.unexpected_param
    assert simple({"city": "NYC"}).error_type is ErrorType.missing_param
    assert simple({**GOOD, "days": "x"}).error_type is ErrorType.type_error
    assert simple({"city": "Boston", "scale": 2.0}).error_type is ErrorType.value_error
    assert simple(GOOD, name="weather.put").error_type is ErrorType.wrong_function


def test_variable_convention():
    # The answer records a variable as a string; a string is then accepted for an integer slot.
    answer = [{"weather.get": {"city": ["NYC"], "scale": [2.0], "days": ["n_days"]}}]
    base = {"city": "NYC", "scale": 2.0}
    verdict = check(
        [WEATHER], [{"weather.get": {**base, "days": "n_days"}}], answer, "simple_python"
    )
    assert verdict.valid
    verdict = check(
        [WEATHER], [{"weather.get": {**base, "days": "other"}}], answer, "simple_python"
    )
    assert verdict.bfcl_error_type == "value_error:others"


def test_simple_categories_use_the_first_function_and_need_one_call():
    other = {**WEATHER, "name": "other"}
    assert check([WEATHER, other], [{"weather.get": GOOD}], ANSWER, "live_simple").valid
    assert check([other, WEATHER], [{"weather.get": GOOD}], ANSWER, "simple_python").error_type is (
        ErrorType.wrong_function
    )
    verdict = check([WEATHER], [{"weather.get": GOOD}] * 2, ANSWER, "simple_python")
    assert verdict.bfcl_error_type == "simple_function_checker:wrong_count"


def test_multiple_finds_the_answer_function_by_name():
    other = {"name": "other", "parameters": {"type": "dict", "properties": {}, "required": []}}
    assert check(
        [other, WEATHER], [ToolCall(name="weather.get", arguments=GOOD)], ANSWER, "multiple"
    ).valid
    verdict = check([other, WEATHER], [], ANSWER, "live_multiple")
    assert verdict.bfcl_error_type == "multiple_function_checker:wrong_count"


PAIR = {
    "name": "f",
    "parameters": {"type": "dict", "required": ["x"], "properties": {"x": {"type": "string"}}},
}


def test_parallel_is_order_free():
    answer = [{"f": {"x": ["a"]}}, {"f": {"x": ["b"]}}]
    assert check([PAIR], [{"f": {"x": "b"}}, {"f": {"x": "a"}}], answer, "parallel").valid
    verdict = check([PAIR], [{"f": {"x": "b"}}, {"f": {"x": "c"}}], answer, "parallel_multiple")
    assert verdict.bfcl_error_type == "parallel_function_checker_no_order:cannot_find_match"
    assert verdict.error_type is ErrorType.value_error
    verdict = check([PAIR], [{"f": {"x": "a"}}], answer, "live_parallel")
    assert verdict.error_type is ErrorType.wrong_count


def test_parallel_matching_is_greedy_like_bfcl():
    # Answer 0 accepts both calls and takes the first; answer 1 then finds nothing. A perfect
    # matching exists (a->0? no: "b"->0, "a"->1), but BFCL does not search for it.
    answer = [{"f": {"x": ["a", "b"]}}, {"f": {"x": ["a"]}}]
    assert not check([PAIR], [{"f": {"x": "a"}}, {"f": {"x": "b"}}], answer, "parallel").valid
    assert check([PAIR], [{"f": {"x": "b"}}, {"f": {"x": "a"}}], answer, "parallel").valid


def test_underscore_to_dot():
    call = [{"weather_get": GOOD}]
    assert not simple_calls(call).valid
    assert simple_calls(call, underscore_to_dot=True).valid


def simple_calls(calls, **kw):
    return check([WEATHER], calls, ANSWER, "simple_python", **kw)


@pytest.mark.parametrize(
    "calls",
    ["[weather.get()]", [["weather.get", {}]], [{"a": {}, "b": {}}], [{"weather.get": "city=NYC"}]],
)
def test_malformed_calls_are_decode_failures(calls):
    verdict = simple_calls(calls)
    assert verdict.error_type is ErrorType.decode_failed
    assert verdict.bfcl_error_type == "ast_decoder:decoder_wrong_output_format"


def test_malformed_entries_are_invalid_samples_not_crashes():
    broken = {
        "name": "weather.get",
        "parameters": {"properties": {"city": {"type": "no-such-type"}}},
    }
    verdict = check(
        [broken],
        [{"weather.get": {"city": "x"}}],
        [{"weather.get": {"city": ["x"]}}],
        "simple_python",
    )
    assert verdict.error_type is ErrorType.invalid_sample
    verdict = check([WEATHER], [{"weather.get": GOOD}], [], "simple_python")
    assert verdict.error_type is ErrorType.invalid_sample
    verdict = check([PAIR], [{"g": {}}], [{"g": {}}], "multiple")
    assert verdict.error_type is ErrorType.invalid_sample


def test_unknown_category_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown BFCL category 'simple_rust'"):
        check([WEATHER], [], ANSWER, "simple_rust")


def test_standardise():
    assert standardise("April 1, 2024") == standardise("april 1 2024") == "april12024"
    assert standardise("it's") == 'it"s'


def test_ground_truth_calls_take_first_real_options():
    (call,) = ground_truth_calls(ANSWER, [WEATHER])
    assert call.arguments == {"city": "New York, NY", "scale": 2.0}
    answer = [{"f": {"x": ["", "a"]}}]
    assert ground_truth_calls(answer)[0].arguments == {}
    assert ground_truth_calls(answer, [PAIR])[0].arguments == {"x": "a"}, "required by the schema"
    nested = [{"g": {"d": [{"k": ["v", "w"], "o": [""]}]}}]
    assert ground_truth_calls(nested)[0].arguments == {"d": {"k": "v"}}


def test_a_compiled_checker_gives_the_same_verdicts_again_and_after_forget():
    checker = BFCLChecker([WEATHER], ANSWER, "simple_python")
    outputs = [args for _, args, _, _ in CASES]
    first = [checker.check([{"weather.get": args}]) for args in outputs]
    again = [checker.check([{"weather.get": args}]) for args in outputs]
    checker.forget()
    fresh = [checker.check([{"weather.get": args}]) for args in outputs]
    assert first == again == fresh
    assert first == [
        check([WEATHER], [{"weather.get": a}], ANSWER, "simple_python") for a in outputs
    ]
    # True and 1 are remembered apart although they are equal as dict keys.
    answer = [{"weather.get": {"city": ["NYC"], "scale": [1.0], "days": [1]}}]
    checker = BFCLChecker([WEATHER], answer, "simple_python")
    assert checker.check([{"weather.get": {"city": "NYC", "scale": 1, "days": 1}}]).valid
    verdict = checker.check([{"weather.get": {"city": "NYC", "scale": True, "days": True}}])
    assert verdict.bfcl_error_type == "type_error:simple"
