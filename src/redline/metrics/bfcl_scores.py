"""BFCL v4 leaderboard aggregates from per-category accuracies, the way the leaderboard adds
them up, and the row of its overall score table.

Non-live = plain mean of simple, multiple, parallel and parallel_multiple, where simple is the
plain mean of python, java and javascript; live = mean of the four live AST categories weighted
by their sizes; irrelevance = plain mean of irrelevance and live_irrelevance; overall =
(10 non-live + 10 live + 10 irrelevance + 30 multi-turn + 40 agentic) / 100. As on the
leaderboard, a category not run counts as 0 (with its full size as weight) and is shown as not
run; an aggregate that misses one is partial. Pure functions; no I/O.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Score:
    """An accuracy, the sample count behind it, and whether everything in it was run."""

    accuracy: float
    count: int
    complete: bool

    def shown(self) -> float | str:
        return self.accuracy if self.complete else "not run"


def _category(scores: dict[str, tuple[float, int]], sizes: dict[str, int], name: str) -> Score:
    if name in scores:
        accuracy, count = scores[name]
        return Score(accuracy, count, True)
    return Score(0.0, sizes.get(name, 0), False)


def _plain(parts: list[Score]) -> Score:
    return Score(
        sum(p.accuracy for p in parts) / len(parts),
        sum(p.count for p in parts),
        all(p.complete for p in parts),
    )


def _weighted(parts: list[Score]) -> Score:
    total = sum(p.count for p in parts)
    accuracy = sum(p.accuracy * p.count for p in parts) / total if total else 0.0
    return Score(accuracy, total, all(p.complete for p in parts))


def leaderboard(scores: dict[str, tuple[float, int]], sizes: dict[str, int]) -> dict[str, Score]:
    """Every category and aggregate. ``scores`` maps a category run to (accuracy, samples);
    ``sizes`` gives each category's full size, the weight of a category not run."""

    def cat(name: str) -> Score:
        return _category(scores, sizes, name)

    out = {
        name: cat(name) for name in (*NON_LIVE_SIMPLE, *NON_LIVE_OTHERS, *LIVE_AST, *IRRELEVANCE)
    }
    out["live_relevance"] = cat("live_relevance")
    out["simple"] = _plain([cat(n) for n in NON_LIVE_SIMPLE])
    out["non_live"] = _plain([out["simple"], *(cat(n) for n in NON_LIVE_OTHERS)])
    out["live"] = _weighted([cat(n) for n in LIVE_AST])
    out["irrelevance_total"] = _plain([cat(n) for n in IRRELEVANCE])
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
    out["overall"] = Score(
        sum(OVERALL_WEIGHTS[k] * p.accuracy for k, p in parts.items()) / weight,
        sum(p.count for p in parts.values()),
        all(p.complete for p in parts.values()),
    )
    return out


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


# Shown as a number even when partial, as the leaderboard does for these two.
_ALWAYS_SHOWN = frozenset({"overall", "live"})


def overall_row(model: str, board: dict[str, Score]) -> list[Any]:
    """One row of data_overall.csv: percentages with two decimals, N/A where not run."""
    row: list[Any] = []
    for _, key in OVERALL_COLUMNS:
        if key == "model":
            row.append(model)
        elif key is None or (not board[key].complete and key not in _ALWAYS_SHOWN):
            row.append("N/A")
        else:
            row.append(f"{100 * board[key].accuracy:.2f}%")
    return row
