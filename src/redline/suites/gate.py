"""The red-line gate: compares a candidate run with a baseline run, metric by metric and category
by category, with statistics, and says whether any red line was crossed.

One unit everywhere (red lines, tables, JSON): rates in percent (0-100) and differences in
percentage points. Per metric: both values, the delta, a 95% bootstrap interval of the delta
paired by sample id, the pass->fail and fail->pass flips, the paired test (McNemar's exact test
for pass/fail scores, a paired t-test otherwise) and, for each ``max_drop`` line, the smallest
drop the test could detect at the run's size. Red lines come from YAML. Reads records; never
recomputes a score.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from scipy.optimize import brentq
from scipy.stats import binom, binomtest, nct, t, ttest_1samp

from redline.harness.runs import MANIFEST, SAMPLES, RunError, read_records
from redline.metrics.aggregate import METRIC_NAMES
from redline.records import SampleRecord, first_error

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95
POWER = 0.8  # the power at which the detectable drop is reported
UNITS = "percent (0-100); deltas, max_drop and detectable drops in percentage points"
FAMILIES = ("fc", "regression")
_GLOB = set("*?[")


class GateError(ValueError):
    """The gate cannot judge: a red line matches no metric, or a metric has no paired samples."""


class RedLine(BaseModel):
    """One rule, in percentage points: metrics matching ``metric`` may not drop by more than
    ``max_drop`` points significantly, and may not fall under ``min`` percent. A drop is
    significant when the paired test's p (McNemar's exact test for pass/fail scores, a paired
    t-test for scores such as F1) is below ``significance``. ``metric`` is a glob whose ``*``
    also crosses ``/``: ``regression/*`` covers every metric of the family, overall
    (``regression/answer_accuracy``) and per category
    (``regression/arithmetic/answer_accuracy``)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    max_drop: float | None = None
    significance: float = 0.05
    min: float | None = None

    @field_validator("metric")
    @classmethod
    def _named_family(cls, value: str) -> str:
        head = value.split("/", 1)[0]
        if not value or (not _GLOB & set(head) and head not in FAMILIES):
            near = difflib.get_close_matches(head, FAMILIES, n=1)
            hint = f" (did you mean {near[0]}/...?)" if near else ""
            raise ValueError(
                f"metric {value!r}: names start with a family, fc/ or regression/, as in "
                f"fc/parse_rate or regression/*{hint}"
            )
        return value

    @field_validator("max_drop")
    @classmethod
    def _points_drop(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 100:
            raise ValueError(
                f"max_drop {value:g}: a drop is in percentage points, from 0 up to 100 "
                "(write max_drop: 2.0 for two points)"
            )
        return value

    @field_validator("min")
    @classmethod
    def _percent_floor(cls, value: float | None) -> float | None:
        if value is None:
            return value
        if 0 < value <= 1:
            raise ValueError(
                f"min {value:g} looks like a fraction: floors are in percent (0-100); "
                f"write min: {100 * value:g} for {100 * value:g}%"
            )
        if not 1 < value <= 100:
            raise ValueError(f"min {value:g}: a floor is a percent above 1 and at most 100")
        return value

    @field_validator("significance")
    @classmethod
    def _probability(cls, value: float) -> float:
        if not 0 < value <= 0.5:
            raise ValueError(
                f"significance {value:g}: a probability above 0 and at most 0.5, such as 0.05"
            )
        return value

    @model_validator(mode="after")
    def _says_something(self) -> RedLine:
        if self.max_drop is None and self.min is None:
            raise ValueError("a red line needs max_drop or min")
        return self

    def applies_to(self, fam: str) -> bool:
        """Whether the rule concerns a run of metric family ``fam`` (a glob family: every one)."""
        head = self.metric.split("/", 1)[0]
        return bool(_GLOB & set(head)) or head == fam

    def __str__(self) -> str:
        parts = []
        if self.max_drop is not None:
            parts.append(f"max_drop {self.max_drop:g} points at p<{self.significance:g}")
        if self.min is not None:
            parts.append(f"min {self.min:g}%")
        return f"{self.metric}: {', '.join(parts)}"


# The seed's rules: general ability may not drop significantly; the function-calling suites'
# parse, schema and type (exec) rates have floors (percent).
DEFAULT_REDLINES = """\
- {metric: "regression/*", max_drop: 2.0, significance: 0.05}
- {metric: "fc/parse_rate", min: 95}
- {metric: "fc/schema_hit_rate", min: 90}
- {metric: "fc/exec_rate", min: 90}
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
    """One metric compared over the samples both runs scored, in percent and points."""

    metric: str
    baseline: float
    candidate: float
    delta: float
    low: float  # bootstrap interval of the delta
    high: float
    pairs: int  # samples both runs scored on this metric
    pass_to_fail: int
    fail_to_pass: int
    p_value: float  # of ``test``
    test: str = "mcnemar"  # "mcnemar" (every score 0 or 1), "paired_t", "none" (no pairs)
    baseline_n: int = 0  # samples each run scored on this metric
    candidate_n: int = 0
    discordance: float = math.nan  # percent of the pairs whose scores differ
    sd_diff: float = math.nan  # standard deviation of the per-sample differences, points


@dataclass
class Breach:
    line: str
    metric: str
    reason: str


@dataclass
class LineCheck:
    """One red line applied to one metric: its verdict and, for ``max_drop``, its power."""

    line: str
    metric: str
    pairs: int
    verdict: str  # "held", "breached", or "underpowered" (held, but too small to say much)
    label: str  # the verdict as the CLI prints it
    detectable_drop: float | None = None  # points; None: no drop up to 100 points, or no max_drop
    underpowered: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass
class GateResult:
    held: bool
    breaches: list[Breach] = field(default_factory=list)
    table: list[Comparison] = field(default_factory=list)
    checks: list[LineCheck] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)  # lines of another metric family
    unmatched: list[str] = field(default_factory=list)  # lines of this family matching nothing
    require_power: bool = False

    def to_dict(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and math.isnan(value) else value

        return {
            "held": self.held,
            "units": UNITS,
            "power": POWER,
            "require_power": self.require_power,
            "breaches": [asdict(b) for b in self.breaches],
            "checks": [asdict(c) for c in self.checks],
            "not_applied": self.not_applied,
            "unmatched": self.unmatched,
            "table": [{k: clean(v) for k, v in asdict(c).items()} for c in self.table],
        }


def fmt_value(value: float | None) -> str:
    """A percent of the gate's tables with one decimal; '-' for no value."""
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


def fmt_points(value: float | None) -> str:
    """A difference in points, signed, one decimal; '-' for no value."""
    return "-" if value is None or math.isnan(value) else f"{value:+.1f}"


# -- statistics (per-sample scores are fractions in [0, 1] here) ---------------------------------


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


def paired_t(diffs: np.ndarray) -> float:
    """Two-sided p of a paired t-test on per-sample differences (candidate - baseline)."""
    if len(diffs) < 2:
        return 1.0  # one pair cannot show a difference beyond chance
    if np.all(diffs == diffs[0]):
        # No spread: every sample moved by the same amount (or none did).
        return 0.0 if diffs[0] != 0 else 1.0
    return float(ttest_1samp(diffs, 0.0).pvalue)


@lru_cache(maxsize=256)
def _mcnemar_critical(n: int, alpha: float) -> np.ndarray:
    """For each count of discordant pairs D = 0..n, the fewest pass->fail flips with which
    McNemar's exact test rejects at ``alpha`` in the direction of a drop (D + 1: never)."""
    d = np.arange(n + 1)
    # Two-sided exact p at 1/2 for k > D/2 is 2 * P(X >= k): reject when P(X >= k) < alpha/2.
    start = binom.ppf(1 - alpha / 2, d, 0.5)
    critical = np.full(n + 1, n + 2, dtype=float)
    for step in (2, 1, 0, -1):  # ppf lands within one of the boundary; keep the smallest
        k = np.clip(start + step, 0, None)
        ok = (k <= d) & (k > d / 2) & (binom.sf(k - 1, d, 0.5) < alpha / 2)
        critical = np.where(ok, np.minimum(critical, k), critical)
    return np.where(critical > d, d + 1, critical)


def mcnemar_power(n: int, discordance: float, drop: float, alpha: float) -> float:
    """Probability that McNemar's exact test at ``alpha`` finds a drop of ``drop`` (a fraction)
    significant over ``n`` pairs, when a share ``discordance`` of the pairs differ (at least
    ``drop`` of them must: a drop flips that many samples)."""
    psi = min(1.0, max(discordance, drop))
    if n <= 0 or psi <= 0:
        return 0.0
    d = np.arange(n + 1)
    to_fail = (psi + drop) / (2 * psi)  # share of the discordant pairs that are pass->fail
    k = _mcnemar_critical(n, alpha)
    return float(np.sum(binom.pmf(d, n, psi) * binom.sf(k - 1, d, to_fail)))


def paired_t_power(n: int, sd: float, drop: float, alpha: float) -> float:
    """Probability that the two-sided paired t-test at ``alpha`` finds a mean drop of ``drop``
    significant over ``n`` pairs whose differences spread with ``sd`` (no less than a drop made
    of whole-sample flips would: sqrt(drop * (1 - drop)))."""
    if n < 2:
        return 0.0
    spread = max(sd, math.sqrt(max(drop * (1 - drop), 0.0)))
    if spread == 0:
        return 1.0 if drop > 0 else 0.0
    df = n - 1
    return float(nct.sf(t.ppf(1 - alpha / 2, df), df, drop * math.sqrt(n) / spread))


def detectable_drop(
    n: int,
    alpha: float,
    *,
    binary: bool,
    discordance: float = 0.0,
    sd: float = 0.0,
    power: float = POWER,
) -> float | None:
    """The smallest true drop (a fraction) the gate's test finds with probability ``power`` at
    ``alpha`` over ``n`` pairs; None when not even a drop of everything would be."""

    def power_at(drop: float) -> float:
        if binary:
            return mcnemar_power(n, discordance, drop, alpha)
        return paired_t_power(n, sd, drop, alpha)

    if power_at(1.0) < power:
        return None
    return float(brentq(lambda x: power_at(x) - power, 1e-9, 1.0, xtol=1e-7))


# -- comparing runs -------------------------------------------------------------------------------


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


def _compare_metric(
    metric: str, base: dict[str, float], cand: dict[str, float], seed: int
) -> Comparison:
    ids = sorted(set(base) & set(cand))
    b = np.array([base[i] for i in ids], dtype=float)
    c = np.array([cand[i] for i in ids], dtype=float)
    if not ids:  # only one run scored it, or they scored different samples: nothing to pair
        nan = math.nan
        counts = {"baseline_n": len(base), "candidate_n": len(cand)}
        return Comparison(metric, nan, nan, nan, nan, nan, 0, 0, 0, nan, "none", **counts)
    low, high = paired_bootstrap(b, c, seed=seed)
    # A sample passes a metric when it scores 1 on it.
    p2f = int(np.sum((b == 1.0) & (c != 1.0)))
    f2p = int(np.sum((b != 1.0) & (c == 1.0)))
    diffs = c - b
    binary = bool(np.all(np.isin(b, (0.0, 1.0))) and np.all(np.isin(c, (0.0, 1.0))))
    p_value = mcnemar(p2f, f2p) if binary else paired_t(diffs)
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    return Comparison(
        metric,
        100 * float(b.mean()),
        100 * float(c.mean()),
        100 * float(diffs.mean()),
        100 * low,
        100 * high,
        len(ids),
        p2f,
        f2p,
        p_value,
        "mcnemar" if binary else "paired_t",
        len(base),
        len(cand),
        100 * float(np.mean(diffs != 0)),
        100 * sd,
    )


def compare(
    baseline: list[SampleRecord], candidate: list[SampleRecord], fam: str, seed: int = 0
) -> list[Comparison]:
    """Every metric either run has, compared on the samples both scored (``pairs``; a metric
    only one run scored has none). Raises GateError when the runs share no sample at all."""
    shared = {r.sample.id for r in baseline} & {r.sample.id for r in candidate}
    if not shared:
        raise GateError(
            f"no paired samples: the baseline holds {len(baseline)} samples and the candidate "
            f"{len(candidate)}, with no sample id in common; the gate compares the same samples"
        )
    base, cand = _scores(baseline, fam), _scores(candidate, fam)
    return [
        _compare_metric(m, base.get(m, {}), cand.get(m, {}), seed) for m in sorted({*base, *cand})
    ]


def nearest_metrics(pattern: str, names: list[str], count: int = 3) -> list[str]:
    """The metric names closest to a pattern that matched none (difflib), best first."""
    return difflib.get_close_matches(pattern, names, n=count, cutoff=0.5) or names[:count]


def unmatched_message(line: RedLine | str, names: list[str]) -> str:
    metric = line.metric if isinstance(line, RedLine) else str(line).split(":", 1)[0]
    near = ", ".join(nearest_metrics(metric, sorted(names))) or "none"
    return f"red line {line} matches no metric of either run; nearest metric names: {near}"


def _power(line: RedLine, row: Comparison) -> float | None:
    """The smallest drop (points) this line's test could detect on this row's pairs."""
    assert line.max_drop is not None
    drop = detectable_drop(
        row.pairs,
        line.significance,
        binary=row.test == "mcnemar",
        discordance=row.discordance / 100,
        sd=row.sd_diff / 100,
    )
    return None if drop is None else 100 * drop


def _check(line: RedLine, row: Comparison, require_power: bool) -> LineCheck:
    reasons = []
    if line.min is not None and not row.candidate >= line.min:
        reasons.append(f"{row.candidate:.1f} is under the floor {line.min:g}")
    detectable, underpowered = None, False
    if line.max_drop is not None:
        if row.delta < -line.max_drop and row.p_value < line.significance:
            test = "McNemar" if row.test == "mcnemar" else "paired t"
            reasons.append(
                f"dropped {-row.delta:.2f} points (interval {row.low:.2f} to {row.high:.2f}, "
                f"{test} p={row.p_value:.3g}, {row.pairs} pairs)"
            )
        detectable = _power(line, row)
        underpowered = detectable is None or detectable > line.max_drop
    power_note = (
        f"could detect no drop at all on {row.pairs} pairs at p<{line.significance:g}"
        if detectable is None
        else f"could detect only drops of {detectable:.1f} points or more"
    )
    if reasons:
        verdict, label = "breached", "breached: " + "; ".join(reasons)
    elif underpowered:
        verdict, label = "underpowered", f"held (underpowered: {power_note})"
        if require_power:
            verdict = "breached"
            reasons.append(f"underpowered: {power_note}, above max_drop {line.max_drop:g}")
            label = f"breached (--require-power): underpowered, {power_note}"
    else:
        verdict, label = "held", "held"
    return LineCheck(
        str(line), row.metric, row.pairs, verdict, label, detectable, underpowered, reasons
    )


def judge(table: list[Comparison], lines: list[RedLine], require_power: bool = False) -> GateResult:
    """Apply the red lines to a comparison table. A line of another metric family is not
    applied; a line of this family that matches no metric is listed in ``unmatched`` (the
    caller decides whether that is an error: `redline gate` says it is). A matched metric with
    no paired samples raises GateError: there is nothing to judge it on."""
    families = {row.metric.split("/", 1)[0] for row in table}
    result = GateResult(True, table=table, require_power=require_power)
    for line in lines:
        if not any(line.applies_to(fam) for fam in families):
            result.not_applied.append(str(line))
            continue
        rows = [row for row in table if fnmatch.fnmatchcase(row.metric, line.metric)]
        if not rows:
            result.unmatched.append(str(line))
            continue
        for row in rows:
            if row.pairs == 0:
                raise GateError(
                    f"red line {line}: {row.metric} has no paired samples (the baseline scored "
                    f"{row.baseline_n} samples on it, the candidate {row.candidate_n}, none "
                    "the same)"
                )
            check = _check(line, row, require_power)
            result.checks.append(check)
            result.breaches.extend(Breach(str(line), row.metric, r) for r in check.reasons)
    result.held = not result.breaches
    return result


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
        self,
        baseline: str | Path,
        redlines: list[RedLine] | str | Path | None = None,
        require_power: bool = False,
    ) -> None:
        self.suite, self.records = _load_run(baseline)
        self.lines = redlines if isinstance(redlines, list) else load_redlines(redlines)
        self.require_power = require_power

    def metric_names(self) -> list[str]:
        """The metrics of the baseline run, as red lines name them."""
        return sorted(_scores(self.records, family(self.suite)))

    def check(self, candidate: str | Path, strict: bool = True) -> GateResult:
        """Judge a candidate run. ``strict``: a line of this run's family that matches no
        metric, or a set of lines none of which applies to this run, raises GateError."""
        suite, records = _load_run(candidate)
        if suite != self.suite:
            raise RunError(f"baseline ran {self.suite!r} but the candidate ran {suite!r}")
        table = compare(self.records, records, family(suite))
        result = judge(table, self.lines, self.require_power)
        if strict:
            names = [row.metric for row in table]
            if result.unmatched:
                raise GateError("; ".join(unmatched_message(u, names) for u in result.unmatched))
            if not result.checks:
                raise GateError(
                    f"none of the red lines applies to this {family(suite)} run "
                    f"({'; '.join(result.not_applied)}); nothing would be checked"
                )
        return result
