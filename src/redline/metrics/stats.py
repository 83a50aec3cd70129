"""The gate's statistics: two runs' per-sample scores paired by sample id, compared metric by
metric (overall and per category) with a bootstrap interval of the delta, McNemar's exact test
for pass/fail scores or a paired t-test otherwise, and the smallest drop each test could detect.

Pure functions over records and arrays: no I/O, no red lines (those are redline.gate's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom, binomtest, nct, t, ttest_1samp

from redline.metrics.aggregate import METRIC_NAMES
from redline.records import SampleRecord

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95
POWER = 0.8  # the power at which the detectable drop is reported


class GateError(ValueError):
    """The gate cannot judge: runs with no sample in common, a metric with no paired samples, or
    a red line matching no metric (raised here for the first, by redline.gate for the others)."""


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


def metric_scores(records: list[SampleRecord], fam: str) -> dict[str, dict[str, float]]:
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
    base, cand = metric_scores(baseline, fam), metric_scores(candidate, fam)
    return [
        _compare_metric(m, base.get(m, {}), cand.get(m, {}), seed) for m in sorted({*base, *cand})
    ]
