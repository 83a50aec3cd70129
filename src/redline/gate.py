"""The red-line gate: compares a candidate run with a baseline run, metric by metric and category
by category, and says whether any red line was crossed. Red lines come from YAML; one unit
everywhere (red lines, tables, JSON): rates in percent (0-100), differences in percentage points.

Its statistics are pure functions in redline.metrics.stats and its run folders are read by
redline.harness.runs; this module holds the rules and the verdict. It is a module of its own, not
part of a room: in redline.suites it made the suites import the harness, in redline.metrics it
would read files, in redline.harness it would hold scoring rules. It sits above the harness and
the metrics and below its callers (`redline gate`, the training callback, the reports), and
imports no suite. Reads records; never recomputes a score.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from redline.harness.runs import RunError, load_run
from redline.metrics.stats import (
    POWER,
    Comparison,
    GateError,
    compare,
    detectable_drop,
    metric_scores,
)
from redline.records import first_error

UNITS = "percent (0-100); deltas, max_drop and detectable drops in percentage points"
FAMILIES = ("fc", "regression")
_GLOB = set("*?[")


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


class Gate:
    """``Gate(baseline_run, redlines).check(candidate_run) -> GateResult``."""

    def __init__(
        self,
        baseline: str | Path,
        redlines: list[RedLine] | str | Path | None = None,
        require_power: bool = False,
    ) -> None:
        self.suite, self.records = load_run(baseline)
        self.lines = redlines if isinstance(redlines, list) else load_redlines(redlines)
        self.require_power = require_power

    def metric_names(self) -> list[str]:
        """The metrics of the baseline run, as red lines name them."""
        return sorted(metric_scores(self.records, family(self.suite)))

    def check(self, candidate: str | Path, strict: bool = True) -> GateResult:
        """Judge a candidate run. ``strict``: a line of this run's family that matches no
        metric, or a set of lines none of which applies to this run, raises GateError."""
        suite, records = load_run(candidate)
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
