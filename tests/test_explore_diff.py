"""The argument diff shown on the Sample page: one case per status, for redline's expected calls
and for BFCL's accepted-values answers."""

from __future__ import annotations

import pytest

from redline.records import Completion, Sample, ToolCall
from redline.reports.diff import argument_diff


def sample(**kw) -> Sample:
    return Sample(id="s", messages=[{"role": "user", "content": "hi"}], **kw)


def calls(*items: tuple[str, dict]) -> Completion:
    return Completion(raw="", calls=[ToolCall(name=n, arguments=a) for n, a in items])


EXPECTED = [ToolCall(name="get_weather", arguments={"city": "Paris", "unit": "celsius"})]


@pytest.mark.parametrize(
    ("given", "rows"),
    [
        (
            {"city": "Paris", "unit": "celsius"},
            [("city", '"Paris"', '"Paris"', "equal"), ("unit", '"celsius"', '"celsius"', "equal")],
        ),
        (
            {"city": "Lyon", "unit": "celsius"},
            [("city", '"Paris"', '"Lyon"', "differs"), ("unit", '"celsius"', '"celsius"', "equal")],
        ),
        (
            {"city": "Paris"},
            [
                ("city", '"Paris"', '"Paris"', "equal"),
                ("unit", '"celsius"', "(not given)", "missing"),
            ],
        ),
        (
            {"city": "Paris", "unit": "celsius", "days": 3},
            [
                ("city", '"Paris"', '"Paris"', "equal"),
                ("unit", '"celsius"', '"celsius"', "equal"),
                ("days", "(not expected)", "3", "unexpected"),
            ],
        ),
        (
            {"city": 7, "unit": "celsius"},
            [("city", '"Paris"', "7", "differs"), ("unit", '"celsius"', '"celsius"', "equal")],
        ),
    ],
)
def test_arguments_field_by_field(given, rows):
    diff = argument_diff(sample(expected=EXPECTED), calls(("get_weather", given)))
    assert [(r.parameter, r.expected, r.got, r.status) for r in diff] == rows
    assert {r.call for r in diff} == {"get_weather #1"}


@pytest.mark.parametrize(("expected", "given"), [(1, 1.0), (1, True), ({"a": [1]}, {"a": [1.0]})])
def test_values_are_compared_as_json_text(expected, given):
    answer = [ToolCall(name="f", arguments={"v": expected})]
    (row,) = argument_diff(sample(expected=answer), calls(("f", {"v": given})))
    assert row.status == "differs"
    (row,) = argument_diff(sample(expected=answer), calls(("f", {"v": expected})))
    assert row.status == "equal"


def test_calls_are_lined_up_by_name_whatever_their_order():
    expected = [
        ToolCall(name="a", arguments={"x": 1}),
        ToolCall(name="b", arguments={"y": 2}),
        ToolCall(name="a", arguments={"x": 3}),
    ]
    made = calls(("b", {"y": 2}), ("a", {"x": 1}), ("c", {"z": 0}))
    diff = argument_diff(sample(expected=expected), made)
    assert [(r.call, r.parameter, r.status) for r in diff] == [
        ("a #1", "x", "equal"),
        ("b #1", "y", "equal"),
        ("a #2", "", "missing call"),
        ("c (extra)", "", "unexpected call"),
        ("c (extra)", "z", "unexpected call"),
    ]


def test_bfcl_answers_list_accepted_values_and_optional_parameters():
    answer = [{"area": {"base": [10], "unit": ["cm", ""], "precise": [True, ""]}}]
    made = calls(("area", {"base": 10, "unit": "m"}))
    diff = argument_diff(sample(possible_answer=answer, bfcl_category="simple"), made)
    assert [(r.parameter, r.expected, r.got, r.status) for r in diff] == [
        ("base", "10", "10", "equal"),
        ("unit", '"cm" (or left out)', '"m"', "differs"),
        ("precise", "true (or left out)", "(not given)", "optional (absent)"),
    ]


def test_no_call_samples_list_every_call_as_unexpected():
    diff = argument_diff(sample(expect="no_call"), calls(("a", {"x": 1})))
    assert [(r.parameter, r.status) for r in diff] == [
        ("", "unexpected call"),
        ("x", "unexpected call"),
    ]
    assert argument_diff(sample(expect="no_call"), Completion(raw="no")) == []
