"""Finding and reading run folders for reports and the explorer: eval runs, training runs and
their checkpoints, as pandas frames, with every unreadable part named as a problem.
Scores and verdicts come from the records, metrics.json and the gate; none is computed here.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from redline.gate import (
    GateError,
    GateResult,
    RedLine,
    family,
    judge,
    load_redlines,
    unmatched_message,
)
from redline.harness.runs import MANIFEST, METRICS, SAMPLES, compute_metrics, read_records
from redline.metrics.aggregate import METRIC_NAMES
from redline.metrics.stats import compare
from redline.records import SampleRecord

TRAINING = "training.json"
TRAIN_LOG = "train_log.jsonl"
GATE_LOG = "gate_log.jsonl"
BASELINE = "baseline"
PASSED = "passed"  # shown in place of an error type for samples whose verdict held
# The metric that says whether a sample of a category was right, in order of preference.
VERDICT_METRICS = ("ast_accuracy", "irrelevance", "relevance", "answer_accuracy")
HEADLINE_METRICS = (
    "parse_rate",
    "ast_accuracy",
    "irrelevance",
    "relevance",
    "param_f1",
    "schema_hit_rate",
    "exec_rate",
    "answer_accuracy",
)
_BASE_COLUMNS = (
    "id",
    "category",
    "expect",
    "error_type",
    "error_detail",
    "calls",
    "parsed",
    "reasoning",
    "offset",
    "length",
)


@dataclass
class EvalRun:
    """An eval run folder: what its manifest says, and what is wrong with it."""

    path: Path
    name: str  # the folder relative to the folder searched, with / separators
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    training: str | None = None  # name of the training run it belongs to
    checkpoint: str = ""  # key of the checkpoint it evaluates (its own name when standalone)

    @property
    def suite(self) -> str:
        return str(self.manifest.get("suite") or "unknown suite")

    @property
    def model(self) -> str:
        return str(self.manifest.get("model") or "unknown model")

    @property
    def sampling(self) -> dict[str, Any]:
        settings = self.manifest.get("settings") or {}
        return dict(settings.get("sampling") or {}) if isinstance(settings, dict) else {}


@dataclass
class TrainingRun:
    """A training run folder: training.json, its logs and the checkpoints evaluated under it."""

    path: Path
    name: str
    meta: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)


@dataclass
class Catalog:
    """Everything found under one folder."""

    root: Path
    evals: list[EvalRun] = field(default_factory=list)
    trainings: list[TrainingRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def checkpoints(self) -> dict[str, list[EvalRun]]:
        """Checkpoint key -> its eval runs (one per suite), training checkpoints first."""
        groups: dict[str, list[EvalRun]] = {}
        for run in self.evals:
            groups.setdefault(run.checkpoint, []).append(run)
        return groups

    def run(self, name: str) -> EvalRun:
        for run in self.evals:
            if run.name == name:
                return run
        raise KeyError(name)

    def training(self, name: str) -> TrainingRun:
        for run in self.trainings:
            if run.name == name:
                return run
        raise KeyError(name)

    def all_problems(self) -> list[str]:
        out = list(self.problems)
        for item in [*self.trainings, *self.evals]:
            out.extend(item.problems)
        return out


def is_eval_run(path: Path) -> bool:
    return (path / MANIFEST).is_file() or (path / SAMPLES).is_file()


def is_training_run(path: Path) -> bool:
    return any((path / name).is_file() for name in (TRAINING, TRAIN_LOG, GATE_LOG))


def _natural(text: str) -> list[Any]:
    # step-10 after step-9, whatever the zero padding.
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _read_json(path: Path, name: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{name}: {path.name} cannot be read ({exc}); it is left out")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{name}: {path.name} is not a JSON object; it is left out")
        return {}
    return data


def _eval_run(path: Path, name: str) -> EvalRun:
    problems: list[str] = []
    manifest = _read_json(path / MANIFEST, name, problems)
    if not (path / MANIFEST).exists():
        problems.append(
            f"{name}: no {MANIFEST}, so its model, suite and settings are unknown; "
            "its samples are shown as they are"
        )
    samples = path / SAMPLES
    if not samples.exists():
        problems.append(f"{name}: no {SAMPLES}; the run has no samples yet")
    else:
        with samples.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    problems.append(
                        f"{name}: the last line of {SAMPLES} is cut short (the run stopped "
                        "mid-write); that sample is left out"
                    )
        # Lines that are not records, named FILE:LINE as `redline score` and the gate name them
        # (the cut last line is named above).
        loaded = read_records(samples)
        bad = loaded.problems[:-1] if loaded.cut_short else loaded.problems
        problems.extend(f"{name}: {problem}; it is left out" for problem in bad)
    return EvalRun(path, name, manifest, problems)


def _checkpoint_of(rel: tuple[str, ...]) -> str | None:
    """Checkpoint key for an eval run at ``rel`` inside a training run, None if not in one."""
    if len(rel) == 2 and rel[0] == BASELINE:
        return BASELINE
    if len(rel) == 4 and rel[0] == "checkpoints" and rel[2] == "eval":
        return f"checkpoints/{rel[1]}"
    return None


def _group_bfcl_runs(
    catalog: Catalog, evals: list[tuple[Path, EvalRun]], name_of: Callable[[Path], str]
) -> None:
    """Make each `redline bfcl` run one checkpoint: its categories are eval runs in folders
    named after them (FOLDER/simple_python ran bfcl:simple_python), one model for all. Known by
    that layout rather than by its leaderboard files, which a run still going has not written."""
    folders: dict[Path, list[EvalRun]] = {}
    for path, run in evals:
        if run.training is None and run.suite == f"bfcl:{path.name}":
            folders.setdefault(path.parent, []).append(run)
    for folder, runs in folders.items():
        models = sorted({run.model for run in runs})
        if len(models) > 1:
            catalog.problems.append(
                f"{name_of(folder)}: its BFCL categories were run by different models "
                f"({', '.join(models)}); each is shown as a checkpoint of its own"
            )
            continue
        for run in runs:
            run.checkpoint = name_of(folder)


def discover(root: str | os.PathLike) -> Catalog:
    """Every eval run and training run under ``root`` (``root`` itself may be one)."""
    root = Path(root)
    catalog = Catalog(root)
    if not root.is_dir():
        catalog.problems.append(f"{root}: no such folder")
        return catalog
    # Names are relative to the folder searched; a run given directly keeps its own name.
    base = root.parent if is_eval_run(root) or is_training_run(root) else root

    def name_of(path: Path) -> str:
        return path.relative_to(base).as_posix() if path != base else path.name

    trainings: dict[Path, TrainingRun] = {}
    evals: list[tuple[Path, EvalRun]] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=_natural)
        if is_eval_run(here):
            dirnames[:] = []  # an eval run holds no other runs
            evals.append((here, _eval_run(here, name_of(here))))
        elif is_training_run(here):
            problems: list[str] = []
            meta = _read_json(here / TRAINING, name_of(here), problems)
            if not (here / TRAINING).exists():
                problems.append(
                    f"{name_of(here)}: no {TRAINING}; its kind and base model are unknown"
                )
            trainings[here] = TrainingRun(here, name_of(here), meta, problems)
    for path, run in evals:
        run.checkpoint = run.name
        for parent in path.parents:
            if parent in trainings:
                key = _checkpoint_of(path.relative_to(parent).parts)
                if key is not None:
                    training = trainings[parent]
                    run.training = training.name
                    run.checkpoint = f"{training.name}/{key}"
                    if run.checkpoint not in training.checkpoints:
                        training.checkpoints.append(run.checkpoint)
                break
            if parent == base:
                break
    _group_bfcl_runs(catalog, [(p, r) for p, r in evals if p != root], name_of)
    catalog.trainings = sorted(trainings.values(), key=lambda t: _natural(t.name))
    for training in catalog.trainings:
        # The baseline first, then checkpoints in step order.
        training.checkpoints.sort(key=lambda c: (not c.endswith(f"/{BASELINE}"), _natural(c)))
    order = {c: i for i, c in enumerate(c for t in catalog.trainings for c in t.checkpoints)}
    catalog.evals = sorted(
        (run for _, run in evals),
        key=lambda r: (
            r.checkpoint not in order,
            order.get(r.checkpoint, 0),
            _natural(r.checkpoint),
            _natural(r.name),
        ),
    )
    if not catalog.evals and not catalog.trainings:
        catalog.problems.append(
            f"{root}: no runs found (an eval run has {MANIFEST} or {SAMPLES}; a training run "
            f"has {TRAINING}, {TRAIN_LOG} or {GATE_LOG})"
        )
    return catalog


def compare_pair(catalog: Catalog) -> tuple[str, str] | None:
    """The two checkpoints the Compare page opens on: a training run's first and last that share
    a suite (its baseline and latest step), else the first checkpoint that shares a suite with a
    later one and the last of those; None when no two share one. A run whose manifest names no
    suite shares nothing."""
    groups = catalog.checkpoints()
    suites = {
        key: {run.suite for run in runs if run.manifest.get("suite")}
        for key, runs in groups.items()
    }
    for keys in [*(t.checkpoints for t in catalog.trainings), list(groups)]:
        for i, base in enumerate(keys):
            partners = [k for k in keys[i + 1 :] if suites.get(base, set()) & suites.get(k, set())]
            if partners:
                return base, partners[-1]
    return None


@dataclass
class Samples:
    """One eval run's records as columns: one row per readable line."""

    frame: pd.DataFrame
    problems: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        """The score columns present, in the order of redline's metric table."""
        return [c for c in self.frame.columns if c not in _BASE_COLUMNS]


def _score_columns(names: list[str]) -> list[str]:
    known = list(METRIC_NAMES.values())
    return sorted(names, key=lambda n: (known.index(n) if n in known else len(known), n))


def load_samples(path: str | os.PathLike, name: str | None = None) -> Samples:
    """The records of ``path/samples.jsonl`` as a frame; lines that cannot be read are skipped
    and named. Each row keeps its byte offset so :func:`read_sample` can open it in full."""
    folder = Path(path)
    name = name or folder.name
    file = folder / SAMPLES
    problems: list[str] = []
    columns: dict[str, list[Any]] = {c: [] for c in _BASE_COLUMNS}
    scores: list[dict[str, float]] = []
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        problems.append(f"{name}: {SAMPLES} cannot be read ({exc})")
        data = b""
    start, lineno = 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        cut = end < 0
        end = len(data) if cut else end
        lineno += 1
        line = data[start:end]
        offset, start = start, end + 1
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            sample, completion = record["sample"], record["completion"]
            row_scores = {
                METRIC_NAMES.get(k, k): (math.nan if s.get("value") is None else float(s["value"]))
                for k, s in (record.get("scores") or {}).items()
            }
            values = (
                str(sample["id"]),
                str(sample.get("category") or ""),
                str(sample.get("expect") or "calls"),
                record.get("error_type"),
                record.get("error_detail") or "",
                len(completion.get("calls") or []),
                completion.get("parse_error") is None and bool(completion.get("calls")),
                bool(completion.get("reasoning")),
                offset,
                len(line),
            )
        except json.JSONDecodeError as exc:
            why = "is cut short (the run stopped mid-write)" if cut else f"is not JSON ({exc.msg})"
            problems.append(f"{name}: {SAMPLES} line {lineno} {why}; it is skipped")
            continue
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            problems.append(
                f"{name}: {SAMPLES} line {lineno} is not a sample record ({exc!r}); it is skipped"
            )
            continue
        for column, value in zip(_BASE_COLUMNS, values, strict=True):
            columns[column].append(value)
        scores.append(row_scores)
    frame = pd.DataFrame(columns)
    frame["error_type"] = frame["error_type"].astype("object")
    score_frame = pd.DataFrame.from_records(scores, index=frame.index) if scores else None
    if score_frame is not None:
        frame = pd.concat([frame, score_frame[_score_columns(list(score_frame.columns))]], axis=1)
    return Samples(frame, problems)


def read_sample(path: str | os.PathLike, offset: int, length: int) -> SampleRecord:
    """One full record, read at the offset :func:`load_samples` noted (pydantic-validated)."""
    with (Path(path) / SAMPLES).open("rb") as fh:
        fh.seek(offset)
        return SampleRecord.model_validate_json(fh.read(length))


def run_metrics(run: EvalRun) -> tuple[dict[str, Any] | None, str | None]:
    """The run's metrics.json; for a run without one (unfinished), the same table computed by
    redline.metrics from its readable records. The note says which, or why there is none."""
    problems: list[str] = []
    metrics = _read_json(run.path / METRICS, run.name, problems)
    if metrics.get("overall"):
        return metrics, None
    loaded = read_records(run.path / SAMPLES)
    if not loaded.records:
        return None, f"{run.name}: no {METRICS} and no readable records"
    why = problems[0] if problems else f"{run.name}: no {METRICS} (unfinished run?)"
    return compute_metrics(loaded.records), f"{why}; metrics computed from its records"


def pct(value: float | None) -> str:
    """A fraction as percent with one decimal; '-' for no value."""
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def verdict_metric(table: dict[str, Any]) -> str | None:
    """The metric that judges this part of a metrics table (a category, or overall)."""
    for name in VERDICT_METRICS:
        if (table.get("metrics", {}).get(name) or {}).get("scored"):
            return name
    return None


def headline_metrics(metrics: dict[str, Any]) -> list[str]:
    """The headline metrics this run scored, in table order."""
    overall = metrics["overall"]["metrics"]
    return [m for m in HEADLINE_METRICS if (overall.get(m) or {}).get("scored")]


def error_shares(table: dict[str, Any]) -> list[tuple[str, int, float]]:
    """(error type, count, share of samples) for one part of a metrics table, commonest first."""
    total = table.get("samples") or 0
    errors = sorted((table.get("errors") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return [(k, v, v / total if total else math.nan) for k, v in errors]


def error_table(frame: pd.DataFrame, by: Sequence[str] = ("category",)) -> pd.DataFrame:
    """Counts of samples by ``by`` (rows, e.g. category) and error type (columns, most frequent
    first, ``passed`` last)."""
    if frame.empty:
        return pd.DataFrame()
    outcome = frame["error_type"].fillna(PASSED)
    index = [frame[c].replace("", "(none)") for c in by]
    table = pd.crosstab(index, outcome)
    errors = sorted((c for c in table.columns if c != PASSED), key=lambda c: -table[c].sum())
    table = table[errors + ([PASSED] if PASSED in table.columns else [])]
    table.columns.name = None
    return table


def flips(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """Samples whose verdict changed between two runs of one suite, paired by id."""
    columns = ["id", "category", "baseline", "candidate", "flip"]
    if base.empty or cand.empty:
        return pd.DataFrame(columns=columns)
    joined = base[["id", "category", "error_type"]].merge(
        cand[["id", "error_type"]], on="id", suffixes=("_b", "_c")
    )
    was_ok, is_ok = joined["error_type_b"].isna(), joined["error_type_c"].isna()
    joined["baseline"] = joined["error_type_b"].fillna(PASSED)
    joined["candidate"] = joined["error_type_c"].fillna(PASSED)
    joined["flip"] = ""
    joined.loc[was_ok & ~is_ok, "flip"] = "pass→fail"
    joined.loc[~was_ok & is_ok, "flip"] = "fail→pass"
    changed = ~was_ok & ~is_ok & (joined["baseline"] != joined["candidate"])
    joined.loc[changed, "flip"] = "other error"
    return joined.loc[joined["flip"] != "", columns].reset_index(drop=True)


def gate_between(
    base: EvalRun, cand: EvalRun, redlines: list[RedLine] | str | Path | None = None
) -> tuple[GateResult, list[str]]:
    """The red-line gate (redline.gate) between two runs of one suite, on the records
    that can be read; the unreadable lines it skipped are returned as problems. A red line of
    the runs' family that matches no metric raises GateError (a ValueError)."""
    if base.suite != cand.suite:
        raise ValueError(f"{base.name} ran {base.suite!r} but {cand.name} ran {cand.suite!r}")
    lines = redlines if isinstance(redlines, list) else load_redlines(redlines)
    old, new = read_records(base.path / SAMPLES), read_records(cand.path / SAMPLES)
    table = compare(old.records, new.records, family(base.suite))
    result = judge(table, lines)
    if result.unmatched:  # a mistyped rule would otherwise be shown as holding
        names = [row.metric for row in table]
        raise GateError("; ".join(unmatched_message(u, names) for u in result.unmatched))
    return result, old.problems + new.problems


def read_jsonl(path: Path, name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON objects of a log, one a line; a line that is not one is skipped and named."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    if not path.exists():
        return rows, problems
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{name}: {path.name} line {lineno} is not JSON ({exc.msg}); skipped")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            problems.append(f"{name}: {path.name} line {lineno} has no integer 'step'; skipped")
            continue
        rows.append(row)
    return rows, problems


@dataclass
class TrainingLogs:
    """A training run's logs: trainer events by step, and the gate's decisions."""

    train: pd.DataFrame
    gates: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    @property
    def reward_columns(self) -> list[str]:
        """``reward`` and each reward component's mean, as logged."""
        cols = [c for c in self.train.columns if c.startswith("rewards/") and c.endswith("/mean")]
        return (["reward"] if "reward" in self.train.columns else []) + sorted(cols)


def load_training(run: TrainingRun) -> TrainingLogs:
    """The trainer log as a frame indexed by step, and the gate log as it was written."""
    events, problems = read_jsonl(run.path / TRAIN_LOG, run.name)
    gates, more = read_jsonl(run.path / GATE_LOG, run.name)
    train = pd.DataFrame.from_records(events) if events else pd.DataFrame({"step": []})
    # Trainers log several events per step (train metrics, eval metrics): keep one row a step.
    train = train.groupby("step", sort=True).last() if not train.empty else train.set_index("step")
    return TrainingLogs(train, sorted(gates, key=lambda g: g["step"]), problems + more)


def gate_rows(run: TrainingRun, gates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per gate check, with the eval folders' names under the searched folder."""
    prefix = run.name + "/"
    rows = []
    for gate in gates:
        evals = gate.get("evals") or {}
        rows.append(
            {
                "step": gate["step"],
                "checkpoint": gate.get("checkpoint", ""),
                "held": gate.get("held"),
                "action": gate.get("action", ""),
                "beta": gate.get("beta"),
                "lr_scale": gate.get("lr_scale"),
                "kl_probe": gate.get("kl_probe"),
                "breaches": "; ".join(
                    f"{b.get('metric')}: {b.get('reason')}" for b in gate.get("breaches") or []
                ),
                "restored": gate.get("restored") or "",
                "evals": {suite: prefix + str(rel) for suite, rel in evals.items()},
            }
        )
    return rows
