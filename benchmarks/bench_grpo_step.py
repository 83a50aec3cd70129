"""The rewards' share of a GRPO step: `redline train grpo` (TRL's GRPOTrainer, LoRA) on the
embedded model, timing, in one process, the training loop (``trainer.train()``) and the time
spent inside the reward functions TRL calls (the default composite and its five parts).

bench_rewards.py sets the rewards against the official checker; this sets them against what
they are there for: "rewards must never be what a GRPO step waits on". Data: redline's builtin
training rows (``data prepare --source builtin``), written to a temporary folder; no gate.
Each reward is wrapped in a timer that keeps its ``__name__`` (TRL logs by it), so the rewards'
time is measured as TRL calls them.
Run: .venv/bin/python benchmarks/bench_grpo_step.py   (about 2 minutes on two CPU cores)
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine

from redline.training import grpo
from redline.training.config import GRPOSettings
from redline.training.data import prepare, write_prepared


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2", help="base model: smollm2 or a folder")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps timed")
    # 16 completions a step ran out of the machine's 24 GiB on smollm2; 8 peaked at 11 GB.
    parser.add_argument("--batch-size", type=int, default=8, help="completions a step")
    parser.add_argument("--generations", type=int, default=4, help="completions a prompt")
    parser.add_argument("--max-completion-length", type=int, default=64)
    args = parser.parse_args()

    spent = {"seconds": 0.0, "calls": 0, "completions": 0}
    train_seconds = []
    build = grpo.reward_functions

    def timed_rewards(spec: Any, mode: str) -> tuple[list[Any], list[float]]:
        funcs, weights = build(spec, mode)
        return [_timed(f, spent) for f in funcs], weights

    from trl import GRPOTrainer

    train = GRPOTrainer.train

    @functools.wraps(train)
    def timed_train(self: Any, *a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        try:
            return train(self, *a, **k)
        finally:
            train_seconds.append(time.perf_counter() - start)

    grpo.reward_functions = timed_rewards
    GRPOTrainer.train = timed_train
    with tempfile.TemporaryDirectory() as tmp:
        data = write_prepared(prepare("builtin", builtin_size=120, suites=[]), Path(tmp), "json")
        settings = GRPOSettings(
            base_model=args.model,
            data=data,
            out=Path(tmp) / "grpo",
            max_steps=args.steps,
            batch_size=args.batch_size,
            gradient_accumulation_steps=1,
            num_generations=args.generations,
            max_completion_length=args.max_completion_length,
            gate=None,
        )
        grpo.run_grpo(settings, progress=False)
    (loop,) = train_seconds
    funcs = spent["calls"] // args.steps
    print(f"machine: {machine()}")
    print(
        f"GRPO on {args.model}: {args.steps} steps, {args.batch_size} completions a step "
        f"({args.batch_size // args.generations} prompts x {args.generations}), "
        f"{args.max_completion_length} new tokens at most, LoRA, CPU"
    )
    rate = spent["completions"] / spent["seconds"] if spent["seconds"] else float("inf")
    rows = [
        ("training loop (trainer.train)", f"{loop:10.2f} s, {loop / args.steps:.2f} s a step"),
        (
            f"the {funcs} reward functions, every call",
            f"{spent['seconds'] * 1e3:10.2f} ms, {spent['seconds'] / loop:.4%} of the loop",
        ),
        (
            "the rewards' own rate",
            f"{rate:10,.0f} completions/s (a completion through one function)",
        ),
    ]
    for label, figure in rows:
        print(f"{label:38s}: {figure}")


def _timed(fn: Any, spent: dict[str, float]) -> Any:
    """``fn`` timed into ``spent``; the same ``__name__``, so TRL logs it as before."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent["seconds"] += time.perf_counter() - start
            spent["calls"] += 1
            spent["completions"] += len(kwargs.get("completions") or ())

    timed.__name__ = fn.__name__
    return timed


if __name__ == "__main__":
    main()
