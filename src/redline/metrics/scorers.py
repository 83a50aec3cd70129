"""Per-sample scorers: each takes a Sample and its Completion and returns one Score.

The seed's six (parse, function name, parameter F1, schema hit, exec, semantic match), the
BFCL AST verdict and irrelevance/relevance. Pure and deterministic; no I/O, no model calls.
A scorer that cannot score returns ``Score(None, error_type)``; one that does not apply to the
sample returns ``Score(None)`` with no error type. Both are left out of means. Each is written
once, as a rule over a prepared sample (``RULES``) that rewards call directly; ``SCORERS``
wrap them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from jsonschema.exceptions import SchemaError

from redline.metrics.bfcl import CATEGORY_MODE, Verdict, answer_from_calls, check
from redline.metrics.checks import failed_checks
from redline.parsing import strip_reasoning
from redline.records import (
    Completion,
    ErrorType,
    ParseErrorKind,
    Sample,
    SampleRecord,
    Score,
    ToolCall,
    ToolSpec,
    canonical_json,
)

Scorer = Callable[[Sample, Completion], Score]


class Outcome(NamedTuple):
    """A rule's verdict: a Score's fields as a plain tuple (cheap to make in a reward's loop)."""

    value: float | None
    error_type: ErrorType | None = None
    detail: str = ""


_CALLING = ("calls", "any_call")  # expectations where the model should call a tool


class Prepared:
    """A sample in the form the rules read, built once per sample (``Prepared.of``): its
    expectation, offered tools by name, and the answer's parameters (on first use)."""

    __slots__ = (
        "sample",
        "expect",
        "calling",
        "needs_calls",
        "tools",
        "_rules",
        "_gold",
        "_names",
    )

    def __init__(self, sample: Sample) -> None:
        self.sample = sample
        self.expect = sample.expect
        self.calling = sample.expect in _CALLING
        self.needs_calls = sample.expect == "calls" and (
            sample.expected is not None or sample.possible_answer is not None
        )
        self.tools = {t.name: t for t in reversed(sample.tools)}  # the first tool of a name wins
        self._rules: dict[str, _Tool] = {}  # the called tools, as rules read them
        self._gold: _Answer | None = None
        self._names: list[str] | None = None

    @staticmethod
    def of(sample: Sample) -> Prepared:
        return sample.memo("metrics.prepared", Prepared)

    @property
    def gold(self) -> _Answer:
        """Every answer parameter (see _Answer)."""
        if self._gold is None:
            self._gold = _Answer(self.sample)
        return self._gold

    @property
    def answer_names(self) -> list[str]:
        """The answer's function names, sorted."""
        if self._names is None:
            self._names = sorted(_answer_names(self.sample))
        return self._names


class _Tool:
    """An offered tool as the rules read it, taken from its ToolSpec once per sample: reading a
    pydantic model's attributes costs more than the rules' own work. The validator is compiled
    on first use (only exec needs it)."""

    __slots__ = ("spec", "problems", "required", "validate")

    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self.problems = spec.problems()
        self.required = spec.required
        self.validate: Callable[[Any], Any] | None = None


Rule = Callable[[Prepared, Completion], Outcome]

NOT_APPLICABLE = Score(value=None)
PASS = Score(value=1.0)
_NA = Outcome(None)
_PASS = Outcome(1.0)
_tuple = tuple.__new__  # Outcome(...) without NamedTuple's Python-level __new__: rules run hot


def _fail(error: ErrorType | None, detail: str) -> Outcome:
    return _tuple(Outcome, (0.0, error, detail))


def _bool(ok: bool, error: ErrorType | None = None, detail: str = "") -> Outcome:
    return _PASS if ok else _fail(error, detail)


def _failure(completion: Completion) -> Outcome | None:
    """The 0 that an output without a usable call scores, or None when it holds a call."""
    error = completion.parse_error
    if error is None:
        if completion.calls:
            return None
        return _fail(ErrorType.no_call, "the output holds no call")
    kind, message = error.kind, error.message
    if kind is ParseErrorKind.empty or kind is ParseErrorKind.no_call:
        return _fail(ErrorType.no_call, message)
    if kind is ParseErrorKind.no_output:
        return _fail(ErrorType.no_output, message)
    return _fail(ErrorType.decode_failed, message)


def call_failure(completion: Completion) -> tuple[ErrorType, str] | None:
    """Why a completion holds no usable call, or None when it holds at least one."""
    failure = _failure(completion)
    return None if failure is None else (failure.error_type, failure.detail)


# --- parse ---------------------------------------------------------------------------------


def parse(p: Prepared, completion: Completion) -> Outcome:
    """1 when the output parses into at least one call in the expected format."""
    if not p.calling:
        return _NA
    return _failure(completion) or _PASS


# --- function name -------------------------------------------------------------------------


def function_name(p: Prepared, completion: Completion) -> Outcome:
    """1 when the called names equal the answer's, as a multiset (parallel order ignored)."""
    if not p.needs_calls:
        return _NA
    failure = _failure(completion)
    if failure:
        return failure
    got = sorted(call.name for call in completion.calls)
    want = p.answer_names
    return _bool(got == want, ErrorType.wrong_function, f"called {got}, expected {want}")


def _answer_names(sample: Sample) -> list[str]:
    if sample.possible_answer is not None:
        return [next(iter(item)) for item in sample.possible_answer]
    return [c.name for c in sample.expected or []]


# --- parameter F1 --------------------------------------------------------------------------


def _normalise_text(text: str) -> str:
    # Whitespace runs collapsed to one space and the ends stripped (str.split's whitespace is
    # Unicode whitespace, as the regex \s is), then case-folded.
    return " ".join(text.split()).casefold()


def normalise_value(value: Any) -> Any:
    """Semantic normalisation: strings case-folded with whitespace collapsed, recursively."""
    if isinstance(value, str):
        return _normalise_text(value)
    if isinstance(value, list):
        return [normalise_value(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise_value(v) for k, v in value.items()}
    return value


def _value_key(value: Any, semantic: bool) -> tuple[str, Any]:
    """A comparable key for an argument value: 5 and 5.0 are the same, True stays apart from 1."""
    kind = type(value)
    if kind is str:
        return "s", normalise_value(value) if semantic else value
    if kind is bool or value is None:
        return "b", value
    if kind is int:
        return "n", value
    if kind is float:
        return "n", int(value) if value.is_integer() else value
    if semantic:
        value = normalise_value(value)
    return "j", canonical_json(value)


def _matches(value: Any, options: list[Any], semantic: bool) -> bool:
    """Whether ``value`` is one of an answer's accepted ``options``. Dict answers hold option
    lists per key (one level down), as in BFCL; a key whose options include "" may be left out."""
    key = _value_key(value, semantic)
    for option in options:
        if option == "":
            # "" marks "may be left out"; it also matches a literal empty string.
            if value == "":
                return True
            continue
        if isinstance(option, dict) and isinstance(value, dict):
            if _dict_matches(value, option, semantic):
                return True
        elif (
            isinstance(option, list)
            and isinstance(value, list)
            and option
            and all(isinstance(o, dict) for o in option)
        ):
            if len(option) == len(value) and all(
                isinstance(v, dict) and _dict_matches(v, o, semantic)
                for v, o in zip(value, option, strict=True)
            ):
                return True
        elif _value_key(option, semantic) == key:
            return True
    return False


def _dict_matches(value: dict, option: dict, semantic: bool) -> bool:
    for k, v in value.items():
        accepted = option.get(k)
        if not isinstance(accepted, list) or not _matches(v, accepted, semantic):
            return False
    return all(k in value or (isinstance(opts, list) and "" in opts) for k, opts in option.items())


class _Gold:
    """One answer parameter's accepted values, with the keys they are matched by."""

    __slots__ = ("options", "optional", "structured", "strings", "_folded", "numbers", "_keys")

    def __init__(self, options: list[Any]) -> None:
        self.options = options
        self.optional = "" in options  # "" also matches a literal empty string
        # Dict and list-of-dict answers hold option lists per key: matched the slow way.
        self.structured = False
        # The keys of the common options, kept apart so a value is looked up without making its
        # key: ("s", text) and ("n", number) keys (see _value_key).
        strings: set[str] = set()
        numbers: set[int | float] = set()
        for o in options:
            kind = type(o)
            if kind is str:
                if o:
                    strings.add(o)
            elif kind is int:
                numbers.add(o)
            elif kind is float:
                numbers.add(int(o) if o.is_integer() else o)
            elif isinstance(o, dict) or (
                isinstance(o, list) and o and all(isinstance(i, dict) for i in o)
            ):
                self.structured = True
        self.strings = strings
        self._folded: set[str] | None = None  # the strings normalised, on the first inexact one
        self.numbers = numbers
        self._keys: list[frozenset | None] = [None, None]  # every key, by semantic, on first use

    def keys(self, semantic: bool) -> frozenset:
        keys = self._keys[semantic]
        if keys is None:
            keys = frozenset(_value_key(o, semantic) for o in self.options if o != "")
            self._keys[semantic] = keys
        return keys

    def accepts(self, value: Any, semantic: bool) -> bool:
        kind = type(value)
        if kind is str:
            if value in self.strings or (self.optional and value == ""):
                return True
            if semantic:  # only a value that does not match exactly is normalised
                folded = self._folded
                if folded is None:
                    folded = self._folded = {_normalise_text(o) for o in self.strings}
                return _normalise_text(value) in folded
            return False
        if kind is int:
            return value in self.numbers
        if kind is float:
            return (int(value) if value.is_integer() else value) in self.numbers
        if self.structured and isinstance(value, (dict, list)):
            return _matches(value, self.options, semantic)
        return _value_key(value, semantic) in self.keys(semantic)


class _Answer:
    """Every answer parameter of a sample, by function and parameter name."""

    __slots__ = ("params", "by_name", "required")

    def __init__(self, sample: Sample) -> None:
        answer = sample.possible_answer
        if answer is None:
            answer = answer_from_calls(sample.expected or [])
        self.params: list[_Gold] = []
        # {function: {parameter: indices into params}}; a function may be called twice.
        self.by_name: dict[str, dict[str, list[int]]] = {}
        for item in answer:
            ((name, params),) = item.items()
            slots = self.by_name.setdefault(name, {})
            for param, options in params.items():
                slots.setdefault(param, []).append(len(self.params))
                self.params.append(_Gold(options if isinstance(options, list) else [options]))
        self.required = sum(1 for gold in self.params if not gold.optional)


def _pair_f1(p: Prepared, calls: list[ToolCall], semantic: bool) -> float:
    answer = p._gold or p.gold
    gold = answer.params
    used = [False] * len(gold)
    predicted = true_pos = optional_hits = 0
    for call in calls:
        arguments = call.arguments
        predicted += len(arguments)
        slots = answer.by_name.get(call.name)
        if slots is None:
            continue
        for param, value in arguments.items():
            indices = slots.get(param)
            if indices is None:
                continue
            for i in indices:
                if used[i]:
                    continue
                pair = gold[i]
                if pair.accepts(value, semantic):
                    used[i] = True
                    true_pos += 1
                    optional_hits += pair.optional
                    break
    relevant = answer.required + optional_hits
    if not predicted and relevant == 0:
        return 1.0 if sorted(call.name for call in calls) == p.answer_names else 0.0
    if true_pos == 0:
        return 0.0
    precision, recall = true_pos / predicted, true_pos / relevant
    return 2 * precision * recall / (precision + recall)


def pair_f1(sample: Sample, calls: list[ToolCall], semantic: bool) -> float:
    """F1 of (function, parameter, value) pairs, pooled over the sample's calls (micro within a
    sample). A value matches when it is among the answer's accepted values. Optional answer
    parameters count only when the model supplies them. Both sides empty: 1 when names match."""
    return _pair_f1(Prepared.of(sample), calls, semantic)


def _f1_outcome(value: float) -> Outcome:
    return _PASS if value == 1.0 else _tuple(Outcome, (value, ErrorType.value_error, ""))


def _f1(p: Prepared, completion: Completion, semantic: bool) -> Outcome:
    if not p.needs_calls:
        return _NA
    return _failure(completion) or _f1_outcome(_pair_f1(p, completion.calls, semantic))


def param_f1(p: Prepared, completion: Completion) -> Outcome:
    """F1 of exact (function, parameter, value) pairs; macro mean over samples."""
    return _f1(p, completion, semantic=False)


def semantic_match(p: Prepared, completion: Completion) -> Outcome:
    """1 when names match and every value matches after case/whitespace normalisation."""
    names = function_name(p, completion)
    if names.value != 1.0:
        return names
    value = _pair_f1(p, completion.calls, semantic=True)
    return _bool(value == 1.0, ErrorType.value_error, f"semantic F1 {value:.3f}")


# --- schema hit and exec -------------------------------------------------------------------


def _called_tools(p: Prepared, completion: Completion) -> Outcome | list[_Tool]:
    """The offered tool of each call, or the Outcome that ends scoring first: not applicable, no
    usable call, a call to a tool not offered, or a malformed schema (unscored)."""
    if not p.calling:
        return _NA
    return _failure(completion) or _offered(p, completion.calls)


def _offered(p: Prepared, calls: list[ToolCall]) -> Outcome | list[_Tool]:
    known = p._rules
    tools = []
    for call in calls:
        name = call.name
        tool = known.get(name)
        if tool is None:
            spec = p.tools.get(name)
            if spec is None:
                return _fail(ErrorType.wrong_function, f"{name!r} is not an offered tool")
            tool = known[name] = _Tool(spec)
        if tool.problems:
            return Outcome(None, ErrorType.invalid_sample, "; ".join(tool.problems))
        tools.append(tool)
    return tools


def _required(calls: list[ToolCall], tools: list[_Tool]) -> Outcome:
    for call, tool in zip(calls, tools, strict=True):
        arguments = call.arguments
        for required in tool.required:
            if required not in arguments:
                missing = [r for r in tool.required if r not in arguments]
                return _fail(ErrorType.missing_required, f"{call.name}: missing {missing}")
    return _PASS


def _valid(calls: list[ToolCall], tools: list[_Tool]) -> Outcome:
    for call, tool in zip(calls, tools, strict=True):
        outcome = _validated(tool, call.name, call.arguments)
        if outcome is not _PASS:
            return outcome
    return _PASS


def _validated(tool: _Tool, name: str, arguments: dict[str, Any]) -> Outcome:
    validate = tool.validate
    if validate is None:
        validate = tool.validate = tool.spec.validator
    try:
        problem = validate(arguments)
    except SchemaError as exc:
        return Outcome(None, ErrorType.invalid_sample, exc.message)
    if problem is None:
        return _PASS
    keyword, path, message = problem
    where = ".".join(str(part) for part in path) or "arguments"
    kind = _SCHEMA_ERRORS.get(keyword, ErrorType.type_error)
    return _fail(kind, f"{name}.{where}: {message}")


# What a JSON Schema failure means for the call, by the keyword that failed.
_SCHEMA_ERRORS = {
    "required": ErrorType.missing_required,
    "additionalProperties": ErrorType.unexpected_param,
    "enum": ErrorType.value_error,
    "const": ErrorType.value_error,
}


def schema_hit(p: Prepared, completion: Completion) -> Outcome:
    """1 when every call names an offered tool and gives every required parameter."""
    tools = _called_tools(p, completion)
    if type(tools) is Outcome:
        return tools
    return _required(completion.calls, tools)


def exec_ok(p: Prepared, completion: Completion) -> Outcome:
    """1 when every call's arguments validate against its tool's JSON Schema (types, enums,
    nested objects and arrays; integers are accepted for numbers)."""
    tools = _called_tools(p, completion)
    if type(tools) is Outcome:
        return tools
    return _valid(completion.calls, tools)


def semantic_f1(p: Prepared, completion: Completion) -> Outcome:
    """F1 of pairs after case/whitespace normalisation; macro mean over samples."""
    return _f1(p, completion, semantic=True)


# --- BFCL AST and (ir)relevance ------------------------------------------------------------


def ast_verdict(sample: Sample, completion: Completion) -> Verdict | None:
    """The BFCL-rule verdict for a sample with an answer; None when there is no answer."""
    return _ast_verdict(Prepared.of(sample), completion)


def _ast_verdict(p: Prepared, completion: Completion) -> Verdict | None:
    if not p.needs_calls:
        return None
    failure = _failure(completion)
    if failure:
        return Verdict(False, failure.error_type, failure.detail)
    sample = p.sample
    if sample.bfcl_category is not None and sample.bfcl_category not in CATEGORY_MODE:
        reason = f"BFCL AST checking of {sample.bfcl_category} (Java/JS types) is not implemented"
        return Verdict(False, ErrorType.unsupported, reason)
    functions = [t.model_dump() for t in sample.tools]
    calls = completion.calls
    if sample.bfcl_category in CATEGORY_MODE and sample.possible_answer is not None:
        return check(functions, calls, sample.possible_answer, sample.bfcl_category)
    answer = sample.possible_answer
    if answer is None:
        answer = answer_from_calls(sample.expected or [], for_checking=True)
    mode = "parallel" if len(answer) > 1 else "multiple"
    return check(functions, calls, answer, mode=mode)


def ast_match(p: Prepared, completion: Completion) -> Outcome:
    """BFCL AST verdict as 0/1 (the official rules; see redline.metrics.bfcl)."""
    verdict = _ast_verdict(p, completion)
    if verdict is None:
        return _NA
    if verdict.error_type in (ErrorType.invalid_sample, ErrorType.unsupported):
        return Outcome(None, verdict.error_type, verdict.detail)
    return _bool(verdict.valid, verdict.error_type, verdict.detail)


def irrelevance(p: Prepared, completion: Completion) -> Outcome:
    """On samples no offered tool fits: 1 when the model made no call (BFCL: an output that
    does not decode, or decodes to no call, counts as no call)."""
    if p.expect != "no_call":
        return _NA
    if not completion.calls:
        return _PASS
    return _fail(ErrorType.unexpected_call, f"called {[call.name for call in completion.calls]}")


def relevance(p: Prepared, completion: Completion) -> Outcome:
    """On samples that need some call: 1 when the output holds at least one call."""
    if p.expect != "any_call":
        return _NA
    return _failure(completion) or _PASS


def format_strict(p: Prepared, completion: Completion) -> Outcome:
    """1 when the output is nothing but calls: it parses and no prose stands outside the calls
    (reasoning inside ``<think>`` is not prose). The seed's "no extra natural language"."""
    if not p.calling:
        return _NA
    failure = _failure(completion)
    if failure:
        return failure
    extra = completion.extra_text.strip()
    return _bool(not extra, ErrorType.extra_text, f"text outside the calls: {extra[:80]!r}")


def _needed_options(sample: Sample) -> list[tuple[str, dict[str, list[Any]]]]:
    """The answer's calls as (name, {parameter: accepted values}), optional parameters left out."""
    if sample.expect == "no_call":
        return []
    if sample.possible_answer is None:
        # Expected calls have no optional parameters; a "" among options is a literal value.
        answer = answer_from_calls(sample.expected or [])
        return [(n, dict(params)) for item in answer for n, params in item.items()]
    calls = []
    for item in sample.possible_answer:
        ((name, params),) = item.items()
        options = {p: o if isinstance(o, list) else [o] for p, o in params.items()}
        calls.append((name, {p: o for p, o in options.items() if "" not in o}))
    return calls


def _jaccard(a: set, b: set) -> float:
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def toolrl_correctness(p: Prepared, completion: Completion) -> Outcome:
    """ToolRL's correctness measure (Qian et al. 2025), normalised to [0, 1].

    Tool-name Jaccard (as sets), plus, over an optimal pairing of predicted and answer calls of
    the same name, parameter-name Jaccard and the count of exactly matching values; divided by
    its maximum, 1 + answer calls + answer parameters. Optional answer parameters are left out.
    On irrelevance samples the answer is "no call", so no call scores 1.
    """
    sample = p.sample
    if p.expect in ("any_call", "answer") or (p.expect == "calls" and not p.needs_calls):
        return _NA
    gold = _needed_options(sample)
    predicted = [] if _failure(completion) else completion.calls
    total = _jaccard({n for n, _ in gold}, {call.name for call in predicted})
    pair_scores = [
        [
            0.0
            if call.name != name
            else _jaccard(set(params), set(call.arguments) - _optional(sample, name))
            + sum(
                1
                for param, accepted in params.items()
                if param in call.arguments
                and _matches(call.arguments[param], accepted, semantic=False)
            )
            for call in predicted
        ]
        for name, params in gold
    ]
    total += _best_pairing(pair_scores)
    maximum = 1 + len(gold) + sum(len(params) for _, params in gold)
    value = total / maximum
    return _PASS if value == 1.0 else Outcome(value, ErrorType.value_error)


def _optional(sample: Sample, name: str) -> set[str]:
    answer = sample.possible_answer or []
    return {
        p
        for item in answer
        for n, params in item.items()
        if n == name
        for p, options in params.items()
        if isinstance(options, list) and "" in options
    }


def _best_pairing(scores: list[list[float]]) -> float:
    """The largest total of a one-to-one pairing of rows and columns (Hungarian method)."""
    if not scores or not scores[0]:
        return 0.0
    if len(scores) == 1 or len(scores[0]) == 1:
        return max(max(row) for row in scores) if len(scores) == 1 else max(r[0] for r in scores)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    return float(sum(scores[r][c] for r, c in zip(rows, cols, strict=True)))


def answer_check(p: Prepared, completion: Completion) -> Outcome:
    """On free-text items (the regression set): 1 when the answer, reasoning removed, passes
    every verifiable check in ``metadata["checks"]``."""
    if p.expect != "answer":
        return _NA
    checks = p.sample.metadata.get("checks")
    if not isinstance(checks, list) or not checks:
        return Outcome(None, ErrorType.invalid_sample, "the item has no checks")
    try:
        # The answer is the whole output but its reasoning, whatever the parser made of it.
        failed = failed_checks(strip_reasoning(completion.raw)[1], checks)
    except KeyError as exc:
        return Outcome(None, ErrorType.invalid_sample, f"unknown check {exc}")
    return _bool(not failed, ErrorType.check_failed, f"failed: {', '.join(failed)}")


# Every scorer as a rule over a prepared sample; rewards call these directly.
RULES: dict[str, Rule] = {
    "parse": parse,
    "function_name": function_name,
    "param_f1": param_f1,
    "semantic_f1": semantic_f1,
    "semantic_match": semantic_match,
    "schema_hit": schema_hit,
    "exec": exec_ok,
    "ast": ast_match,
    "irrelevance": irrelevance,
    "relevance": relevance,
    "format_strict": format_strict,
    "toolrl": toolrl_correctness,
    "answer": answer_check,
}


def score_of(outcome: Outcome) -> Score:
    """An Outcome as a Score record."""
    if outcome is _PASS:
        return PASS
    if outcome is _NA:
        return NOT_APPLICABLE
    return Score(value=outcome.value, error_type=outcome.error_type, detail=outcome.detail)


def as_scorer(rule: Rule) -> Scorer:
    """A rule as a scorer of records: the same verdict, as a Score."""

    def scorer(sample: Sample, completion: Completion) -> Score:
        outcome = rule(Prepared.of(sample), completion)
        error = completion.parse_error
        if (
            error is not None
            and error.kind is ParseErrorKind.no_output
            and outcome.value is not None
        ):
            # Nothing was produced: every verdict that applies fails, and none passes by default
            # (an irrelevance sample is not declined by a model that never answered it).
            outcome = _fail(ErrorType.no_output, error.message)
        return score_of(outcome)

    scorer.__name__ = scorer.__qualname__ = rule.__name__
    scorer.__doc__ = rule.__doc__
    return scorer


SCORERS: dict[str, Scorer] = {name: as_scorer(rule) for name, rule in RULES.items()}

# The scorers whose failures name a record's one error type, in order: the first failure wins.
# A record that passes its verdict (AST where there is an answer) has no error type, whatever
# the secondary scorers say.
_VERDICT_CHAIN: dict[str, tuple[str, ...]] = {
    "answer": ("answer",),
    "no_call": ("irrelevance",),
    "any_call": ("relevance",),
    "calls": ("parse", "ast"),
}
_FALLBACK_CHAIN = ("parse", "schema_hit", "exec")


def primary_error(sample: Sample, scores: dict[str, Score]) -> tuple[ErrorType | None, str]:
    """The record's one error type (and its detail), chosen by the sample's declared expectation."""
    chain = _VERDICT_CHAIN[sample.expect]
    if "ast" in chain and scores.get("ast", NOT_APPLICABLE) == NOT_APPLICABLE:
        chain = _FALLBACK_CHAIN
    for name in chain:
        score = scores.get(name)
        if score is not None and score.error_type is not None:
            return score.error_type, f"{name}: {score.detail}"
    return None, ""


def run_scorer(scorer: Scorer, sample: Sample, completion: Completion) -> Score:
    """Run one scorer; an exception becomes an unscored ``scorer_error``, never a 0."""
    try:
        return scorer(sample, completion)
    except Exception as exc:  # noqa: BLE001 - a scorer bug must not end the run
        return Score(
            value=None, error_type=ErrorType.scorer_error, detail=f"{type(exc).__name__}: {exc}"
        )


def score_sample(
    sample: Sample, completion: Completion, scorers: dict[str, Scorer] | None = None
) -> SampleRecord:
    """Score one sample with every scorer and pick its one primary error type."""
    scorers = SCORERS if scorers is None else scorers
    scores = {name: run_scorer(fn, sample, completion) for name, fn in scorers.items()}
    if completion.rejected is not None:
        return _rejected(sample, completion, scores)
    error_type, detail = primary_error(sample, scores)
    return SampleRecord(
        sample=sample,
        completion=completion,
        scores=scores,
        error_type=error_type,
        error_detail=detail,
    )


def _rejected(sample: Sample, completion: Completion, scores: dict[str, Score]) -> SampleRecord:
    """A sample whose request was refused has no output: every scorer that applies to it fails
    it (as BFCL counts an inference error), even one an empty answer would pass (irrelevance).
    The scorers were run only to learn which apply; a sample they cannot score stays unscored."""
    failed = Score(value=0.0, error_type=ErrorType.request_rejected, detail=completion.rejected)
    return SampleRecord(
        sample=sample,
        completion=completion,
        scores={name: failed if s.value is not None else s for name, s in scores.items()},
        error_type=ErrorType.request_rejected,
        error_detail=completion.rejected or "",
    )
