"""The static report's plots as PNG images (matplotlib, off-screen): error-type bars,
per-category bars, reward, KL and loss curves over training steps. Computes no number it shows.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

# Gate actions, coloured by how much they change the run.
ACTION_COLOURS = {"continue": "#2e7d32", "raise_beta": "#ef6c00", "lower_lr": "#ef6c00"}
STOP_COLOUR = "#c62828"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def error_bars(errors: Sequence[tuple[str, int, float]], title: str) -> bytes | None:
    """Horizontal bars: samples per error type, labelled with count and share."""
    if not errors:
        return None
    fig = Figure(figsize=(6.5, 0.45 * len(errors) + 1.2))
    ax = fig.subplots()
    names = [e[0] for e in errors][::-1]
    counts = [e[1] for e in errors][::-1]
    bars = ax.barh(names, counts, color="#c62828")
    labels = [f"{c} ({100 * s:.1f}%)" for _, c, s in errors][::-1]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=9)
    ax.set_xlabel("samples")
    ax.set_title(title, fontsize=11)
    ax.set_xlim(0, max(counts) * 1.3)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def category_bars(rows: Sequence[tuple[str, float, str]], title: str) -> bytes | None:
    """Vertical bars: each category's verdict metric (a fraction), named under its bar."""
    rows = [r for r in rows if r[1] is not None and not math.isnan(r[1])]
    if not rows:
        return None
    fig = Figure(figsize=(max(4.0, 1.3 * len(rows) + 1.5), 3.6))
    ax = fig.subplots()
    labels = [f"{cat}\n{metric}" for cat, _, metric in rows]
    values = [100 * v for _, v, _ in rows]
    bars = ax.bar(labels, values, color="#1565c0")
    ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], padding=2, fontsize=9)
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of scored samples")
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _mark_gates(ax: Any, gates: Sequence[dict[str, Any]]) -> None:
    for gate in gates:
        action = gate.get("action", "")
        colour = STOP_COLOUR if action == "stop" else ACTION_COLOURS.get(action, "#757575")
        ax.axvline(gate["step"], color=colour, linestyle=":", linewidth=1.2)
        ax.annotate(
            action,
            (gate["step"], 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=colour,
        )


def step_curves(
    train: pd.DataFrame,
    columns: Sequence[str],
    gates: Sequence[dict[str, Any]],
    title: str,
    ylabel: str = "reward",
) -> bytes | None:
    """Logged values over steps (the mean reward drawn thicker, e.g. beside its components);
    gate checks as dotted lines."""
    columns = [c for c in columns if c in train.columns and train[c].notna().any()]
    if not columns:
        return None
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.subplots()
    for column in columns:
        series = train[column].dropna()
        style = {"linewidth": 2.4} if column == "reward" else {"linewidth": 1.4}
        ax.plot(series.index, series.values, marker="o", markersize=3, label=column, **style)
    _mark_gates(ax, gates)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="best")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def kl_curves(train: pd.DataFrame, gates: Sequence[dict[str, Any]], title: str) -> bytes | None:
    """The trainer's KL and the gate's kl_probe over steps, with beta on a second axis."""
    kl = train["kl"].dropna() if "kl" in train.columns else pd.Series(dtype=float)
    probes = [(g["step"], g["kl_probe"]) for g in gates if g.get("kl_probe") is not None]
    if kl.empty and not probes:
        return None
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.subplots()
    if not kl.empty:
        ax.plot(kl.index, kl.values, marker="o", markersize=3, label="kl (trainer)")
    if probes:
        steps, values = zip(*probes, strict=True)
        ax.plot(steps, values, marker="s", linestyle="--", label="kl_probe (gate)")
    _mark_gates(ax, gates)
    ax.set_xlabel("step")
    ax.set_ylabel("KL")
    lines, labels = ax.get_legend_handles_labels()
    if "beta" in train.columns and train["beta"].notna().any():
        beta = train["beta"].dropna()
        twin = ax.twinx()
        twin.plot(beta.index, beta.values, color="#6a1b9a", linewidth=1, label="beta")
        twin.set_ylabel("beta")
        more, names = twin.get_legend_handles_labels()
        lines, labels = lines + more, labels + names
    ax.legend(lines, labels, fontsize=8, loc="best")
    ax.set_title(title, fontsize=11)
    return _png(fig)
