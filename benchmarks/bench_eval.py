"""Harness overhead: the embedded model on 64 samples through `redline eval`'s runner (prompt,
generate, parse, score, append records) against a bare batched ``model.generate`` loop at the
same batch size, same model object, one process. Target: within 10% of the bare loop. Also
prints scoring's share of the runner's time (the time inside ``score_sample``).
Run: .venv/bin/python benchmarks/bench_eval.py [--samples 64 --batch-size 16 --max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from common import machine

from redline.harness import runner
from redline.harness.models import HFBackend, Sampling, smollm2_path
from redline.suites.registry import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--suite", default="fc:dev")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes of each (best kept)")
    args = parser.parse_args()

    suite = load_suite(args.suite, limit=args.samples)
    backend = HFBackend(
        smollm2_path(), mode="json", sampling=Sampling(max_new_tokens=args.max_new_tokens)
    )
    tokenizer, model = backend.tokenizer, backend.model

    def bare() -> float:
        start = time.perf_counter()
        samples = list(suite.samples)
        for i in range(0, len(samples), args.batch_size):
            texts = [backend.prompt(s) for s in samples[i : i + args.batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(
                    **batch,
                    max_new_tokens=args.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        return time.perf_counter() - start

    scoring = []  # seconds inside score_sample, per harness pass
    score_sample = runner.score_sample

    def timed_score(*a, **k):
        start = time.perf_counter()
        try:
            return score_sample(*a, **k)
        finally:
            scoring[-1] += time.perf_counter() - start

    runner.score_sample = timed_score

    def harness() -> float:
        scoring.append(0.0)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            runner.run_eval(
                suite, backend, folder, fmt="json", batch_size=args.batch_size, progress=False
            )
            return time.perf_counter() - start

    # Warm-up on one small batch: first calls allocate memory and pick kernels.
    warm = tokenizer([backend.prompt(suite.samples[0])], return_tensors="pt")
    with torch.inference_mode():
        model.generate(
            **warm, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    times = {"bare": [], "harness": []}
    for _ in range(args.repeats):
        times["bare"].append(bare())
        times["harness"].append(harness())
    best = {k: min(v) for k, v in times.items()}
    scored = scoring[times["harness"].index(best["harness"])]
    print(f"machine: {machine()}, torch threads {torch.get_num_threads()}")
    shape = f"batch {args.batch_size}, {args.max_new_tokens} new tokens"
    print(f"{len(suite.samples)} samples of {args.suite}, {shape}")
    print(f"bare model.generate loop : {best['bare']:7.2f} s")
    print(f"redline eval runner      : {best['harness']:7.2f} s")
    print(f"harness overhead: {100 * (best['harness'] / best['bare'] - 1):+.1f}%")
    print(f"scoring (score_sample)   : {scored * 1e3:7.1f} ms, {scored / best['harness']:.4%}")


if __name__ == "__main__":
    main()
