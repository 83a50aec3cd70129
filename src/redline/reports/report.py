"""`redline report`: a static report of run folders for sharing and CI artefacts, one HTML page
(plots embedded as PNG) or Markdown (plots beside it). Metrics come from metrics.json,
comparisons from the red-line gate, curves from the training logs; no score is recomputed.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline.gate import RedLine, fmt_points, fmt_value, load_redlines
from redline.reports import loading, plots
from redline.reports.loading import pct

FLIPS_LISTED = 40  # flipped samples named per comparison; the rest are counted


@dataclass
class Block:
    kind: str  # heading, text, table, image, problem, code
    text: str = ""
    level: int = 2
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    image: bytes = b""
    name: str = ""


@dataclass
class Document:
    """What a report says, in order, before it is written as HTML or Markdown."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", text, level=level))

    def text(self, text: str) -> None:
        self.blocks.append(Block("text", text))

    def problem(self, text: str) -> None:
        self.blocks.append(Block("problem", text))

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(
            Block("table", header=list(header), rows=[[str(c) for c in row] for row in rows])
        )

    def image(self, png: bytes | None, name: str, alt: str) -> None:
        if png:
            taken = {b.name for b in self.images}
            unique, n = name, 1
            while unique in taken:  # image names become file names in Markdown reports
                n += 1
                unique = f"{name}-{n}"
            self.blocks.append(Block("image", alt, image=png, name=unique))

    @property
    def images(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "image"]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower() or "run"


def _sampling(run: loading.EvalRun) -> str:
    s = run.sampling
    if not s:
        return "-"
    keys = ("temperature", "top_p", "max_new_tokens", "seed")
    return ", ".join(f"{k}={s[k]}" for k in keys if k in s)


def _overview(doc: Document, runs: Sequence[loading.EvalRun]) -> None:
    rows = []
    for run in runs:
        m = run.manifest
        rows.append(
            [
                run.name,
                run.model,
                run.suite,
                m.get("samples", "-"),
                _sampling(run),
                ((m.get("git") or {}).get("commit") or "-")[:12],
                m.get("finished") or "unfinished",
            ]
        )
    doc.table(["run", "model", "suite", "samples", "sampling", "git commit", "finished"], rows)


def _eval_section(doc: Document, run: loading.EvalRun, problems: list[str]) -> None:
    doc.heading(f"Run {run.name}")
    m = run.manifest
    doc.text(
        f"model {run.model}; suite {run.suite} ({m.get('suite_version', '-')}); "
        f"sampling {_sampling(run)}; started {m.get('started', '-')}, "
        f"finished {m.get('finished') or '-'}"
    )
    metrics, note = loading.run_metrics(run)
    if note:
        doc.problem(note)
        problems.append(note)
    if metrics is None:
        return
    overall = metrics["overall"]
    doc.heading("Metrics", 3)
    doc.table(
        ["metric", "value", "scored", "unscored", "not applicable"],
        [
            [name, pct(v["value"]), v["scored"], v["unscored"], v["not_applicable"]]
            for name, v in overall["metrics"].items()
            if v["scored"] or v["unscored"]
        ],
    )
    headline = loading.headline_metrics(metrics)
    doc.heading("Per category", 3)
    rows = []
    bars = []
    for name, part in [("overall", overall), *metrics["categories"].items()]:
        values = [pct((part["metrics"].get(h) or {}).get("value")) for h in headline]
        errors = ", ".join(f"{k} {v}" for k, v in list(part["errors"].items())[:3]) or "-"
        rows.append([name, part["samples"], *values, errors])
        verdict = loading.verdict_metric(part)
        if name != "overall" and verdict:
            bars.append((name, part["metrics"][verdict]["value"], verdict))
    doc.table(["category", "n", *headline, "top errors"], rows)
    doc.image(
        plots.category_bars(bars, f"{run.name}: per category"),
        f"{_slug(run.name)}-categories",
        f"per-category verdict metric of {run.name}",
    )
    doc.heading("Error types", 3)
    shares = loading.error_shares(overall)
    if not shares:
        doc.text("No sample failed.")
        return
    doc.table(
        ["error type", "samples", "share of all samples"],
        [[k, n, f"{100 * s:.1f}%"] for k, n, s in shares],
    )
    doc.image(
        plots.error_bars(shares, f"{run.name}: error types ({overall['samples']} samples)"),
        f"{_slug(run.name)}-errors",
        f"error types of {run.name}",
    )


def _comparison(
    doc: Document,
    base: loading.EvalRun,
    cand: loading.EvalRun,
    lines: list[RedLine],
    problems: list[str],
) -> None:
    doc.heading(f"{base.name} → {cand.name}", 3)
    if base.suite != cand.suite:
        doc.text(f"Not compared: {base.name} ran {base.suite}, {cand.name} ran {cand.suite}.")
        return
    result, skipped = loading.gate_between(base, cand, lines)
    for p in skipped:
        doc.problem(f"compared without an unreadable record: {p}")
        problems.append(p)
    verdict = "every red line holds" if result.held else "a red line is crossed"
    doc.text(f"Gate verdict: **{verdict}**.")
    for breach in result.breaches:
        doc.problem(f"{breach.metric}: {breach.reason} ({breach.line})")
    headline = set(loading.HEADLINE_METRICS)
    rows = [
        [
            row.metric,
            fmt_value(row.baseline),
            fmt_value(row.candidate),
            fmt_points(row.delta),
            f"{fmt_points(row.low)} .. {fmt_points(row.high)}",
            row.pass_to_fail,
            row.fail_to_pass,
            f"{row.p_value:.3g} ({row.test})",
            row.pairs,
        ]
        # Overall rows first, then each category's.
        for row in sorted(result.table, key=lambda r: (r.metric.count("/"), r.metric))
        if row.metric.rsplit("/", 1)[-1] in headline
    ]
    doc.table(
        [
            "metric",
            "baseline",
            "candidate",
            "delta (points)",
            "95% interval",
            "pass→fail",
            "fail→pass",
            "p (test)",
            "pairs",
        ],
        rows,
    )
    old = loading.load_samples(base.path, base.name)
    new = loading.load_samples(cand.path, cand.name)
    flipped = loading.flips(old.frame, new.frame)
    counts = flipped["flip"].value_counts()
    doc.text(
        "Sample verdicts: "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("pass→fail", "fail→pass", "other error"))
        + (f" (first {FLIPS_LISTED} listed)" if len(flipped) > FLIPS_LISTED else "")
    )
    if len(flipped):
        doc.table(
            ["sample", "category", "baseline", "candidate", "flip"],
            flipped.head(FLIPS_LISTED).values.tolist(),
        )


def _training_section(doc: Document, run: loading.TrainingRun, catalog: loading.Catalog) -> None:
    doc.heading(f"Training {run.name}")
    meta = run.meta
    doc.text(
        f"{meta.get('kind', 'unknown kind')} from {meta.get('base_model', 'unknown base model')}; "
        f"started {meta.get('started', '-')}, finished {meta.get('finished') or '-'}"
    )
    if meta.get("config"):
        doc.code(json.dumps(meta["config"], indent=2, sort_keys=True))
    logs = loading.load_training(run)
    for p in logs.problems:
        doc.problem(p)
    doc.image(
        plots.step_curves(logs.train, logs.reward_columns, logs.gates, f"{run.name}: reward"),
        f"{_slug(run.name)}-reward",
        f"reward components of {run.name} over steps",
    )
    doc.image(
        plots.kl_curves(logs.train, logs.gates, f"{run.name}: KL"),
        f"{_slug(run.name)}-kl",
        f"KL of {run.name} over steps",
    )
    doc.image(
        plots.step_curves(logs.train, ["loss"], logs.gates, f"{run.name}: loss", "loss"),
        f"{_slug(run.name)}-loss",
        f"training loss of {run.name} over steps",
    )
    gates = loading.gate_rows(run, logs.gates)
    if gates:
        doc.heading("Gate decisions", 3)
        doc.table(
            ["step", "checkpoint", "held", "action", "beta", "lr scale", "kl_probe", "breaches"],
            [
                [
                    g["step"],
                    g["checkpoint"] + (f" (restored {g['restored']})" if g["restored"] else ""),
                    "yes" if g["held"] else "no",
                    g["action"],
                    _num(g["beta"]),
                    _num(g["lr_scale"]),
                    _num(g["kl_probe"]),
                    g["breaches"] or "-",
                ]
                for g in gates
            ],
        )
    groups = catalog.checkpoints()
    rows = []
    for checkpoint in run.checkpoints:
        for eval_run in groups.get(checkpoint, []):
            metrics, _ = loading.run_metrics(eval_run)
            if metrics is None:
                rows.append([checkpoint, eval_run.suite, "-", "-", "-", "-"])
                continue
            verdict = loading.verdict_metric(metrics["overall"]) or "-"
            value = (metrics["overall"]["metrics"].get(verdict) or {}).get("value")
            errors = ", ".join(
                f"{k} {v}" for k, v in list(metrics["overall"]["errors"].items())[:3]
            )
            rows.append(
                [
                    checkpoint.removeprefix(run.name + "/"),
                    eval_run.suite,
                    metrics["overall"]["samples"],
                    verdict,
                    pct(value),
                    errors or "-",
                ]
            )
    if rows:
        doc.heading("Checkpoints", 3)
        doc.table(["checkpoint", "suite", "n", "verdict metric", "value", "top errors"], rows)


def _label(runs: list[loading.EvalRun]) -> None:
    """Name runs given from different places by their paths below the folder they share, so
    two runs both called ``fc-dev`` stay apart in the report."""
    if len({r.name for r in runs}) == len(runs):
        return
    common = Path(os.path.commonpath([r.path.resolve() for r in runs]))
    for run in runs:
        rel = run.path.resolve().relative_to(common).as_posix()
        if rel != ".":
            run.problems = [p.replace(f"{run.name}: ", f"{rel}: ", 1) for p in run.problems]
            run.name = rel


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def build_report(
    paths: Sequence[str | os.PathLike], redlines: list[RedLine] | str | Path | None = None
) -> tuple[Document, list[str]]:
    """The report of the runs under ``paths``, in the order given, and every problem met.

    Eval runs outside training runs get a full section each and consecutive ones are compared;
    a training run gets its curves, gate decisions and a table of its checkpoints' evals.
    """
    lines = redlines if isinstance(redlines, list) else load_redlines(redlines)
    doc = Document("redline report")
    body = Document("body")
    problems: list[str] = []
    runs: list[loading.EvalRun] = []
    trainings: list[tuple[loading.TrainingRun, loading.Catalog]] = []
    catalogs = [loading.discover(path) for path in paths]
    for catalog in catalogs:
        runs.extend(r for r in catalog.evals if r.training is None)
        trainings.extend((t, catalog) for t in catalog.trainings)
    _label(runs)
    problems.extend(p for c in catalogs for p in c.all_problems())
    if not runs and not trainings:
        raise ValueError("no runs found: " + "; ".join(problems))
    if runs:
        body.heading("Runs")
        _overview(body, runs)
    for run in runs:
        _eval_section(body, run, problems)
    if len(runs) > 1:
        body.heading("Consecutive runs compared")
        body.text(
            "Each run against the one before it, on the samples both scored: the red-line "
            "gate's deltas with 95% paired bootstrap intervals, flips and McNemar's exact test."
        )
        for base, cand in zip(runs, runs[1:], strict=False):
            _comparison(body, base, cand, lines, problems)
    for training, catalog in trainings:
        _training_section(body, training, catalog)
    doc.heading(doc.title, 1)
    doc.text(
        f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from "
        + ", ".join(str(p) for p in paths)
    )
    if problems:
        doc.heading("Problems")
        doc.text("These folders or lines could not be read in full; everything else is shown.")
        for p in dict.fromkeys(problems):
            doc.problem(p)
    doc.blocks.extend(body.blocks)
    return doc, list(dict.fromkeys(problems))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.problem { background: #fff4e5; border-left: 4px solid #ef6c00; padding: 0.4rem 0.8rem;
           margin: 0.3rem 0; }
img { display: block; margin: 0.5rem 0 1rem; max-width: 100%; }
pre { background: #f6f6f6; padding: 0.6rem; }
"""


def _inline(text: str) -> str:
    # The one piece of markup the builder uses: **bold**.
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace("%", ""))
    except ValueError:
        return False
    return True


def render_html(doc: Document) -> str:
    """One self-contained HTML page: plots are embedded as data: URIs."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body>",
    ]
    for b in doc.blocks:
        if b.kind == "heading":
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif b.kind == "text":
            out.append(f"<p>{_inline(b.text)}</p>")
        elif b.kind == "problem":
            out.append(f'<div class="problem">{html.escape(b.text)}</div>')
        elif b.kind == "code":
            out.append(f"<pre>{html.escape(b.text)}</pre>")
        elif b.kind == "table":
            out.append("<table><thead><tr>")
            out.extend(f"<th>{html.escape(h)}</th>" for h in b.header)
            out.append("</tr></thead><tbody>")
            for row in b.rows:
                cells = (
                    f'<td class="num">{html.escape(c)}</td>'
                    if _is_number(c)
                    else f"<td>{html.escape(c)}</td>"
                    for c in row
                )
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</tbody></table>")
        elif b.kind == "image":
            data = base64.b64encode(b.image).decode("ascii")
            out.append(
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(b.text)}" '
                f'data-plot="{html.escape(b.name)}">'
            )
    out.append("</body></html>")
    return "\n".join(out)


def _md_cell(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: Document, images: str) -> tuple[str, dict[str, bytes]]:
    """Markdown text, and the PNG files it links to (named relative to ``images``)."""
    out: list[str] = []
    files: dict[str, bytes] = {}
    for b in doc.blocks:
        if b.kind == "heading":
            out.append(f"{'#' * b.level} {b.text}\n")
        elif b.kind == "text":
            out.append(b.text + "\n")
        elif b.kind == "problem":
            out.append(f"> **problem:** {b.text}\n")
        elif b.kind == "code":
            out.append(f"```\n{b.text}\n```\n")
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out.append(
                "|"
                + "|".join("---:" if _numeric_column(b, i) else "---" for i in range(len(b.header)))
                + "|"
            )
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows)
            out.append("")
        elif b.kind == "image":
            name = f"{images}/{b.name}.png"
            files[name] = b.image
            out.append(f"![{b.text}]({name})\n")
    return "\n".join(out), files


def _numeric_column(block: Block, index: int) -> bool:
    cells = [row[index] for row in block.rows if index < len(row) and row[index] != "-"]
    return bool(cells) and all(_is_number(c) for c in cells)


@dataclass
class Written:
    path: Path
    images: list[Path]
    problems: list[str]


def write_report(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    redlines: list[RedLine] | str | Path | None = None,
) -> Written:
    """Write the report to ``out``: ``.html`` (self-contained) or ``.md`` (plots as PNG files
    in ``<name>_files/`` beside it)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise ValueError(f"{out}: the report is written as .html or .md")
    doc, problems = build_report(paths, redlines)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".md":
        folder = f"{out.stem}_files"
        text, files = render_markdown(doc, folder)
        written = []
        for name, data in files.items():
            target = out.parent / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(target)
        out.write_text(text, encoding="utf-8")
        return Written(out, written, problems)
    out.write_text(render_html(doc), encoding="utf-8")
    return Written(out, [], problems)
