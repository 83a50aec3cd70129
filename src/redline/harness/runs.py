"""Run folders: ``manifest.json`` (how the run was made), ``samples.jsonl`` (one SampleRecord per
line, appended as each sample finishes) and ``metrics.json`` (computed from the records).

Writing and reading only; records are scored before they get here and metrics come from
redline.metrics. A run started again in the same folder resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from redline import __version__
from redline.metrics.aggregate import by_category, error_counts, summarize
from redline.records import SampleRecord, error_text

MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"
METRICS = "metrics.json"
# The manifest fields that must match for a run folder to be resumed.
IDENTITY = ("model", "suite", "suite_version", "suite_hash", "format")
_PACKAGES = ("pydantic", "jsonschema", "torch", "transformers", "trl", "peft", "bfcl-eval")


class RunError(RuntimeError):
    """A run folder cannot be used as asked; the message says which file and why."""


def _git_state() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def new_manifest(**fields: Any) -> dict[str, Any]:
    """A manifest: the given fields plus redline's version, git state, packages and start time."""
    return {
        **fields,
        "redline_version": __version__,
        "git": _git_state(),
        "python": platform.python_version(),
        "packages": _versions(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "finished": None,
    }


@dataclass
class Loaded:
    """What a run folder holds: its records, and the lines that could not be read."""

    records: list[SampleRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_records(path: Path) -> Loaded:
    """Every readable record of ``samples.jsonl``; unreadable lines are reported, not fatal."""
    loaded = Loaded()
    if not path.exists():
        return loaded
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                loaded.records.append(SampleRecord.model_validate_json(line))
            except ValidationError as exc:
                problem = error_text(exc)
                loaded.problems.append(f"{path}:{lineno}: not a sample record ({problem})")
    return loaded


class RunFolder:
    """A run folder opened for writing: resumes a matching run, refuses a different one."""

    def __init__(self, path: str | os.PathLike, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.samples_path = self.path / SAMPLES
        manifest_path = self.path / MANIFEST
        if manifest_path.exists():
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            changed = {
                k: (old.get(k), manifest.get(k)) for k in IDENTITY if old.get(k) != manifest.get(k)
            }
            if changed:
                detail = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in changed.items())
                raise RunError(
                    f"{manifest_path} belongs to another run ({detail}); choose another --out"
                )
            manifest = {
                **old,
                "finished": None,
                "resumed": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        self.manifest = manifest
        self._write_manifest()
        self._repair_tail()
        loaded = read_records(self.samples_path)
        self.problems = loaded.problems
        self.done = {r.sample.id for r in loaded.records}

    def _repair_tail(self) -> None:
        # A run killed mid-write leaves a partial last line: cut it, so appends stay whole lines.
        if not self.samples_path.exists():
            return
        data = self.samples_path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.samples_path.open("r+b") as fh:
                fh.truncate(keep)
            print(
                f"note: {self.samples_path}: dropped an unfinished last line "
                f"({len(data) - keep} bytes); that sample runs again",
                file=sys.stderr,
            )

    def _write_manifest(self) -> None:
        tmp = self.path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path / MANIFEST)

    def append(self, records: Iterable[SampleRecord]) -> None:
        """Append finished records, one line each, flushed to disk before returning."""
        with self.samples_path.open("a", encoding="utf-8") as fh:
            for record in records:
                if record.sample.id in self.done:
                    continue
                fh.write(record.to_json() + "\n")
                self.done.add(record.sample.id)
            fh.flush()
            os.fsync(fh.fileno())

    def finish(self) -> dict[str, Any]:
        """Write metrics.json from every record and stamp the manifest; return the metrics."""
        loaded = read_records(self.samples_path)
        metrics = write_metrics(self.path, loaded.records)
        self.manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._write_manifest()
        return metrics


def compute_metrics(records: list[SampleRecord]) -> dict[str, Any]:
    """Overall and per-category metrics with their counts, and error-type counts."""

    def table(rows: list[SampleRecord]) -> dict[str, Any]:
        return {
            "samples": len(rows),
            "metrics": {name: m.to_dict() for name, m in summarize(rows).items()},
            "errors": dict(error_counts(rows).most_common()),
        }

    return {
        "overall": table(records),
        "categories": {cat: table(rows) for cat, rows in sorted(by_category(records).items())},
    }


def write_metrics(path: Path, records: list[SampleRecord]) -> dict[str, Any]:
    metrics = compute_metrics(records)
    tmp = path / (METRICS + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    tmp.replace(path / METRICS)
    return metrics


def load_run(path: str | os.PathLike) -> tuple[str, list[SampleRecord]]:
    """A finished run's suite name and records, for reading (the gate's two runs). Raises
    RunError when the folder is not a run folder or holds a line that is not a record."""
    folder = Path(path)
    manifest = folder / MANIFEST
    if not manifest.is_file() or not (folder / SAMPLES).is_file():
        raise RunError(f"{folder} is not a run folder (needs {MANIFEST} and {SAMPLES})")
    suite = json.loads(manifest.read_text(encoding="utf-8")).get("suite", "")
    loaded = read_records(folder / SAMPLES)
    if loaded.problems:
        raise RunError("unreadable records: " + "; ".join(loaded.problems[:5]))
    return suite, loaded.records
