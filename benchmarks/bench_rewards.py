"""Reward throughput, as information: the default composite reward (parse, schema hit, exec,
semantic F1) on 20,000 completions, next to the official BFCL checker's rate in the same run,
one core. There is no target: the Rewards issue's 1x target was retired, since the rewards take
about 0.002% of a GRPO step (bench_grpo_step.py), and the rewards keep no caches for it.

Completions are BFCL ground truths and their mutations (redline.suites.bfcl_cases) written as
the seed's JSON output, grouped by prompt as GRPO hands them over (one reward call per group,
its tools and answer as JSON text). Each timed pass builds a fresh reward. The official checker
gets the same outputs already decoded (format check + ast_checker), so it pays neither for
parsing text nor for decoding tools and answers. --components also times each part alone.

For context: BFCL's evaluation itself starts from a model's raw output, which its runner
decodes (``default_decode_ast_prompting``) before the two checks. Two more lines time that
pipeline on the same calls written in BFCL's own prompting formats: Python syntax (its default,
read with ``ast``) and JSON (a list of {"function", "parameters"}). A last context line times
json.loads of the composite's inputs alone (each completion, each group's tools and answer
texts): what reading text costs before any check.

A GRPO step of `redline train` calls five rewards on the same completions: the composite, then
each of its four parts at weight 0 (so TRL logs them). That line times the five as the step
calls them: each reward over a batch of --step-prompts prompt groups in turn, fresh rewards
every pass; its rate is completions per second through all five.
Run: make bench   (or .venv/bin/python benchmarks/bench_rewards.py --completions 20000)
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from common import best_rates, machine, official_check, official_decoder

from redline.parsing import format_calls
from redline.records import ToolCall
from redline.rewards import DEFAULT_SPEC, make_composite, make_reward
from redline.suites.bfcl_cases import mutations
from redline.suites.bfcl_data import PYTHON_AST_CATEGORIES, load_entries
from redline.training.grpo import reward_functions


def build_groups(limit: int):
    """(columns, completion texts, decoded outputs, functions, answer, category) per prompt."""
    groups, total = [], 0
    entries = [(c, e) for c in PYTHON_AST_CATEGORIES for e in load_entries(c)]
    for category, entry in itertools.cycle(entries):
        if total >= limit:
            break
        outputs = [calls for _, calls in mutations(entry, entry["function"])][: limit - total]
        texts = [format_calls([ToolCall.from_bfcl(c) for c in calls], "json") for calls in outputs]
        n = len(texts)
        columns = {
            "tools": [json.dumps(entry["function"])] * n,
            "possible_answer": [json.dumps(entry["ground_truth"])] * n,
            "bfcl_category": [category] * n,
        }
        groups.append((columns, texts, outputs, entry["function"], entry["ground_truth"], category))
        total += n
    return groups, total


def step_batches(groups, prompts: int):
    """The groups joined ``prompts`` at a time, as one GRPO step's batch: (columns, texts)."""
    batches = []
    for start in range(0, len(groups), prompts):
        chunk = groups[start : start + prompts]
        columns = {c: [v for group in chunk for v in group[0][c]] for c in chunk[0][0]}
        batches.append((columns, [text for group in chunk for text in group[1]]))
    return batches


def _bfcl_text(calls: list[dict[str, Any]], fmt: str) -> str:
    """Decoded BFCL calls written as a prompting model's output in one of BFCL's formats."""
    if fmt == "python":
        return format_calls([ToolCall.from_bfcl(c) for c in calls], "python")
    return json.dumps([{"function": n, "parameters": a} for c in calls for n, a in c.items()])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--completions", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (best reported)")
    parser.add_argument("--components", action="store_true", help="also time each part alone")
    parser.add_argument(
        "--step-prompts", type=int, default=8, help="prompt groups in a GRPO step's batch"
    )
    args = parser.parse_args()

    groups, total = build_groups(args.completions)
    theirs = official_check()

    def score_groups(reward) -> None:
        for columns, texts, *_ in groups:
            reward(prompts=[""] * len(texts), completions=texts, **columns)

    def timed(build):
        def run() -> float:
            reward = build()
            start = time.perf_counter()
            score_groups(reward)
            return time.perf_counter() - start

        return run

    run_composite = timed(make_composite)

    def run_official() -> float:
        start = time.perf_counter()
        for _, _, outputs, functions, answer, category in groups:
            for calls in outputs:
                theirs(functions, calls, answer, category)
        return time.perf_counter() - start

    batches = step_batches(groups, args.step_prompts)

    def run_step() -> float:
        rewards, _ = reward_functions(DEFAULT_SPEC, "json")  # as redline train builds them
        start = time.perf_counter()
        for columns, texts in batches:
            for reward in rewards:
                reward(prompts=[""] * len(texts), completions=texts, **columns)
        return time.perf_counter() - start

    def run_official_from(fmt: str) -> Callable[[], float]:
        decode = official_decoder(fmt)
        texts = [[_bfcl_text(calls, fmt) for calls in group[2]] for group in groups]

        def run() -> float:
            start = time.perf_counter()
            for (_, _, _, functions, answer, category), outputs in zip(groups, texts, strict=True):
                for text in outputs:
                    try:
                        calls = decode(text)
                    except Exception:  # noqa: BLE001 - the runner fails the entry, unchecked
                        continue
                    theirs(functions, calls, answer, category)
            return time.perf_counter() - start

        return run

    def run_decoding() -> float:
        # What reading the composite's inputs costs before any check: json.loads of each
        # completion and of each group's tools and answer texts, nothing else.
        start = time.perf_counter()
        for columns, texts, *_ in groups:
            json.loads(columns["tools"][0])
            json.loads(columns["possible_answer"][0])
            for text in texts:
                json.loads(text)
        return time.perf_counter() - start

    passes = {
        "composite": run_composite,
        "official": run_official,
        "step": run_step,
        "official from python": run_official_from("python"),
        "official from json": run_official_from("json"),
        "decoding": run_decoding,
    }
    parts = [c["name"] for c in DEFAULT_SPEC] if args.components else []
    for name in parts:
        passes[name] = timed(lambda name=name: make_reward(name))
    rate = best_rates(passes, args.repeats, total)
    print(f"machine: {machine()} (one core used)")
    print(f"completions: {total} in {len(groups)} prompt groups, best of {args.repeats} passes")
    print(f"redline composite reward (from text)  : {rate['composite']:10,.0f} completions/s")
    print(f"official BFCL checker (decoded input) : {rate['official']:10,.0f} entries/s")
    print(f"ratio composite / official: {rate['composite'] / rate['official']:.2f}x")
    print(
        f"a GRPO step's five rewards (composite + its parts, {args.step_prompts} prompts a batch)"
        f": {rate['step']:,.0f} completions/s"
    )
    print("context: BFCL's pipeline from raw output (decode, then the same checks)")
    for fmt in ("python", "json"):
        theirs_rate = rate[f"official from {fmt}"]
        print(
            f"  official from BFCL {fmt:6s} text      : {theirs_rate:10,.0f} entries/s"
            f"   composite / it: {rate['composite'] / theirs_rate:.2f}x"
        )
    print(
        f"  json.loads of the inputs alone      : {rate['decoding']:10,.0f} completions/s"
        f"   its share of an official entry's time: {rate['official'] / rate['decoding']:.0%}"
    )
    for name in parts:
        print(f"  {name + ' reward alone':34s} : {rate[name]:10,.0f} completions/s")


if __name__ == "__main__":
    main()
