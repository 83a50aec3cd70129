"""BFCL v4 leaderboard aggregates from per-category results, the way the leaderboard adds
them up, and the row of its overall score table. One computation (:func:`leaderboard`) feeds
the console, metrics.json and the CSV.

Non-live = plain mean of simple, multiple, parallel and parallel_multiple, where simple is the
plain mean of python, java and javascript; live = mean of the four live AST categories weighted
by their sizes; irrelevance = plain mean of irrelevance and live_irrelevance; overall =
(10 non-live + 10 live + 10 irrelevance + 30 multi-turn + 40 agentic) / 100. As on the
leaderboard, a category not run counts as 0 with its full size as weight; so does a category
that ran but could not be scored (redline does not check Java/JS yet), which is shown as
unscored, not as not run. An aggregate that counts one of them as 0 is partial. Pure
functions; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

NON_LIVE_SIMPLE = ("simple_python", "simple_java", "simple_javascript")
NON_LIVE_OTHERS = ("multiple", "parallel", "parallel_multiple")
LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE = ("irrelevance", "live_irrelevance")
MULTI_TURN = (
    "multi_turn_base",
    "multi_turn_miss_func",
    "multi_turn_miss_param",
    "multi_turn_long_context",
)
AGENTIC = ("web_search", "memory")
OVERALL_WEIGHTS = {"non_live": 10, "live": 10, "irrelevance": 10, "multi_turn": 30, "agentic": 40}
# The aggregates, in the order they are shown.
AGGREGATES = ("simple", "non_live", "live", "irrelevance_total", "multi_turn", "agentic", "overall")

# A category's status; an aggregate is complete or partial.
SCORED, UNSCORED, NOT_RUN = "scored", "unscored", "not run"
COMPLETE, PARTIAL = "complete", "partial"


@dataclass(frozen=True)
class CategoryRun:
    """What one category's run gave: the verdict's mean over the scored samples (None when no
    sample could be scored), how many were scored and how many ran but could not be, and why."""

    accuracy: float | None
    scored: int
    unscored: int = 0
    why_unscored: str = ""  # the unscored samples' error types with counts, e.g. "unsupported 100"
    no_output: int = 0  # failures because the model gave nothing (a replay's missing ids)


@dataclass(frozen=True)
class Score:
    """A category's or an aggregate's accuracy as it enters the aggregates above it.

    ``count`` is its weight: the samples scored, or a category's full size where it counts as 0.
    ``zeroed`` names the categories below it that count as 0 (not run or unscored).
    """

    accuracy: float
    count: int
    status: str  # scored / unscored / not run (a category); complete / partial (an aggregate)
    scored: int = 0  # samples actually scored below it
    unscored: int = 0  # samples that ran below it and could not be scored
    zeroed: tuple[str, ...] = ()
    why_unscored: str = ""
    no_output: int = 0  # scored samples that failed for want of any output

    @property
    def complete(self) -> bool:
        return self.status in (SCORED, COMPLETE)

    @property
    def has_value(self) -> bool:
        """Whether there is a number to show: a scored category or any aggregate."""
        return self.status != UNSCORED and self.status != NOT_RUN

    def shown(self) -> str:
        """As the console and metrics.json show it: a percentage with two decimals (as in
        bfcl_scores.csv), ``partial`` after a partial aggregate, or the category's status."""
        if not self.has_value:
            return self.status
        text = f"{100 * self.accuracy:.2f}"
        return f"{text} (partial)" if self.status == PARTIAL else text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "accuracy": self.accuracy if self.has_value else None,
            "scored": self.scored,
            "unscored": self.unscored,
            "weight": self.count,
        }
        if self.zeroed:
            out["counted_as_zero"] = list(self.zeroed)
        if self.why_unscored:
            out["why_unscored"] = self.why_unscored
        if self.no_output:
            out["no_output"] = self.no_output
        return out


def category_run(verdict: dict[str, Any] | None, errors: dict[str, int]) -> CategoryRun:
    """A category's result from its run's metrics.json: ``verdict`` is the overall entry of its
    verdict metric (value, scored, unscored), ``errors`` the run's error-type counts."""
    verdict = verdict or {}
    value = verdict.get("value")
    scored = int(verdict.get("scored") or 0)
    accuracy = None if value is None or scored == 0 or math.isnan(value) else float(value)
    unscored = int(verdict.get("unscored") or 0)
    why = ", ".join(f"{k} {v}" for k, v in errors.items() if k in _UNSCORED_TYPES)
    return CategoryRun(
        accuracy, scored, unscored, why if unscored else "", errors.get("no_output", 0)
    )


# Error types that leave a sample unscored rather than failed (see redline.records.ErrorType).
_UNSCORED_TYPES = frozenset({"unsupported", "invalid_sample", "scorer_error"})


def _category(runs: dict[str, CategoryRun], sizes: dict[str, int], name: str) -> Score:
    run = runs.get(name)
    if run is None:
        return Score(0.0, sizes.get(name, 0), NOT_RUN, zeroed=(name,))
    if run.accuracy is None:
        # Ran, but nothing could be scored: 0 with its full size, as a category not run.
        return Score(
            0.0,
            sizes.get(name, run.unscored),
            UNSCORED,
            unscored=run.unscored,
            zeroed=(name,),
            why_unscored=run.why_unscored,
        )
    return Score(
        run.accuracy,
        run.scored,
        SCORED,
        scored=run.scored,
        unscored=run.unscored,
        why_unscored=run.why_unscored,
        no_output=run.no_output,
    )


def _combine(accuracy: float, parts: list[Score]) -> Score:
    zeroed = tuple(name for p in parts for name in p.zeroed)
    return Score(
        accuracy,
        sum(p.count for p in parts),
        PARTIAL if zeroed else COMPLETE,
        scored=sum(p.scored for p in parts),
        unscored=sum(p.unscored for p in parts),
        no_output=sum(p.no_output for p in parts),
        zeroed=zeroed,
    )


def _plain(parts: list[Score]) -> Score:
    return _combine(sum(p.accuracy for p in parts) / len(parts), parts)


def _weighted(parts: list[Score]) -> Score:
    total = sum(p.count for p in parts)
    accuracy = sum(p.accuracy * p.count for p in parts) / total if total else 0.0
    return _combine(accuracy, parts)


def leaderboard(runs: dict[str, CategoryRun], sizes: dict[str, int]) -> dict[str, Score]:
    """Every category and aggregate. ``runs`` maps each category that ran to its result;
    ``sizes`` gives each category's full size, the weight of one that counts as 0."""

    def cat(name: str) -> Score:
        return _category(runs, sizes, name)

    out = {
        name: cat(name) for name in (*NON_LIVE_SIMPLE, *NON_LIVE_OTHERS, *LIVE_AST, *IRRELEVANCE)
    }
    out["live_relevance"] = cat("live_relevance")
    out["simple"] = _plain([out[n] for n in NON_LIVE_SIMPLE])
    out["non_live"] = _plain([out["simple"], *(out[n] for n in NON_LIVE_OTHERS)])
    out["live"] = _weighted([out[n] for n in LIVE_AST])
    out["irrelevance_total"] = _plain([out[n] for n in IRRELEVANCE])
    out["multi_turn"] = _plain([cat(n) for n in MULTI_TURN])
    out["agentic"] = _plain([cat(n) for n in AGENTIC])
    parts = {
        "non_live": out["non_live"],
        "live": out["live"],
        "irrelevance": out["irrelevance_total"],
        "multi_turn": out["multi_turn"],
        "agentic": out["agentic"],
    }
    weight = sum(OVERALL_WEIGHTS.values())
    overall = sum(OVERALL_WEIGHTS[k] * p.accuracy for k, p in parts.items()) / weight
    out["overall"] = _combine(overall, list(parts.values()))
    return out


def summary(board: dict[str, Score], categories: list[str]) -> dict[str, Any]:
    """The scores part of a leaderboard run's metrics.json: every category asked for, every
    aggregate, with status and counts; the same values the console and the CSV show."""
    return {
        "categories": {
            f"bfcl/{c}": board[c].accuracy if board[c].has_value else None for c in categories
        },
        "scores": {name: board[name].to_dict() for name in (*categories, *AGGREGATES)},
        "overall": board["overall"].accuracy,
        "overall_partial": not board["overall"].complete,
    }


# The columns of the leaderboard's data_overall.csv, and where redline's values go.
OVERALL_COLUMNS: list[tuple[str, str | None]] = [
    ("Rank", None),
    ("Overall Acc", "overall"),
    ("Model", "model"),
    ("Model Link", None),
    ("Total Cost ($)", None),
    ("Latency Mean (s)", None),
    ("Latency Standard Deviation (s)", None),
    ("Latency 95th Percentile (s)", None),
    ("Non-Live AST Acc", "non_live"),
    ("Non-Live Simple AST", "simple"),
    ("Non-Live Multiple AST", "multiple"),
    ("Non-Live Parallel AST", "parallel"),
    ("Non-Live Parallel Multiple AST", "parallel_multiple"),
    ("Live Acc", "live"),
    ("Live Simple AST", "live_simple"),
    ("Live Multiple AST", "live_multiple"),
    ("Live Parallel AST", "live_parallel"),
    ("Live Parallel Multiple AST", "live_parallel_multiple"),
    ("Multi Turn Acc", "multi_turn"),
    ("Multi Turn Base", None),
    ("Multi Turn Miss Func", None),
    ("Multi Turn Miss Param", None),
    ("Multi Turn Long Context", None),
    ("Web Search Acc", None),
    ("Web Search Base", None),
    ("Web Search No Snippet", None),
    ("Memory Acc", None),
    ("Memory KV", None),
    ("Memory Vector", None),
    ("Memory Recursive Summarization", None),
    ("Relevance Detection", "live_relevance"),
    ("Irrelevance Detection", "irrelevance_total"),
    ("Format Sensitivity Max Delta", None),
    ("Format Sensitivity Standard Deviation", None),
    ("Organization", None),
    ("License", None),
]


# Shown as a number in the CSV even when partial, as the leaderboard does for these two.
_ALWAYS_SHOWN = frozenset({"overall", "live"})


def overall_row(model: str, board: dict[str, Score]) -> list[Any]:
    """One row of data_overall.csv: percentages with two decimals; N/A, as on the leaderboard,
    for a category not run (or unscored) and for a partial aggregate other than Live and
    Overall, which the leaderboard shows as numbers even when partial."""
    row: list[Any] = []
    for _, key in OVERALL_COLUMNS:
        if key == "model":
            row.append(model)
        elif key is None or (not board[key].complete and key not in _ALWAYS_SHOWN):
            row.append("N/A")
        else:
            row.append(f"{100 * board[key].accuracy:.2f}%")
    return row
