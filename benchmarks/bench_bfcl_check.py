"""Throughput of redline's BFCL checker against the official bfcl-eval checker, same process,
same inputs: every entry of the eight Python AST categories, each checked against its ground
truth and its mutations (about 11 outputs per entry). The official side runs the runner's two
steps, the output-format check and ast_checker; redline's check() does both.

Three ways of using redline's checker are timed:
- suite: entries compiled once (BFCLChecker, as a loaded suite keeps them), each pass scoring
  outputs it has not seen (the remembered verdicts are dropped before every pass), as when a
  training run scores checkpoint after checkpoint;
- one-shot: every entry compiled inside the timed pass, its outputs then checked;
- check(): the one-off function, compiling the entry again for every output.

Prints checks/s for each and the ratios; the target is redline >= 2x official.
Run: make bench   (or .venv/bin/python benchmarks/bench_bfcl_check.py --repeats 5)
"""

from __future__ import annotations

import argparse
import time

from common import best_rates, machine, official_check

from redline.metrics.bfcl import BFCLChecker, check
from redline.suites.bfcl_cases import mutations
from redline.suites.bfcl_data import PYTHON_AST_CATEGORIES, load_entries


def build_cases():
    """One (functions, answer, category, [outputs]) group per entry."""
    groups = []
    for category in PYTHON_AST_CATEGORIES:
        for entry in load_entries(category):
            outputs = [calls for _, calls in mutations(entry, entry["function"])]
            groups.append((entry["function"], entry["ground_truth"], category, outputs))
    return groups


def time_suite(checkers, groups) -> float:
    for checker in checkers:
        checker.forget()
    start = time.perf_counter()
    for checker, (_, _, _, outputs) in zip(checkers, groups, strict=True):
        for calls in outputs:
            checker.check(calls)
    return time.perf_counter() - start


def time_per_output(fn, groups) -> float:
    start = time.perf_counter()
    for functions, answer, category, outputs in groups:
        for calls in outputs:
            fn(functions, calls, answer, category)
    return time.perf_counter() - start


def time_compiled(groups) -> float:
    start = time.perf_counter()
    for functions, answer, category, outputs in groups:
        checker = BFCLChecker(functions, answer, category)
        for calls in outputs:
            checker.check(calls)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed passes per checker (best reported)"
    )
    args = parser.parse_args()

    theirs = official_check()
    groups = build_cases()
    n = sum(len(g[3]) for g in groups)
    checkers = [BFCLChecker(f, a, c) for f, a, c, _ in groups]
    rate = best_rates(
        {
            "suite": lambda: time_suite(checkers, groups),
            "compiled": lambda: time_compiled(groups),
            "one-off": lambda: time_per_output(check, groups),
            "official": lambda: time_per_output(theirs, groups),
        },
        args.repeats,
        n,
    )
    print(f"machine: {machine()}")
    print(f"inputs: {len(groups)} entries, {n} outputs, {args.repeats} passes each (best)")
    official = rate["official"]
    rows = [
        ("redline, suite compiled once", rate["suite"]),
        ("redline, one-shot (compile in pass)", rate["compiled"]),
        ("redline check(), compile per output", rate["one-off"]),
        ("official format check + ast_checker", official),
    ]
    for label, value in rows:
        ratio = "" if value is official else f"  {value / official:5.2f}x official"
        print(f"{label:38s} {value:10,.0f} checks/s{ratio}")


if __name__ == "__main__":
    main()
