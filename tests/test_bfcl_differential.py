"""Differential test: redline's BFCL checker against the official bfcl-eval checker.

Every entry of the eight Python AST categories is checked as ground truth and as at least five
mutations; verdicts and BFCL's own error strings must agree on every case. A hypothesis fuzz
then swaps in arbitrary values to reach the quirks the fixed mutations miss.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.metrics.bfcl import check
from redline.suites.bfcl_cases import mutations, truth
from redline.suites.bfcl_data import PYTHON_AST_CATEGORIES, load_entries

# Entries where we believe the official verdict is wrong. Each is still scored the official
# way by default; none has been found, so the list is empty and the test keeps it honest.
KNOWN_OFFICIAL_MISTAKES: dict[str, str] = {}


def official_verdict(checker, language, entry, calls, category):
    try:
        result = checker.ast_checker(
            copy.deepcopy(entry["function"]),
            copy.deepcopy(calls),
            copy.deepcopy(entry["ground_truth"]),
            language,
            category,
            "any-model",
        )
    except Exception:  # noqa: BLE001 - the official checker crashes on some malformed input
        return False, "invalid_entry"
    return result["valid"], None if result["valid"] else result["error_type"]


def ours(entry, calls, category):
    verdict = check(entry["function"], calls, entry["ground_truth"], category)
    return verdict.valid, None if verdict.valid else verdict.bfcl_error_type


@pytest.fixture(scope="module")
def entries():
    return [(category, e) for category in PYTHON_AST_CATEGORIES for e in load_entries(category)]


def test_every_entry_and_mutation_agrees(entries, official_checker, python_language):
    per_entry = Counter()
    kinds = Counter()
    disagreements = []
    for category, entry in entries:
        for kind, calls in mutations(entry, entry["function"]):
            per_entry[entry["id"]] += kind != "truth"
            kinds[kind] += 1
            theirs = official_verdict(official_checker, python_language, entry, calls, category)
            if (
                ours(entry, calls, category) != theirs
                and entry["id"] not in KNOWN_OFFICIAL_MISTAKES
            ):
                disagreements.append((entry["id"], kind, theirs))
    cases = sum(kinds.values())
    assert len(entries) >= 2300
    assert cases - kinds["truth"] >= 11000
    assert min(per_entry.values()) >= 5, "every entry gets at least five mutations"
    assert set(kinds) >= {
        "wrong_value",
        "drop_param",
        "extra_param",
        "wrong_type",
        "rename_function",
        "reorder",
        "case_punctuation",
    }
    assert disagreements == [], disagreements[:10]
    print(
        f"\nBFCL differential: {len(entries)} entries, {cases - kinds['truth']} mutations, "
        f"{cases} cases, agreement {100 * (cases - len(disagreements)) / cases:.2f}%"
    )


def test_mutations_exercise_both_verdicts(entries):
    """A differential test is only as good as its cases: both verdicts, many error kinds."""
    errors = Counter()
    for category, entry in entries[::7]:
        for _, calls in mutations(entry, entry["function"]):
            errors[ours(entry, calls, category)[1]] += 1
    assert errors[None] > 500
    assert len([e for e in errors if e]) >= 8, errors


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-3, 3, allow_nan=False)
    | st.sampled_from(["", "a", "A b", "x,y", "'q'", "1", "celsius", "New York"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "size", "unit", "name"]), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(data=st.data())
def test_fuzzed_values_agree(data, entries, official_checker, python_language):
    category, entry = data.draw(st.sampled_from(entries))
    calls = truth(entry)
    index = data.draw(st.integers(0, len(calls) - 1))
    args = next(iter(calls[index].values()))
    answer = next(iter(entry["ground_truth"][min(index, len(entry["ground_truth"]) - 1)].values()))
    params = sorted(set(args) | set(answer))
    if params:
        param = data.draw(st.sampled_from(params))
        if data.draw(st.booleans()) and param in answer and isinstance(answer[param], list):
            args[param] = data.draw(st.sampled_from(answer[param] or [None]))
        else:
            args[param] = data.draw(values)
    if data.draw(st.booleans()) and len(calls) > 1:
        calls = data.draw(st.permutations(calls))
    assert ours(entry, calls, category) == official_verdict(
        official_checker, python_language, entry, calls, category
    )
