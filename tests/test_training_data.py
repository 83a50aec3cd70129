"""Training data preparation: the three validation layers, the overlap check against every
evaluation suite, negatives, the seeded split, and the TRL and ShareGPT files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.prompts import get_mode
from redline.parsing import parse
from redline.suites import bfcl_data, xlam
from redline.suites.devset import generate_dev_set
from redline.training.data import (
    REFUSAL,
    DataError,
    evaluation_prompts,
    evaluation_suites,
    normalise_prompt,
    prepare,
    write_prepared,
)

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
        },
        "required": ["city"],
    },
}
XLAM_TOOL = {
    "name": "find_recipe",
    "description": "Find a recipe.",
    "parameters": {"dish": {"type": "str", "description": "Dish"}},
}


BAD_UNIT = {"city": "Tromso", "unit": "kelvin"}


def row(i, query, answers, tools=(WEATHER,)):
    return {"id": i, "query": query, "tools": json.dumps(list(tools)), "answers": answers}


def call(name="get_weather", **arguments):
    return json.dumps([{"name": name, "arguments": arguments}])


@pytest.fixture(scope="module")
def builtin():
    return prepare("builtin", builtin_size=400)


def test_no_evaluation_prompt_reaches_training_data(builtin):
    asked = evaluation_prompts(evaluation_suites())
    assert len(asked) > 3000, "BFCL, the dev set and the regression set are all checked"
    for sample in builtin.train + builtin.val:
        assert normalise_prompt(sample.messages[-1]["content"]) not in asked, sample.id
    overlap = [d for d in builtin.drops if d.layer == "eval_overlap"]
    assert overlap and all("fc:dev" in d.reason for d in overlap)


def test_builtin_split_is_90_10_seeded_and_deterministic(builtin):
    total = len(builtin.train) + len(builtin.val)
    assert len(builtin.val) == round(total * 0.1)
    again = prepare("builtin", builtin_size=400)
    assert [s.id for s in again.train] == [s.id for s in builtin.train]
    assert [s.id for s in again.val] == [s.id for s in builtin.val]
    ids = [s.id for s in builtin.train + builtin.val]
    assert len(ids) == len(set(ids))


def test_negatives_take_the_share_asked_and_offer_no_fitting_tool(builtin):
    samples = builtin.train + builtin.val
    negatives = [s for s in samples if s.category == "negative"]
    assert len(negatives) == builtin.negatives
    assert abs(len(negatives) / len(samples) - 0.1) < 0.01
    originals = {s.id: s for s in samples}
    for negative in negatives:
        assert negative.expect == "no_call" and not negative.expected
        source = originals.get(negative.id.rsplit("_neg", 1)[0])
        if source is not None:
            wanted = {c.name for c in source.expected or []}
            assert wanted.isdisjoint({t.name for t in negative.tools})
    none = prepare("builtin", builtin_size=100, negatives=0.0)
    assert none.negatives == 0


def test_three_layers_drop_bad_rows_and_say_why(tmp_path):
    bfcl_question = bfcl_data.load_samples("simple_python")[0].messages[-1]["content"]
    dev_question = generate_dev_set()[3].messages[-1]["content"]
    rows = [
        row(0, "Weather in Oslo?", call(city="Oslo")),
        row(1, "Weather in Lima?", "[{'name': broken"),  # format: not JSON
        row(2, "Weather in Rome?", json.dumps([{"arguments": {}}])),  # format: no name
        row(3, "", call(city="X")),  # format: empty query
        row(4, "Weather in Bern?", call(name="get_time", city="Bern")),  # execution
        row(5, "Weather in Kyiv?", call(city=7)),  # execution: type
        row(6, "Weather in Riga?", call(city="Riga", unit="kelvin")),  # semantic: enum
        row(7, "Weather in Baku?", call(city="Baku", days=40)),  # semantic: range
        row(8, "Weather in   ?", call(city="  ")),  # semantic: empty required string
        row(9, bfcl_question, call(city="A")),  # asked by BFCL
        row(10, dev_question, call(city="B")),  # asked by the dev set
        row(11, "weather in OSLO?", call(city="Oslo")),  # duplicate of row 0 once normalised
        row(12, "A pasta recipe?", call(name="find_recipe", dish="pasta"), tools=[XLAM_TOOL]),
        # arguments under "parameters" are read: the bad unit is seen (semantic, not a missing
        # city as if there were no arguments)
        row(
            13, "Weather in Tromso?", json.dumps([{"name": "get_weather", "parameters": BAD_UNIT}])
        ),
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    prepared = prepare(str(path), negatives=0.0)
    layers = {int(d.id.rsplit("_", 1)[1]): (d.layer, d.reason) for d in prepared.drops}
    assert {i: layer for i, (layer, _) in layers.items()} == {
        1: "format",
        2: "format",
        3: "format",
        4: "execution",
        5: "execution",
        6: "semantic",
        7: "semantic",
        8: "semantic",
        9: "eval_overlap",
        10: "eval_overlap",
        11: "duplicate",
        13: "semantic",
    }
    assert "unknown function: get_time" in layers[4][1]
    assert layers[6][1].startswith("enum: get_weather.unit")
    assert layers[13][1].startswith("enum: get_weather.unit")
    assert layers[7][1].startswith("maximum: get_weather.days")
    assert "bfcl:simple_python" in layers[9][1] and "fc:dev" in layers[10][1]
    assert "mine_0" in layers[11][1]
    kept = {s.id for s in prepared.train + prepared.val}
    assert kept == {"mine_0", "mine_12"}, "xlam's own parameter form is read too"
    report = prepared.report()
    assert report["dropped"] == {
        "format": 3,
        "execution": 2,
        "semantic": 4,
        "duplicate": 1,
        "eval_overlap": 2,
    }
    assert report["read"] == 14 and report["kept"] == 2


def test_xlam_source_trains_only_on_its_train_part(tmp_path, monkeypatch):
    tool = {"name": "get_weather", "description": "w", "parameters": {"city": {"type": "str"}}}
    rows = [
        {
            "id": i,
            "query": f"Weather in town {i}?",
            "tools": json.dumps([tool]),
            "answers": call(city=f"t{i}"),
        }
        for i in range(40)
    ]
    path = tmp_path / "xlam.json"
    path.write_text(json.dumps(rows))
    monkeypatch.setenv(xlam.ENV_VAR, str(path))
    prepared = prepare("xlam", negatives=0.0)
    test_prompts = {s.messages[-1]["content"] for s in xlam.load_xlam("test")}
    train_prompts = {s.messages[-1]["content"] for s in prepared.train + prepared.val}
    assert len(test_prompts) == 4 and len(train_prompts) == 36
    assert test_prompts.isdisjoint(train_prompts)
    assert "xlam:test" in prepared.suites_checked


@pytest.mark.parametrize("mode", ["json", "native", "python"])
def test_written_rows_are_trl_conversational_and_parse_back(tmp_path, builtin, mode):
    write_prepared(builtin, tmp_path, mode)
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    assert len(lines) == len(builtin.train)
    by_id = {s.id: s for s in builtin.train}
    for line in lines[:60]:
        data = json.loads(line)
        sample = by_id[data["id"]]
        assert data["prompt"] == get_mode(mode).messages(sample)
        assert [t["function"]["name"] for t in json.loads(data["tools"])] == [
            t.name for t in sample.tools
        ]
        (answer,) = data["completion"]
        assert answer["role"] == "assistant"
        completion = parse(answer["content"], get_mode(mode).parser)
        if sample.expect == "calls":
            assert completion.calls == sample.expected
        else:
            assert answer["content"] == REFUSAL and completion.calls == []


def test_sharegpt_layout_for_llama_factory(tmp_path, builtin):
    write_prepared(builtin, tmp_path, "json")
    info = json.loads((tmp_path / "sharegpt" / "dataset_info.json").read_text())
    assert info["redline_train"]["formatting"] == "sharegpt"
    assert info["redline_train"]["columns"] == {"messages": "conversations", "tools": "tools"}
    rows = json.loads((tmp_path / "sharegpt" / info["redline_train"]["file_name"]).read_text())
    assert len(rows) == len(builtin.train)
    turns = {turn["from"] for r in rows for turn in r["conversations"]}
    assert turns == {"human", "function_call", "gpt"}
    first = next(r for r in rows if r["conversations"][1]["from"] == "function_call")
    assert all(
        "name" in c and "arguments" in c for c in json.loads(first["conversations"][1]["value"])
    )
    report = json.loads((tmp_path / "prepare_report.json").read_text())
    assert report["train"] == len(builtin.train) and report["settings"]["seed"] == 42


def test_cli_prepare_writes_the_folder_and_names_bad_sources(tmp_path):
    runner = CliRunner()
    out = tmp_path / "data"
    result = runner.invoke(
        app, ["data", "prepare", "--source", "builtin", "--builtin-size", "60", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "eval_overlap" in result.output and (out / "train.jsonl").is_file()
    missing = runner.invoke(
        app, ["data", "prepare", "--source", str(tmp_path / "nope.json"), "--out", str(out)]
    )
    assert missing.exit_code == 2 and "nope.json" in missing.output


# -- general replay ---------------------------------------------------------------------------


def general_file(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_general_replay_takes_its_share_with_no_tools_and_the_given_answers(tmp_path):
    rows = [
        {"prompt": f"Tell me about topic number {i}.", "response": f"Topic {i} is fine."}
        for i in range(40)
    ]
    prepared = prepare(
        "builtin",
        builtin_size=120,
        general=general_file(tmp_path / "g.jsonl", rows),
        general_share=0.1,
    )
    others = prepared.read - len(prepared.drops) + prepared.negatives
    replay = [s for s in prepared.train + prepared.val if s.expect == "answer"]
    assert len(replay) == prepared.general == round(0.1 * others / 0.9) > 0
    report = prepared.report()
    assert report["general_added"] == report["general_wanted"] == len(replay)
    assert report["kept"] == prepared.read - len(prepared.drops), "no general prompt was dropped"
    write_prepared(prepared, tmp_path / "out", "native")
    written = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").open()]
    general_rows = [r for r in written if r["expect"] == "answer"]
    assert general_rows, "some replay items land in train"
    for r in general_rows:
        # The request goes as it is (no tool prompt) and the target is the given answer.
        (message,) = r["prompt"]
        assert message["role"] == "user" and message["content"].startswith("Tell me about topic")
        number = message["content"].split()[-1].rstrip(".")
        assert r["completion"] == [{"role": "assistant", "content": f"Topic {number} is fine."}]
        assert json.loads(r["tools"]) == [] and r["category"] == "general"
    sharegpt = json.loads((tmp_path / "out" / "sharegpt" / "train.json").read_text())
    plain = [s for s in sharegpt if s["conversations"][0]["value"].startswith("Tell me about")]
    assert len(plain) == len(general_rows)
    assert all(s["conversations"][1]["from"] == "gpt" and s["tools"] == "[]" for s in plain)


def test_general_replay_drops_evaluation_prompts_and_repeats_and_asks_a_model(tmp_path):
    asked = generate_dev_set()[0].messages[-1]["content"]
    rows = [
        {"prompt": asked},
        {"prompt": "How do tides work?"},
        {"prompt": "how do  TIDES work?"},  # the same prompt once normalised
        {"prompt": "What is a good breakfast?", "response": "Oats with fruit."},
    ]
    path = general_file(tmp_path / "g.jsonl", rows)
    with pytest.raises(ValueError, match=r"1 general prompts from .*g\.jsonl have no response"):
        prepare("builtin", builtin_size=120, general=path, general_share=0.3)
    seen = []

    def answerer(samples):
        seen.extend(s.messages[-1]["content"] for s in samples)
        assert all(s.tools == [] and s.expect == "answer" for s in samples)
        return ["Tides follow the moon."] * len(samples)

    prepared = prepare(
        "builtin", builtin_size=120, general=path, general_share=0.3, answerer=answerer
    )
    assert seen == ["How do tides work?"], "only prompts without a response are answered"
    replay = {
        s.messages[-1]["content"]: s for s in prepared.train + prepared.val if s.expect == "answer"
    }
    assert set(replay) == {"How do tides work?", "What is a good breakfast?"}
    assert replay["How do tides work?"].metadata["reference"] == "Tides follow the moon."
    reasons = {d.id: (d.layer, d.reason) for d in prepared.drops if d.id.startswith("g_")}
    assert reasons == {
        "g_1": ("eval_overlap", "asked by fc:dev"),
        "g_3": ("duplicate", "same general prompt as an earlier one"),
    }
    assert all(d.general == d.id.startswith("g_") for d in prepared.drops)
    report = prepared.report()
    # Rows of the source are what "kept" counts; the file's 2 usable prompts fall short.
    assert report["kept"] == prepared.read - sum(not d.id.startswith("g_") for d in prepared.drops)
    assert report["general_added"] == 2 < report["general_wanted"]


def test_builtin_general_prompts_are_not_evaluation_prompts():
    from redline.training.general import builtin_prompts

    prompts = builtin_prompts()
    asked = evaluation_prompts(evaluation_suites())
    assert len({p.prompt for p in prompts}) == len(prompts) == 144
    assert not [p.prompt for p in prompts if normalise_prompt(p.prompt) in asked]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"g\.jsonl:2: not JSON"),
        ('["a list"]', r"g\.jsonl:2: expected an object"),
        ('{"prompt": ""}', r"g\.jsonl:2: 'prompt' must be non-empty text"),
        ('{"prompt": "Hi", "response": 3}', r"g\.jsonl:2: 'response' must be non-empty text"),
    ],
)
def test_bad_general_file_lines_are_named(tmp_path, line, message):
    path = tmp_path / "g.jsonl"
    path.write_text('{"prompt": "Fine one", "response": "ok"}\n' + line + "\n")
    with pytest.raises(ValueError, match=message):
        prepare("builtin", builtin_size=60, general=str(path), general_share=0.2)


def test_cli_general_replay_without_a_model_says_what_to_do(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "data",
            "prepare",
            "--source",
            "builtin",
            "--builtin-size",
            "60",
            "--general-share",
            "0.05",
            "--out",
            str(tmp_path / "d"),
        ],
    )
    assert result.exit_code == 2
    assert "--general-model" in result.output and "builtin" in result.output
    unused = CliRunner().invoke(
        app,
        [
            "data",
            "prepare",
            "--source",
            "builtin",
            "--general-model",
            "smollm2",
            "--out",
            str(tmp_path / "d"),
        ],
    )
    assert unused.exit_code == 2 and "--general-share" in unused.output
    assert not (tmp_path / "d").exists(), "nothing is written for a command that cannot run"


# -- bad lines in a local source ----------------------------------------------------------------


def test_bad_lines_are_dropped_with_file_line_and_reason_and_the_rest_is_prepared(tmp_path):
    # A truncated line used to stop the whole file ("Expected object or value at position 38",
    # no line number) and a `null` line gave a pyarrow error: each is one dropped row now.
    good = [row(i, f"Weather in town {i}?", call(city=f"t{i}")) for i in range(4)]
    lines = [json.dumps(good[0]), json.dumps(good[1])[:38], "null", "", json.dumps(good[2])]
    lines += ["[1, 2]", json.dumps(good[3])]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(lines) + "\n")
    prepared = prepare(str(path), negatives=0.0, suites=[])
    assert sorted(s.id for s in prepared.train + prepared.val) == ["mine_0", "mine_2", "mine_3"]
    drops = {d.where: d for d in prepared.drops}
    assert set(drops) == {f"{path}:2", f"{path}:3", f"{path}:6"}
    assert all(d.layer == "format" for d in drops.values())
    assert drops[f"{path}:2"].reason.startswith("not JSON")
    assert "null" in drops[f"{path}:3"].reason and "list" in drops[f"{path}:6"].reason
    report = prepared.report()  # the blank line is no row
    assert (report["read"], report["kept"], report["unreadable"]) == (6, 3, 3)
    out = tmp_path / "out"
    write_prepared(prepared, out, "json")
    written = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert {w["where"] for w in written} == set(drops)
    assert all(w["reason"] for w in written)


def test_cli_prepare_keeps_going_past_bad_lines_and_says_where_they_are(tmp_path):
    path = tmp_path / "mine.jsonl"
    good = [row(i, f"Weather in town {i}?", call(city=f"t{i}")) for i in range(3)]
    path.write_text("\n".join([json.dumps(good[0]), "null", json.dumps(good[1])[:38]]) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["data", "prepare", "--source", str(path), "--out", str(out), "--negatives", "0"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "train.jsonl").is_file()
    assert "2 bad lines" in result.output and f"{path}:2" in result.output


def test_an_absurdly_long_row_is_dropped_as_too_long(tmp_path):
    from redline.training.data import MAX_ROW_CHARS

    rows = [
        row(0, "Weather in Oslo?", call(city="Oslo")),
        row(1, "Weather " + "x" * 2_000_000 + "?", call(city="Lima")),  # a 2 MB query
        row(2, "Weather in Rome?", call(city="R" * (MAX_ROW_CHARS + 1))),
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    prepared = prepare(str(path), negatives=0.0, suites=[])
    assert [s.id for s in prepared.train + prepared.val] == ["mine_0"]
    reasons = {d.id: d.reason for d in prepared.drops}
    assert set(reasons) == {"mine_1", "mine_2"}
    assert all(r.startswith("too_long: ") and f"{MAX_ROW_CHARS:,}" in r for r in reasons.values())
    assert prepared.report()["drop_reasons"]["format"] == {"too_long": 2}


def test_a_json_array_file_names_the_item_and_a_broken_one_its_line(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps([row(0, "Weather in Oslo?", call(city="Oslo")), None]))
    prepared = prepare(str(path), negatives=0.0, suites=[])
    assert [s.id for s in prepared.train + prepared.val] == ["mine_0"]
    assert [d.where for d in prepared.drops] == [f"{path}: item 1"]
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"query": "a",\n  "tools": [}\n]')
    with pytest.raises(DataError, match=r"broken\.json: not JSON.*line 3"):
        prepare(str(broken), negatives=0.0, suites=[])


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--limit", "0"),
        ("--limit", "-3"),
        ("--builtin-size", "0"),
        ("--negatives", "-0.1"),
        ("--negatives", "nan"),
        ("--general-share", "nan"),
        ("--general-share", "-1"),
        ("--general-max-new-tokens", "0"),
    ],
)
def test_cli_prepare_refuses_numbers_out_of_range(tmp_path, option, value):
    out = tmp_path / "out"
    args = ["data", "prepare", "--source", "builtin", "--out", str(out), option, value]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert option in result.output and not out.exists()
