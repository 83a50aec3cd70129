"""Hypothesis properties of the scorers: bounds, perfect predictions, invariance to argument key
order, to the order of parallel calls and to whitespace in the output, exact record round trips."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.metrics.scorers import SCORERS, score_sample
from redline.parsing import format_calls, parse
from redline.records import Completion, Sample, SampleRecord, ToolCall
from redline.rewards.testing import calls_for, tool_schemas

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw):
    """A sample with 1-3 tools and 1-3 expected calls of them, and the tools."""
    names = draw(
        st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=3, unique=True)
    )
    tools = [draw(tool_schemas(name=n)) for n in names]
    expected = draw(st.lists(st.sampled_from(tools).flatmap(calls_for), min_size=1, max_size=3))
    sample = Sample(
        id="p",
        messages=[{"role": "user", "content": "q"}],
        tools=tools,
        expected=expected,
        category="prop",
    )
    return sample, tools


def completion(calls: list[ToolCall]) -> Completion:
    return Completion(raw=json.dumps([c.model_dump() for c in calls]), calls=calls, format="json")


def values(record: SampleRecord) -> dict[str, float | None]:
    return {name: score.value for name, score in record.scores.items()}


@SETTINGS
@given(scenarios())
def test_perfect_prediction_scores_one_on_every_metric(scenario):
    sample, _ = scenario
    record = score_sample(sample, completion(list(sample.expected)))
    scored = {k: v for k, v in values(record).items() if v is not None}
    assert {"parse", "function_name", "param_f1", "schema_hit", "exec", "ast"} <= set(scored)
    assert all(v == 1.0 for v in scored.values()), (scored, record.error_detail)
    assert record.error_type is None


@SETTINGS
@given(scenarios(), st.data())
def test_scores_are_bounded(scenario, data):
    sample, tools = scenario
    predicted = data.draw(st.lists(st.sampled_from(tools).flatmap(calls_for), max_size=4))
    for name, value in values(score_sample(sample, completion(predicted))).items():
        assert value is None or 0.0 <= value <= 1.0, name


@SETTINGS
@given(scenarios(), st.data())
def test_invariant_to_argument_key_order(scenario, data):
    sample, tools = scenario
    predicted = data.draw(
        st.lists(st.sampled_from(tools).flatmap(calls_for), min_size=1, max_size=3)
    )
    shuffled = [
        ToolCall(name=c.name, arguments=dict(data.draw(st.permutations(list(c.arguments.items())))))
        for c in predicted
    ]
    assert values(score_sample(sample, completion(predicted))) == values(
        score_sample(sample, completion(shuffled))
    )


@SETTINGS
@given(scenarios(), st.data())
def test_invariant_to_the_order_of_parallel_calls(scenario, data):
    sample, tools = scenario
    for predicted in (
        list(sample.expected),
        data.draw(st.lists(st.sampled_from(tools).flatmap(calls_for), max_size=3)),
    ):
        reordered = data.draw(st.permutations(predicted))
        first = score_sample(sample, completion(predicted))
        again = score_sample(sample, completion(reordered))
        assert values(first) == values(again)
        # The name of a failure may follow the order (BFCL's greedy matching decides which
        # answer is left unmatched); whether the record failed may not.
        assert (first.error_type is None) == (again.error_type is None)


@SETTINGS
@given(
    scenarios(),
    st.sampled_from(["json", "hermes", "python"]),
    st.sampled_from([" ", "\n", "\n\n  ", "\t"]),
)
def test_invariant_to_whitespace_in_the_output(scenario, fmt, pad):
    sample, _ = scenario
    text = format_calls(list(sample.expected), fmt)
    padded = pad + text.replace(", ", "," + pad).replace("\n", pad + "\n") + pad
    plain = score_sample(sample, parse(text, fmt))
    spaced = score_sample(sample, parse(padded, fmt))
    assert values(plain) == values(spaced)
    assert values(plain)["ast"] == 1.0


@SETTINGS
@given(scenarios(), st.data())
def test_scored_records_survive_json_round_trips(scenario, data):
    sample, tools = scenario
    predicted = data.draw(st.lists(st.sampled_from(tools).flatmap(calls_for), max_size=3))
    record = score_sample(sample, completion(predicted))
    assert SampleRecord.from_json(record.to_json()) == record
    assert set(record.scores) == set(SCORERS)
