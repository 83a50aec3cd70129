"""A hypothesis toolkit for reward authors: strategies for tools, calls, completions and named
corruptions, and ``check_reward``, a battery of properties any reward function should hold.

Works on any TRL-shaped reward ``f(prompts, completions, **columns)``; the columns passed are
redline's (``tools`` and ``answers`` as JSON, see redline.rewards.COLUMNS), or renamed and
decoded for a reward that reads its own dataset's (``check_reward(columns=..., objects=True)``).
Nothing here scores.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import keyword
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from redline.corrupt import other_type, other_value
from redline.parsing import format_calls
from redline.records import ToolCall, ToolSpec

FORMATS = ("json", "hermes", "python")
NO_CALL_TEXT = "I cannot help with that using the tools I have."

_names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n) and not keyword.issoftkeyword(n)
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)

_SCALAR_TYPES = ("string", "integer", "number", "boolean")


# --- tools and calls -------------------------------------------------------------------------


@st.composite
def _param_schema(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kinds = list(_SCALAR_TYPES) + ["enum", "array"] + (["object"] if depth == 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "enum":
        return {
            "type": "string",
            "enum": draw(st.lists(_names, min_size=1, max_size=4, unique=True)),
        }
    if kind == "array":
        return {"type": "array", "items": {"type": draw(st.sampled_from(_SCALAR_TYPES))}}
    if kind == "object":
        props = draw(st.dictionaries(_names, _param_schema(depth=1), min_size=1, max_size=3))
        return {"type": "object", "properties": props, "required": sorted(props)[:1]}
    return {"type": kind}


@st.composite
def tool_schemas(draw: st.DrawFn, name: str | None = None) -> ToolSpec:
    """A well-formed tool in JSON Schema form: scalars, enums, arrays and one level of objects."""
    props = draw(st.dictionaries(_names, _param_schema(), max_size=5))
    required = [p for p in props if draw(st.booleans())]
    return ToolSpec(
        name=name or draw(_names),
        description=draw(_text),
        parameters={"type": "object", "properties": props, "required": required},
    )


def _value_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return _text
    if kind == "integer":
        return st.integers(-1000, 1000)
    if kind == "number":
        return st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_value_for(schema.get("items", {})), max_size=3)
    if kind == "object":
        return _arguments(schema.get("properties", {}), set(schema.get("required", [])))
    return _text


def _arguments(props: dict[str, Any], required: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {k: _value_for(v) for k, v in props.items() if k in required},
        optional={k: _value_for(v) for k, v in props.items() if k not in required},
    )


def calls_for(tool: ToolSpec) -> st.SearchStrategy[ToolCall]:
    """Calls of ``tool`` whose arguments validate against its schema (every required one given)."""
    arguments = _arguments(tool.properties, set(tool.required))
    return arguments.map(lambda args: ToolCall(name=tool.name, arguments=args))


@dataclass(frozen=True)
class Case:
    """Offered tools, the perfect calls, and the format completions are written in."""

    tools: tuple[ToolSpec, ...]
    calls: tuple[ToolCall, ...]
    fmt: str

    def columns(self, n: int = 1) -> dict[str, list[str]]:
        """The dataset columns a reward reads, repeated for ``n`` completions."""
        tools = json.dumps([t.to_openai() for t in self.tools])
        answers = json.dumps([c.model_dump() for c in self.calls])
        return {"tools": [tools] * n, "answers": [answers] * n}


@st.composite
def cases(
    draw: st.DrawFn, formats: Sequence[str] = FORMATS, max_tools: int = 3, max_calls: int = 3
) -> Case:
    """1-``max_tools`` distinct tools and 1-``max_calls`` perfect calls of them, in one of
    ``formats``."""
    names = draw(st.lists(_names, min_size=1, max_size=max_tools, unique=True))
    tools = [draw(tool_schemas(name=n)) for n in names]
    calls = draw(
        st.lists(st.sampled_from(tools).flatmap(calls_for), min_size=1, max_size=max_calls)
    )
    return Case(tuple(tools), tuple(calls), draw(st.sampled_from(list(formats))))


@st.composite
def completions(draw: st.DrawFn, calls: Sequence[ToolCall], fmt: str) -> str:
    """``calls`` written in ``fmt`` with any argument key order and layout whitespace."""
    shuffled = [
        ToolCall(name=c.name, arguments=dict(draw(st.permutations(list(c.arguments.items())))))
        for c in calls
    ]
    text = format_calls(shuffled, fmt)
    pad = draw(st.sampled_from(["", " ", "\n", "\n\n  ", "\t"]))
    if fmt == "json":
        indent = draw(st.sampled_from([None, 2]))
        objects = [c.model_dump() for c in shuffled]
        text = json.dumps(objects[0] if len(objects) == 1 else objects, indent=indent)
    elif fmt == "hermes":
        text = text.replace("<tool_call>\n", "<tool_call>" + pad).replace(
            "\n</tool_call>", pad + "</tool_call>"
        )
    else:
        text = text.replace(", ", "," + pad)
    return pad + text + pad


# --- named corruptions ---------------------------------------------------------------------------

Corruption = Callable[[st.DrawFn, Case], "str | None"]


def _mutate_one(
    draw: st.DrawFn, case: Case, edit: Callable[[dict[str, Any], str], bool]
) -> str | None:
    spots = [(i, p) for i, c in enumerate(case.calls) for p in c.arguments]
    if not spots:
        return None
    i, param = draw(st.sampled_from(spots))
    calls = [copy.deepcopy(c.model_dump()) for c in case.calls]
    if edit(calls[i]["arguments"], param) is False:
        return None
    return format_calls([ToolCall.model_validate(c) for c in calls], case.fmt)


def _truncate(draw: st.DrawFn, case: Case) -> str | None:
    text = format_calls(list(case.calls), case.fmt)
    return text[: draw(st.integers(1, len(text) - 1))] if len(text) > 1 else None


def _drop_required(draw: st.DrawFn, case: Case) -> str | None:
    tools = {t.name: t for t in case.tools}
    # Not a parameter whose expected value is "": redline's answer form (BFCL's) reads "" as
    # "may be left out", so leaving it out does not change what the answer means.
    spots = [
        (i, p)
        for i, c in enumerate(case.calls)
        for p in tools[c.name].required
        if p in c.arguments and c.arguments[p] != ""
    ]
    if not spots:
        return None
    i, param = draw(st.sampled_from(spots))
    calls = list(case.calls)
    calls[i] = ToolCall(
        name=calls[i].name, arguments={k: v for k, v in calls[i].arguments.items() if k != param}
    )
    return format_calls(calls, case.fmt)


def _wrong_type(draw: st.DrawFn, case: Case) -> str | None:
    def edit(args: dict[str, Any], param: str) -> None:
        args[param] = other_type(args[param])

    return _mutate_one(draw, case, edit)


def _wrong_value(draw: st.DrawFn, case: Case) -> str | None:
    def edit(args: dict[str, Any], param: str) -> bool:
        new = other_value(args[param])
        if new == args[param]:
            return False
        args[param] = new
        return True

    return _mutate_one(draw, case, edit)


def _rename_function(draw: st.DrawFn, case: Case) -> str | None:
    i = draw(st.integers(0, len(case.calls) - 1))
    calls = list(case.calls)
    calls[i] = ToolCall(name=calls[i].name + "_x", arguments=calls[i].arguments)
    return format_calls(calls, case.fmt)


def _extra_text(draw: st.DrawFn, case: Case) -> str | None:
    prose = draw(
        st.sampled_from(["Sure! Here is the call:", "Let me check that for you.", "Done."])
    )
    text = format_calls(list(case.calls), case.fmt)
    return draw(st.sampled_from([f"{prose}\n{text}", f"{text}\n{prose}"]))


def _duplicate_call(draw: st.DrawFn, case: Case) -> str | None:
    extra = draw(st.sampled_from(list(case.calls)))
    return format_calls([*case.calls, extra], case.fmt)


def _extra_call(draw: st.DrawFn, case: Case) -> str | None:
    extra = draw(st.sampled_from(list(case.tools)).flatmap(calls_for))
    return format_calls([*case.calls, extra], case.fmt)


def _swap_order(draw: st.DrawFn, case: Case) -> str | None:
    if len(case.calls) < 2:
        return None
    return format_calls(list(reversed(case.calls)), case.fmt)


def _empty_arguments(draw: st.DrawFn, case: Case) -> str | None:
    if not any(c.arguments for c in case.calls):
        return None
    return format_calls([ToolCall(name=c.name) for c in case.calls], case.fmt)


def _unicode_noise(draw: st.DrawFn, case: Case) -> str | None:
    noise = draw(st.sampled_from(["\u200b", "\u00a0", "\u0301", "\ufeff", "\U0001f600"]))

    def edit(args: dict[str, Any], param: str) -> bool:
        if not isinstance(args[param], str):
            return False
        args[param] = args[param] + noise
        return True

    return _mutate_one(draw, case, edit)


def _think_wrapper(draw: st.DrawFn, case: Case) -> str | None:
    closed = draw(st.booleans())
    return "<think>" + format_calls(list(case.calls), case.fmt) + ("</think>" if closed else "")


CORRUPTIONS: dict[str, Corruption] = {
    "truncate": _truncate,
    "drop_required": _drop_required,
    "wrong_type": _wrong_type,
    "wrong_value": _wrong_value,
    "rename_function": _rename_function,
    "extra_text": _extra_text,
    "duplicate_call": _duplicate_call,
    "extra_call": _extra_call,
    "swap_order": _swap_order,
    "empty_arguments": _empty_arguments,
    "unicode_noise": _unicode_noise,
    "think_wrapper": _think_wrapper,
}


@st.composite
def corrupted(draw: st.DrawFn, case: Case, names: Sequence[str] | None = None) -> tuple[str, str]:
    """A ``(corruption name, completion)`` pair for ``case``; inapplicable ones are skipped."""
    options = list(names or CORRUPTIONS)
    for name in draw(st.permutations(options)):
        text = CORRUPTIONS[name](draw, case)
        if text is not None:
            return name, text
    return "think_wrapper", _think_wrapper(draw, case)


# --- the battery -----------------------------------------------------------------------------


@dataclass
class Violation:
    """One property a reward function breaks, with hypothesis' minimal example; or, with
    ``status`` "not tested", one that ran no example to completion (every call raised or gave
    None), which is no more a pass than a violation is."""

    prop: str
    message: str
    example: dict[str, Any] = field(default_factory=dict)
    status: str = "violated"  # or NOT_TESTED


NOT_TESTED = "not tested"
_RAISED = object()
# What a property's check returns for an example it could not judge: the reward raised (or
# returned no list of one reward), or gave None. A property that judged none is not tested.
_SKIPPED_RAISED = object()
_SKIPPED_NONE = object()

# Corruptions that change what the answer means. A reward for calling tools must score each
# below the perfect completion in at least SEES_SHARE of the cases both are scored ("most"
# cases: a tie is a wrong answer rewarded as the right one), unless it declares in ``blind_to``
# that it does not look at it, as parse does for all four. The share is judged on at least
# MEANING_CASES generated cases per corruption, whatever ``examples`` is: a share of three
# cases says nothing.
MEANING_CORRUPTIONS = ("drop_required", "wrong_type", "wrong_value", "rename_function")
SEES_SHARE = 0.75
MEANING_CASES = 20

# The battery's properties, in the order check_reward runs them.
PROPERTIES = (
    "no_exception",
    "not_always_none",
    "bounded",
    "deterministic",
    "perfect_beats_corruption",
    "key_order_and_whitespace",
    "more_calls_never_help",
    "think_earns_nothing",
    "batch_consistent",
    "linear_time",
)


# The ground-truth columns the battery hands a reward (see Case.columns).
GIVEN_COLUMNS = ("tools", "answers")


def _call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)``, awaited when ``fn`` is async (TRL awaits async reward functions)."""
    out = fn(**kwargs)
    if inspect.isawaitable(out):
        out = asyncio.run(_awaited(out))
    return out


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _reward(fn: Callable[..., Any], case: Case, completion: str) -> Any:
    """One completion's reward, or _RAISED (with the exception) when ``fn`` raised."""
    try:
        out = _call(fn, prompts=["(prompt)"], completions=[completion], **case.columns())
    except Exception as exc:  # noqa: BLE001 - what a reward raises is what the battery reports
        return _RAISED, exc
    return out, None


def _score(fn: Callable[..., Any], case: Case, completion: str) -> Any:
    """One completion's reward as returned, or _RAISED when ``fn`` raised or returned no list
    of one reward."""
    out, _ = _reward(fn, case, completion)
    return _RAISED if out is _RAISED else _value(out)


def _values(out: Any) -> list[Any] | None:
    """What a reward returned as a list, or None when it is not a sequence of rewards. TRL
    iterates it, so a tuple or a numpy array does as well as a list."""
    if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__"):
        return None
    try:
        return list(out)
    except TypeError:  # a 0-d array has __len__ but no length
        return None


def _value(out: Any) -> float | None | object:
    values = _values(out)
    if values is None or len(values) != 1:
        return _RAISED
    return values[0]


def _same(one: Any, other: Any) -> bool:
    """Equal rewards; a NaN is the same as a NaN (``bounded`` reports NaN itself)."""
    if one is None or other is None:
        return one is other
    try:
        return bool(one == other) or (math.isnan(one) and math.isnan(other))
    except TypeError:  # not numbers: no_exception reports them
        return False


def _is_reward(value: Any) -> bool:
    """None or a real number (numpy's floats and ints included)."""
    return value is None or isinstance(value, numbers.Real)


def _case_dict(case: Case) -> dict[str, Any]:
    return {
        "format": case.fmt,
        "tools": [t.model_dump() for t in case.tools],
        "answers": [c.model_dump() for c in case.calls],
    }


def _settings(examples: int, phases: Sequence[Phase]) -> settings:
    """The toolkit's hypothesis settings: the same examples every run, no example database, no
    deadline (a reward may be slow), no health check (a reward author's strategies are ours)."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        phases=phases,
    )


def _skipped(*values: Any) -> object | None:
    """Why an example with these rewards cannot be judged (a _SKIPPED marker), or None."""
    if any(v is _RAISED for v in values):
        return _SKIPPED_RAISED
    if any(v is None for v in values):
        return _SKIPPED_NONE
    return None


def _untested(prop: str, tried: int, raised: int) -> Violation:
    if raised == tried:
        why = f"every call raised or returned no list of one reward ({tried} examples)"
    elif raised == 0:
        why = f"every reward was None ({tried} examples)"
    else:
        why = f"of {tried} examples, {raised} raised and {tried - raised} gave None"
    return Violation(prop, f"no example ran to completion: {why}", status=NOT_TESTED)


def _run(
    prop: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], Any], examples: int
) -> Violation | None:
    """Run one property; return its violation with the (shrunk) example that broke it, or a
    "not tested" one when the check could judge no example (it returned a _SKIPPED marker for
    each)."""
    last: dict[str, Any] = {}
    counts = {"tried": 0, "judged": 0, "raised": 0}

    # No explain phase: its notes on which parts of the example matter are not reported, and it
    # took most of a violated property's time (a call-counting reward's battery: 31.9 s with it,
    # 3.8 s without, the same minimal examples).
    @_settings(examples, [p for p in Phase if p is not Phase.explain])
    @given(strategy)
    def test(example: Any) -> None:
        problem = check(example)
        counts["tried"] += 1
        if problem is _SKIPPED_RAISED:
            counts["raised"] += 1
            return
        if problem is _SKIPPED_NONE:
            return
        counts["judged"] += 1
        if problem:
            # Hypothesis replays the shrunk example last, so this ends holding the minimal one.
            last["message"], last["example"] = problem, example
            raise AssertionError(problem)

    try:
        test()
    except Exception as exc:  # noqa: BLE001 - any failure is a violation of this property
        if not last:
            return Violation(prop, f"{type(exc).__name__}: {exc}")
        example = last["example"]
        if isinstance(example, tuple) and example and isinstance(example[0], Case):
            shown = {**_case_dict(example[0]), "completions": list(example[1:])}
        elif isinstance(example, list) and all(isinstance(e[0], Case) for e in example):
            shown = {"batch": [{**_case_dict(c), "completion": text} for c, text in example]}
        else:
            shown = {"example": repr(example)}
        return Violation(prop, last["message"], shown)
    if not counts["judged"]:
        return _untested(prop, counts["tried"], counts["raised"])
    return None


def _each(strategy: st.SearchStrategy[Any], examples: int, visit: Callable[[Any], None]) -> None:
    """``visit`` each of ``examples`` generated examples: the same ones every run (a fixed
    seed), nothing shrunk (nothing fails here)."""

    @seed(0)
    @_settings(examples, [Phase.generate])
    @given(strategy)
    def collect(example: Any) -> None:
        visit(example)

    collect()


def blind_spots(
    fn: Callable[..., Any], blind_to: Mapping[str, str] | Sequence[str] | None = None
) -> dict[str, str]:
    """The meaning corruptions a reward declares it does not look at, with why: ``blind_to``
    when given, else the function's own ``blind_to`` attribute (a mapping of corruption to
    reason, or a list of names); ValueError names one that is not a MEANING_CORRUPTIONS name."""
    declared = getattr(fn, "blind_to", None) if blind_to is None else blind_to
    if declared is None:
        return {}
    if not isinstance(declared, Mapping):
        declared = dict.fromkeys(declared, "declared")
    for name in declared:
        if name not in MEANING_CORRUPTIONS:
            raise ValueError(
                f"blind_to: {name!r} is not a corruption that changes the meaning; those are "
                f"{', '.join(MEANING_CORRUPTIONS)}"
            )
    return {name: str(why) for name, why in declared.items()}


def check_reward(
    fn: Callable[..., Any],
    examples: int = 100,
    formats: Sequence[str] | None = None,
    reward_range: tuple[float, float] | None = None,
    time_limit: float = 0.1,
    progress: Callable[[str, Violation | None, float], Any] | None = None,
    conversational: bool = False,
    columns: Mapping[str, str] | None = None,
    objects: bool = False,
    properties: Sequence[str] | None = None,
    blind_to: Mapping[str, str] | Sequence[str] | None = None,
) -> list[Violation]:
    """Run the battery on a TRL-shaped reward function, sync or async (awaited, as TRL does);
    return what it breaks (empty: none).

    Properties: ``no_exception``, ``not_always_none`` (a number for at least one completion:
    TRL leaves a None out, so a reward that is always None trains nothing), ``bounded``
    (finite, within ``reward_range`` or the function's own ``reward_range``),
    ``deterministic``, ``perfect_beats_corruption`` (no corruption scores above the perfect
    completion, and each of MEANING_CORRUPTIONS scores below it in at least SEES_SHARE of the
    cases, but those ``blind_to`` declares, or the function's own ``blind_to`` attribute),
    ``key_order_and_whitespace``, ``more_calls_never_help`` (duplicating or adding a call),
    ``think_earns_nothing`` (calls inside ``<think>`` score no more than no call),
    ``batch_consistent`` (a batch mixing two prompts' completions, a row each as TRL gives
    them, gets one reward per completion, each what that completion scores alone), and
    ``linear_time`` (a 100 KB completion scores within ``time_limit`` seconds, and ten times the
    text takes at most about ten times as long), in the order of ``PROPERTIES``.
    ``progress``, when given, is called as each property ends: (property, its violation or
    None, seconds it took); a violated one may take a while, hypothesis shrinking it.
    ``conversational``: each completion is handed over as TRL does with a chat template, a
    list holding one assistant message, and each prompt as a list holding one user message.
    ``columns`` renames the ground-truth columns (``tools``, ``answers``) to those the reward
    reads, e.g. ``{"answers": "solution"}``; ``objects`` hands each value over decoded (a list
    of tools, a list of ``{"name", "arguments"}``) instead of as JSON text. Violations show the
    ground truth under the reward's names. ``properties``: run only these (default: all).

    A property that could judge no example (every call raised, or every reward was None) is
    returned with ``status`` "not tested": an empty list means every property chosen was
    tested and holds. A reward that raises on text but scores the same completion as a list of
    messages is told, in no_exception's message, to be run conversational. Under
    ``conversational`` the examples show completions and prompts as the message lists handed
    over.
    """
    names = column_names(columns or {})
    chosen = PROPERTIES if properties is None else tuple(properties)
    unknown = [p for p in chosen if p not in PROPERTIES]
    if unknown:
        raise ValueError(f"unknown property {unknown[0]!r}; known: {', '.join(PROPERTIES)}")
    fmt = getattr(fn, "fmt", "auto")
    formats = tuple(formats or (FORMATS if fmt == "auto" else (fmt,)))
    low, high = reward_range or getattr(fn, "reward_range", (-math.inf, math.inf))
    blind = blind_spots(fn, blind_to)
    # The same reward handed completions the other way, to say which way it reads them.
    other_way = None if conversational else _as_conversations(fn)
    if conversational:
        fn = _as_conversations(fn)
    if names or objects:
        fn = _handing_over(fn, names, objects)
        other_way = other_way and _handing_over(other_way, names, objects)
    base = cases(formats)
    with_corruption = base.flatmap(
        lambda c: st.tuples(st.just(c), corrupted(c).map(lambda p: p[1]))
    )
    with_perfect = base.flatmap(lambda c: st.tuples(st.just(c), completions(list(c.calls), c.fmt)))
    violations: list[Violation] = []

    def run(
        prop: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], str | None]
    ) -> None:
        timed(prop, lambda: _run(prop, strategy, check, examples))

    def timed(prop: str, find: Callable[[], Violation | None]) -> None:
        if prop not in chosen:
            return
        start = time.perf_counter()
        found = find()
        if found:
            found.example = _renamed(found.example, names)
            if conversational:
                found.example = _as_handed(found.example)
            violations.append(found)
        if progress is not None:
            progress(prop, found, time.perf_counter() - start)

    def no_exception(example: tuple[Case, str]) -> str | None:
        case, text = example
        out, exc = _reward(fn, case, text)
        if out is _RAISED:
            said = f"raised {type(exc).__name__}: {exc}"
            if other_way is not None and isinstance(_score(other_way, case, text), numbers.Real):
                said += (
                    "; it scores the same completion handed over as a list of messages, as TRL "
                    "gives completions with a chat template: run it with --conversational "
                    "(check_reward(conversational=True))"
                )
            return said
        if _value(out) is _RAISED:
            return f"returned {out!r}, not a list of one reward"
        value = _value(out)
        if not _is_reward(value):
            return f"returned {value!r}, not a number or None"
        return None

    def score(case: Case, text: str) -> Any:
        return _score(fn, case, text)

    def bounded(example: tuple[Case, str]) -> Any:
        value = score(*example)
        if _skipped(value):
            return _skipped(value)
        if not math.isfinite(value) or not low <= value <= high:
            return f"reward {value!r} is outside [{low}, {high}]"
        return None

    def deterministic(example: tuple[Case, str]) -> Any:
        first, second = score(*example), score(*example)
        if first is not _RAISED and not _same(first, second):
            return f"scored {first!r} then {second!r}"
        return _skipped(first, second)

    def not_always_none() -> Violation | None:
        # One verdict over every example, not one per example: no single None is a fault.
        seen = {"tried": 0, "raised": 0, "numbers": 0}

        def visit(example: tuple[Case, str]) -> None:
            value = score(*example)
            seen["tried"] += 1
            seen["raised"] += value is _RAISED
            seen["numbers"] += isinstance(value, numbers.Real)

        _each(strategies, examples, visit)
        if seen["numbers"]:
            return None
        if seen["raised"] == seen["tried"]:
            return _untested("not_always_none", seen["tried"], seen["raised"])
        return Violation(
            "not_always_none",
            f"gave None for every one of the {seen['tried'] - seen['raised']} completions it "
            "scored (perfect, corrupted and random ones): TRL leaves a None out, so this reward "
            "would train nothing. Does it read columns the battery does not give (see --column)?",
        )

    strategies = st.one_of(
        with_perfect, with_corruption, base.flatmap(lambda c: st.tuples(st.just(c), st.text()))
    )
    run("no_exception", strategies, no_exception)
    timed("not_always_none", not_always_none)
    run("bounded", strategies, bounded)
    run("deterministic", strategies, deterministic)

    def perfect_beats(example: tuple[Case, str, str]) -> Any:
        case, perfect, worse = example
        good, bad = score(case, perfect), score(case, worse)
        if _skipped(good, bad):
            return _skipped(good, bad)
        if bad > good:
            return f"a corrupted completion scored {bad!r}, above the perfect one's {good!r}"
        return None

    pairs = base.flatmap(
        lambda c: st.tuples(
            st.just(c), completions(list(c.calls), c.fmt), corrupted(c).map(lambda p: p[1])
        )
    )

    def sees_meaning() -> Violation | None:
        above = _run("perfect_beats_corruption", pairs, perfect_beats, examples)
        if above is not None and above.status != NOT_TESTED:
            return above
        claimed = [c for c in MEANING_CORRUPTIONS if c not in blind]
        return _meaning_seen(claimed, score, formats, max(examples, MEANING_CASES), above)

    timed("perfect_beats_corruption", sees_meaning)

    def layout(example: tuple[Case, str, str]) -> Any:
        case, one, other = example
        a, b = score(case, one), score(case, other)
        if _RAISED not in (a, b) and not _same(a, b):
            return f"the same calls scored {a!r} and {b!r} in two layouts"
        return _skipped(a, b)

    layouts = base.flatmap(
        lambda c: st.tuples(
            st.just(c), completions(list(c.calls), c.fmt), completions(list(c.calls), c.fmt)
        )
    )
    run("key_order_and_whitespace", layouts, layout)

    def more_calls(example: tuple[Case, str, str]) -> Any:
        case, plain, more = example
        a, b = score(case, plain), score(case, more)
        if _skipped(a, b):
            return _skipped(a, b)
        if b > a:
            return f"adding a call raised the reward from {a!r} to {b!r}"
        return None

    grown = base.flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.just(format_calls(list(c.calls), c.fmt)),
            corrupted(c, ["duplicate_call", "extra_call"]).map(lambda p: p[1]),
        )
    )
    run("more_calls_never_help", grown, more_calls)

    def think(example: tuple[Case, str]) -> Any:
        case, wrapped = example
        a, b = score(case, wrapped), score(case, NO_CALL_TEXT)
        if _skipped(a, b):
            return _skipped(a, b)
        if a > b:
            return f"calls inside <think> scored {a!r}, above no call's {b!r}"
        return None

    thoughts = base.flatmap(
        lambda c: st.tuples(st.just(c), corrupted(c, ["think_wrapper"]).map(lambda p: p[1]))
    )
    run("think_earns_nothing", thoughts, think)

    def batch(example: list[tuple[Case, str]]) -> Any:
        # TRL asks about a batch of several prompts' completions at once, a row each.
        alone = [score(case, text) for case, text in example]
        if _RAISED in alone:
            return _SKIPPED_RAISED  # no_exception reports it
        rows = [case.columns() for case, _ in example]
        try:
            out = _call(
                fn,
                prompts=["(prompt)"] * len(example),
                completions=[text for _, text in example],
                **{c: [row[c][0] for row in rows] for c in rows[0]},
            )
        except Exception as exc:  # noqa: BLE001 - what a reward raises is what is reported
            return f"raised {type(exc).__name__}: {exc} on a batch of {len(example)}"
        values = _values(out)
        if values is None or len(values) != len(example):
            got = "no list" if values is None else f"{len(values)} reward(s)"
            return f"returned {got} for {len(example)} completions"
        for index, (one, together) in enumerate(zip(alone, values, strict=True)):
            if not _same(one, together):
                return (
                    f"completion {index} scored {together!r} in a batch of {len(example)}, "
                    f"{one!r} alone"
                )
        return _SKIPPED_NONE if all(v is None for v in alone) else None

    # A row is one tool and one call, its completion the perfect call or no call: enough to
    # tell rows apart, and a short example to read (corruptions and parallel calls are the
    # other properties' business).
    rows = cases(formats, max_tools=1, max_calls=1).flatmap(
        lambda c: st.tuples(
            st.just(c), st.sampled_from([format_calls(list(c.calls), c.fmt), NO_CALL_TEXT])
        )
    )
    batches = st.lists(rows, min_size=2, max_size=2)
    run("batch_consistent", batches, batch)

    timed("linear_time", lambda: _linear_time(fn, formats[0], time_limit))
    return violations


def _meaning_seen(
    claimed: Sequence[str],
    score: Callable[[Case, str], Any],
    formats: Sequence[str],
    count: int,
    above: Violation | None,
) -> Violation | None:
    """perfect_beats_corruption's second half: each claimed meaning corruption scores below
    the perfect completion in at least SEES_SHARE of ``count`` generated cases. ``above`` is the
    first half's verdict when it judged no example ("not tested"), else None."""

    def scored(case: Case, text: str) -> Any:
        value = score(case, text)
        return value if _is_reward(value) else _RAISED

    missed: list[Margin] = []
    unjudged: list[str] = []
    example: dict[str, Any] = {}
    for name in claimed:
        drawn = _scored_pairs(name, scored, formats, count)
        row = _margin(name, [(a, b) for _, _, a, b in drawn])
        if not row.scored:
            unjudged.append(name)
        elif row.below < SEES_SHARE * row.scored:
            missed.append(row)
            if not example:
                case, worse, a, b = next(
                    d for d in drawn if _skipped(d[2], d[3]) is None and not d[3] < d[2]
                )
                perfect = format_calls(list(case.calls), case.fmt)
                example = {
                    **_case_dict(case),
                    "corruption": name,
                    "completions": [perfect, worse],
                    "rewards": [a, b],
                }
    if missed:
        said = "; ".join(
            f"{m.corruption} below in {m.below} of {m.scored} scored cases "
            f"({m.below / m.scored:.0%}, {m.ties} ties)"
            for m in missed
        )
        return Violation(
            "perfect_beats_corruption",
            f"a corruption that changes what the answer means must score below the perfect "
            f"completion in at least {SEES_SHARE:.0%} of the cases scored, and these did not: "
            f"{said}. A reward that by design does not look at one says so in its blind_to "
            "attribute.",
            example,
        )
    if unjudged and above is not None and len(unjudged) == len(claimed):
        return above
    if unjudged:
        return Violation(
            "perfect_beats_corruption",
            f"{', '.join(unjudged)}: no case of {count} was scored for both the perfect and "
            "the corrupted completion (each raised or gave None), so whether the reward sees "
            "it is not known",
            status=NOT_TESTED,
        )
    return above if not claimed else None


def _as_handed(example: dict[str, Any]) -> dict[str, Any]:
    """A violation's example with completions (and the prompt) as the message lists a
    conversational run handed over."""

    def said(text: Any) -> list[dict[str, Any]]:
        return [{"role": "assistant", "content": text}]

    shown = dict(example)
    if "completions" in shown:
        shown["completions"] = [said(t) for t in shown["completions"]]
        shown["prompts"] = [[{"role": "user", "content": "(prompt)"}]]
    if "completion_start" in shown:
        shown["completion_start"] = said(shown["completion_start"])
    if isinstance(shown.get("batch"), list):
        shown["batch"] = [{**row, "completion": said(row["completion"])} for row in shown["batch"]]
        shown["prompts"] = [[{"role": "user", "content": "(prompt)"}] for _ in shown["batch"]]
    return shown


# --- margins -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Margin:
    """What one corruption scores against the perfect completion of the same case.

    ``cases``: cases the corruption applied to; ``scored``: those where both completions got a
    number; ``raised``: the reward raised or returned no single reward for one of them;
    ``unscored``: it gave None for one of them. Of the scored: ``below``, ``ties`` and
    ``above`` the perfect completion's reward, and both rewards' means (None when none was
    scored). A tie is a corruption the reward cannot tell from the perfect call; above is a
    ``perfect_beats_corruption`` violation."""

    corruption: str
    cases: int
    scored: int
    raised: int
    unscored: int
    below: int
    ties: int
    above: int
    perfect_mean: float | None
    corrupted_mean: float | None

    @property
    def mean_drop(self) -> float | None:
        """How much the corruption costs on average: perfect_mean - corrupted_mean."""
        if self.perfect_mean is None or self.corrupted_mean is None:
            return None
        return self.perfect_mean - self.corrupted_mean


def margins(
    fn: Callable[..., Any],
    examples: int = 100,
    formats: Sequence[str] | None = None,
    conversational: bool = False,
    columns: Mapping[str, str] | None = None,
    objects: bool = False,
) -> list[Margin]:
    """What each named corruption (``CORRUPTIONS``, in order) scores against the perfect
    completion of the same case, over up to ``examples`` generated cases each: how much signal
    the reward gives against each kind of mistake. Passing the battery only says no corruption
    scores above the perfect call; a corruption that ties it in every case is a mistake the
    reward does not see (``parse`` ties a wrong value, by design). The same cases every run
    (derandomized); ``formats``, ``conversational``, ``columns`` and ``objects`` as in
    check_reward."""
    names = column_names(columns or {})
    fmt = getattr(fn, "fmt", "auto")
    formats = tuple(formats or (FORMATS if fmt == "auto" else (fmt,)))
    if conversational:
        fn = _as_conversations(fn)
    if names or objects:
        fn = _handing_over(fn, names, objects)

    def score(case: Case, text: str) -> Any:
        value = _score(fn, case, text)
        return value if _is_reward(value) else _RAISED  # not a reward: left out, as raised

    return [
        _margin(name, [(a, b) for _, _, a, b in _scored_pairs(name, score, formats, examples)])
        for name in CORRUPTIONS
    ]


def _scored_pairs(
    name: str, score: Callable[[Case, str], Any], formats: Sequence[str], examples: int
) -> list[tuple[Case, str, Any, Any]]:
    """(case, corrupted completion, perfect completion's reward, corrupted one's) for each
    case ``name`` applies to."""
    pairs: list[tuple[Case, str, Any, Any]] = []

    @st.composite
    def example(draw: st.DrawFn) -> tuple[Case, str] | None:
        case = draw(cases(formats))
        worse = CORRUPTIONS[name](draw, case)
        return None if worse is None else (case, worse)

    # A fixed seed (in _each), not derandomize's digest of this function's source: the same
    # cases for every corruption, and the same figures until the strategies change.
    def collect(drawn: tuple[Case, str] | None) -> None:
        if drawn is not None:
            case, worse = drawn
            perfect = format_calls(list(case.calls), case.fmt)
            pairs.append((case, worse, score(case, perfect), score(case, worse)))

    _each(example(), examples, collect)
    return pairs


def _margin(name: str, pairs: list[tuple[Any, Any]]) -> Margin:
    raised = sum(1 for pair in pairs if _RAISED in pair)
    scored = [(a, b) for a, b in pairs if _RAISED not in (a, b) and a is not None and b is not None]
    perfect = [float(a) for a, _ in scored]
    worse = [float(b) for _, b in scored]
    return Margin(
        corruption=name,
        cases=len(pairs),
        scored=len(scored),
        raised=raised,
        unscored=len(pairs) - raised - len(scored),
        below=sum(1 for a, b in scored if b < a),
        ties=sum(1 for a, b in scored if _same(a, b)),
        above=sum(1 for a, b in scored if b > a),
        perfect_mean=sum(perfect) / len(perfect) if perfect else None,
        corrupted_mean=sum(worse) / len(worse) if worse else None,
    )


def column_names(columns: Mapping[str, str]) -> dict[str, str]:
    """The battery's ground-truth column names mapped to a reward's own, checked (ValueError
    says what is wrong); columns kept under their own name are left out."""
    for column, name in columns.items():
        if column not in GIVEN_COLUMNS:
            raise ValueError(
                f"unknown column {column!r}: the battery gives {', '.join(GIVEN_COLUMNS)}"
            )
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"column {column!r}: {name!r} is not a keyword argument name")
        if name in ("prompts", "completions"):
            raise ValueError(f"column {column!r}: {name!r} is a reward's own argument")
    final = [columns.get(c, c) for c in GIVEN_COLUMNS]
    if len(set(final)) != len(final):
        raise ValueError(f"two columns would have the same name: {final}")
    return {c: n for c, n in columns.items() if c != n}


def _handing_over(
    fn: Callable[..., Any], names: Mapping[str, str], objects: bool
) -> Callable[..., Any]:
    """``fn`` given the battery's columns under its own names, decoded with ``objects``."""

    def handed(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> Any:
        given = {
            names.get(c, c): [json.loads(v) for v in values] if objects else values
            for c, values in columns.items()
        }
        return fn(prompts=prompts, completions=completions, **given)

    return handed


def _renamed(example: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A violation's example with the ground truth under the reward's own column names."""

    def rename(shown: dict[str, Any]) -> dict[str, Any]:
        return {names.get(k, k): v for k, v in shown.items()}

    if not names:
        return example
    if isinstance(example.get("batch"), list):
        return {**example, "batch": [rename(row) for row in example["batch"]]}
    return rename(example)


def _as_conversations(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` called with TRL's conversational format: each prompt a list holding one user
    message, each completion a list holding one assistant message (async stays async)."""

    def conversational(prompts: Sequence[Any], completions: Sequence[str], **columns: Any) -> Any:
        return fn(
            prompts=[[{"role": "user", "content": p}] for p in prompts],
            completions=[[{"role": "assistant", "content": c}] for c in completions],
            **columns,
        )

    return conversational


_TIMED = itertools.count()  # texts timed so far, to make each one new


def _linear_time(fn: Callable[..., Any], fmt: str, time_limit: float) -> Violation | None:
    tool = ToolSpec(
        name="lookup",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    )
    case = Case((tool,), (ToolCall(name="lookup", arguments={"query": "redline"}),), fmt)
    call = format_calls(list(case.calls), fmt)

    def inputs(size: int) -> list[str]:
        return [
            call + " " + "word " * (size // 5),  # a call drowned in prose
            format_calls([ToolCall(name="lookup", arguments={"query": "q" * size})], fmt),
            '{"name": [' * (size // 10),  # unclosed nesting
            "<tool_call>{" * (size // 12),
        ]

    numbers_given = 0  # timing a reward that raised or gave None times nothing it does

    def best_time(text: str) -> float:
        nonlocal numbers_given
        times = []
        for _ in range(3):
            # A text not given before (trailing spaces): a reward that caches by text is timed
            # scoring it, not looking it up.
            spaces = " " * (next(_TIMED) % 4096)
            start = time.perf_counter()
            out, _ = _reward(fn, case, text + spaces)
            times.append(time.perf_counter() - start)
            numbers_given += out is not _RAISED and isinstance(_value(out), numbers.Real)
        return min(times)

    for small, big in zip(inputs(10_000), inputs(100_000), strict=True):
        t_small, t_big = best_time(small), best_time(big)
        if t_big > time_limit:
            return Violation(
                "linear_time",
                f"a {len(big) // 1000} KB completion took {t_big:.2f} s (limit {time_limit} s; "
                "time_limit, or --time-limit, sets it)",
                {"completion_start": big[:120]},
            )
        # Ten times the text may take at most ~10x (30x allows noise; quadratic would be ~100x).
        if t_big > 30 * max(t_small, 1e-3):
            return Violation(
                "linear_time",
                f"10x the text took {t_big / max(t_small, 1e-3):.0f}x the time",
                {"completion_start": big[:120]},
            )
    if not numbers_given:
        return Violation(
            "linear_time",
            "no timed completion got a number (each call raised or gave None): what was timed "
            "is not scoring",
            status=NOT_TESTED,
        )
    return None
