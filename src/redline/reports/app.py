"""The error explorer: a Streamlit app over the runs under $REDLINE_RUNS_DIR (set by
`redline explore`), with pages for runs, errors, comparisons, one sample and training.
It shows what run folders, metrics.json, the gate and the training logs say; it scores nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import altair as alt
import pandas as pd
import streamlit as st
from pydantic import ValidationError

from redline.gate import GateResult, fmt_points, fmt_value
from redline.records import ParseErrorKind, error_text
from redline.reports import loading
from redline.reports.diff import diff_rows
from redline.reports.loading import pct

PAGES = ("Runs", "Errors", "Compare", "Sample", "Training")
# Selections kept across pages and written to the URL, so a link can open any view.
STATE = ("page", "checkpoint", "suite", "sample", "base", "cand", "training")
FAILED_ONLY = "failed_only"


# --- cached reads: keyed by the files' size and time, so a run still being written reloads.
# (Every argument is part of the key, the unused ones included.)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)


@st.cache_resource(show_spinner=False)
def _catalog(root: str, generation: int) -> loading.Catalog:
    return loading.discover(root)


@st.cache_resource(show_spinner="Reading samples ...", max_entries=64)
def _samples(path: str, name: str, stamp: tuple[int, int]) -> loading.Samples:
    return loading.load_samples(path, name)


@st.cache_resource(show_spinner=False, max_entries=256)
def _metrics(path: str, stamp: tuple[int, int]) -> tuple[dict[str, Any] | None, str | None]:
    catalog = loading.discover(path)
    return loading.run_metrics(catalog.evals[0]) if catalog.evals else (None, None)


@st.cache_resource(show_spinner="Running the gate ...", max_entries=32)
def _gate(
    base: str, cand: str, redlines: str | None, stamps: tuple[Any, ...]
) -> tuple[GateResult | None, list[str], str | None]:
    try:
        b, c = loading.discover(base).evals[0], loading.discover(cand).evals[0]
        result, problems = loading.gate_between(b, c, redlines)
    except (ValueError, IndexError) as exc:
        return None, [], str(exc)
    return result, problems, None


@st.cache_resource(show_spinner=False, max_entries=16)
def _training(path: str, stamps: tuple[Any, ...]) -> loading.TrainingLogs:
    run = loading.discover(path).trainings[0]
    return loading.load_training(run)


def samples_of(run: loading.EvalRun) -> loading.Samples:
    return _samples(str(run.path), run.name, _stamp(run.path / loading.SAMPLES))


def metrics_of(run: loading.EvalRun) -> tuple[dict[str, Any] | None, str | None]:
    return _metrics(str(run.path), _stamp(run.path / "metrics.json"))


def checkpoint_frame(runs: list[loading.EvalRun]) -> tuple[pd.DataFrame, list[str]]:
    """The samples of a checkpoint's eval runs, one frame with a suite column."""
    frames, problems = [], []
    for run in runs:
        loaded = samples_of(run)
        problems.extend(loaded.problems)
        frames.append(loaded.frame.assign(suite=run.suite, run=run.name))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame, problems


# --- state ---


def _restore_state() -> None:
    if "_restored" not in st.session_state:
        st.session_state["_restored"] = True
        for key in STATE:
            if key in st.query_params:
                st.session_state[key] = st.query_params[key]
    # A widget's value is dropped when a page does not draw it; writing it back keeps it.
    for key in (*STATE, FAILED_ONLY):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _save_state() -> None:
    st.query_params.from_dict(
        {k: str(st.session_state[k]) for k in STATE if st.session_state.get(k) is not None}
    )


def choose(
    where: Any, label: str, options: list[str], key: str, default: str | None = None, **kw: Any
) -> str | None:
    """A selectbox whose remembered value is dropped when it is no longer an option."""
    if not options:
        where.info(f"No {label.lower()} to choose from.")
        return None
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    return where.selectbox(label, options, key=key, **kw)


def link(**params: str) -> str:
    return "?" + urlencode(params)


def open_sample(checkpoint: str, suite: str | None, picker: str) -> None:
    """Open the sample chosen in the selectbox ``picker`` ("suite · id" when ``suite`` is None)
    on the Sample page. A callback runs before the script, when widget values may still be
    set, and reads the picker's value as it is now."""
    picked = str(st.session_state[picker])
    sample = picked
    if suite is None:
        suite, sample = picked.split(" · ", 1)
    st.session_state.update(page="Sample", checkpoint=checkpoint, suite=suite, sample=sample)
    st.session_state[FAILED_ONLY] = False


def table(frame: pd.DataFrame, **kw: Any) -> None:
    """st.table, with '-' (no value) shown as a dash: st.table reads cells as Markdown, where a
    lone '-' is a list item."""
    st.table(frame.replace({"-": "–"}), **kw)


def show_problems(problems: list[str]) -> None:
    for problem in dict.fromkeys(problems):
        st.warning(problem, icon="⚠️")


# --- pages ---


def runs_page(catalog: loading.Catalog) -> None:
    st.header("Runs")
    st.caption(f"Found under {catalog.root}")
    for problem in catalog.problems:
        st.error(problem)
    problems = [p for item in [*catalog.trainings, *catalog.evals] for p in item.problems]
    if problems:
        st.subheader("Folders that cannot be read in full")
        st.caption("Everything else still loads; these parts are left out.")
        show_problems(problems)
    if catalog.trainings:
        st.subheader("Training runs")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "training run": t.name,
                        "kind": t.meta.get("kind", "?"),
                        "base model": t.meta.get("base_model", "?"),
                        "checkpoints evaluated": len(t.checkpoints),
                        "started": t.meta.get("started"),
                        "finished": t.meta.get("finished"),
                    }
                    for t in catalog.trainings
                ]
            ),
            hide_index=True,
        )
    if not catalog.evals:
        return
    st.subheader("Eval runs by checkpoint")
    rows = []
    for run in catalog.evals:
        settings = run.manifest.get("settings") or {}
        rows.append(
            {
                "checkpoint": run.checkpoint,
                "suite": run.suite,
                "model": run.model,
                "samples": run.manifest.get("samples"),
                **{k: run.sampling.get(k) for k in ("temperature", "top_p", "max_new_tokens")},
                "seed": run.sampling.get("seed"),
                "mode": settings.get("mode") if isinstance(settings, dict) else None,
                "format": run.manifest.get("format"),
                "finished": run.manifest.get("finished"),
                "folder": run.name,
                "problems": len(run.problems),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    names = [r.name for r in catalog.evals]
    name = choose(st, "Manifest of", names, "manifest_of")
    if name:
        run = catalog.run(name)
        if run.manifest:
            st.json(run.manifest, expanded=1)
        else:
            st.info(f"{name} has no manifest.")


def _metrics_table(runs: list[loading.EvalRun]) -> pd.DataFrame:
    rows = []
    for run in runs:
        metrics, note = metrics_of(run)
        if note:
            st.caption(note)
        if metrics is None:
            continue
        overall = metrics["overall"]
        row: dict[str, Any] = {"suite": run.suite, "samples": overall["samples"]}
        for name in loading.headline_metrics(metrics):
            row[name] = pct(overall["metrics"][name]["value"])
        rows.append(row)
    return pd.DataFrame(rows).fillna("-") if rows else pd.DataFrame()


def errors_page(catalog: loading.Catalog, checkpoint: str) -> None:
    runs = catalog.checkpoints()[checkpoint]
    st.header(f"Errors · {checkpoint}")
    frame, problems = checkpoint_frame(runs)
    show_problems([p for r in runs for p in r.problems] + problems)
    metrics = _metrics_table(runs)
    if not metrics.empty:
        st.subheader("Metrics")
        table(metrics, hide_index=True)
    if frame.empty:
        st.info("No readable samples in this checkpoint.")
        return
    cols = st.columns(3)
    suites = cols[0].multiselect(
        "Suite", sorted(frame["suite"].unique()), key="f_suite", placeholder="all suites"
    )
    categories = cols[1].multiselect(
        "Category", sorted(frame["category"].unique()), key="f_category", placeholder="all"
    )
    kinds = sorted(frame["error_type"].dropna().unique())
    errors = cols[2].multiselect("Error type", kinds, key="f_error", placeholder="all")
    shown = frame
    if suites:
        shown = shown[shown["suite"].isin(suites)]
    if categories:
        shown = shown[shown["category"].isin(categories)]
    if errors:
        shown = shown[shown["error_type"].isin(errors)]
    st.subheader("Error type × category")
    st.caption(f"{len(shown)} of {len(frame)} samples; '{loading.PASSED}' = no error")
    counts = loading.error_table(shown, by=("suite", "category"))
    if counts.empty:
        st.info("No samples match these filters.")
        return
    table(counts)
    failed = counts.drop(columns=[loading.PASSED], errors="ignore")
    failed = failed[failed.sum(axis=1) > 0]
    if not failed.empty:
        chart = failed.copy()
        chart.index = [f"{s} · {c}" for s, c in chart.index]
        long = chart.reset_index(names="category").melt(
            id_vars="category", var_name="error type", value_name="samples"
        )
        st.bar_chart(long, x="category", y="samples", color="error type", horizontal=True)
    shares = shown["error_type"].fillna(loading.PASSED).value_counts()
    table(
        pd.DataFrame(
            {
                "samples": shares,
                "share": [f"{100 * n / len(shown):.1f}%" for n in shares],
            }
        ).rename_axis("error type")
    )
    st.subheader("Failed samples")
    failing = shown[shown["error_type"].notna()]
    st.dataframe(
        failing[["suite", "id", "category", "error_type", "error_detail"]],
        hide_index=True,
    )
    if not failing.empty:
        labels = [f"{s} · {i}" for s, i in zip(failing["suite"], failing["id"], strict=True)]
        st.selectbox("Open a failed sample", labels, key="open_failed")
        st.button(
            "Open in the Sample page",
            on_click=open_sample,
            args=(checkpoint, None, "open_failed"),
            key="open_failed_button",
        )


def _calls(calls: list[Any]) -> list[dict[str, Any]]:
    return [{"name": c.name, "arguments": c.arguments} for c in calls]


def _mark_mismatch(row: pd.Series) -> list[str]:
    shade = "" if row["status"] in ("equal", "optional (absent)") else "background-color: #fde7e7"
    return [shade] * len(row)


def sample_page(catalog: loading.Catalog, checkpoint: str) -> None:
    runs = catalog.checkpoints()[checkpoint]
    st.header(f"Sample · {checkpoint}")
    by_suite = {r.suite: r for r in runs}
    suite = choose(st, "Suite", list(by_suite), "suite")
    if suite is None:
        return
    run = by_suite[suite]
    loaded = samples_of(run)
    show_problems(run.problems + loaded.problems)
    frame = loaded.frame
    only_failed = st.checkbox("Failed samples only", key=FAILED_ONLY)
    if only_failed:
        frame = frame[frame["error_type"].notna()]
    outcome = dict(zip(frame["id"], frame["error_type"].fillna(loading.PASSED), strict=True))
    sample_id = choose(
        st, "Sample", list(outcome), "sample", format_func=lambda i: f"{i} · {outcome[i]}"
    )
    if sample_id is None:
        return
    row = frame[frame["id"] == sample_id].iloc[0]
    try:
        record = loading.read_sample(run.path, int(row["offset"]), int(row["length"]))
    except ValidationError as exc:
        st.error(f"{run.name}: sample {sample_id} is not a valid record: {error_text(exc)}")
        return
    sample, completion = record.sample, record.completion
    if record.error_type is None:
        st.success(f"{sample.id} ({sample.category}, expects {sample.expect}): passed")
    else:
        st.error(
            f"{sample.id} ({sample.category}, expects {sample.expect}): "
            f"{record.error_type.value} — {record.error_detail}"
        )
    left, right = st.columns(2)
    with left:
        st.subheader("Messages")
        for message in sample.messages:
            with st.chat_message(str(message.get("role", "user"))):
                st.text(str(message.get("content") or ""))
                if message.get("tool_calls"):
                    st.json(message["tool_calls"])
        st.subheader(f"Offered tools ({len(sample.tools)})")
        for tool in sample.tools:
            with st.expander(tool.name):
                st.json(tool.model_dump(mode="json"))
    with right:
        st.subheader("Raw output")
        st.code(completion.raw or "(empty)", language=None, wrap_lines=True)
        st.subheader("Reasoning")
        if completion.reasoning:
            st.code(completion.reasoning, language=None, wrap_lines=True)
        else:
            st.caption("No reasoning in this output.")
        if completion.parse_error is not None:
            error = completion.parse_error
            # Finding no call is right where none is wanted (irrelevance, free-text answers):
            # no warning then; whatever else failed is named above.
            if sample.expect in ("no_call", "answer"):
                if error.kind in (ParseErrorKind.no_call, ParseErrorKind.empty):
                    st.caption("No call was made, as this sample expects.")
                else:
                    st.caption(
                        f"No call could be read ({error.kind.value}: {error.message}); "
                        "this sample expects none."
                    )
            else:
                st.warning(f"parse error ({error.kind.value}): {error.message}")
        if completion.extra_text and completion.calls:
            st.caption(f"Text outside the calls: {completion.extra_text!r}")
    calls_left, calls_right = st.columns(2)
    with calls_left:
        st.subheader("Parsed calls")
        st.json(_calls(completion.calls))
    with calls_right:
        st.subheader("Expected calls")
        if sample.expected is not None:
            st.json(_calls(sample.expected))
        elif sample.possible_answer is not None:
            st.json(sample.possible_answer)
        elif sample.expect == "no_call":
            st.caption("No call: no offered tool fits this request.")
        else:
            st.caption(f"Expects {sample.expect}; no calls are listed.")
    st.subheader("Arguments, field by field")
    rows = diff_rows(sample, completion)
    if rows:
        st.caption("Calls lined up by name; the verdict is the scores' below.")
        st.table(pd.DataFrame(rows).style.apply(_mark_mismatch, axis=1), hide_index=True)
    else:
        st.caption("No calls expected and none made.")
    st.subheader("Scores")
    table(
        pd.DataFrame(
            [
                {
                    "scorer": name,
                    "value": "-" if score.value is None else f"{score.value:.3f}",
                    "error type": score.error_type.value if score.error_type else "",
                    "detail": score.detail,
                }
                for name, score in record.scores.items()
            ]
        ),
        hide_index=True,
    )


def compare_page(catalog: loading.Catalog, redlines: str | None) -> None:
    st.header("Compare two checkpoints")
    groups = catalog.checkpoints()
    keys = list(groups)
    # Open on two checkpoints that can be compared; with none such, the first and the last.
    ends = (keys[0], keys[-1]) if keys else (None, None)
    first, last = loading.compare_pair(catalog) or ends
    cols = st.columns(2)
    base = choose(cols[0], "Baseline", keys, "base", default=first)
    cand = choose(cols[1], "Candidate", keys, "cand", default=last)
    if base is None or cand is None:
        return
    base_runs = {r.suite: r for r in groups[base]}
    cand_runs = {r.suite: r for r in groups[cand]}
    shared = [s for s in base_runs if s in cand_runs]
    # One line for all of them: two BFCL runs can differ by a dozen categories.
    alone = sorted(set(base_runs) ^ set(cand_runs))
    if len(alone) == 1:
        st.info(f"{alone[0]} was run on only one of the two; it is not compared.")
    elif alone:
        st.info(f"{', '.join(alone)} were run on only one of the two; they are not compared.")
    if not shared:
        st.warning("These checkpoints share no suite.")
        return
    verdicts = []
    unjudged = []
    for suite in shared:
        b, c = base_runs[suite], cand_runs[suite]
        stamps = (_stamp(b.path / loading.SAMPLES), _stamp(c.path / loading.SAMPLES))
        result, problems, error = _gate(str(b.path), str(c.path), redlines, stamps)
        st.subheader(suite)
        show_problems(problems)
        if result is None:
            st.error(error)
            unjudged.append(suite)
            continue
        verdicts.append(result.held)
        if result.held:
            st.success("Gate: every red line holds.")
        else:
            st.error(
                "Gate: red line crossed — "
                + "; ".join(f"{x.metric}: {x.reason}" for x in result.breaches)
            )
        deltas = pd.DataFrame(
            [
                {
                    "metric": r.metric,
                    "baseline": fmt_value(r.baseline),
                    "candidate": fmt_value(r.candidate),
                    "delta": fmt_points(r.delta),
                    "95% interval": f"{fmt_points(r.low)} .. {fmt_points(r.high)}",
                    "pass→fail": r.pass_to_fail,
                    "fail→pass": r.fail_to_pass,
                    "p (test)": f"{r.p_value:.3g} ({r.test})",
                    "pairs": r.pairs,
                }
                for r in sorted(result.table, key=lambda r: (r.metric.count("/"), r.metric))
            ]
        )
        st.dataframe(deltas, hide_index=True)
        flipped = loading.flips(samples_of(b).frame, samples_of(c).frame)
        counts = flipped["flip"].value_counts()
        st.markdown(
            "**Flipped samples:** "
            + ", ".join(
                f"{k} {counts.get(k, 0)}" for k in ("pass→fail", "fail→pass", "other error")
            )
        )
        if not flipped.empty:
            table(flipped, hide_index=True)
            key = f"flip_{suite}"
            st.selectbox("Open a flipped sample", list(flipped["id"]), key=key)
            st.button(
                "Open the candidate's output",
                on_click=open_sample,
                args=(cand, suite, key),
                key=f"{key}_button",
            )
    # A suite the gate could not judge is never counted as holding.
    not_judged = (
        f"; {len(unjudged)} could not be judged ({', '.join(unjudged)})" if unjudged else ""
    )
    if verdicts and not all(verdicts):
        st.error(f"Overall: the gate is crossed on {verdicts.count(False)} suite(s){not_judged}.")
    elif unjudged:
        st.warning(
            f"Overall: the gate holds on {len(verdicts)} of {len(shared)} suites{not_judged}."
        )
    elif verdicts:
        st.success(f"Overall: the gate holds on all {len(verdicts)} suites.")


def _curves(
    frame: pd.DataFrame, columns: list[str], gates: list[dict[str, Any]], axis: str
) -> alt.LayerChart:
    """Lines over steps, one per column (gaps skipped, so sparse series still connect), with a
    dashed rule at each gate check."""
    long = (
        frame[columns]
        .reset_index()
        .melt(id_vars="step", var_name="series", value_name="value")
        .dropna()
    )
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("value:Q", title=axis),
            color=alt.Color("series:N", title=None),
            tooltip=["step", "series", "value"],
        )
    )
    if not gates:
        return alt.layer(lines)
    checks = pd.DataFrame(
        [{"step": g["step"], "action": g.get("action", ""), "held": g.get("held")} for g in gates]
    )
    rules = (
        alt.Chart(checks)
        .mark_rule(strokeDash=[4, 3])
        .encode(
            x="step:Q",
            color=alt.Color(
                "action:N",
                title="gate",
                scale=alt.Scale(
                    domain=["continue", "raise_beta", "lower_lr", "stop"],
                    range=["#2e7d32", "#ef6c00", "#f9a825", "#c62828"],
                ),
            ),
            tooltip=["step", "action", "held"],
        )
    )
    return alt.layer(lines, rules).resolve_scale(color="independent")


def training_page(catalog: loading.Catalog) -> None:
    st.header("Training")
    names = [t.name for t in catalog.trainings]
    name = choose(st, "Training run", names, "training")
    if name is None:
        return
    run = catalog.training(name)
    stamps = tuple(_stamp(run.path / f) for f in (loading.TRAIN_LOG, loading.GATE_LOG))
    logs = _training(str(run.path), stamps)
    show_problems(run.problems + logs.problems)
    meta = run.meta
    st.markdown(
        f"**{meta.get('kind', '?')}** from **{meta.get('base_model', '?')}** · started "
        f"{meta.get('started', '-')} · finished {meta.get('finished') or '-'}"
    )
    if meta.get("config"):
        with st.expander("config"):
            st.json(meta["config"])
    train = logs.train
    probes = pd.Series(
        {g["step"]: g["kl_probe"] for g in logs.gates if g.get("kl_probe") is not None},
        name="kl_probe (gate)",
        dtype=float,
    )
    curves = pd.concat([train, probes], axis=1).sort_index().rename_axis("step")
    st.caption("Dashed lines: gate checks, coloured by the action taken.")
    charts = [
        ("Reward and its components", logs.reward_columns, "reward"),
        ("KL", [c for c in ("kl", "kl_probe (gate)") if c in curves.columns], "KL"),
        ("Beta", ["beta"] if "beta" in train.columns else [], "beta"),
        ("Loss", ["loss"] if "loss" in train.columns else [], "loss"),
    ]
    for title, columns, axis in charts:
        if columns and curves[columns].notna().any().any():
            st.subheader(title)
            st.altair_chart(_curves(curves, columns, logs.gates, axis), width="stretch")
    shown = {c for _, columns, _ in charts for c in columns}
    others = [
        c for c in train.columns if c not in shown and pd.api.types.is_numeric_dtype(train[c])
    ]
    for column in st.multiselect("More logged values", others, key="train_more"):
        st.subheader(column)
        st.altair_chart(_curves(curves, [column], logs.gates, column), width="stretch")
    rows = loading.gate_rows(run, logs.gates)
    if not rows:
        st.info("No gate checks logged yet.")
        return
    st.subheader("Gate decisions")
    table(
        pd.DataFrame(
            [
                {
                    "step": r["step"],
                    "checkpoint": r["checkpoint"],
                    "held": "yes" if r["held"] else "no",
                    "action": r["action"],
                    "beta": r["beta"],
                    "lr scale": r["lr_scale"],
                    "kl_probe": r["kl_probe"],
                    "breaches": r["breaches"] or "-",
                    "restored": r["restored"] or "-",
                }
                for r in rows
            ]
        ),
        hide_index=True,
    )
    st.subheader("Each checkpoint's eval")
    baseline = next((c for c in run.checkpoints if c.endswith(f"/{loading.BASELINE}")), None)
    groups = catalog.checkpoints()
    for r in rows:
        checkpoint = f"{run.name}/{r['checkpoint']}"
        if checkpoint not in groups:
            st.markdown(
                f"- step {r['step']} · `{r['checkpoint']}`: its eval folders were not found"
            )
            continue
        parts = [f"[errors]({link(page='Errors', checkpoint=checkpoint)})"]
        parts += [
            f"[{suite} samples]({link(page='Sample', checkpoint=checkpoint, suite=suite)})"
            for suite in r["evals"]
        ]
        if baseline:
            compare = link(page="Compare", base=baseline, cand=checkpoint)
            parts.append(f"[compared with the baseline]({compare})")
        st.markdown(
            f"- step {r['step']} · `{r['checkpoint']}` · {r['action']}: " + " · ".join(parts)
        )


def main() -> None:
    st.set_page_config(page_title="redline explorer", layout="wide")
    root = os.environ.get("REDLINE_RUNS_DIR", "runs")
    redlines = os.environ.get("REDLINE_REDLINES") or None
    _restore_state()
    st.session_state.setdefault("_generation", 0)
    catalog = _catalog(str(Path(root).resolve()), st.session_state["_generation"])
    if st.session_state.get("page") not in PAGES:
        st.session_state["page"] = PAGES[0]
    with st.sidebar:
        st.title("redline explorer")
        st.caption(str(catalog.root))
        page = st.radio("Page", PAGES, key="page")
        checkpoint = None
        if page in ("Errors", "Sample"):
            checkpoint = choose(st, "Checkpoint", list(catalog.checkpoints()), "checkpoint")
        if st.button("Reload runs", help="Look for new runs and re-read changed files"):
            st.session_state["_generation"] += 1
            st.rerun()
    if page == "Runs":
        runs_page(catalog)
    elif page == "Errors" and checkpoint:
        errors_page(catalog, checkpoint)
    elif page == "Sample" and checkpoint:
        sample_page(catalog, checkpoint)
    elif page == "Compare":
        compare_page(catalog, redlines)
    elif page == "Training":
        training_page(catalog)
    else:
        st.info(f"No runs under {catalog.root}.")
        for problem in catalog.problems:
            st.error(problem)
    _save_state()


if __name__ == "__main__":
    main()
