"""Model outputs made from BFCL ground truth: the answer itself and seeded mutations of it.

Used by the differential test against the official checker and by the checker benchmark.
Deterministic for a given entry id; no scoring here.
"""

from __future__ import annotations

import copy
import random
import zlib
from collections.abc import Iterator
from typing import Any

from redline.corrupt import other_type, other_value
from redline.metrics.bfcl import ground_truth_calls

Decoded = list[dict[str, dict[str, Any]]]


def truth(entry: dict[str, Any]) -> Decoded:
    return [c.to_bfcl() for c in ground_truth_calls(entry["ground_truth"], entry.get("function"))]


def _restyle(value: str) -> str:
    # Case and punctuation that BFCL's standardisation forgives (and some it does not: ').
    return value.upper().replace(" ", "-") + "."


def _pick(rng: random.Random, calls: Decoded) -> tuple[dict[str, Any], str] | None:
    spots = [(args, p) for call in calls for args in call.values() for p in args]
    return rng.choice(spots) if spots else None


def mutations(
    entry: dict[str, Any], functions: list[dict[str, Any]]
) -> Iterator[tuple[str, Decoded]]:
    """Yield ``(kind, calls)`` pairs: the ground truth, then mutated versions of it."""
    base = truth(entry)
    rng = random.Random(zlib.crc32(entry["id"].encode()))
    yield "truth", base

    def variant(edit) -> Decoded | None:
        calls = copy.deepcopy(base)
        spot = _pick(rng, calls)
        if spot is None:
            return None
        args, param = spot
        return calls if edit(args, param) is not False else None

    def set_value(args, param):
        args[param] = other_value(args[param])

    def set_type(args, param):
        args[param] = other_type(args[param])

    def drop(args, param):
        del args[param]

    def restyle(args, param):
        if not isinstance(args[param], str):
            return False
        args[param] = _restyle(args[param])

    def number_swap(args, param):
        value = args[param]
        if isinstance(value, float) and value.is_integer():
            args[param] = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            args[param] = float(value)
        else:
            return False

    for kind, edit in (
        ("wrong_value", set_value),
        ("wrong_type", set_type),
        ("drop_param", drop),
        ("case_punctuation", restyle),
        ("int_float_swap", number_swap),
    ):
        calls = variant(edit)
        if calls is not None:
            yield kind, calls

    calls = copy.deepcopy(base)
    next(iter(calls[0].values()))["zq_extra"] = "x"
    yield "extra_param", calls

    calls = copy.deepcopy(base)
    name = next(iter(calls[0]))
    calls[0] = {name + "_v2": calls[0][name]}
    yield "rename_function", calls

    # Function names are matched exactly: a change of case is a different function.
    calls = copy.deepcopy(base)
    name = next(iter(calls[-1]))
    swapped = name.swapcase() if name.swapcase() != name else name + "X"
    calls[-1] = {swapped: calls[-1][name]}
    yield "function_name_case", calls

    others = [f["name"] for f in functions if f.get("name") not in base[0]]
    if others:
        calls = copy.deepcopy(base)
        calls[0] = {rng.choice(others): next(iter(calls[0].values()))}
        yield "other_function", calls

    if len(base) > 1:
        yield "reorder", list(reversed(copy.deepcopy(base)))
        yield "drop_call", copy.deepcopy(base[1:])
    yield "duplicate_call", copy.deepcopy(base + base[:1])
    yield "no_call", []

    alt = _alternative_answer(entry["ground_truth"], base, rng)
    if alt is not None:
        yield "alternative_answer", alt


def _alternative_answer(
    possible_answer: list[dict[str, Any]], base: Decoded, rng: random.Random
) -> Decoded | None:
    """Use a later accepted option for one parameter (and fill one optional one), if any."""
    spots = [
        (i, param, options)
        for i, item in enumerate(possible_answer)
        for params in item.values()
        for param, options in params.items()
        if isinstance(options, list)
        and len([o for o in options if o != ""]) > 1
        or (isinstance(options, list) and options[:1] == [""] and len(options) > 1)
    ]
    if not spots:
        return None
    i, param, options = rng.choice(spots)
    calls = copy.deepcopy(base)
    choices = [o for o in options if o != ""]
    value = choices[-1]
    if isinstance(value, dict) or (
        isinstance(value, list) and value and isinstance(value[0], dict)
    ):
        return None
    next(iter(calls[i].values()))[param] = value
    return calls
