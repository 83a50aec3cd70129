"""BFCL multi-turn environments and execution: hostile names and arguments never run code, every
ground-truth call of the four categories gives the same result strings and final state as BFCL's
own executor (run in a subprocess, since it evaluates strings), and environments share nothing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from redline.harness.environments import (
    BLOCKED_NAMES,
    BFCLEnvironmentError,
    Environment,
    Refusal,
    is_long_context,
    python_calls,
    result_text,
)
from redline.records import ToolCall
from redline.suites.bfcl_data import bfcl_data_dir
from tests.bfcl_exec_reference import snapshot

CATEGORIES = ("base", "miss_func", "miss_param", "long_context")
REFERENCE = Path(__file__).with_name("bfcl_exec_reference.py")
HOSTILE = "__import__('os').system('touch X')"


def _entries(category: str) -> list[tuple[dict, list[list[str]]]]:
    data = bfcl_data_dir()
    questions = {}
    with open(data / f"BFCL_v4_multi_turn_{category}.json") as fh:
        for line in fh:
            entry = json.loads(line)
            questions[entry["id"]] = entry
    out = []
    with open(data / "possible_answer" / f"BFCL_v4_multi_turn_{category}.json") as fh:
        for line in fh:
            answer = json.loads(line)
            out.append((questions[answer["id"]], answer["ground_truth"]))
    return out


def _state(env: Environment) -> dict:
    """Final public state per instance, in the JSON form the reference script writes."""
    return json.loads(json.dumps({name: snapshot(i) for name, i in env.instances.items()}))


def _drop_positional(text: str) -> str:
    """A call string as BFCL's prompting decoder passes it on: positional arguments gone."""
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call)
    if not node.args:
        return text
    node.args = []
    return ast.unparse(node)


def _fs_env() -> Environment:
    config = {"GorillaFileSystem": {"root": {"alice": {"type": "directory", "contents": {}}}}}
    return Environment(["GorillaFileSystem", "MathAPI"], config)


# --- hostile names and arguments --------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_code_as_a_function_name_is_refused_and_never_runs(in_tmp):
    env = _fs_env()
    for name in (HOSTILE, "os.system('touch X')", "ls; import os", "ls()", ""):
        done = env.execute(ToolCall(name=name, arguments={"command": "touch X"}))
        assert done.refused is Refusal.invalid_name, name
        assert done.result == f"Error during execution: invalid function name {name!r}"
    assert not (in_tmp / "X").exists()
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["__class__", "__init__", "__import__", "_load_scenario", "_private", "eval", "print"]
)
def test_dunder_private_and_builtin_names_are_unknown_functions(name, in_tmp):
    done = _fs_env().execute(ToolCall(name=name, arguments={}))
    assert done.refused is Refusal.unknown_function
    # What BFCL's eval says for a name it does not prefix with an instance.
    assert done.result == f"Error during execution: name {name!r} is not defined"


def test_a_method_of_a_class_that_is_not_involved_is_unknown(in_tmp):
    env = _fs_env()
    done = env.execute(ToolCall(name="post_tweet", arguments={"content": "hi"}))
    assert done.refused is Refusal.unknown_function
    assert done.result == "Error during execution: name 'post_tweet' is not defined"
    assert "post_tweet" not in env.function_names and "ls" in env.function_names


@pytest.mark.parametrize("name", sorted(BLOCKED_NAMES))
def test_blocked_names_get_bfcls_refusal(name, in_tmp):
    env = _fs_env()
    for called in (name, f"os.{name}"):
        done = env.execute(ToolCall(name=called, arguments={"path": "X"}))
        assert done.refused is Refusal.blocked
        assert done.result == f"Error during execution: Function call {name} is not allowed."
    assert BLOCKED_NAMES == {"kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run"}


def test_dotted_names_fail_on_their_head_like_bfcl(in_tmp):
    env = _fs_env()
    for name in ("os.getcwd", "GorillaFileSystem.ls", "a.b.ls"):
        done = env.execute(ToolCall(name=name, arguments={}))
        assert done.refused is Refusal.unknown_function
        head = name.split(".")[0]
        assert done.result == f"Error during execution: name {head!r} is not defined"


def test_code_in_arguments_is_data(in_tmp):
    env = _fs_env()
    env.execute(ToolCall(name="cd", arguments={"folder": "alice"}))
    done = env.execute(ToolCall(name="touch", arguments={"file_name": HOSTILE}))
    assert done.refused is None and done.result == "None"
    echo = env.execute(ToolCall(name="echo", arguments={"content": HOSTILE, "file_name": HOSTILE}))
    assert echo.result == "None"
    cat = env.execute(ToolCall(name="cat", arguments={"file_name": HOSTILE}))
    assert json.loads(cat.result) == {"file_content": HOSTILE}
    bad_key = env.execute(ToolCall(name="ls", arguments={HOSTILE: 1}))
    assert bad_key.refused is None
    assert bad_key.result.startswith("Error during execution: ")
    assert "unexpected keyword argument" in bad_key.result
    assert not (in_tmp / "X").exists()


def test_positional_arguments_bind_or_drop():
    env = _fs_env()
    bound = python_calls("cd('alice')", env, positional="bind")
    assert bound == [ToolCall(name="cd", arguments={"folder": "alice"})]
    dropped = python_calls("[cd('alice'), mean([1, 2])]", env)  # BFCL's decoder, the default
    assert dropped == [ToolCall(name="cd", arguments={}), ToolCall(name="mean", arguments={})]
    # BFCL's prompting decoder drops them, so the call then fails for the missing argument.
    assert env.execute(dropped[0]).result.startswith("Error during execution: ")
    with pytest.raises(ValueError, match="positional arguments of"):
        python_calls("post_tweet('hi')", env, positional="bind")
    with pytest.raises(ValueError, match="too many"):
        python_calls("cd('a', 'b')", env, positional="bind")
    with pytest.raises(ValueError, match="not a python list of calls"):
        python_calls("cd(folder='a'", env)
    with pytest.raises(ValueError, match="not a python list of calls"):
        python_calls("[" * 10_000, env)
    with pytest.raises(ValueError, match="'bind' or 'drop'"):
        python_calls("cd('a')", env, positional="keep")


def test_result_text_follows_bfcls_types():
    assert result_text("a") == "a"
    assert result_text({"a": [1, "é"]}) == '{"a": [1, "\\u00e9"]}'
    assert result_text({"a": object()}).startswith("{'a': <object")
    assert result_text(None) == "None" and result_text([1, "x"]) == "[1, 'x']"
    assert result_text(1.5) == "1.5"


class FirstAPI:
    def _load_scenario(self, scenario, long_context=False):
        self.loaded = scenario

    def shared(self):
        return "first"

    def only_first(self):
        return ["first"]


class SecondAPI(FirstAPI):
    def shared(self):
        return "second"


def test_a_name_on_two_classes_goes_to_the_later_one(monkeypatch):
    # No two multi-turn classes share a method name; BFCL's mapping lets the later class win.
    import redline.harness.environments as environments

    here = {"FirstAPI": __name__, "SecondAPI": __name__}
    monkeypatch.setattr(environments, "_backend_config", lambda: (here, frozenset()))
    for order, expected in (
        (["FirstAPI", "SecondAPI"], "second"),
        (["SecondAPI", "FirstAPI"], "first"),
    ):
        env = Environment(order, {"FirstAPI": {"a": 1}})
        assert env.execute(ToolCall(name="shared")).result == expected
        assert env.instances["FirstAPI"].loaded == {"a": 1}
        assert env.instances["SecondAPI"].loaded == {}


def test_state_is_the_public_attributes_bfcl_compares():
    env = Environment(["TwitterAPI", "MathAPI"], {"TwitterAPI": {"username": "ann"}})
    state = env.state()
    assert set(state) == {"TwitterAPI", "MathAPI"}
    assert set(state["TwitterAPI"]) == {
        "username",
        "password",
        "authenticated",
        "tweets",
        "comments",
        "retweets",
        "following_list",
        "tweet_counter",
    }
    assert state["TwitterAPI"]["username"] == "ann" and state["MathAPI"] == {}


def test_unknown_class_is_a_clear_error():
    with pytest.raises(BFCLEnvironmentError, match="unknown BFCL class 'NoSuchAPI'"):
        Environment(["NoSuchAPI"])


def test_long_context_follows_the_category_in_the_id():
    assert is_long_context("multi_turn_long_context_12")
    assert not is_long_context("multi_turn_base_12")
    entry, _ = _entries("long_context")[0]
    env = Environment.for_entry(entry)
    assert all(getattr(i, "long_context", True) for i in env.instances.values())


# --- freshness --------------------------------------------------------------------------------


def test_two_environments_of_one_entry_share_nothing():
    changed = 0
    for entry, truth in _entries("base"):
        config_before = json.dumps(entry["initial_config"], sort_keys=True)
        first, second = Environment.for_entry(entry), Environment.for_entry(entry)
        before = _state(second)
        for turn in truth:
            for text in turn:
                first.execute_all(python_calls(text, first, positional="bind"))
        changed += _state(first) != before
        assert _state(second) == before, entry["id"]
        assert _state(Environment.for_entry(entry)) == before, entry["id"]
        assert json.dumps(entry["initial_config"], sort_keys=True) == config_before, entry["id"]
        for name in first.instances:
            assert first.instances[name] is not second.instances[name]
    assert changed > 150  # the ground truth mutates most entries' state, so the check has teeth


def test_running_every_entry_leaves_no_trace_in_the_modules():
    # Module-level data (defaults, long-context padding) must not carry one entry's calls into
    # the next: fresh environments look the same before and after every ground truth has run.
    entries = [pair for category in CATEGORIES for pair in _entries(category)]
    before = [_state(Environment.for_entry(entry)) for entry, _ in entries]
    for entry, truth in entries:
        env = Environment.for_entry(entry)
        for turn in truth:
            for text in turn:
                env.execute_all(python_calls(text, env, positional="bind"))
    after = [_state(Environment.for_entry(entry)) for entry, _ in entries]
    assert [e["id"] for (e, _), b, a in zip(entries, before, after, strict=True) if b != a] == []


def test_seeded_ids_restart_in_every_environment():
    entry = next(e for e, _ in _entries("base") if "TravelAPI" in e["involved_classes"])
    ids = []
    for _ in range(2):
        env = Environment.for_entry(entry)
        card = {"card_number": "1234567812345678", "expiration_date": "12/2030"}
        call = ToolCall(
            name="register_credit_card",
            arguments={
                **card,
                "cardholder_name": "A B",
                "card_verification_number": 123,
                "access_token": "x",
            },
        )
        ids.append(env.execute(call).result)
    assert ids[0] == ids[1]


# --- execution parity with BFCL's executor ------------------------------------------------------

# Calls whose official execution is safe to run (refused before eval, or a NameError): their
# error strings must match BFCL's word for word.
SAFE_HOSTILE = [
    "kill(pid=1)",
    "os.remove(path='x')",
    "exit()",
    "run(command='touch X')",
    "__class__()",
    "_load_scenario(scenario={})",
    "display_car_status(option='fuel')",  # a class the entry does not involve
    "a.ls()",
    "a.b.ls()",
    "ls(no_such_argument=1)",
    "cd(folder='does_not_exist')",
]


def test_every_ground_truth_call_matches_bfcls_executor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload, ours = [], {}
    dropped_entries = 0
    for category in CATEGORIES:
        for entry, truth in _entries(category):
            variants = [(entry["id"], truth, "bind")]
            # The same entry as BFCL's prompting decoder would hand it over: positional arguments
            # dropped. Both executors must then fail (or not) in the same words.
            without = [[_drop_positional(text) for text in turn] for turn in truth]
            if without != truth:
                variants.append((f"{entry['id']}_dropped", without, "drop"))
                dropped_entries += 1
            for run_id, turns, positional in variants:
                env = Environment.for_entry(entry)
                results = [
                    [
                        done.result
                        for text in turn
                        for done in env.execute_all(python_calls(text, env, positional=positional))
                    ]
                    for turn in turns
                ]
                ours[run_id] = (results, _state(env))
                payload.append(
                    {
                        "id": run_id,
                        "turns": turns,
                        "initial_config": entry["initial_config"],
                        "involved_classes": entry["involved_classes"],
                        "long_context": is_long_context(entry["id"]),
                    }
                )
    assert dropped_entries == 4 * 24
    first, _ = _entries("base")[0]
    hostile_env = Environment.for_entry(first)
    ours["hostile"] = (
        [
            [
                hostile_env.execute(c).result
                for t in SAFE_HOSTILE
                for c in python_calls(t, hostile_env)
            ]
        ],
        _state(hostile_env),
    )
    payload.append({**payload[0], "id": "hostile", "turns": [SAFE_HOSTILE]})

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(REFERENCE)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    official = {row["id"]: (row["results"], row["state"]) for row in json.loads(done.stdout)}

    assert len(official) == 800 + dropped_entries + 1
    truth_calls = sum(len(t) for i, (results, _) in ours.items() if "_" in i for t in results)
    assert (
        truth_calls
        - sum(len(t) for i, (results, _) in ours.items() if i.endswith("_dropped") for t in results)
        == 1142 + 1140 + 1140 + 1203
    )
    mismatched_results = [i for i in ours if ours[i][0] != official[i][0]]
    mismatched_state = [i for i in ours if ours[i][1] != official[i][1]]
    assert mismatched_results == [], (
        mismatched_results[:5],
        [(ours[i][0], official[i][0]) for i in mismatched_results[:1]],
    )
    assert mismatched_state == [], mismatched_state[:5]
    # The ground truth never errors; the hostile calls all do, in BFCL's words.
    assert not any(
        r.startswith("Error during execution")
        for i, (results, _) in ours.items()
        if i != "hostile" and not i.endswith("_dropped")
        for turn in results
        for r in turn
    )
    # Dropping positional arguments makes calls fail (missing argument), identically in both.
    dropped_errors = [
        r
        for i, (results, _) in ours.items()
        if i.endswith("_dropped")
        for t in results
        for r in t
        if r.startswith("Error during execution: ")
    ]
    assert len(dropped_errors) >= 4 * 24, len(dropped_errors)
    assert any("missing 1 required positional argument" in r for r in dropped_errors)
    hostile = ours["hostile"][0][0]
    assert [r.startswith("Error during execution: ") for r in hostile] == [True] * 10 + [False]
    assert hostile[-1] == '{"error": "cd: \'does_not_exist\': No such file or directory"}'
    assert not (tmp_path / "X").exists()
