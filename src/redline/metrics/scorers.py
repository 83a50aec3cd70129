"""Per-sample scorers: each takes a Sample and its Completion and returns one Score.

The seed's six (parse, function name, parameter F1, schema hit, exec, semantic match), the
BFCL AST verdict and irrelevance/relevance. Pure and deterministic; no I/O, no model calls.
A scorer that cannot score returns ``Score(None, error_type)``; one that does not apply to the
sample returns ``Score(None)`` with no error type. Both are left out of means.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import SchemaError

from redline.harness.parsing import strip_reasoning
from redline.metrics.bfcl import CATEGORY_MODE, Verdict, answer_from_calls, check
from redline.metrics.checks import failed_checks
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

NOT_APPLICABLE = Score(value=None)
_CALLING = ("calls", "any_call")  # expectations where the model should call a tool
_WS = re.compile(r"\s+")


def _score(value: float | None, error_type: ErrorType | None = None, detail: str = "") -> Score:
    return Score(value=value, error_type=error_type, detail=detail)


PASS = _score(1.0)


def _bool(ok: bool, error: ErrorType | None = None, detail: str = "") -> Score:
    return PASS if ok else _score(0.0, error, detail)


def call_failure(completion: Completion) -> tuple[ErrorType, str] | None:
    """Why a completion holds no usable call, or None when it holds at least one."""
    error = completion.parse_error
    if error is not None:
        kind = (
            ErrorType.no_call
            if error.kind in (ParseErrorKind.empty, ParseErrorKind.no_call)
            else ErrorType.decode_failed
        )
        return kind, error.message
    if not completion.calls:
        return ErrorType.no_call, "the output holds no call"
    return None


def _needs_calls(sample: Sample) -> bool:
    return sample.expect == "calls" and (
        sample.expected is not None or sample.possible_answer is not None
    )


# --- parse ---------------------------------------------------------------------------------


def parse(sample: Sample, completion: Completion) -> Score:
    """1 when the output parses into at least one call in the expected format."""
    if sample.expect not in _CALLING:
        return NOT_APPLICABLE
    failure = call_failure(completion)
    return _bool(failure is None, *(failure or (None, "")))


# --- function name -------------------------------------------------------------------------


def function_name(sample: Sample, completion: Completion) -> Score:
    """1 when the called names equal the answer's, as a multiset (parallel order ignored)."""
    if not _needs_calls(sample):
        return NOT_APPLICABLE
    failure = call_failure(completion)
    if failure:
        return _bool(False, *failure)
    got = sorted(c.name for c in completion.calls)
    want = sorted(_answer_names(sample))
    return _bool(got == want, ErrorType.wrong_function, f"called {got}, expected {want}")


def _answer_names(sample: Sample) -> list[str]:
    if sample.possible_answer is not None:
        return [next(iter(item)) for item in sample.possible_answer]
    return [c.name for c in sample.expected or []]


# --- parameter F1 --------------------------------------------------------------------------


def normalise_value(value: Any) -> Any:
    """Semantic normalisation: strings case-folded with whitespace collapsed, recursively."""
    if isinstance(value, str):
        return _WS.sub(" ", value).strip().casefold()
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
    """One answer parameter: its (call, parameter) key, accepted values and their keys."""

    __slots__ = ("key", "options", "optional", "literal_empty", "structured", "keys")

    def __init__(self, key: tuple[str, str], options: list[Any]) -> None:
        self.key = key
        self.options = options
        self.optional = "" in options
        self.literal_empty = self.optional  # "" also matches a literal empty string
        # Dict and list-of-dict answers hold option lists per key: matched the slow way.
        self.structured = any(
            isinstance(o, dict)
            or (isinstance(o, list) and o and all(isinstance(i, dict) for i in o))
            for o in options
        )
        self.keys = {
            semantic: frozenset(_value_key(o, semantic) for o in options if o != "")
            for semantic in (False, True)
        }

    def accepts(self, value: Any, semantic: bool) -> bool:
        if self.literal_empty and value == "" and type(value) is str:
            return True
        if self.structured and isinstance(value, (dict, list)):
            return _matches(value, self.options, semantic)
        return _value_key(value, semantic) in self.keys[semantic]


def _gold_pairs(sample: Sample) -> list[_Gold]:
    """Every answer parameter of the sample (computed once per sample, see Record.memo)."""
    answer = sample.possible_answer
    if answer is None:
        answer = answer_from_calls(sample.expected or [])
    pairs = []
    for item in answer:
        ((name, params),) = item.items()
        for param, options in params.items():
            pairs.append(_Gold((name, param), options if isinstance(options, list) else [options]))
    return pairs


def pair_f1(sample: Sample, calls: list[ToolCall], semantic: bool) -> float:
    """F1 of (function, parameter, value) pairs, pooled over the sample's calls (micro within a
    sample). A value matches when it is among the answer's accepted values. Optional answer
    parameters count only when the model supplies them. Both sides empty: 1 when names match."""
    gold = sample.memo("metrics.gold_pairs", _gold_pairs)
    used = [False] * len(gold)
    predicted = true_pos = optional_hits = 0
    for call in calls:
        for param, value in call.arguments.items():
            predicted += 1
            key = (call.name, param)
            for i, pair in enumerate(gold):
                if not used[i] and pair.key == key and pair.accepts(value, semantic):
                    used[i] = True
                    true_pos += 1
                    optional_hits += pair.optional
                    break
    relevant = sum(1 for pair in gold if not pair.optional) + optional_hits
    if not predicted and relevant == 0:
        return 1.0 if sorted(c.name for c in calls) == sorted(_answer_names(sample)) else 0.0
    if true_pos == 0:
        return 0.0
    precision, recall = true_pos / predicted, true_pos / relevant
    return 2 * precision * recall / (precision + recall)


def _f1_scorer(semantic: bool) -> Scorer:
    def scorer(sample: Sample, completion: Completion) -> Score:
        if not _needs_calls(sample):
            return NOT_APPLICABLE
        failure = call_failure(completion)
        if failure:
            return _bool(False, *failure)
        value = pair_f1(sample, completion.calls, semantic)
        return _score(value, None if value == 1.0 else ErrorType.value_error)

    return scorer


param_f1 = _f1_scorer(semantic=False)
param_f1.__doc__ = "F1 of exact (function, parameter, value) pairs; macro mean over samples."
semantic_f1 = _f1_scorer(semantic=True)
semantic_f1.__doc__ = "F1 of pairs after case/whitespace normalisation; macro mean over samples."


def semantic_match(sample: Sample, completion: Completion) -> Score:
    """1 when names match and every value matches after case/whitespace normalisation."""
    names = function_name(sample, completion)
    if names.value != 1.0:
        return names
    value = pair_f1(sample, completion.calls, semantic=True)
    return _bool(value == 1.0, ErrorType.value_error, f"semantic F1 {value:.3f}")


# --- schema hit and exec -------------------------------------------------------------------


def _called_tools(
    sample: Sample, completion: Completion
) -> Score | list[tuple[ToolCall, ToolSpec]]:
    """Each call with its offered tool, or the Score that ends scoring first: not applicable,
    no usable call, a call to a tool not offered, or a malformed schema (unscored)."""
    if sample.expect not in _CALLING:
        return NOT_APPLICABLE
    failure = call_failure(completion)
    if failure:
        return _bool(False, *failure)
    tools = sample.memo("metrics.tools_by_name", _tools_by_name)
    pairs = []
    for call in completion.calls:
        tool = tools.get(call.name)
        if tool is None:
            return _bool(False, ErrorType.wrong_function, f"{call.name!r} is not an offered tool")
        problems = tool.problems()
        if problems:
            return _score(None, ErrorType.invalid_sample, "; ".join(problems))
        pairs.append((call, tool))
    return pairs


def _tools_by_name(sample: Sample) -> dict[str, ToolSpec]:
    return {t.name: t for t in reversed(sample.tools)}  # the first tool of a name wins


def schema_hit(sample: Sample, completion: Completion) -> Score:
    """1 when every call names an offered tool and gives every required parameter."""
    pairs = _called_tools(sample, completion)
    if isinstance(pairs, Score):
        return pairs
    for call, tool in pairs:
        missing = [p for p in tool.required if p not in call.arguments]
        if missing:
            return _bool(False, ErrorType.missing_required, f"{call.name}: missing {missing}")
    return _bool(True)


# What a JSON Schema failure means for the call, by the keyword that failed.
_SCHEMA_ERRORS = {
    "required": ErrorType.missing_required,
    "additionalProperties": ErrorType.unexpected_param,
    "enum": ErrorType.value_error,
    "const": ErrorType.value_error,
}


def exec_ok(sample: Sample, completion: Completion) -> Score:
    """1 when every call's arguments validate against its tool's JSON Schema (types, enums,
    nested objects and arrays; integers are accepted for numbers)."""
    pairs = _called_tools(sample, completion)
    if isinstance(pairs, Score):
        return pairs
    for call, tool in pairs:
        try:
            problem = tool.validator(call.arguments)
        except SchemaError as exc:
            return _score(None, ErrorType.invalid_sample, exc.message)
        if problem is not None:
            keyword, path, message = problem
            where = ".".join(str(p) for p in path) or "arguments"
            kind = _SCHEMA_ERRORS.get(keyword, ErrorType.type_error)
            return _bool(False, kind, f"{call.name}.{where}: {message}")
    return _bool(True)


# --- BFCL AST and (ir)relevance ------------------------------------------------------------


def ast_verdict(sample: Sample, completion: Completion) -> Verdict | None:
    """The BFCL-rule verdict for a sample with an answer; None when there is no answer."""
    if not _needs_calls(sample):
        return None
    failure = call_failure(completion)
    if failure:
        return Verdict(False, failure[0], failure[1])
    if sample.bfcl_category is not None and sample.bfcl_category not in CATEGORY_MODE:
        reason = f"BFCL AST checking of {sample.bfcl_category} (Java/JS types) is not implemented"
        return Verdict(False, ErrorType.unsupported, reason)
    functions = [t.model_dump() for t in sample.tools]
    if sample.bfcl_category in CATEGORY_MODE and sample.possible_answer is not None:
        return check(functions, completion.calls, sample.possible_answer, sample.bfcl_category)
    answer = sample.possible_answer
    if answer is None:
        answer = answer_from_calls(sample.expected or [], for_checking=True)
    mode = "parallel" if len(answer) > 1 else "multiple"
    return check(functions, completion.calls, answer, mode=mode)


def ast_match(sample: Sample, completion: Completion) -> Score:
    """BFCL AST verdict as 0/1 (the official rules; see redline.metrics.bfcl)."""
    verdict = ast_verdict(sample, completion)
    if verdict is None:
        return NOT_APPLICABLE
    if verdict.error_type in (ErrorType.invalid_sample, ErrorType.unsupported):
        return _score(None, verdict.error_type, verdict.detail)
    return _bool(verdict.valid, verdict.error_type, verdict.detail)


def irrelevance(sample: Sample, completion: Completion) -> Score:
    """On samples no offered tool fits: 1 when the model made no call (BFCL: an output that
    does not decode, or decodes to no call, counts as no call)."""
    if sample.expect != "no_call":
        return NOT_APPLICABLE
    called = bool(completion.calls)
    return _bool(
        not called, ErrorType.unexpected_call, f"called {[c.name for c in completion.calls]}"
    )


def relevance(sample: Sample, completion: Completion) -> Score:
    """On samples that need some call: 1 when the output holds at least one call."""
    if sample.expect != "any_call":
        return NOT_APPLICABLE
    failure = call_failure(completion)
    return _bool(failure is None, *(failure or (None, "")))


def format_strict(sample: Sample, completion: Completion) -> Score:
    """1 when the output is nothing but calls: it parses and no prose stands outside the calls
    (reasoning inside ``<think>`` is not prose). The seed's "no extra natural language"."""
    if sample.expect not in _CALLING:
        return NOT_APPLICABLE
    failure = call_failure(completion)
    if failure:
        return _bool(False, *failure)
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


def toolrl_correctness(sample: Sample, completion: Completion) -> Score:
    """ToolRL's correctness measure (Qian et al. 2025), normalised to [0, 1].

    Tool-name Jaccard (as sets), plus, over an optimal pairing of predicted and answer calls of
    the same name, parameter-name Jaccard and the count of exactly matching values; divided by
    its maximum, 1 + answer calls + answer parameters. Optional answer parameters are left out.
    On irrelevance samples the answer is "no call", so no call scores 1.
    """
    if sample.expect in ("any_call", "answer") or (
        sample.expect == "calls" and not _needs_calls(sample)
    ):
        return NOT_APPLICABLE
    gold = _needed_options(sample)
    predicted = [] if call_failure(completion) else completion.calls
    total = _jaccard({n for n, _ in gold}, {c.name for c in predicted})
    pair_scores = [
        [
            0.0
            if call.name != name
            else _jaccard(set(params), set(call.arguments) - _optional(sample, name))
            + sum(
                1
                for p, accepted in params.items()
                if p in call.arguments and _matches(call.arguments[p], accepted, semantic=False)
            )
            for call in predicted
        ]
        for name, params in gold
    ]
    total += _best_pairing(pair_scores)
    maximum = 1 + len(gold) + sum(len(params) for _, params in gold)
    value = total / maximum
    return _score(value, None if value == 1.0 else ErrorType.value_error)


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


def answer_check(sample: Sample, completion: Completion) -> Score:
    """On free-text items (the regression set): 1 when the answer, reasoning removed, passes
    every verifiable check in ``metadata["checks"]``."""
    if sample.expect != "answer":
        return NOT_APPLICABLE
    checks = sample.metadata.get("checks")
    if not isinstance(checks, list) or not checks:
        return _score(None, ErrorType.invalid_sample, "the item has no checks")
    try:
        # The answer is the whole output but its reasoning, whatever the parser made of it.
        failed = failed_checks(strip_reasoning(completion.raw)[1], checks)
    except KeyError as exc:
        return _score(None, ErrorType.invalid_sample, f"unknown check {exc}")
    return _bool(not failed, ErrorType.check_failed, f"failed: {', '.join(failed)}")


SCORERS: dict[str, Scorer] = {
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
        return _score(None, ErrorType.scorer_error, f"{type(exc).__name__}: {exc}")


def score_sample(
    sample: Sample, completion: Completion, scorers: dict[str, Scorer] | None = None
) -> SampleRecord:
    """Score one sample with every scorer and pick its one primary error type."""
    scorers = SCORERS if scorers is None else scorers
    scores = {name: run_scorer(fn, sample, completion) for name, fn in scorers.items()}
    error_type, detail = primary_error(sample, scores)
    return SampleRecord(
        sample=sample,
        completion=completion,
        scores=scores,
        error_type=error_type,
        error_detail=detail,
    )
