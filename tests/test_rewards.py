"""Reward functions: values per reward on fixed completions, TRL's call shapes, no crash on
internal errors (None, counted, logged once), composite specs and their errors."""

from __future__ import annotations

import json
import logging

import pytest

from redline import rewards
from redline.rewards import (
    REWARDS,
    RewardFunction,
    completion_of,
    detect_format,
    functions,
    load_spec,
    make_composite,
    make_reward,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["city"],
            },
        },
    }
]
ANSWERS = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]
PERFECT = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'
COMPLETIONS = {
    "perfect json": PERFECT,
    "hermes, prose, missing unit": (
        'Sure: <tool_call>{"name": "get_weather", "arguments": {"city": "paris"}}</tool_call>'
    ),
    "python, bad enum": '[get_weather(city="Paris", unit="k")]',
    "prose": "I do not know.",
    "inside think": f"<think>{PERFECT}</think>",
}
EXPECTED = {
    #             perfect, hermes, python, prose, think
    "parse": [1.0, 1.0, 1.0, 0.0, 0.0],
    "schema_hit": [1.0, 1.0, 1.0, 0.0, 0.0],
    "exec": [1.0, 1.0, 0.0, 0.0, 0.0],
    "semantic_f1": [1.0, 2 / 3, 0.5, 0.0, 0.0],
    "ast_match": [1.0, 0.0, 0.0, 0.0, 0.0],
    "format_strict": [1.0, 0.0, 1.0, 0.0, 0.0],
    "abstain": [0.0, 0.0, 0.0, -1.0, -1.0],
    "toolrl": [4.0, -0.75, 2.5, -3.0, -3.0],
    "composite": [1.0, (1 + 1 + 1 + 2 / 3) / 4, (1 + 1 + 0 + 0.5) / 4, 0.0, 0.0],
}


def columns(n, tools=TOOLS, answers=ANSWERS):
    return {"tools": [json.dumps(tools)] * n, "answers": [json.dumps(answers)] * n}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_reward_values(name):
    texts = list(COMPLETIONS.values())
    got = REWARDS[name](prompts=["p"] * len(texts), completions=texts, **columns(len(texts)))
    assert got == pytest.approx(EXPECTED[name])


def test_names_are_stable_for_trl_logs():
    assert {name: fn.__name__ for name, fn in REWARDS.items()} == {n: n for n in REWARDS}
    assert rewards.exec is REWARDS["exec"] and rewards.composite.__name__ == "composite"


def test_conversational_and_native_tool_call_completions():
    message = [{"role": "assistant", "content": PERFECT}]
    native = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "1",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": json.dumps({"city": "Paris", "unit": "c"}),
                    },
                }
            ],
        }
    ]
    parts = [{"role": "assistant", "content": [{"type": "text", "text": PERFECT}]}]
    got = rewards.ast_match(prompts=[[]] * 3, completions=[message, native, parts], **columns(3))
    assert got == [1.0, 1.0, 1.0]


def test_irrelevance_rows():
    cols = {"tools": [json.dumps(TOOLS)] * 2, "answers": ["[]"] * 2}
    texts = ["No tool fits that.", PERFECT]
    assert rewards.abstain(completions=texts, **cols) == [1.0, -1.0]
    assert rewards.toolrl(completions=texts, **cols) == [4.0, -3.0]
    assert rewards.parse(completions=texts, **cols) == [None, None], "not applicable"
    assert rewards.composite(completions=texts, **cols) == [None, None]


def test_bfcl_rows_use_possible_answers():
    cols = {
        "tools": [
            json.dumps(
                [
                    {
                        "name": "f",
                        "parameters": {
                            "type": "dict",
                            "properties": {"x": {"type": "float"}},
                            "required": ["x"],
                        },
                    }
                ]
            )
        ],
        "possible_answer": [json.dumps([{"f": {"x": [2.0, 3.0]}}])],
        "bfcl_category": ["simple_python"],
    }
    assert rewards.ast_match(completions=["[f(x=3)]"], **cols) == [1.0], "int accepted for float"


def test_an_internal_error_is_none_counted_and_logged_once(caplog):
    def shape(scores, sample):
        raise ZeroDivisionError("boom")

    broken = RewardFunction("broken", ("parse",), shape)
    with caplog.at_level(logging.WARNING, logger="redline.rewards"):
        got = broken(completions=[PERFECT, PERFECT, "x"], **columns(3))
    assert got == [None, None, None]
    assert broken.errors == 3
    (record,) = caplog.records
    assert "ZeroDivisionError: boom" in record.getMessage() and "get_weather" in record.getMessage()
    logged = []
    broken(completions=[PERFECT], log_metric=lambda k, v: logged.append((k, v)), **columns(1))
    assert logged == [("redline/broken/errors", 1.0)]


def test_a_malformed_sample_is_unscored_not_zero():
    bad_tools = [
        {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "strng"}}},
        }
    ]
    fn = make_reward("exec")
    assert fn(completions=[PERFECT], **columns(1, tools=bad_tools)) == [None]
    assert fn.unscored == 1 and fn.errors == 0


def test_a_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match=r"needs the dataset column\(s\) \['tools'\]"):
        rewards.exec(completions=[PERFECT], answers=["[]"])
    with pytest.raises(ValueError, match="answers"):
        rewards.parse(completions=[PERFECT], tools=["[]"])


def test_composite_specs(tmp_path):
    assert [c.name for c in load_spec(None or rewards.DEFAULT_SPEC)] == [
        "parse",
        "schema_hit",
        "exec",
        "semantic_f1",
    ]
    spec = tmp_path / "rewards.yaml"
    spec.write_text("- {name: ast_match, weight: 0.5}\n- {name: format_strict, weight: 0.5}\n")
    fn = make_composite(spec, name="strict")
    texts = list(COMPLETIONS.values())
    assert fn(completions=texts, **columns(len(texts))) == pytest.approx([1.0, 0.0, 0.5, 0.0, 0.0])
    assert fn.__name__ == "strict" and fn.config["spec"][0] == {"name": "ast_match", "weight": 0.5}
    assert fn.reward_range == (0.0, 1.0)
    assert make_composite("- {name: toolrl, weight: 1}").reward_range == (-3.0, 4.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("- {name: nonsense, weight: 1}", "item 0: unknown reward 'nonsense'"),
        ("- {name: parse}", "item 0: weight: Field required"),
        ("- {name: parse, weight: 1, bonus: 2}", "item 0: bonus: Extra inputs"),
        ("[]", "non-empty list"),
        ("- {name: composite, weight: 1}", "unknown reward 'composite'"),
        # the composite rescales its weights to their total: a total of 0 scores nothing
        ("- {name: parse, weight: 0}", "weights sum to 0"),
        ("- {name: parse, weight: 1}\n- {name: exec, weight: -1}", "weights sum to 0"),
    ],
)
def test_bad_specs_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        load_spec(spec)


def test_bad_spec_file_names_the_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("- {name: parse, weight: one}\n")
    with pytest.raises(ValueError, match=r"r.yaml: item 0"):
        load_spec(path)


def test_format_detection_and_fixed_formats():
    assert detect_format(PERFECT) == "json"
    assert detect_format("<think>hm</think><tool_call>{}</tool_call>") == "hermes"
    assert detect_format("```\n[f(a=1)]\n```") == "python"
    json_only = make_reward("parse", fmt="json")
    assert json_only(completions=["[get_weather(city='x')]"], **columns(1)) == [0.0]
    assert completion_of("[f(a=1)]", "python").calls[0].name == "f"
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        make_reward("parse", fmt="xml")
    with pytest.raises(ValueError, match="unknown reward 'nope'"):
        make_reward("nope")


def test_score_one_completion_from_its_row():
    row = {"tools": json.dumps(TOOLS), "answers": json.dumps(ANSWERS)}
    assert rewards.ast_match.score(PERFECT, row) == 1.0
    assert rewards.toolrl.score("no idea", row) == -3.0


def test_columns_stored_as_datasets_structs_lose_the_nulls_arrow_filled_in(caplog, monkeypatch):
    # A datasets column of nested objects has one Arrow struct type for all rows: every row
    # gets every key any row has, None where it had none. Read literally, the rows' tools gain
    # null parameter schemas (unscoreable) and their answers null arguments (F1 drops).
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(functions, "_NULLS_SAID", False)  # the warning is said once a process
    other_tool = {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
        },
    }
    rows = [
        {"tools": TOOLS, "answers": ANSWERS},
        {"tools": [other_tool], "answers": [{"name": "get_time", "arguments": {"zone": "UTC"}}]},
    ]
    table = datasets.Dataset.from_list(rows)
    assert table[1]["tools"][0]["function"]["parameters"]["properties"]["city"] is None
    texts = [PERFECT, '{"name": "get_time", "arguments": {"zone": "UTC"}}']
    for name in ("composite", "schema_hit", "exec", "semantic_f1"):
        fn = make_reward(name)
        with caplog.at_level(logging.WARNING, logger="redline.rewards"):
            got = fn(completions=texts, tools=table["tools"], answers=table["answers"])
        assert got == [1.0, 1.0], name
        assert fn.unscored == 0
    warned = [r.getMessage() for r in caplog.records if "null" in r.getMessage()]
    assert len(warned) == 1, "said once"
    assert "JSON text" in warned[0]
    # JSON text keeps an explicit null: it is the author's, not Arrow's.
    nulls = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": None}}]
    f1 = make_reward("semantic_f1")
    got = f1(completions=[PERFECT], tools=[json.dumps(TOOLS)], answers=[json.dumps(nulls)])
    assert got[0] < 1.0


def test_answers_in_openai_and_parameters_forms_keep_their_arguments():
    openai = [
        {
            "type": "function",
            "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
        }
        for c in ANSWERS
    ]
    named = [{"name": c["name"], "parameters": c["arguments"]} for c in ANSWERS]
    wrong = '{"name": "get_weather", "arguments": {"city": "Rome", "unit": "c"}}'
    for answers in (openai, named):
        got = rewards.semantic_f1(completions=[PERFECT, wrong], **columns(2, answers=answers))
        assert got == [1.0, 0.5]


def test_a_message_list_is_scored_on_its_last_assistant_message():
    # As documented: after TRL's tool-execution loop, the final turn is what is judged.
    first = {"role": "assistant", "content": PERFECT}
    tool = {"role": "tool", "content": '{"temperature": 11}'}
    final = {"role": "assistant", "content": "It is 11 degrees in Paris."}
    got = rewards.parse(
        prompts=[[]] * 2, completions=[[first, tool, final], [final, tool, first]], **columns(2)
    )
    assert got == [0.0, 1.0]
