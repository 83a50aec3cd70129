"""Run folders: ``manifest.json`` (how the run was made), ``samples.jsonl`` (one SampleRecord per
line, appended as each sample finishes) and ``metrics.json`` (computed from the records).

Writing and reading only; records are scored before they get here and metrics come from
redline.metrics. A run started again in the same folder resumes where it stopped; a folder of
another run (other model, suite, sampling settings or samples), of records with no manifest, or
with an unreadable record in it is refused before anything in it changes.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
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
# The manifest fields that must match for a run folder to be resumed ...
IDENTITY = ("model", "suite", "suite_version", "suite_hash", "format")
# ... and the settings that must match too, by the name a refusal gives them: a change of any
# of them changes the outputs. (The limit may grow: see RunFolder.)
SETTINGS_IDENTITY = {
    "mode": ("mode",),
    "max_new_tokens": ("sampling", "max_new_tokens"),
    "temperature": ("sampling", "temperature"),
    "top_p": ("sampling", "top_p"),
    "seed": ("sampling", "seed"),
    "thinking": ("sampling", "enable_thinking"),
}
# Fields a resumed run takes from the new invocation: the samples it covers and its settings.
_RESUMED_FIELDS = ("samples", "selection", "sample_ids", "samples_hash", "settings")
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
    """What a run folder holds: its records, and the lines that could not be read (FILE:LINE
    and why). ``cut_short``: the last of those is a last line with no newline, as a run killed
    mid-write leaves it."""

    records: list[SampleRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cut_short: bool = False


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
                if not line.endswith("\n"):
                    loaded.cut_short = True
                    loaded.problems.append(
                        f"{path}:{lineno}: cut short (the run stopped mid-write)"
                    )
                    continue
                problem = error_text(exc)
                loaded.problems.append(f"{path}:{lineno}: not a sample record ({problem})")
    return loaded


def _setting(manifest: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = manifest.get("settings") or {}
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What makes ``new`` another run than ``old``: each field, as it is there and here."""
    pairs = [(k, old.get(k), new.get(k)) for k in IDENTITY]
    pairs += [(k, _setting(old, p), _setting(new, p)) for k, p in SETTINGS_IDENTITY.items()]
    return [f"{k}: {a!r} there, {b!r} now" for k, a, b in pairs if a != b]


def _describe(manifest: dict[str, Any]) -> str:
    """How a run chose its samples, in the options that choose them."""
    how = manifest.get("selection") or {}
    if "limit" in how:
        seed = how.get("draw_seed") or 0
        return f"--limit {how['limit']}" + (f" --draw-seed {seed}" if seed else "")
    if "first" in how:
        return f"--first {how['first']}"
    return "no limit"


def _check_samples(manifest_path: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    """A run may go on with more of its suite's samples (a raised --limit), never with fewer
    (a smaller run mixed into this one's records) or other ones."""
    had, wants = old.get("sample_ids"), new.get("sample_ids")
    if wants is None:  # the whole suite now, which holds any part of it
        return
    if had is not None and set(had) <= set(wants):
        return
    there = f"{manifest_path} holds a run of {old.get('samples')} samples ({_describe(old)})"
    again = f"Resume it with {_describe(old)}" + ("" if had is None else " or more")
    if had is None or set(wants) < set(had):
        raise RunError(
            f"{there}; {_describe(new)} would take only {len(wants)} of them, and a run folder "
            f"holds one run. {again}, or choose another --out for a smaller run"
        )
    missing = [i for i in had if i not in set(wants)]
    raise RunError(
        f"{there}, and {len(missing)} of them are not among the samples of {_describe(new)} "
        f"(the first: {missing[0]}). {again}, or choose another --out"
    )


class RunFolder:
    """A run folder opened for writing: resumes a matching run, refuses a different one."""

    def __init__(self, path: str | os.PathLike, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.samples_path = self.path / SAMPLES
        manifest_path = self.path / MANIFEST
        # Every check comes before the first write: a refused folder is left as it was.
        if manifest_path.exists():
            manifest = self._resumed(manifest_path, manifest)
        elif self.samples_path.exists() and self.samples_path.stat().st_size > 0:
            raise RunError(
                f"{self.path} holds {SAMPLES} but no {MANIFEST}, so which run made its records "
                f"is unknown and new ones would be mixed in with them; choose another --out "
                f"(or move {self.samples_path} away)"
            )
        loaded = read_records(self.samples_path)
        # A cut last line is what a killed run leaves: it is repaired below and runs again.
        bad = loaded.problems[:-1] if loaded.cut_short else loaded.problems
        if bad:
            shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise RunError(
                f"cannot resume, {len(bad)} unreadable line(s) in the run: {shown}. Mend or "
                "delete those lines (their samples then run again) and run the same command"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self._write_manifest()
        self._repair_tail()
        self.problems: list[str] = []
        self.done = {r.sample.id for r in loaded.records}
        self._open: Any = None  # samples.jsonl, kept open by append_one

    @staticmethod
    def _resumed(manifest_path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        """The manifest of the run being resumed, or an error saying why it cannot be."""
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{manifest_path} cannot be read ({exc}); choose another --out") from exc
        if not isinstance(old, dict):
            raise RunError(f"{manifest_path} is not a JSON object; choose another --out")
        if "sample_ids" not in old and old.get("suite_hash") == manifest.get("samples_hash"):
            # Written before runs recorded their samples, when suite_hash was the hash of the
            # samples run: it ran these very samples.
            old = {
                **old,
                "suite_hash": manifest.get("suite_hash"),
                "sample_ids": manifest.get("sample_ids"),
            }
        changed = _differences(old, manifest)
        if changed:
            hint = ""
            if "sample_ids" not in old:
                hint = (
                    " (a run from before --limit drew by category: if it had --limit N, "
                    "resume it with --first N)"
                )
            raise RunError(
                f"{manifest_path} belongs to another run ({'; '.join(changed)}); choose "
                f"another --out{hint}"
            )
        _check_samples(manifest_path, old, manifest)
        return {
            **old,
            **{k: manifest.get(k) for k in _RESUMED_FIELDS},
            "finished": None,
            "resumed": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _repair_tail(self) -> None:
        # A run killed mid-write leaves a partial last line: cut it, so appends stay whole lines.
        if not self.samples_path.exists():
            return
        data = self.samples_path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            try:
                SampleRecord.model_validate_json(data[keep:])
            except ValidationError:
                pass
            else:  # a whole record that lacks only its newline (written by hand?): keep it
                with self.samples_path.open("ab") as fh:
                    fh.write(b"\n")
                return
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

    def append_one(self, record: SampleRecord) -> None:
        """Append one finished record and flush it to the OS at once: a run killed after this
        returns keeps it. The file stays open for the next; ``close`` syncs it to disk."""
        if record.sample.id in self.done:
            return
        if self._open is None:
            self._open = self.samples_path.open("a", encoding="utf-8")
        self._open.write(record.to_json() + "\n")
        self._open.flush()
        self.done.add(record.sample.id)

    def close(self) -> None:
        """Sync and close what ``append_one`` opened (safe to call twice)."""
        if self._open is not None:
            os.fsync(self._open.fileno())
            self._open.close()
            self._open = None

    def finish(self) -> dict[str, Any]:
        """Write metrics.json from every record and stamp the manifest; return the metrics."""
        self.close()
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
