"""Aggregate metrics: pure functions from lists of per-sample scores and records to numbers.

Means leave unscored and not-applicable samples out and give NaN on empty input, never 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from redline.records import SampleRecord, Score

# Scorer name -> metric name in tables and metrics.json.
METRIC_NAMES: dict[str, str] = {
    "parse": "parse_rate",
    "function_name": "function_name_accuracy",
    "param_f1": "param_f1",
    "semantic_f1": "semantic_f1",
    "semantic_match": "semantic_match",
    "schema_hit": "schema_hit_rate",
    "exec": "exec_rate",
    "ast": "ast_accuracy",
    "irrelevance": "irrelevance",
    "relevance": "relevance",
    "format_strict": "format_strict_rate",
    "toolrl": "toolrl_correctness",
    "answer": "answer_accuracy",
}


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; NaN for no values."""
    values = list(values)
    return math.fsum(values) / len(values) if values else math.nan


@dataclass(frozen=True)
class MetricValue:
    """A mean over the scored samples, with the counts that qualify it."""

    value: float
    scored: int  # samples with a score, the mean's denominator
    unscored: int  # samples the scorer could not score (an error type, e.g. invalid_sample)
    not_applicable: int

    def to_dict(self) -> dict[str, float | int | None]:
        out = asdict(self)
        out["value"] = None if math.isnan(self.value) else self.value
        return out


def metric(scores: Sequence[Score]) -> MetricValue:
    """Mean of the scored values among ``scores``."""
    values = [s.value for s in scores if s.value is not None]
    unscored = sum(1 for s in scores if s.value is None and s.error_type is not None)
    return MetricValue(mean(values), len(values), unscored, len(scores) - len(values) - unscored)


def summarize(records: Sequence[SampleRecord]) -> dict[str, MetricValue]:
    """Every scorer present in ``records`` as a metric (named by METRIC_NAMES)."""
    names: list[str] = []
    for record in records:
        names.extend(n for n in record.scores if n not in names)
    out = {}
    for name in names:
        scores = [r.scores[name] for r in records if name in r.scores]
        out[METRIC_NAMES.get(name, name)] = metric(scores)
    return out


def accuracy(records: Sequence[SampleRecord]) -> float:
    """Share of records with no error type (the verdict held); NaN for no records."""
    return mean(0.0 if r.error_type is not None else 1.0 for r in records)


def error_counts(records: Iterable[SampleRecord]) -> Counter[str]:
    """How many records carry each error type."""
    return Counter(r.error_type.value for r in records if r.error_type is not None)


def by_category(records: Sequence[SampleRecord]) -> dict[str, list[SampleRecord]]:
    groups: dict[str, list[SampleRecord]] = {}
    for record in records:
        groups.setdefault(record.sample.category, []).append(record)
    return groups
