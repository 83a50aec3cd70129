"""Per-sample scorers and aggregate metrics: one case per error type, NaN on empty input,
malformed input scored as a typed error rather than a crash or a silent zero."""

from __future__ import annotations

import math

import pytest

from redline.metrics.aggregate import accuracy, error_counts, metric, summarize
from redline.metrics.scorers import SCORERS, pair_f1, run_scorer, score_sample
from redline.records import (
    Completion,
    ErrorType,
    ParseError,
    ParseErrorKind,
    Sample,
    Score,
    ToolCall,
    ToolSpec,
)

WEATHER = ToolSpec(
    name="get_weather",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "window": {"type": "object", "properties": {"start": {"type": "number"}}},
        },
        "required": ["city"],
    },
)
TIME = ToolSpec(
    name="get_time",
    parameters={"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
)
SAMPLE = Sample(
    id="w1",
    messages=[{"role": "user", "content": "Weather in Paris, in celsius?"}],
    tools=[WEATHER, TIME],
    expected=[ToolCall(name="get_weather", arguments={"city": "Paris", "unit": "celsius"})],
    category="simple",
)


def done(*calls: ToolCall, extra: str = "") -> Completion:
    return Completion(raw="...", calls=list(calls), extra_text=extra, format="json")


def call(**arguments) -> ToolCall:
    return ToolCall(name="get_weather", arguments=arguments)


CASES = [
    ("perfect", done(call(city="Paris", unit="celsius")), None),
    (
        "decode_failed",
        Completion(
            raw='{"name": "get_wea',
            parse_error=ParseError(kind=ParseErrorKind.invalid_syntax, message="x"),
        ),
        ErrorType.decode_failed,
    ),
    (
        "no_call (prose)",
        Completion(
            raw="It is sunny.", parse_error=ParseError(kind=ParseErrorKind.no_call, message="x")
        ),
        ErrorType.no_call,
    ),
    ("no_call (empty list)", done(), ErrorType.no_call),
    (
        "wrong_count",
        done(call(city="Paris", unit="celsius"), call(city="Paris", unit="celsius")),
        ErrorType.wrong_count,
    ),
    (
        "wrong_function",
        done(ToolCall(name="get_time", arguments={"tz": "CET"})),
        ErrorType.wrong_function,
    ),
    ("missing_required", done(call(unit="celsius")), ErrorType.missing_required),
    ("missing_param", done(call(city="Paris")), ErrorType.missing_param),
    (
        "unexpected_param",
        done(call(city="Paris", unit="celsius", zip="75")),
        ErrorType.unexpected_param,
    ),
    (
        "param not in the answer",
        done(call(city="Paris", unit="celsius", days="3")),
        ErrorType.unexpected_param,
    ),
    ("value_error", done(call(city="Lyon", unit="celsius")), ErrorType.value_error),
]


@pytest.mark.parametrize(("label", "completion", "error"), CASES, ids=[c[0] for c in CASES])
def test_one_error_type_per_record(label, completion, error):
    record = score_sample(SAMPLE, completion)
    assert record.error_type is error, record.error_detail
    assert (record.scores["ast"].value == 1.0) is (error is None)


def test_type_error_when_the_answer_has_the_parameter():
    sample = SAMPLE.model_copy(update={"expected": [call(city="Paris", unit="celsius", days=3)]})
    record = score_sample(sample, done(call(city="Paris", unit="celsius", days="3")))
    assert record.error_type is ErrorType.type_error
    assert record.scores["exec"].value == 0.0
    assert record.scores["exec"].error_type is ErrorType.type_error


def test_perfect_prediction_scores_one_everywhere():
    record = score_sample(SAMPLE, done(call(unit="celsius", city="Paris")))
    applicable = {k: s.value for k, s in record.scores.items() if s.value is not None}
    assert set(applicable) == {
        "parse",
        "function_name",
        "param_f1",
        "semantic_f1",
        "semantic_match",
        "schema_hit",
        "exec",
        "ast",
        "format_strict",
        "toolrl",
    }
    assert all(v == 1.0 for v in applicable.values()), applicable


def test_seed_metrics_tell_errors_apart():
    s = score_sample(SAMPLE, done(call(city="PARIS ", unit="celsius"))).scores
    assert s["param_f1"].value == 0.5 and s["semantic_f1"].value == 1.0
    assert s["semantic_match"].value == 1.0 and s["ast"].value == 1.0, "BFCL standardises case"
    s = score_sample(SAMPLE, done(call(city="Paris", unit="kelvin"))).scores
    assert s["schema_hit"].value == 1.0 and s["exec"].value == 0.0
    assert s["exec"].error_type is ErrorType.value_error, "enum violation"
    s = score_sample(SAMPLE, done(call(city="Paris", unit="celsius", window={"start": "x"}))).scores
    assert s["exec"].error_type is ErrorType.type_error, "nested objects are validated"
    s = score_sample(SAMPLE, done(call(city="Paris", unit="celsius", window={"start": 1}))).scores
    assert s["exec"].value == 1.0, "an integer is a number"
    s = score_sample(SAMPLE, done(ToolCall(name="nope", arguments={}))).scores
    assert s["schema_hit"].value == 0.0 and s["function_name"].value == 0.0


def test_param_f1_is_micro_within_a_sample():
    sample = SAMPLE.model_copy(
        update={
            "expected": [
                call(city="Paris", unit="celsius"),
                ToolCall(name="get_time", arguments={"tz": "CET"}),
            ]
        }
    )
    # 2 of 3 gold pairs, 2 of 2 predicted: P=1, R=2/3.
    assert pair_f1(sample, [call(city="Paris", unit="celsius")], semantic=False) == pytest.approx(
        0.8
    )
    assert pair_f1(sample, [], semantic=False) == 0.0
    no_args = SAMPLE.model_copy(update={"expected": [ToolCall(name="get_time")]})
    assert pair_f1(no_args, [ToolCall(name="get_time")], semantic=False) == 1.0
    assert pair_f1(no_args, [ToolCall(name="get_weather")], semantic=False) == 0.0


def test_param_f1_accepts_any_bfcl_option_and_optional_params():
    sample = SAMPLE.model_copy(
        update={
            "expected": None,
            "possible_answer": [
                {"get_weather": {"city": ["Paris", "paris"], "unit": ["", "celsius"]}}
            ],
        }
    )
    assert pair_f1(sample, [call(city="paris")], semantic=False) == 1.0
    assert pair_f1(sample, [call(city="paris", unit="celsius")], semantic=False) == 1.0
    assert pair_f1(sample, [call(city="paris", unit="kelvin")], semantic=False) == pytest.approx(
        2 / 3
    )


def test_irrelevance_and_relevance():
    no_call = SAMPLE.model_copy(update={"expect": "no_call", "expected": None})
    assert score_sample(no_call, done()).error_type is None
    prose = Completion(
        raw="Sorry.", parse_error=ParseError(kind=ParseErrorKind.no_call, message="x")
    )
    record = score_sample(no_call, prose)
    assert record.error_type is None and record.scores["irrelevance"].value == 1.0
    record = score_sample(no_call, done(call(city="Paris")))
    assert record.error_type is ErrorType.unexpected_call
    assert record.scores["parse"].value is None, "not applicable"
    any_call = SAMPLE.model_copy(update={"expect": "any_call", "expected": None})
    assert score_sample(any_call, done(call(city="x"))).scores["relevance"].value == 1.0
    assert score_sample(any_call, prose).error_type is ErrorType.no_call


def test_malformed_schema_is_an_invalid_sample_not_a_zero():
    broken = SAMPLE.model_copy(
        update={"tools": [ToolSpec(name="get_weather", parameters={"properties": [1]})]}
    )
    record = score_sample(broken, done(call(city="Paris", unit="celsius")))
    for name in ("schema_hit", "exec"):
        assert record.scores[name].value is None
        assert record.scores[name].error_type is ErrorType.invalid_sample
        assert "'properties' must be an object" in record.scores[name].detail
    summary = summarize([record])
    assert summary["exec_rate"].unscored == 1 and math.isnan(summary["exec_rate"].value)


def test_truncated_output_is_a_typed_error_and_the_run_goes_on():
    truncated = Completion(
        raw='<tool_call>{"name": "get_weather", "arguments": {"ci',
        parse_error=ParseError(kind=ParseErrorKind.invalid_syntax, message="unterminated"),
    )
    records = [
        score_sample(SAMPLE, truncated),
        score_sample(SAMPLE, done(call(city="Paris", unit="celsius"))),
    ]
    assert [r.error_type for r in records] == [ErrorType.decode_failed, None]
    assert summarize(records)["parse_rate"].value == 0.5


def test_a_crashing_scorer_is_counted_apart_never_zero():
    def broken(sample, completion):
        raise RuntimeError("bug")

    score = run_scorer(broken, SAMPLE, done())
    assert score.value is None and score.error_type is ErrorType.scorer_error
    assert "RuntimeError: bug" in score.detail
    record = score_sample(
        SAMPLE, done(call(city="Paris", unit="celsius")), {**SCORERS, "broken": broken}
    )
    assert record.error_type is None, "a secondary scorer's crash does not fail the verdict"
    assert summarize([record])["broken"].unscored == 1


def test_empty_input_gives_nan():
    assert math.isnan(metric([]).value)
    assert math.isnan(accuracy([]))
    assert summarize([]) == {}
    assert math.isnan(metric([Score(value=None)]).value)
    assert metric([Score(value=None)]).not_applicable == 1


def test_summary_and_error_counts():
    records = [score_sample(SAMPLE, c) for _, c, _ in CASES]
    summary = summarize(records)
    assert summary["ast_accuracy"].scored == len(CASES)
    assert summary["ast_accuracy"].value == pytest.approx(1 / len(CASES))
    assert summary["ast_accuracy"].to_dict()["value"] == pytest.approx(1 / len(CASES))
    counts = error_counts(records)
    assert counts["unexpected_param"] == 2 and sum(counts.values()) == len(CASES) - 1


def test_format_strict_penalises_prose_outside_the_calls():
    clean = score_sample(SAMPLE, done(call(city="Paris", unit="celsius")))
    assert clean.scores["format_strict"].value == 1.0
    chatty = score_sample(
        SAMPLE, done(call(city="Paris", unit="celsius"), extra="Sure! Here you go:")
    )
    assert chatty.scores["format_strict"].value == 0.0
    assert chatty.scores["format_strict"].error_type is ErrorType.extra_text
    assert chatty.error_type is None, "prose is a format matter, not the verdict"


F = ToolSpec(name="f", parameters={"type": "object", "properties": {"a": {}, "b": {}, "x": {}}})


@pytest.mark.parametrize(
    ("expected", "predicted", "value"),
    [
        # names 1, pairing: key Jaccard 1/2 + one exact value; maximum 1 + 1 call + 2 parameters
        (
            [ToolCall(name="f", arguments={"a": 1, "b": 2})],
            [ToolCall(name="f", arguments={"a": 1})],
            2.5 / 4,
        ),
        (
            [ToolCall(name="f", arguments={"a": 1, "b": 2})],
            [ToolCall(name="g", arguments={"a": 1})],
            0.0,
        ),
        # parallel calls are paired optimally, whatever their order
        (
            [ToolCall(name="f", arguments={"x": 1}), ToolCall(name="f", arguments={"x": 2})],
            [ToolCall(name="f", arguments={"x": 2}), ToolCall(name="f", arguments={"x": 1})],
            1.0,
        ),
        ([ToolCall(name="f", arguments={"x": 1})], [], 0.0),
    ],
)
def test_toolrl_correctness(expected, predicted, value):
    sample = SAMPLE.model_copy(update={"tools": [F], "expected": expected})
    completion = (
        done(*predicted)
        if predicted
        else Completion(raw="", parse_error=ParseError(kind=ParseErrorKind.empty, message="e"))
    )
    assert score_sample(sample, completion).scores["toolrl"].value == pytest.approx(value)


def test_toolrl_on_irrelevance_rewards_no_call():
    no_call = SAMPLE.model_copy(update={"expect": "no_call", "expected": None})
    assert score_sample(no_call, done()).scores["toolrl"].value == 1.0
    assert score_sample(no_call, done(call(city="x"))).scores["toolrl"].value == 0.0
