"""Explorer load time, target under 3 s for 10,000 samples: the explorer's loader next to the
harness' pydantic reader and pandas.read_json, then the Errors page drawn by AppTest (cold and
warm caches), one process. Run: .venv/bin/python benchmarks/bench_explore_load.py [--samples N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import machine

from redline.harness.backends import make_backend
from redline.harness.runner import run_eval
from redline.harness.runs import read_records, write_metrics
from redline.reports import loading
from redline.suites.registry import load_suite

APP = Path(loading.__file__).with_name("app.py")


def build_run(folder: Path, samples: int) -> Path:
    """fc:dev answered right and answered with prose every 7th sample, repeated under new ids."""
    truth = run_eval(load_suite("fc:dev"), make_backend("truth"), folder / "truth", progress=False)
    lines = (truth.path / "samples.jsonl").read_text().splitlines()
    replay = folder / "replay.jsonl"
    damaged = []
    for i, line in enumerate(lines):
        record = json.loads(line)
        if i % 7 == 0:
            record["completion"]["raw"] = "Let me think about which tool fits."
        damaged.append(json.dumps(record))
    replay.write_text("\n".join(damaged) + "\n")
    worse = run_eval(
        load_suite("fc:dev"), make_backend(f"replay:{replay}"), folder / "worse", progress=False
    )
    pool = lines + (worse.path / "samples.jsonl").read_text().splitlines()
    run = folder / "runs" / "big"
    run.mkdir(parents=True)
    with (run / "samples.jsonl").open("w") as fh:
        for i in range(samples):
            record = json.loads(pool[i % len(pool)])
            record["sample"]["id"] = f"s{i:05d}"
            fh.write(json.dumps(record) + "\n")
    manifest = json.loads((truth.path / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "samples": samples}))
    write_metrics(run, read_records(run / "samples.jsonl").records)
    return run


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = build_run(Path(tmp), args.samples)
        size = (run / "samples.jsonl").stat().st_size
        print(f"{args.samples} samples, {size / 1e6:.1f} MB of samples.jsonl; {machine()}")

        passes = {
            "explorer frame (loading.load_samples)": lambda: loading.load_samples(run),
            "harness records (read_records, pydantic)": lambda: read_records(run / "samples.jsonl"),
            "pandas.read_json(lines=True), nested objects": lambda: pd.read_json(
                run / "samples.jsonl", lines=True
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in passes}
        for _ in range(args.repeats):  # interleaved, so load on the machine hits all alike
            for name, fn in passes.items():
                times[name].append(timed(fn))
        best = {name: min(t) for name, t in times.items()}
        for name, seconds in best.items():
            print(f"  {name:46s} {seconds:6.2f} s  (best of {args.repeats})")

        from streamlit.testing.v1 import AppTest

        os.environ["REDLINE_RUNS_DIR"] = str(run.parent)
        app = AppTest.from_file(str(APP), default_timeout=120)
        # The server has started and drawn the Runs page (imports done, run not read yet).
        start = timed(app.run)
        app.sidebar.radio(key="page").set_value("Errors")
        app.query_params.update(page="Errors", checkpoint="big")
        cold = timed(app.run)
        assert not app.exception, [e.value for e in app.exception]
        assert app.table, "the Errors page drew no table"
        warm = timed(app.run)
        print(f"  {'app start, Runs page (AppTest)':46s} {start:6.2f} s")
        print(f"  {'Errors page of the run, cold caches (AppTest)':46s} {cold:6.2f} s")
        print(f"  {'Errors page again, warm caches (AppTest)':46s} {warm:6.2f} s")
        verdict = "met" if cold < 3.0 else "NOT met"
        print(f"target: load and draw a {args.samples}-sample run in < 3 s: {verdict}")


if __name__ == "__main__":
    main()
