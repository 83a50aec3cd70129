"""BFCL AST checking, verdict for verdict the same as the official v4 checker (Python categories).

Implements the leaderboard's rules, quirks included: string standardisation, ``""`` marking an
optional parameter, int accepted for float only at the top level, one level of nested type
checking, greedy order-free matching of parallel calls, dict and list-of-dict answers, and the
"variable" convention (a value whose type matches the answer's rather than the schema's).
Pure functions; no I/O. Java and JavaScript type conversion is not implemented yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from redline.records import ErrorType, ToolCall

Mode = Literal["simple", "multiple", "parallel"]

# Which checker each BFCL single-turn category uses. BFCL picks it from substrings of the
# category name; redline declares it per category so a new category cannot be misrouted.
CATEGORY_MODE: dict[str, Mode] = {
    "simple_python": "simple",
    "live_simple": "simple",
    "multiple": "multiple",
    "live_multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel",
    "live_parallel": "parallel",
    "live_parallel_multiple": "parallel",
}

# Python type of a value that satisfies each schema type. BFCL's own table, plus "number" and
# "object" so tools written in plain JSON Schema can be checked the same way (the official
# checker has no entry for them and never meets them in its data).
PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}
_NESTED_CHECKED = ("array", "tuple")
_FLOAT_TYPES = ("float", "number")
_STANDARDISE = re.compile(r"[ ,./\-_*^]")

# Official error_type strings mapped onto redline's closed enum.
_ERROR_MAP: dict[str, ErrorType] = {
    "wrong_count": ErrorType.wrong_count,
    "wrong_func_name": ErrorType.wrong_function,
    "missing_required": ErrorType.missing_required,
    "unexpected_param": ErrorType.unexpected_param,
    "missing_optional": ErrorType.missing_param,
}


@dataclass(frozen=True)
class Verdict:
    """The checker's answer: ``valid``, redline's ``error_type``, BFCL's own error string."""

    valid: bool
    error_type: ErrorType | None = None
    detail: str = ""
    bfcl_error_type: str | None = None


_OK = Verdict(True)


def _fail(bfcl_error_type: str, detail: str) -> Verdict:
    suffix = bfcl_error_type.split(":")[-1]
    if bfcl_error_type.startswith("type_error"):
        kind = ErrorType.type_error
    else:
        kind = _ERROR_MAP.get(suffix, ErrorType.value_error)
    return Verdict(False, kind, detail, bfcl_error_type)


class InvalidEntry(ValueError):
    """The BFCL entry itself (function docs or possible answer) cannot be checked."""


def standardise(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lower-case, ' becomes "."""
    return _STANDARDISE.sub("", text).lower().replace("'", '"')


def _std_items(values: Any) -> list[Any]:
    return [standardise(v) if type(v) is str else v for v in _indexable(values)]


def _indexable(values: Any) -> list[Any]:
    # BFCL walks answers by index; strings walk by character, empty containers yield nothing.
    if isinstance(values, (list, tuple, str)):
        return list(values)
    if isinstance(values, dict) and not values:
        return []
    raise InvalidEntry(f"answer options must be a list, got {values!r}")


def _answer_type(options: Any) -> type | None:
    for option in options:
        if option != "":
            return type(option)
    return None


def _type_check(value: Any, options: Any, expected: type, nested: type | None) -> tuple[bool, bool]:
    """Return (type is acceptable, value counts as a variable)."""
    answer_type = _answer_type(options)
    # A value typed like the answer rather than the schema is a "variable": BFCL records
    # variables as strings in possible answers and then compares them as plain values.
    variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return True, variable
        for option in options:
            if type(option) is list and not all(_type_check(v, option, nested, None)[0] for v in value):
                continue
            return True, variable
    if answer_type is not None and type(value) is answer_type:
        return type(value) is not expected, True
    return False, variable


def _nested_failed(value: Any, expected: type, nested: type | None) -> bool:
    return nested is not None and type(value) is expected


def _check_string(param: str, value: str, options: Any) -> Verdict:
    accepted = [standardise(o) for o in options if type(o) is str]
    if standardise(value) not in accepted:
        return _fail("value_error:string", f"{param}={value!r} not among {options!r}")
    return _OK


def _check_list(param: str, value: list, options: Any) -> Verdict:
    accepted = [_std_items(option) for option in _indexable(options)]
    if _std_items(value) not in accepted:
        return _fail("value_error:list/tuple", f"{param}={value!r} not among {options!r}")
    return _OK


def _check_dict(param: str, value: dict, options: Any) -> Verdict:
    verdict = _fail("dict_checker:unclear", f"{param}: no dict answer to compare with")
    for option in options:
        if option == "":
            continue
        bad: str | None = None
        error = "dict_checker:unclear"
        for key, item in value.items():
            if key not in option:
                bad, error = f"unexpected key {key!r} in {param}", "value_error:dict_key"
                break
            std = standardise(item) if type(item) is str else item
            if std not in _std_items(option[key]):
                bad, error = f"{param}[{key!r}]={item!r} not accepted", "value_error:dict_value"
                break
        for key, accepted in option.items():
            if key not in value and "" not in accepted:
                bad, error = f"missing key {key!r} in {param}", "value_error:dict_key"
                break
        if bad is None:
            return _OK
        verdict = _fail(error, bad)
    return verdict


def _check_list_of_dicts(param: str, value: list, options: Any) -> Verdict:
    verdict = _fail("list_dict_checker:unclear", f"{param}: no answer to compare with")
    for option in options:
        if len(value) != len(option):
            verdict = _fail("value_error:list_dict_count", f"{param}: wrong number of dicts")
            continue
        for item, answer in zip(value, option, strict=True):
            verdict = _check_dict(param, item, [answer])
            if not verdict.valid:
                break
        else:
            return _OK
    return verdict


def _schema_type(param: str, details: Any) -> str:
    if not isinstance(details, dict) or not isinstance(details.get("type"), str):
        raise InvalidEntry(f"parameter {param!r} has no type")
    name = details["type"]
    if name not in PYTHON_TYPES:
        raise InvalidEntry(f"parameter {param!r} has unsupported type {name!r}")
    return name


def _check_call(
    function: dict, call: dict[str, Any], answer: dict[str, Any], underscore_to_dot: bool
) -> Verdict:
    """One call against one function doc and one ``{name: {param: options}}`` answer."""
    if not isinstance(function, dict) or "name" not in function:
        raise InvalidEntry("the answer names a function that is not offered")
    expected_params = next(iter(answer.values()))
    name = function["name"]
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties", {})
    required = parameters.get("required", [])
    if underscore_to_dot and "." in name:
        # Models whose API forbids dots are prompted with underscores instead.
        name = name.replace(".", "_")
    if name not in call:
        return _fail("simple_function_checker:wrong_func_name", f"expected a call to {name!r}")
    args = call[name]
    for param in required:
        if param not in args:
            return _fail("simple_function_checker:missing_required", f"missing {param!r}")

    for param, value in args.items():
        if param not in properties or param not in expected_params:
            return _fail("simple_function_checker:unexpected_param", f"unexpected {param!r}")
        type_name = _schema_type(param, properties[param])
        expected = PYTHON_TYPES[type_name]
        nested = None
        if type_name in _NESTED_CHECKED:
            nested = PYTHON_TYPES[_schema_type(f"{param}[]", properties[param].get("items"))]
        if type_name == "tuple" and type(value) is tuple:
            value = list(value)
        if type_name in _FLOAT_TYPES and type(value) is int:
            value = float(value)

        options = expected_params[param]
        ok, variable = _type_check(value, options, expected, nested)
        if not ok:
            answer_type = _answer_type(options)
            nested_error = _nested_failed(value, expected, nested) and type(value) is answer_type
            kind = "type_error:nested" if nested_error else "type_error:simple"
            return _fail(kind, f"{param}={value!r}: expected {type_name}")

        if not variable:
            if expected is dict:
                verdict = _check_dict(param, value, options)
            elif expected is list and nested is dict:
                verdict = _check_list_of_dicts(param, value, options)
            elif expected is str:
                verdict = _check_string(param, value, options)
            elif expected is list:
                verdict = _check_list(param, value, options)
            else:
                verdict = None
            if verdict is not None:
                if not verdict.valid:
                    return verdict
                continue
        if value not in options:
            return _fail("value_error:others", f"{param}={value!r} not among {options!r}")

    for param, options in expected_params.items():
        if param not in args and "" not in options:
            return _fail("simple_function_checker:missing_optional", f"missing {param!r}")
    return _OK


def _find_function(functions: Any, name: str) -> dict | None:
    if isinstance(functions, list):
        return next((f for f in functions if isinstance(f, dict) and f.get("name") == name), None)
    return functions


def _as_decoded(calls: Any) -> list[dict[str, Any]] | None:
    """Calls in BFCL's decoded form, or None when they are not a list of one-key call dicts."""
    if not isinstance(calls, list):
        return None
    out = []
    for call in calls:
        if isinstance(call, ToolCall):
            out.append(call.to_bfcl())
        elif isinstance(call, dict) and len(call) == 1 and isinstance(next(iter(call.values())), dict):
            out.append(call)
        else:
            return None
    return out


def _parallel(functions: Any, calls: list, answers: list, underscore_to_dot: bool) -> Verdict:
    if len(calls) != len(answers):
        return _fail("parallel_function_checker_no_order:wrong_count", "wrong number of calls")
    used: set[int] = set()
    for i, answer in enumerate(answers):
        function = _find_function(functions, next(iter(answer)))
        attempts: list[Verdict] = []
        # Greedy, as BFCL does: each answer takes the first unused call that satisfies it.
        for index, call in enumerate(calls):
            if index in used:
                continue
            verdict = _check_call(function, call, answer, underscore_to_dot)
            if verdict.valid:
                used.add(index)
                break
            attempts.append(verdict)
        else:
            named = [v for v in attempts if v.error_type is not ErrorType.wrong_function]
            closest = (named or attempts)[0]
            return Verdict(
                False,
                closest.error_type,
                f"no call matches answer {i}: {closest.detail}",
                "parallel_function_checker_no_order:cannot_find_match",
            )
    return _OK


def check(
    functions: Any,
    calls: Any,
    possible_answer: list[dict[str, Any]],
    category: str | None = None,
    *,
    mode: Mode | None = None,
    underscore_to_dot: bool = False,
) -> Verdict:
    """Check ``calls`` against a BFCL entry, as the official AST checker would.

    ``functions`` and ``possible_answer`` are exactly as in BFCL's data files; ``calls`` is a
    list of :class:`ToolCall` or BFCL's decoded form ``[{name: {arg: value}}]``. The checker mode
    comes from ``category`` (a BFCL category name) or ``mode``. A malformed entry gives a verdict
    with ``error_type`` ``invalid_sample``; this function does not raise on bad input.
    """
    if mode is None:
        if category not in CATEGORY_MODE:
            known = ", ".join(sorted(CATEGORY_MODE))
            raise ValueError(f"unknown BFCL category {category!r}; known: {known}")
        mode = CATEGORY_MODE[category]
    decoded = _as_decoded(calls)
    if decoded is None:
        return Verdict(
            False, ErrorType.decode_failed, "not a list of calls", "ast_decoder:decoder_wrong_output_format"
        )
    try:
        if not isinstance(possible_answer, list) or not possible_answer:
            raise InvalidEntry("possible_answer must be a non-empty list")
        if mode == "parallel":
            return _parallel(functions, decoded, possible_answer, underscore_to_dot)
        wanted = len(possible_answer) if mode == "multiple" else 1
        if len(decoded) != wanted:
            return _fail(f"{mode}_function_checker:wrong_count", "wrong number of calls")
        if mode == "multiple":
            function = _find_function(functions, next(iter(possible_answer[0])))
        else:
            # BFCL's simple categories check against the first function doc, whatever its name.
            function = functions[0] if isinstance(functions, list) else functions
        return _check_call(function, decoded[0], possible_answer[0], underscore_to_dot)
    except (InvalidEntry, AttributeError, KeyError, TypeError, IndexError, StopIteration) as exc:
        return Verdict(False, ErrorType.invalid_sample, f"cannot check this entry: {exc}", "invalid_entry")


def ground_truth_calls(
    possible_answer: list[dict[str, Any]], functions: list[dict[str, Any]] | None = None
) -> list[ToolCall]:
    """The first accepted value of every answer parameter, as calls.

    ``""`` among the options marks a parameter that may be left out: it is left out, unless
    ``functions`` says the schema requires it (some answers list ``""`` for a required
    parameter); then its first real option is used.
    """
    required = {
        f.get("name"): set(f.get("parameters", {}).get("required", []))
        for f in functions or []
        if isinstance(f, dict)
    }
    calls = []
    for item in possible_answer:
        ((name, params),) = item.items()
        arguments = {}
        for param, options in params.items():
            options = options if isinstance(options, list) else [options]
            values = [o for o in options if o != ""]
            if values and ("" not in options or param in required.get(name, ())):
                arguments[param] = _first_options(values[0])
        calls.append(ToolCall(name=name, arguments=arguments))
    return calls


def _first_options(value: Any) -> Any:
    # Dict answers hold option lists per key, one level down.
    if isinstance(value, dict):
        firsts = {k: [o for o in v if o != ""] for k, v in value.items() if isinstance(v, list)}
        return {k: v[0] for k, v in firsts.items() if v}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_first_options(v) for v in value]
    return value
