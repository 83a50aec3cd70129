"""The property battery: every redline reward passes it, it catches deliberately bad rewards
(naming the property), and `redline fuzz-reward` exits 0 or 1 accordingly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redline.rewards import REWARDS, make_composite
from redline.rewards.testing import (
    CORRUPTIONS,
    MEANING_CORRUPTIONS,
    PROPERTIES,
    SEES_SHARE,
    check_reward,
    margins,
)
from tests import bad_rewards

EXAMPLES = 25


@pytest.mark.parametrize("name", list(REWARDS))
def test_every_redline_reward_passes_the_battery(name):
    assert check_reward(REWARDS[name], examples=EXAMPLES) == []


@pytest.mark.parametrize(
    ("fn", "prop"),
    [
        (bad_rewards.substring, "think_earns_nothing"),
        (bad_rewards.count_calls, "more_calls_never_help"),
        (bad_rewards.raises, "no_exception"),
    ],
)
def test_the_battery_catches_bad_rewards(fn, prop):
    violations = check_reward(fn, examples=EXAMPLES)
    assert prop in {v.prop for v in violations}
    found = next(v for v in violations if v.prop == prop)
    assert found.message
    if prop != "no_exception":
        assert found.example["completions"], "the minimal example is reported"


def _composite(prompts, completions, **columns):
    return REWARDS["composite"](prompts=prompts, completions=completions, **columns)


def test_bounds_are_checked():
    # A constant reward would also fail perfect_beats_corruption (it sees no mistake): this one
    # sees them, one point too high.
    def too_big(prompts, completions, **columns):
        return [r + 1.0 for r in _composite(prompts, completions, **columns)]

    assert [v.prop for v in check_reward(too_big, examples=10, reward_range=(0, 1))] == ["bounded"]


def test_linear_time_catches_quadratic_work():
    def quadratic(prompts, completions, **columns):
        out = []
        for text in completions:
            n = len(text) // 60
            out.append(float(sum(1 for _ in range(n) for _ in range(n)) >= 0))
        return out

    props = {v.prop for v in check_reward(quadratic, examples=5, time_limit=0.05)}
    assert "linear_time" in props


@pytest.mark.parametrize(
    ("fn", "said"),
    [
        (bad_rewards.first_row_only, "alone"),
        (bad_rewards.one_reward, "1 reward(s) for"),
    ],
)
def test_the_battery_checks_rewards_on_mixed_batches(fn, said):
    # TRL hands a reward a batch of completions of several prompts, a row each: a reward right
    # for one completion can still misread a batch.
    violations = check_reward(fn, examples=EXAMPLES)
    found = next((v for v in violations if v.prop == "batch_consistent"), None)
    assert found is not None, violations
    assert said in found.message
    batch = found.example["batch"]
    assert len(batch) >= 2 and all({"tools", "answers", "completion"} <= set(b) for b in batch)


def test_the_battery_takes_any_sequence_of_rewards():
    # TRL iterates what a reward returns: a tuple or a numpy array of numbers is as good as a
    # list, and numpy's floats are numbers.
    import numpy as np

    def as_array(prompts, completions, **columns):
        return np.array(_composite(prompts, completions, **columns), dtype=np.float32)

    def as_tuple(prompts, completions, **columns):
        return tuple(np.float64(r) for r in _composite(prompts, completions, **columns))

    assert check_reward(as_array, examples=10) == []
    assert check_reward(as_tuple, examples=10) == []


def test_the_battery_reports_each_property_as_it_ends():
    seen = []
    violations = check_reward(
        bad_rewards.raises, examples=5, progress=lambda *args: seen.append(args)
    )
    assert [prop for prop, _, _ in seen] == list(PROPERTIES)
    assert [found for _, found, _ in seen if found] == violations
    assert all(seconds >= 0 for _, _, seconds in seen)


def test_the_battery_awaits_async_rewards():
    # TRL (1.x) also takes async reward functions and awaits them; so does the battery.
    async def composite(prompts, completions, **columns):
        return REWARDS["composite"](prompts=prompts, completions=completions, **columns)

    async def raises(prompts, completions, **columns):
        raise RuntimeError("judge unreachable")

    assert check_reward(composite, examples=10) == []
    found = {v.prop: v.message for v in check_reward(raises, examples=5)}
    assert "RuntimeError: judge unreachable" in found["no_exception"]


def run_cli(*args):
    root = Path(__file__).resolve().parent.parent
    script = Path(sys.executable).parent / "redline"
    return subprocess.run(
        [str(script), "fuzz-reward", *args], capture_output=True, text=True, cwd=root
    )


def test_cli_passes_the_default_composite():
    result = run_cli("redline.rewards:composite", "--examples", "15")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all properties hold" in result.stdout
    for prop in PROPERTIES:  # each one said as it ends, long shrinks being slow
        assert re.search(rf"ok\s+{prop}\s+[0-9.]+ s", result.stdout), prop


@pytest.mark.parametrize(
    ("target", "prop"),
    [
        ("tests.bad_rewards:substring", "think_earns_nothing"),
        ("tests.bad_rewards:count_calls", "more_calls_never_help"),
        ("tests.bad_rewards:raises", "no_exception"),
    ],
)
def test_cli_fails_bad_rewards_naming_the_property(target, prop):
    result = run_cli(target, "--examples", "15")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"VIOLATED {prop}" in result.stdout


def test_cli_reports_a_bad_target():
    result = run_cli("tests.bad_rewards:missing")
    assert result.returncode == 2 and "cannot load tests.bad_rewards:missing" in result.stderr


def test_cli_loads_a_reward_from_a_file_path(tmp_path):
    # Reward authors keep rewards in a script beside their training code, not in a package.
    source = Path(bad_rewards.__file__).read_text(encoding="utf-8")
    (tmp_path / "my rewards.py").write_text(source, encoding="utf-8")
    result = run_cli(f"{tmp_path / 'my rewards.py'}:raises", "--examples", "5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VIOLATED no_exception" in result.stdout


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("def reward(:\n", "SyntaxError"),
        ("raise RuntimeError('no GPU here')\n", "RuntimeError: no GPU here"),
    ],
)
def test_cli_says_why_a_reward_module_cannot_be_loaded(tmp_path, source, said):
    # A module that fails to import is a bad target (exit 2), never a violation (exit 1).
    path = tmp_path / "broken.py"
    path.write_text(source, encoding="utf-8")
    for target in (f"{path}:reward", "broken:reward"):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "redline"), "fuzz-reward", target],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"cannot load {target}" in result.stderr and said in result.stderr
        assert "Traceback" not in result.stderr
        assert "broken.py" in result.stderr  # where the problem is


def test_cli_reports_a_missing_file():
    result = run_cli("no/such/rewards.py:reward")
    assert result.returncode == 2
    assert "cannot load no/such/rewards.py:reward" in result.stderr
    assert "no such file" in result.stderr


def test_a_nan_reward_is_reported_once_as_unbounded():
    # NaN != NaN, but a reward that always gives NaN is deterministic and batch-consistent:
    # `bounded` is broken, and a NaN never scores a mistake below the perfect call.
    def nan(prompts, completions, **columns):
        return [float("nan") for _ in completions]

    found = check_reward(nan, examples=10)
    assert [v.prop for v in found] == ["bounded", "perfect_beats_corruption"]
    assert "0 of" in found[1].message


def test_cli_checks_the_range_given(tmp_path):
    # A user's function carries no reward_range: --range says what `bounded` holds it to.
    (tmp_path / "wide.py").write_text(
        "def reward(prompts, completions, **columns):\n    return [2.0 for _ in completions]\n"
    )
    target = f"{tmp_path / 'wide.py'}:reward"
    result = run_cli(target, "--examples", "5", "--range", "0", "1", "--only", "bounded")
    assert result.returncode == 1 and "VIOLATED bounded" in result.stdout, result.stdout
    assert "outside [0.0, 1.0]" in result.stdout
    fits = run_cli(target, "--examples", "5", "--range", "0", "2", "--only", "bounded")
    assert fits.returncode == 0, fits.stdout
    bad = run_cli(target, "--range", "1", "0")
    assert bad.returncode == 2 and "--range" in bad.stderr


def test_a_100_kb_completion_must_score_in_milliseconds_by_default():
    # The bound: a 100 KB completion is scored in milliseconds. A reward that spends
    # 0.3 s on any long completion is linear but too slow for a training step.
    def slow_on_long(prompts, completions, **columns):
        if any(len(text) > 5_000 for text in completions):
            time.sleep(0.3)
        return _composite(prompts, completions, **columns)

    timed = ["linear_time"]
    found = {v.prop: v.message for v in check_reward(slow_on_long, properties=timed)}
    assert "linear_time" in found and "limit 0.1 s" in found["linear_time"]
    assert check_reward(slow_on_long, time_limit=1.0, properties=timed) == []


def test_linear_time_times_scoring_not_a_cache_lookup():
    # A reward that caches by text must be timed on texts it has not seen.
    seen = set()

    def cached_and_slow(prompts, completions, **columns):
        for text in completions:
            if len(text) > 5_000 and text not in seen:
                time.sleep(0.3)
                seen.add(text)
        return [0.0 for _ in completions]

    assert "linear_time" in {v.prop for v in check_reward(cached_and_slow, examples=5)}


def test_the_battery_can_hand_over_completions_as_conversations():
    # With a chat template TRL passes each completion as a list of messages; a reward written
    # for text only breaks there, and --conversational finds it.
    def text_only(prompts, completions, **columns):
        return [1.0 if text.lstrip().startswith(("{", "[", "<")) else 0.0 for text in completions]

    assert "no_exception" not in {v.prop for v in check_reward(text_only, examples=5)}
    found = {v.prop: v.message for v in check_reward(text_only, examples=5, conversational=True)}
    assert "AttributeError" in found["no_exception"]
    assert check_reward(REWARDS["composite"], examples=10, conversational=True) == []
    result = run_cli("redline.rewards:semantic_f1", "--examples", "5", "--conversational")
    assert result.returncode == 0, result.stdout + result.stderr


def _their_composite(prompts, completions, functions, solution, **columns):
    """A user's reward reading its own columns, as objects: redline's composite underneath."""
    return REWARDS["composite"](
        prompts=prompts,
        completions=completions,
        tools=[json.dumps(f) for f in functions],
        answers=[json.dumps(s) for s in solution],
    )


def _their_substring(prompts, completions, solution, **columns):
    """A gameable reward reading its own answer column (objects): a name in the text is enough."""
    return [
        1.0 if all(call["name"] in text for call in answer) else 0.0
        for text, answer in zip(completions, solution, strict=True)
    ]


def test_the_battery_hands_ground_truth_over_under_the_rewards_own_column_names():
    # A user's reward reads its dataset's columns, not redline's `tools` and `answers`.
    renamed = {"tools": "functions", "answers": "solution"}
    found = {v.prop: v.message for v in check_reward(_their_composite, examples=5)}
    assert "KeyError" in found["no_exception"] or "TypeError" in found["no_exception"]
    assert check_reward(_their_composite, examples=10, columns=renamed, objects=True) == []
    # Violations still show up, their examples under the reward's own column names.
    violations = check_reward(_their_substring, examples=10, columns=renamed, objects=True)
    think = next(v for v in violations if v.prop == "think_earns_nothing")
    assert "solution" in think.example and "answers" not in think.example
    assert isinstance(think.example["solution"], list)
    batch = check_reward(bad_rewards.first_row_only, examples=10, properties=["batch_consistent"])
    assert all("answers" in row for row in batch[0].example["batch"])


def test_the_battery_refuses_unknown_column_and_property_names():
    with pytest.raises(ValueError, match="'answer'.*tools, answers"):
        check_reward(_their_composite, columns={"answer": "solution"})
    with pytest.raises(ValueError, match="completions"):
        check_reward(_their_composite, columns={"answers": "completions"})
    with pytest.raises(ValueError, match="'bounds'.*bounded"):
        check_reward(_their_composite, properties=["bounds"])


def test_the_battery_runs_only_the_properties_asked_for():
    seen = []
    violations = check_reward(
        bad_rewards.substring,
        examples=10,
        properties=["bounded", "think_earns_nothing"],
        progress=lambda prop, *_: seen.append(prop),
    )
    assert seen == ["bounded", "think_earns_nothing"]
    assert [v.prop for v in violations] == ["think_earns_nothing"]


def test_cli_renames_columns_and_picks_properties(tmp_path):
    (tmp_path / "theirs.py").write_text(
        "import json\n"
        "from redline.rewards import REWARDS\n\n"
        "def reward(prompts, completions, functions, solution, **columns):\n"
        "    return REWARDS['composite'](prompts=prompts, completions=completions,\n"
        "        tools=[json.dumps(f) for f in functions],\n"
        "        answers=[json.dumps(s) for s in solution])\n",
        encoding="utf-8",
    )
    target = f"{tmp_path / 'theirs.py'}:reward"
    plain = run_cli(target, "--examples", "5", "--only", "no_exception")
    assert plain.returncode == 1 and "VIOLATED no_exception" in plain.stdout, plain.stdout
    args = ["--column", "tools=functions", "--column", "answers=solution", "--objects"]
    result = run_cli(target, "--examples", "5", *args, "--skip", "linear_time")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"ok\s+batch_consistent", result.stdout)
    assert f"the properties run hold (1 of {len(PROPERTIES)} left out)" in result.stdout
    assert "linear_time" in result.stdout and not re.search(r"ok\s+linear_time", result.stdout)
    for bad, said in (
        (["--column", "answers"], "--column"),
        (["--column", "answer=solution"], "--column"),
        (["--column", "tools=answers"], "--column"),
        (["--column", "answers=completions"], "--column"),
        (["--only", "bounds"], "--only"),
        (["--skip", "bounded", "--only", "bounded"], "--only"),
    ):
        refused = run_cli(target, *bad)
        assert refused.returncode == 2, (bad, refused.stdout, refused.stderr)
        assert said in refused.stderr, (bad, refused.stderr)


# --- margins: what each corruption scores against the perfect completion -----------------------


def _by_corruption(fn, **kwargs):
    return {m.corruption: m for m in margins(fn, **kwargs)}


def test_margins_show_what_a_reward_cannot_tell_apart():
    rows = _by_corruption(REWARDS["parse"], examples=30)
    assert list(rows) == list(CORRUPTIONS)
    # parse asks only whether the calls parse: a wrong value parses as well as the right one.
    wrong = rows["wrong_value"]
    assert wrong.scored > 0 and wrong.ties == wrong.scored and wrong.mean_drop == 0
    assert rows["truncate"].below > 0 and rows["truncate"].mean_drop > 0
    composite = _by_corruption(REWARDS["composite"], examples=30)
    renamed = composite["rename_function"]
    assert renamed.scored > 0 and renamed.below == renamed.scored
    assert renamed.perfect_mean == 1.0 and 0 < renamed.mean_drop <= 1


def test_margins_count_a_corruption_that_scores_above_the_perfect_completion():
    duplicated = _by_corruption(bad_rewards.count_calls, examples=20)["duplicate_call"]
    assert duplicated.scored > 0 and duplicated.above == duplicated.scored


def test_margins_leave_out_what_raised_or_was_not_scored_and_count_it():
    for row in margins(bad_rewards.raises, examples=10):
        assert row.cases > 0 and row.raised == row.cases and row.scored == 0
        assert row.perfect_mean is None and row.mean_drop is None

    def nothing(prompts, completions, **columns):
        return [None for _ in completions]

    for row in margins(nothing, examples=10):
        assert row.cases > 0 and row.unscored == row.cases and row.scored == 0


def test_margins_are_the_same_every_run_and_honour_the_formats_given():
    one = margins(REWARDS["semantic_f1"], examples=15, formats=["hermes"])
    assert one == margins(REWARDS["semantic_f1"], examples=15, formats=["hermes"])
    seen = []

    def spy(prompts, completions, **columns):
        seen.extend(completions)
        return [0.0 for _ in completions]

    margins(spy, examples=5, formats=["hermes"])
    calls = [t for t in seen if "<think>" not in t and t.strip()]
    assert calls and all("<tool_call>" in t for t in calls if "{" in t)


def test_cli_prints_the_margins_table():
    done = run_cli("redline.rewards:parse", "--examples", "10", "--only", "bounded", "--margins")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    header = next(words for words in lines if words[:1] == ["corruption"])
    rows = {w[0]: dict(zip(header, w, strict=True)) for w in lines if w[:1] and w[0] in CORRUPTIONS}
    assert list(rows) == list(CORRUPTIONS), done.stdout
    # parse cannot tell a wrong value from the right one: every scored case is a tie.
    assert rows["wrong_value"]["ties"] == "100%" and int(rows["wrong_value"]["scored"]) > 0
    assert rows["truncate"]["below"] != "0%"


def test_margins_hand_completions_and_columns_over_as_the_battery_does():
    def own_columns(prompts, completions, solution, **columns):
        # Reads its own column, decoded, and TRL's conversational completions.
        assert all(isinstance(s, list) for s in solution)
        assert all(c[0]["role"] == "assistant" for c in completions)
        return [float(len(s)) for s in solution]

    handed = margins(
        own_columns,
        examples=5,
        conversational=True,
        columns={"answers": "solution"},
        objects=True,
    )
    assert sum(m.cases for m in handed) > 0
    assert all(m.scored == m.cases for m in handed)
    plain = margins(own_columns, examples=5)
    assert sum(m.cases for m in plain) > 0 and all(m.raised == m.cases for m in plain)


# --- checks that cannot pass vacuously ---------------------------------------------------------


def _statuses(violations):
    return {v.prop: v.status for v in violations}


def test_a_property_that_ran_no_example_to_completion_is_not_tested():
    # A reward that raises on every call used to pass every property but no_exception: each
    # skipped the examples it could not score and said "ok".
    found = _statuses(check_reward(bad_rewards.raises, examples=5))
    assert found.pop("no_exception") == "violated"
    assert found == {p: "not tested" for p in PROPERTIES if p != "no_exception"}
    seen = check_reward(bad_rewards.raises, examples=5, properties=["bounded"])
    assert [(v.prop, v.status) for v in seen] == [("bounded", "not tested")]
    assert "raised" in seen[0].message


def test_a_reward_that_is_none_for_every_completion_fails():
    found = check_reward(bad_rewards.nothing, examples=5)
    by_prop = {v.prop: v for v in found}
    assert by_prop["not_always_none"].status == "violated"
    assert "None for every" in by_prop["not_always_none"].message
    untested = {p for p, s in _statuses(found).items() if s == "not tested"}
    assert untested == set(PROPERTIES) - {"no_exception", "not_always_none"}


@pytest.mark.parametrize("fn", [bad_rewards.substring, bad_rewards.mentions_name])
def test_a_reward_blind_to_what_the_answer_means_fails_perfect_beats_corruption(fn):
    # Both passed perfect_beats_corruption while --margins showed 100% ties for wrong_value and
    # rename_function: no corruption scored above the perfect call, and none below it either.
    found = {v.prop: v for v in check_reward(fn, examples=EXAMPLES)}
    blind = found["perfect_beats_corruption"]
    assert blind.status == "violated"
    assert "wrong_value" in blind.message and "rename_function" in blind.message
    assert f"{SEES_SHARE:.0%}" in blind.message
    shown = blind.example
    assert shown["corruption"] in MEANING_CORRUPTIONS and len(shown["completions"]) == 2


def test_meaning_corruptions_must_score_below_in_most_cases_not_all():
    # "Most": SEES_SHARE of the scored cases. A reward that misses a corruption one time in twenty
    # still sees it; one that misses it every other time does not. (One in ten was flaky: with 20
    # cases a corruption, 6 misses or more come up about one run in 80.)
    def sometimes(share):
        seen = {}

        def reward(prompts, completions, **columns):
            out = REWARDS["composite"](prompts=prompts, completions=completions, **columns)
            # Every n-th distinct completion is scored as if perfect.
            for i, text in enumerate(completions):
                key = seen.setdefault(text, len(seen))
                if key % share == 0 and out[i] is not None:
                    out[i] = 1.0
            return out

        return reward

    assert 0.5 < SEES_SHARE < 1
    held = check_reward(sometimes(20), examples=EXAMPLES, properties=["perfect_beats_corruption"])
    assert held == []
    broken = check_reward(sometimes(2), examples=EXAMPLES, properties=["perfect_beats_corruption"])
    assert [v.status for v in broken] == ["violated"]


def test_a_reward_declares_what_it_does_not_look_at():
    # parse by design ties a wrong value: it says so, and is not held to what it does not claim.
    assert set(REWARDS["parse"].blind_to) == set(MEANING_CORRUPTIONS)
    assert set(REWARDS["exec"].blind_to) == {"wrong_value"}
    assert REWARDS["composite"].blind_to == {}
    assert REWARDS["semantic_f1"].blind_to == {}
    # The same declaration on a user's function, or given to check_reward.
    blind = dict.fromkeys(MEANING_CORRUPTIONS, "looks for the substring only")
    fn = bad_rewards.mentions_name
    assert "perfect_beats_corruption" not in _statuses(
        check_reward(fn, examples=EXAMPLES, blind_to=blind)
    )
    with pytest.raises(ValueError, match="'swap_order'.*wrong_value"):
        check_reward(fn, blind_to={"swap_order": "order-free"})
    # A composite sees what any part of it sees.
    parts = make_composite([{"name": "parse", "weight": 1}, {"name": "exec", "weight": 1}])
    assert set(parts.blind_to) == {"wrong_value"}


def test_a_conversational_reward_run_on_text_is_told_to_use_the_flag():
    found = {v.prop: v for v in check_reward(bad_rewards.messages_only, examples=5)}
    assert "--conversational" in found["no_exception"].message
    assert check_reward(bad_rewards.messages_only, examples=10, conversational=True) == []
    result = run_cli("tests.bad_rewards:messages_only", "--examples", "5")
    assert result.returncode == 1 and "--conversational" in result.stdout, result.stdout
    # A reward that raises whatever it is given is not told to use the flag.
    (crash,) = check_reward(bad_rewards.raises, examples=5, properties=["no_exception"])
    assert "ZeroDivisionError" in crash.message and "--conversational" not in crash.message


def test_violations_under_conversational_show_the_message_lists_handed_over():
    def counts_names(prompts, completions, **columns):
        # More calls, more reward: more_calls_never_help is broken, whichever way it is handed.
        return [float(c[-1]["content"].count("name")) for c in completions]

    found = check_reward(
        counts_names, examples=EXAMPLES, conversational=True, properties=["more_calls_never_help"]
    )
    shown = found[0].example
    assert all(
        isinstance(c, list) and c[0]["role"] == "assistant" and isinstance(c[0]["content"], str)
        for c in shown["completions"]
    )
    assert shown["prompts"] == [[{"role": "user", "content": "(prompt)"}]]


def test_cli_reports_not_tested_and_exits_1():
    result = run_cli("tests.bad_rewards:nothing", "--examples", "5")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"not tested\s+bounded", result.stdout)
    assert "VIOLATED not_always_none" in result.stdout
    only = run_cli("tests.bad_rewards:raises", "--examples", "5", "--only", "bounded")
    assert only.returncode == 1, only.stdout
    assert "NOT TESTED bounded" in only.stdout and "ok" not in only.stdout.split()


def test_cli_says_what_a_shipped_reward_declares_it_does_not_look_at():
    result = run_cli(
        "redline.rewards:parse", "--examples", "10", "--only", "perfect_beats_corruption"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "does not look at" in result.stdout and "wrong_value" in result.stdout
    bad = run_cli("tests.bad_rewards:mentions_name", "--examples", "10", "--margins")
    assert bad.returncode == 1 and "VIOLATED perfect_beats_corruption" in bad.stdout


def test_drop_required_leaves_out_only_what_the_answer_needs():
    # The answer form (BFCL's) reads an expected "" as "may be left out": dropping such a
    # parameter changes nothing the answer means, and made semantic_f1 tie one case in five,
    # failing the 75% share at 60 examples (27 of 38 below) though it sees the mistake.
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from redline.parsing import parse
    from redline.rewards.testing import cases

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(st.data())
    def dropped(data):
        case = data.draw(cases())
        text = CORRUPTIONS["drop_required"](data.draw, case)
        if text is None:
            return
        calls = parse(text, case.fmt).calls
        for given_call, kept in zip(case.calls, calls, strict=True):
            for name in set(given_call.arguments) - set(kept.arguments):
                assert given_call.arguments[name] != "", (name, text)

    dropped()
    held = check_reward(
        REWARDS["semantic_f1"], examples=60, properties=["perfect_beats_corruption"]
    )
    assert held == []
