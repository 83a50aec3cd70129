"""The scoring core's fast paths against the general ones: rewards equal the metric scorers'
scores shaped, a batch equals its rows scored one by one, and each shortcut (JSON checks,
call checks, answer matching) gives what the careful path gives, on generated inputs."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.metrics.scorers import (
    RULES,
    SCORERS,
    Prepared,
    _Gold,
    _matches,
    _value_key,
    pair_f1,
    score_sample,
)
from redline.parsing import common, formats, parse, values
from redline.parsing import json as json_format
from redline.records import Sample, ToolCall
from redline.rewards import DEFAULT_SPEC, REWARDS, functions, make_reward
from redline.rewards.functions import _sample_from_row
from redline.rewards.testing import NO_CALL_TEXT, cases, completions, corrupted
from redline.training.grpo import reward_functions

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@st.composite
def scored_rows(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    """A dataset row (tools and answers as JSON, sometimes BFCL's possible_answer or an
    irrelevance row) and completions for it: perfect, corrupted and prose."""
    case = draw(cases())
    texts = [draw(completions(case.calls, case.fmt))]
    texts += [draw(corrupted(case))[1] for _ in range(3)] + [NO_CALL_TEXT]
    row = {k: v[0] for k, v in case.columns(1).items()}
    kind = draw(st.sampled_from(["answers", "possible_answer", "no_call"]))
    if kind == "possible_answer":
        answer = [{c.name: {k: [v] for k, v in c.arguments.items()}} for c in case.calls]
        row = {"tools": row["tools"], "possible_answer": json.dumps(answer)}
    elif kind == "no_call":
        row = {"tools": row["tools"], "answers": "[]"}
    return row, texts


# --- rewards are the metrics' scores, shaped -----------------------------------------------------

_SINGLE = {"parse": "parse", "schema_hit": "schema_hit", "exec": "exec"}
_SINGLE |= {"semantic_f1": "semantic_f1", "ast_match": "ast", "format_strict": "format_strict"}


@SETTINGS
@given(example=scored_rows())
def test_rewards_equal_the_metric_scores(example):
    row, texts = example
    sample = _sample_from_row(row)
    columns = {k: [v] * len(texts) for k, v in row.items()}
    records = [score_sample(sample, parse(t, "auto")) for t in texts]
    for reward, scorer in _SINGLE.items():
        assert REWARDS[reward](completions=texts, **columns) == [
            r.scores[scorer].value for r in records
        ], reward
    parts = [
        [r.scores[s].value for s in ("parse", "schema_hit", "exec", "semantic_f1")] for r in records
    ]
    expected = [
        None
        if all(v is None for v in p)
        else sum(v for v in p if v is not None) / sum(v is not None for v in p)
        for p in parts
    ]
    got = REWARDS["composite"](completions=texts, **columns)
    assert got == pytest.approx(expected), (got, expected)


@SETTINGS
@given(examples=st.lists(scored_rows(), min_size=2, max_size=4), order=st.randoms())
def test_a_batch_equals_its_completions_scored_one_by_one(examples, order):
    # Rows interleaved and repeated as equal but distinct strings, as TRL hands a step over.
    items = [(dict(row), text) for row, texts in examples for text in texts]
    order.shuffle(items)
    batch = {k: [json.loads(json.dumps(row.get(k))) for row, _ in items] for k in _keys(items)}
    for name in ("composite", "toolrl", "abstain"):
        fn = make_reward(name)
        one_by_one = [fn.score(text, row) for row, text in items]
        assert fn(completions=[t for _, t in items], **batch) == one_by_one, name
    # Columns given as values rather than JSON text are keyed by their content.
    listed = {k: [None if v is None else json.loads(v) for v in vs] for k, vs in batch.items()}
    fn = make_reward("composite")
    assert fn(completions=[t for _, t in items], **listed) == one_by_one_of(fn, items)


def _step(examples: list[tuple[dict[str, str], list[str]]]) -> tuple[list[str], dict[str, list]]:
    """One GRPO step's completions and columns: each row repeated for its completions."""
    items = [(row, text) for row, texts in examples for text in texts]
    columns = {k: [row.get(k) for row, _ in items] for k in _keys(items)}
    return [text for _, text in items], columns


@SETTINGS
@given(examples=st.lists(scored_rows(), min_size=1, max_size=3))
def test_a_step_s_rewards_each_score_as_if_alone(examples):
    # redline train calls the composite, then each of its parts, on the same completions: each
    # must give what it gives alone, whatever was scored before it.
    texts, columns = _step(examples)
    rewards, _ = reward_functions(DEFAULT_SPEC, "json")
    together = [fn(completions=texts, **columns) for fn in rewards]
    for fn, got in zip(rewards, together, strict=True):
        assert make_reward(fn.__name__, fn.fmt)(completions=texts, **columns) == got, fn.__name__


def test_a_step_s_rewards_score_text_and_messages_alike():
    # A step's completions: right, a wrong type, cut short and an empty list, for two answers.
    right = '{"name": "f", "arguments": {"a": 1}}'
    texts = [right, '{"name": "f", "arguments": {"a": "x"}}', right[:-2], "[]"]
    rows = [_STEP_ROW, {**_STEP_ROW, "answers": '[{"name": "f", "arguments": {"a": 2}}]'}]
    texts, columns = _step([(row, texts) for row in rows])
    composite, *parts = reward_functions(DEFAULT_SPEC, "json")[0]
    first = composite(completions=texts, **columns)
    assert first == [1.0, 0.5, 0.0, 0.0, 0.75, 0.5, 0.0, 0.0]
    alone = [make_reward(fn.__name__, fn.fmt)(completions=texts, **columns) for fn in parts]
    assert [fn(completions=texts, **columns) for fn in parts] == alone
    assert composite(completions=texts, **columns) == first  # a later epoch: the same
    # Conversational completions (what redline train's prompts give) score as their text.
    messages = [[{"role": "assistant", "content": text}] for text in texts]
    assert composite(completions=messages, **columns) == first
    assert [fn(completions=messages, **columns) for fn in parts] == alone


def test_a_call_builds_each_row_s_sample_once(monkeypatch):
    # TRL repeats a prompt's columns for each of its completions; one call builds the sample of
    # each distinct row once, and keeps nothing for the next call.
    built = []

    def counted(row: dict[str, Any]) -> Any:
        built.append(row)
        return _sample_from_row(row)

    monkeypatch.setattr(functions, "_sample_from_row", counted)
    rows = [_STEP_ROW, {**_STEP_ROW, "answers": '[{"name": "f", "arguments": {"a": 2}}]'}]
    texts, columns = _step([(row, ['{"name": "f", "arguments": {"a": 1}}', "[]"]) for row in rows])
    composite = make_reward("composite")
    assert composite(completions=texts, **columns) == [1.0, 0.0, 0.75, 0.0]
    assert len(built) == 2
    listed = {k: [json.loads(v) for v in vs] for k, vs in columns.items()}  # keyed by content
    assert composite(completions=texts, **listed) == [1.0, 0.0, 0.75, 0.0]
    assert len(built) == 4


_STEP_ROW = {
    "tools": json.dumps([{"name": "f", "parameters": {"properties": {"a": {"type": "integer"}}}}]),
    "answers": json.dumps([{"name": "f", "arguments": {"a": 1}}]),
}


def _keys(items: list[tuple[dict[str, str], str]]) -> list[str]:
    return sorted({k for row, _ in items for k in row})


def one_by_one_of(fn: Any, items: list[tuple[dict[str, str], str]]) -> list[float | None]:
    return [fn.score(text, row) for row, text in items]


def test_a_malformed_tools_text_is_an_error_for_every_completion():
    fn = make_reward("exec")
    cols = {"tools": ["[{'name': 1}]"] * 2, "answers": ["[]"] * 2}
    assert fn(completions=["x", "y"], **cols) == [None, None]
    assert fn(completions=["x"], **{k: v[:1] for k, v in cols.items()}) == [None]
    assert fn.errors == 3


json_ish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**14_001, -(2**14_001), math.nan, math.inf, -math.inf, 1.5, 0.0])
    | st.text(max_size=4)
    | st.builds(tuple)
    | st.builds(object),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), inner, max_size=3)
    ),
    max_leaves=10,
)


def _deep(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return {"a": value}


@SETTINGS
@given(value=st.dictionaries(st.text(max_size=3), json_ish, max_size=4))
def test_the_fast_json_check_agrees_with_the_walk(value):
    assert values.json_problem(value) == values._json_walk(value)


@pytest.mark.parametrize("depth", [97, 98, 99, 100, 101])
def test_the_fast_json_check_agrees_at_the_depth_limit(depth):
    value = _deep(depth)
    assert values.json_problem(value) == values._json_walk(value)


call_objects = st.one_of(
    json_ish,
    st.fixed_dictionaries(
        {"name": st.sampled_from(["f", "", " ", "\u2003", "g.h", 3, None])},
        optional={
            "arguments": json_ish | st.just('{"a": 1}') | st.just(""),
            "parameters": json_ish,
        },
    ),
)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except common.ParseFailure as fail:
        return fail.error


@SETTINGS
@given(item=call_objects, where=st.sampled_from([None, 0, 2, "tool_calls[1]"]))
def test_the_fast_call_check_agrees_with_the_careful_one(item, where):
    assert _outcome(values.call_from_object, item, where) == _outcome(
        values._checked_call, item, where
    )


@SETTINGS
@given(text=st.text(max_size=12), prefix=st.sampled_from(["", "{", "[{", "[", " {", "```"]))
def test_the_format_shortcut_agrees_with_the_pattern(text, prefix):
    rest = prefix + text
    if common.TOOL_CALL_OPEN in rest:
        expected = "hermes"
    elif formats._PYTHON_CALL.match(rest):
        expected = "python"
    else:
        expected = "json"
    assert formats._format_of(rest) == expected


@SETTINGS
@given(text=st.text(max_size=8), at=st.integers(0, 8))
def test_the_quote_shortcut_is_a_json_opener(text, at):
    if text[at + 1 : at + 2] == '"':
        assert json_format._JSONISH.match(text, at + 1)


# --- answer matching ---------------------------------------------------------------------------

options_values = st.sampled_from(
    ["", "Paris", " paris ", "PARIS", "New  York", "ǅ", 5, 5.0, 5.5, True, False, None, 0, 1]
) | st.lists(st.integers(0, 2), max_size=2)
arg_values = options_values | st.dictionaries(st.sampled_from(["a", "b"]), options_values)


def _reference_accepts(options: list[Any], value: Any, semantic: bool) -> bool:
    # The rule as first written: a key per value, compared with every option's key.
    if "" in options and value == "" and type(value) is str:
        return True
    structured = any(
        isinstance(o, dict) or (isinstance(o, list) and o and all(isinstance(i, dict) for i in o))
        for o in options
    )
    if structured and isinstance(value, (dict, list)):
        return _matches(value, options, semantic)
    return _value_key(value, semantic) in {_value_key(o, semantic) for o in options if o != ""}


@SETTINGS
@given(
    options=st.lists(
        options_values | st.dictionaries(st.sampled_from(["a", "b"]), st.lists(options_values)),
        min_size=1,
        max_size=4,
    ),
    value=arg_values,
    semantic=st.booleans(),
)
def test_answer_matching_agrees_with_the_value_keys(options, value, semantic):
    assert _Gold(options).accepts(value, semantic) == _reference_accepts(options, value, semantic)


def _reference_f1(answer: list[dict[str, Any]], calls: list[ToolCall], semantic: bool) -> float:
    gold = [(n, p, o) for item in answer for n, params in item.items() for p, o in params.items()]
    used = [False] * len(gold)
    predicted = true_pos = optional_hits = 0
    for call in calls:
        for param, value in call.arguments.items():
            predicted += 1
            for i, (name, p, options) in enumerate(gold):
                if not used[i] and (name, p) == (call.name, param):
                    if _reference_accepts(options, value, semantic):
                        used[i] = True
                        true_pos += 1
                        optional_hits += "" in options
                        break
    relevant = sum(1 for _, _, o in gold if "" not in o) + optional_hits
    if not predicted and relevant == 0:
        names = sorted(next(iter(item)) for item in answer)
        return 1.0 if sorted(c.name for c in calls) == names else 0.0
    if true_pos == 0:
        return 0.0
    precision, recall = true_pos / predicted, true_pos / relevant
    return 2 * precision * recall / (precision + recall)


params = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.lists(options_values, max_size=3))


@SETTINGS
@given(
    answer=st.lists(st.dictionaries(st.sampled_from(["f", "g"]), params, min_size=1, max_size=1)),
    calls=st.lists(
        st.builds(
            ToolCall,
            name=st.sampled_from(["f", "g"]),
            arguments=st.dictionaries(st.sampled_from(["a", "b", "c"]), arg_values),
        ),
        max_size=3,
    ),
    semantic=st.booleans(),
)
def test_pair_f1_agrees_with_the_reference(answer, calls, semantic):
    sample = Sample(id="s", messages=[], possible_answer=answer)
    assert pair_f1(sample, calls, semantic) == pytest.approx(_reference_f1(answer, calls, semantic))


@SETTINGS
@given(example=scored_rows(), order=st.randoms())
def test_the_rules_scored_together_are_each_rule(example, order):
    # A prepared sample keeps what it worked out (called tools, the answer's index); asked in
    # any order about several outputs, each rule still answers for the output it is given.
    row, texts = example
    sample = _sample_from_row(row)
    outputs = [parse(t, "auto") for t in texts]
    asks = [
        (name, i)
        for name in ("parse", "schema_hit", "exec", "semantic_f1")
        for i in range(len(outputs))
    ]
    order.shuffle(asks)
    shared = Prepared(sample)
    for name, i in asks:
        alone = RULES[name](Prepared(sample), outputs[i])
        assert RULES[name](shared, outputs[i]) == alone, (name, texts[i])


def test_metric_scorers_are_the_rules():
    # One definition per scorer: the record scorers wrap the rules rewards call.
    from redline.metrics.scorers import RULES

    assert set(SCORERS) == set(RULES)
    for name, scorer in SCORERS.items():
        assert scorer.__doc__ == RULES[name].__doc__, name
