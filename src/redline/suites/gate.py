"""The red-line gate: compares a candidate run with a baseline run, metric by metric and category
by category, with statistics, and says whether any red line was crossed.

Per metric: both values, the delta, a 95% bootstrap interval of the delta paired by sample id,
the pass->fail and fail->pass flips and McNemar's exact test. Red lines come from YAML. Reads
records; never recomputes a score.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from scipy.stats import binomtest

from redline.harness.runs import MANIFEST, SAMPLES, RunError, read_records
from redline.metrics.aggregate import METRIC_NAMES
from redline.records import SampleRecord, first_error

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


class RedLine(BaseModel):
    """One rule: metrics matching ``metric`` may not drop by more than ``max_drop`` points
    significantly, and may not fall under ``min`` (a fraction). A drop is significant when
    McNemar's exact p is below ``significance``, or (for scores that are not pass/fail, such as
    F1) when the 95% bootstrap interval of the delta lies below zero. ``metric``
    is a glob whose ``*`` also crosses ``/``: ``regression/*`` covers every metric of the family,
    overall (``regression/ast_accuracy``) and per category (``regression/math/ast_accuracy``)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    max_drop: float | None = None
    significance: float = 0.05
    min: float | None = None

    @model_validator(mode="after")
    def _says_something(self) -> RedLine:
        if self.max_drop is None and self.min is None:
            raise ValueError("a red line needs max_drop or min")
        return self

    def __str__(self) -> str:
        parts = []
        if self.max_drop is not None:
            parts.append(f"max_drop {self.max_drop} points at p<{self.significance}")
        if self.min is not None:
            parts.append(f"min {self.min}")
        return f"{self.metric}: {', '.join(parts)}"


# The seed's rules: general ability may not drop significantly; the function-calling suites'
# parse, schema and type (exec) rates have floors.
DEFAULT_REDLINES = """\
- {metric: "regression/*", max_drop: 2.0, significance: 0.05}
- {metric: "fc/parse_rate", min: 0.95}
- {metric: "fc/schema_hit_rate", min: 0.90}
- {metric: "fc/exec_rate", min: 0.90}
"""


def load_redlines(source: str | Path | None = None) -> list[RedLine]:
    """Red lines from a YAML file (a list of rules); the default rules when ``source`` is None."""
    where = "the default red lines"
    text = DEFAULT_REDLINES
    if source is not None:
        where = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read red lines {where}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise ValueError(f"{where}: red lines are a non-empty list of rules")
    lines = []
    for i, item in enumerate(data):
        try:
            lines.append(RedLine.model_validate(item))
        except ValidationError as exc:
            raise ValueError(f"{where}: rule {i}: {first_error(exc)[1]} ({item!r})") from exc
    return lines


def family(suite: str) -> str:
    """The metric family of a suite: ``regression`` for general-ability suites, else ``fc``."""
    return "regression" if suite.startswith("regression") else "fc"


@dataclass
class Comparison:
    """One metric compared over the samples both runs scored."""

    metric: str
    baseline: float
    candidate: float
    delta: float
    low: float  # bootstrap interval of the delta
    high: float
    pairs: int
    pass_to_fail: int
    fail_to_pass: int
    p_value: float  # McNemar's exact test on the flips


@dataclass
class Breach:
    line: str
    metric: str
    reason: str


@dataclass
class GateResult:
    held: bool
    breaches: list[Breach] = field(default_factory=list)
    table: list[Comparison] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and math.isnan(value) else value

        return {
            "held": self.held,
            "breaches": [asdict(b) for b in self.breaches],
            "table": [{k: clean(v) for k, v in asdict(c).items()} for c in self.table],
        }


def paired_bootstrap(
    base: np.ndarray, cand: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval (``CONFIDENCE``) of mean(cand) - mean(base), resampling pairs."""
    if len(base) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    diffs = cand - base
    picks = rng.integers(0, len(diffs), size=(samples, len(diffs)))
    means = diffs[picks].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def mcnemar(pass_to_fail: int, fail_to_pass: int) -> float:
    """McNemar's exact test: two-sided binomial test of the discordant pairs at 1/2."""
    flips = pass_to_fail + fail_to_pass
    if flips == 0:
        return 1.0
    return float(binomtest(pass_to_fail, flips, 0.5, alternative="two-sided").pvalue)


def _scores(records: list[SampleRecord], fam: str) -> dict[str, dict[str, float]]:
    """metric key -> {sample id: value}, overall (family/metric) and per category."""
    out: dict[str, dict[str, float]] = {}
    for record in records:
        for scorer, score in record.scores.items():
            if score.value is None:
                continue
            name = METRIC_NAMES.get(scorer, scorer)
            out.setdefault(f"{fam}/{name}", {})[record.sample.id] = score.value
            if record.sample.category:
                key = f"{fam}/{record.sample.category}/{name}"
                out.setdefault(key, {})[record.sample.id] = score.value
    return out


def compare(
    baseline: list[SampleRecord], candidate: list[SampleRecord], fam: str, seed: int = 0
) -> list[Comparison]:
    """Every metric both runs have, compared on the samples both scored."""
    base, cand = _scores(baseline, fam), _scores(candidate, fam)
    table = []
    for metric in sorted(set(base) & set(cand)):
        ids = sorted(set(base[metric]) & set(cand[metric]))
        b = np.array([base[metric][i] for i in ids], dtype=float)
        c = np.array([cand[metric][i] for i in ids], dtype=float)
        low, high = paired_bootstrap(b, c, seed=seed)
        # A sample passes a metric when it scores 1 on it.
        p2f = int(np.sum((b == 1.0) & (c != 1.0)))
        f2p = int(np.sum((b != 1.0) & (c == 1.0)))
        mean_b = float(b.mean()) if len(b) else math.nan
        mean_c = float(c.mean()) if len(c) else math.nan
        table.append(
            Comparison(
                metric,
                mean_b,
                mean_c,
                mean_c - mean_b,
                low,
                high,
                len(ids),
                p2f,
                f2p,
                mcnemar(p2f, f2p),
            )
        )
    return table


def _breaches(line: RedLine, row: Comparison) -> list[str]:
    reasons = []
    if line.min is not None and not row.candidate >= line.min:
        reasons.append(f"{row.candidate:.4f} is under the floor {line.min}")
    if line.max_drop is not None and row.delta < -line.max_drop / 100:
        significant = row.p_value < line.significance or row.high < 0
        if significant:
            reasons.append(
                f"dropped {-100 * row.delta:.2f} points (interval {100 * row.low:.2f} to "
                f"{100 * row.high:.2f}, McNemar p={row.p_value:.3g})"
            )
    return reasons


def judge(table: list[Comparison], lines: list[RedLine]) -> GateResult:
    """Apply the red lines to a comparison table."""
    breaches = []
    for line in lines:
        for row in table:
            if fnmatch.fnmatchcase(row.metric, line.metric):
                breaches.extend(Breach(str(line), row.metric, r) for r in _breaches(line, row))
    return GateResult(not breaches, breaches, table)


def _load_run(path: str | Path) -> tuple[str, list[SampleRecord]]:
    folder = Path(path)
    manifest = folder / MANIFEST
    if not manifest.is_file() or not (folder / SAMPLES).is_file():
        raise RunError(f"{folder} is not a run folder (needs {MANIFEST} and {SAMPLES})")
    suite = json.loads(manifest.read_text(encoding="utf-8")).get("suite", "")
    loaded = read_records(folder / SAMPLES)
    if loaded.problems:
        raise RunError("unreadable records: " + "; ".join(loaded.problems[:5]))
    return suite, loaded.records


class Gate:
    """``Gate(baseline_run, redlines).check(candidate_run) -> GateResult``."""

    def __init__(
        self, baseline: str | Path, redlines: list[RedLine] | str | Path | None = None
    ) -> None:
        self.suite, self.records = _load_run(baseline)
        self.lines = redlines if isinstance(redlines, list) else load_redlines(redlines)

    def check(self, candidate: str | Path) -> GateResult:
        suite, records = _load_run(candidate)
        if suite != self.suite:
            raise RunError(f"baseline ran {self.suite!r} but the candidate ran {suite!r}")
        return judge(compare(self.records, records, family(suite)), self.lines)
