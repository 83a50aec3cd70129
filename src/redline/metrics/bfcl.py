"""BFCL AST checking, verdict for verdict the same as the official v4 checker (Python categories).

Implements the leaderboard's rules, quirks included: string standardisation, ``""`` marking an
optional parameter, int accepted for float only at the top level, one level of nested type
checking, greedy matching of parallel calls given in any order, dict and list-of-dict answers,
and the "variable" convention (a value whose type matches the answer's, not the schema's).
Pure functions; no I/O. Java and JavaScript type conversion is not implemented yet.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

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
_STANDARDISE_DROP = str.maketrans("", "", " ,./-_*^")
_MEMO_LIMIT = 16384  # verdicts remembered per answer of one entry
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})

# Official error_type strings mapped onto redline's closed enum.
_ERROR_MAP: dict[str, ErrorType] = {
    "wrong_count": ErrorType.wrong_count,
    "wrong_func_name": ErrorType.wrong_function,
    "missing_required": ErrorType.missing_required,
    "unexpected_param": ErrorType.unexpected_param,
    "missing_optional": ErrorType.missing_param,
}


class Verdict(NamedTuple):
    """The checker's answer: ``valid``, redline's ``error_type``, BFCL's own error string."""

    valid: bool
    error_type: ErrorType | None = None
    detail: str = ""
    bfcl_error_type: str | None = None


_OK = Verdict(True)
_ABSENT = object()
_KINDS: dict[str, ErrorType] = {}


def _fail(bfcl_error_type: str, detail: str) -> Verdict:
    kind = _KINDS.get(bfcl_error_type)
    if kind is None:
        suffix = bfcl_error_type.split(":")[-1]
        if bfcl_error_type.startswith("type_error"):
            kind = ErrorType.type_error
        else:
            kind = _ERROR_MAP.get(suffix, ErrorType.value_error)
        _KINDS[bfcl_error_type] = kind
    return Verdict(False, kind, detail, bfcl_error_type)


_WRONG_COUNT: dict[str, Verdict] = {
    mode: _fail(f"{checker}:wrong_count", "wrong number of calls")
    for mode, checker in (
        ("simple", "simple_function_checker"),
        ("multiple", "multiple_function_checker"),
        ("parallel", "parallel_function_checker_no_order"),
    )
}


# How far off a failed call is, least first; used to name parallel failures. The detail
# breaks ties, so among the same calls the order they are tried in does not matter.
_SEVERITY = {
    ErrorType.value_error: 1,
    ErrorType.missing_param: 2,
    ErrorType.type_error: 3,
    ErrorType.unexpected_param: 4,
    ErrorType.missing_required: 5,
    ErrorType.wrong_function: 6,
}
_UNRANKED = 7


class InvalidEntry(ValueError):
    """The BFCL entry itself (function docs or possible answer) cannot be checked."""


# What a malformed entry raises while being checked (BFCL itself would crash on it).
_ENTRY_ERRORS = (InvalidEntry, AttributeError, KeyError, TypeError, IndexError, StopIteration)


def standardise(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lower-case, ' becomes "."""
    return text.translate(_STANDARDISE_DROP).lower().replace("'", '"')


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
    return _type_check_known(value, options, expected, nested, _answer_type(options))


def _type_check_known(
    value: Any, options: Any, expected: type, nested: type | None, answer_type: type | None
) -> tuple[bool, bool]:
    # A value typed like the answer rather than the schema is a "variable": BFCL records
    # variables as strings in possible answers and then compares them as plain values.
    variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return True, variable
        for option in options:
            if type(option) is list and not all(
                _type_check(v, option, nested, None)[0] for v in value
            ):
                continue
            return True, variable
    if answer_type is not None and type(value) is answer_type:
        return type(value) is not expected, True
    return False, variable


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


class _ParamRule:
    """What checking one answer parameter needs, worked out once per entry."""

    __slots__ = (
        "param",
        "type_name",
        "expected",
        "nested",
        "options",
        "answer_type",
        "variable",
        "flat_type",
        "to_list",
        "to_float",
        "kind",
        "accepted",
        "_std",
    )

    def __init__(self, param: str, details: Any, options: Any) -> None:
        self.param = param
        self.type_name = type_name = _schema_type(param, details)
        self.expected = expected = PYTHON_TYPES[type_name]
        nested = None
        if type_name in _NESTED_CHECKED:
            nested = PYTHON_TYPES[_schema_type(f"{param}[]", details.get("items"))]
        self.nested = nested
        # A value of exactly this type needs no further type checking.
        self.flat_type = expected if nested is None else None
        self.options = options
        self.answer_type = answer_type = _answer_type(options)
        # Whether a value of the schema's own type still counts as a variable (see _type_check).
        self.variable = answer_type is not None and answer_type is not expected
        self.to_list = type_name == "tuple"
        self.to_float = type_name in _FLOAT_TYPES
        if expected is str:
            self.kind = "str"
            drop = _STANDARDISE_DROP
            self.accepted = frozenset(
                [o.translate(drop).lower().replace("'", '"') for o in options if type(o) is str]
            )
        elif expected is dict:
            self.kind = "dict"
        elif expected is list:
            self.kind = "list_dict" if nested is dict else "list"
        else:
            self.kind = "plain"
        self._std: list[Any] | None = None

    def standardised_options(self) -> list[Any]:
        # Built on first use: BFCL only walks list answers when it gets this far.
        if self._std is None:
            self._std = [_std_items(option) for option in _indexable(self.options)]
        return self._std

    def judge(self, value: Any, value_type: type) -> Verdict:
        """BFCL's verdict on one argument value: type first, then the accepted values."""
        param = self.param
        if value_type is self.flat_type:
            ok, variable = True, self.variable
        else:
            if self.to_list and value_type is tuple:
                value, value_type = list(value), list
            elif self.to_float and value_type is int:
                value, value_type = float(value), float
            ok, variable = _type_check_known(
                value, self.options, self.expected, self.nested, self.answer_type
            )
        if not ok:
            nested_error = self.nested is not None and value_type is self.expected
            kind = (
                "type_error:nested"
                if nested_error and value_type is self.answer_type
                else "type_error:simple"
            )
            return _fail(kind, f"{param}={value!r}: expected {self.type_name}")

        if not variable:
            kind = self.kind
            if kind == "str":
                if value.translate(_STANDARDISE_DROP).lower().replace("'", '"') in self.accepted:
                    return _OK
                return _fail("value_error:string", f"{param}={value!r} not accepted")
            if kind == "list":
                if _std_items(value) in self.standardised_options():
                    return _OK
                return _fail("value_error:list/tuple", f"{param}={value!r} not accepted")
            if kind == "dict":
                return _check_dict(param, value, self.options)
            if kind == "list_dict":
                return _check_list_of_dicts(param, value, self.options)
        if value not in self.options:
            return _fail("value_error:others", f"{param}={value!r} not accepted")
        return _OK


class _CallRule:
    """One answer ``{name: {param: options}}`` with its function doc, checked against calls."""

    __slots__ = (
        "expected_params",
        "properties",
        "required",
        "name",
        "must_give",
        "_required_set",
        "_must_give_set",
        "_memo",
        "_allowed",
    )

    def __init__(self, function: Any, answer: dict[str, Any], underscore_to_dot: bool) -> None:
        if not isinstance(function, dict) or "name" not in function:
            raise InvalidEntry("the answer names a function that is not offered")
        self.expected_params = expected_params = next(iter(answer.values()))
        name = function["name"]
        parameters = function.get("parameters") or {}
        self.properties = properties = parameters.get("properties", {})
        self.required = parameters.get("required", [])
        if underscore_to_dot and "." in name:
            # Models whose API forbids dots are prompted with underscores instead.
            name = name.replace(".", "_")
        self.name = name
        # Parameters both the schema and the answer know (rules are built on first use), and
        # those the answer needs (no "" among their options).
        allowed: dict[str, _ParamRule | None] = {}
        must_give: list[str] = []
        for param, options in expected_params.items():
            if param in properties:
                allowed[param] = None
            if "" not in options:
                must_give.append(param)
        self._allowed = allowed
        self.must_give = must_give
        # Set views let the common case (nothing missing) skip the per-name loops.
        try:
            self._required_set = frozenset(self.required)
        except TypeError as exc:
            raise InvalidEntry(f"'required' must list parameter names: {exc}") from exc
        self._must_give_set = frozenset(must_give)
        # Verdicts already given: (kind, name) for structural failures, (param, type, value)
        # for scalar arguments.
        self._memo: dict[tuple, Verdict] = {}

    def _structural(self, kind: str, subject: str, template: str) -> Verdict:
        # These verdicts depend only on the entry and a name: made once, then reused.
        key = (kind, subject)
        verdict = self._memo.get(key)
        if verdict is None:
            verdict = _fail(f"simple_function_checker:{kind}", template.format(subject))
            if len(self._memo) < _MEMO_LIMIT:  # a model can invent names without end
                self._memo[key] = verdict
        return verdict

    def _judge(self, param: str, value: Any, value_type: type) -> Verdict:
        rule = self._allowed.get(param, _ABSENT)
        if rule is _ABSENT:
            return self._structural("unexpected_param", param, "unexpected {!r}")
        if rule is None:
            rule = self.param(param)
        return rule.judge(value, value_type)

    def param(self, param: str) -> _ParamRule:
        # A parameter whose rule cannot be built raises here each time a call gives it, as in BFCL.
        rule = self._allowed[param] = _ParamRule(
            param, self.properties[param], self.expected_params[param]
        )
        return rule

    def check(self, call: dict[str, Any]) -> Verdict:
        args = call.get(self.name)  # arguments are always a dict (checked on entry)
        if args is None:
            return self._structural("wrong_func_name", self.name, "expected a call to {!r}")
        if not self._required_set <= args.keys():
            for param in self.required:
                if param not in args:
                    return self._structural("missing_required", param, "missing {!r}")

        memo = self._memo
        for param, value in args.items():
            value_type = type(value)
            if value_type in _SCALAR_TYPES:
                # Outputs of one entry repeat their arguments (a GRPO group, several
                # checkpoints): a scalar's verdict is remembered. Keyed by type too, so True
                # and 1 stay apart.
                key = (param, value_type, value)
                verdict = memo.get(key)
                if verdict is None:
                    verdict = self._judge(param, value, value_type)
                    if len(memo) < _MEMO_LIMIT:
                        memo[key] = verdict
            else:
                verdict = self._judge(param, value, value_type)
            if verdict is not _OK:
                return verdict

        if not self._must_give_set <= args.keys():
            for param in self.must_give:
                if param not in args:
                    return self._structural("missing_optional", param, "missing {!r}")
        return _OK


def _find_function(functions: Any, name: str) -> dict | None:
    if isinstance(functions, list):
        return next((f for f in functions if isinstance(f, dict) and f.get("name") == name), None)
    return functions


def _all_bfcl_calls(calls: list) -> bool:
    """True when every item is already a one-key ``{name: {arg: value}}`` dict."""
    for call in calls:
        if type(call) is not dict or len(call) != 1:
            return False
        for args in call.values():
            if type(args) is not dict:
                return False
    return True


def _as_decoded(calls: Any) -> list[dict[str, Any]] | None:
    """Calls in BFCL's decoded form, or None when they are not a list of one-key call dicts."""
    if type(calls) is not list:
        return None
    if _all_bfcl_calls(calls):
        return calls
    out = []
    for call in calls:
        if isinstance(call, ToolCall):
            out.append({call.name: call.arguments})
        elif type(call) is dict and len(call) == 1 and type(next(iter(call.values()))) is dict:
            out.append(call)
        else:
            return None
    return out


class BFCLChecker:
    """One BFCL entry compiled for checking many outputs (a GRPO group, several checkpoints).

    ``functions`` and ``possible_answer`` are exactly as in BFCL's data files and must not be
    changed while the checker is in use. The checker mode comes from ``category`` (a BFCL
    category name) or ``mode``. :meth:`check` gives the official checker's verdict and never
    raises: a malformed entry gives ``error_type`` ``invalid_sample``.
    """

    def __init__(
        self,
        functions: Any,
        possible_answer: list[dict[str, Any]],
        category: str | None = None,
        *,
        mode: Mode | None = None,
        underscore_to_dot: bool = False,
    ) -> None:
        if mode is None:
            if category not in CATEGORY_MODE:
                known = ", ".join(sorted(CATEGORY_MODE))
                raise ValueError(f"unknown BFCL category {category!r}; known: {known}")
            mode = CATEGORY_MODE[category]
        self.functions = functions
        self.possible_answer = possible_answer
        self.mode = mode
        self.underscore_to_dot = underscore_to_dot
        answers_ok = isinstance(possible_answer, list) and bool(possible_answer)
        self._broken = (
            None if answers_ok else InvalidEntry("possible_answer must be a non-empty list")
        )
        self._wanted = len(possible_answer) if mode != "simple" and answers_ok else 1
        self._is_parallel = mode == "parallel"
        self._rules: list[_CallRule | Exception | None] = [None] * (
            self._wanted if answers_ok else 0
        )
        self._wrong_count = _WRONG_COUNT[mode]

    def forget(self) -> None:
        """Drop the verdicts remembered for argument values seen so far; keep the rules."""
        for rule in self._rules:
            if type(rule) is _CallRule:
                rule._memo.clear()

    def _rule(self, index: int) -> _CallRule:
        # Built on first use, so a broken answer only matters once BFCL would reach it.
        rule = self._rules[index]
        if type(rule) is _CallRule:
            return rule
        if rule is None:
            try:
                answer = self.possible_answer[index]
                if self.mode == "simple":
                    # BFCL's simple categories check the first function doc, whatever its name.
                    functions = self.functions
                    function = functions[0] if isinstance(functions, list) else functions
                else:
                    function = _find_function(self.functions, next(iter(answer)))
                rule = _CallRule(function, answer, self.underscore_to_dot)
            except _ENTRY_ERRORS as exc:
                rule = exc
            self._rules[index] = rule
        if isinstance(rule, Exception):
            raise rule
        return rule

    def check(self, calls: Any) -> Verdict:
        """Check model ``calls``: a list of :class:`ToolCall` or ``[{name: {arg: value}}]``."""
        decoded = calls
        if type(calls) is list:
            # Fast path for BFCL's decoded form; anything else goes through _as_decoded.
            for call in calls:
                if type(call) is not dict or len(call) != 1:
                    decoded = _as_decoded(calls)
                    break
                for args in call.values():
                    if type(args) is not dict:
                        decoded = None
        else:
            decoded = None
        if decoded is None:
            return Verdict(
                False,
                ErrorType.decode_failed,
                "not a list of calls",
                "ast_decoder:decoder_wrong_output_format",
            )
        try:
            if self._broken is not None:
                raise self._broken
            if self._is_parallel:
                return self._parallel(decoded)
            if len(decoded) != self._wanted:
                return self._wrong_count
            rule = self._rules[0]
            if type(rule) is not _CallRule:
                rule = self._rule(0)
            return rule.check(decoded[0])
        except _ENTRY_ERRORS as exc:
            detail = f"cannot check this entry: {type(exc).__name__}: {exc}"
            return Verdict(False, ErrorType.invalid_sample, detail, "invalid_entry")

    def _parallel(self, calls: list[dict[str, Any]]) -> Verdict:
        if len(calls) != self._wanted:
            return self._wrong_count
        remaining = list(calls)  # unmatched calls, in output order
        rules = self._rules
        for i in range(self._wanted):
            rule = rules[i]
            if type(rule) is not _CallRule:
                rule = self._rule(i)
            closest, closest_key = None, (_UNRANKED + 1, "")
            # Greedy, as BFCL does: each answer takes the first unused call that satisfies it.
            for position, call in enumerate(remaining):
                verdict = rule.check(call)
                if verdict.valid:
                    del remaining[position]
                    break
                key = (_SEVERITY.get(verdict.error_type, _UNRANKED), verdict.detail)
                if key < closest_key:
                    closest, closest_key = verdict, key
            else:
                # BFCL reports only "cannot find match"; redline names the error of the unused
                # call closest to this answer. Like BFCL's verdict, which answer is left
                # unmatched can depend on the order of the calls.
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
    """Check ``calls`` against one BFCL entry, as the official AST checker would.

    A one-off :class:`BFCLChecker`; build the checker yourself to check many outputs of one entry.
    """
    checker = BFCLChecker(
        functions, possible_answer, category, mode=mode, underscore_to_dot=underscore_to_dot
    )
    return checker.check(calls)


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


def answer_from_calls(calls: list[ToolCall], *, for_checking: bool = False) -> list[dict[str, Any]]:
    """BFCL's possible-answer form accepting ``calls`` (inverse of ground_truth_calls).

    In that form ``""`` means "may be left out", so a literal empty-string argument cannot be
    said exactly. With ``for_checking`` it becomes ``" "``, which BFCL's string
    standardisation turns back into ``""``: the empty string is then required, not optional.
    """
    blank = " " if for_checking else ""
    return [{c.name: {k: [_as_options(v, blank)] for k, v in c.arguments.items()}} for c in calls]


def _as_options(value: Any, blank: str) -> Any:
    # Dict answers hold option lists per key, one level down (list-of-dict answers likewise).
    if value == "" and type(value) is str:
        return blank
    if isinstance(value, dict):
        return {k: [blank if v == "" and type(v) is str else v] for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_as_options(v, blank) for v in value]
    return value
