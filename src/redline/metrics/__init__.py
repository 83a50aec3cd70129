"""Pure per-sample scorers, aggregate metrics, the BFCL-exact AST checker and the gate's
statistics (no I/O)."""

from redline.metrics.aggregate import (
    METRIC_NAMES,
    MetricValue,
    accuracy,
    error_counts,
    metric,
    summarize,
)
from redline.metrics.bfcl import Verdict, check, standardise
from redline.metrics.scorers import SCORERS, score_sample

__all__ = [
    "METRIC_NAMES",
    "SCORERS",
    "MetricValue",
    "Verdict",
    "accuracy",
    "check",
    "error_counts",
    "metric",
    "score_sample",
    "standardise",
    "summarize",
]
