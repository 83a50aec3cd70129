"""Model backends, chosen by a spec string: each turns samples into completions.

``truth`` answers with the samples' own answers; ``replay:FILE`` replays outputs generated
elsewhere (a redline samples.jsonl, or a BFCL result file of ``{"id", "result"}`` lines, one
per sample);
``smollm2`` and ``hf:`` run local models, with a LoRA adapter on top when ``+lora:`` names one
(redline.harness.models); ``openai:`` reaches an OpenAI-compatible server
(redline.harness.openai_backend). No scoring here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from redline.harness.truth import truth_text
from redline.parsing import parse
from redline.records import (
    Completion,
    ParseError,
    ParseErrorKind,
    Sample,
    SampleRecord,
    ToolCall,
    error_text,
)

# Every spec make_backend takes, as error messages list them.
MODEL_SPECS = (
    "truth",
    "replay:FILE",
    "smollm2",
    "smollm2+lora:ADAPTER",
    "hf:PATH_OR_ID[+lora:ADAPTER]",
    "openai:BASE_URL#MODEL",
)


class BackendError(ValueError):
    """A backend spec or its input is unusable; the message names the file and line."""


class Backend(Protocol):
    """Turns samples into completions, a batch at a time. A backend that reaches a server may
    also have ``stream(samples, fmt, stop)``, an async iterator of ``(sample, completion)`` in
    the order they finish, which the runner prefers; a local model may have
    ``batch_order(samples)``, the order that batches best."""

    spec: str

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        """One parsed completion per sample, in order."""


class TruthBackend:
    """Writes each sample's answer as output in ``fmt`` (the harness's self-test)."""

    spec = "truth"

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        out = []
        for sample in samples:
            text, written_as = truth_text(sample, "json" if fmt == "auto" else fmt)
            out.append(parse(text, written_as))
        return out


def _bfcl_call(item: Any) -> ToolCall:
    """One decoded BFCL call: ``{name: {arg: value}}``, or, as BFCL's function-calling handlers
    write it, ``{name: "<arguments as JSON text>"}``."""
    if isinstance(item, dict) and len(item) == 1:
        ((name, args),) = item.items()
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"arguments of {name!r} are text that is not JSON: {exc}"
                ) from None
            item = {name: args}
    return ToolCall.from_bfcl(item)


def _bfcl_result(value: Any, where: str) -> Completion:
    """A BFCL result: a string of model output (prompting handlers), or already decoded calls
    ``[{name: {arg: value}}]`` or ``[{name: "<JSON arguments>"}]`` (function-calling handlers)."""
    if isinstance(value, str):
        return parse(value, "auto")
    raw = json.dumps(value, ensure_ascii=False)
    try:
        if not isinstance(value, list):
            raise ValueError("a decoded result is a list of calls")
        calls = [_bfcl_call(item) for item in value]
    except (ValueError, ValidationError) as exc:
        error = ParseError(kind=ParseErrorKind.bad_structure, message=f"{where}: {exc}")
        return Completion(raw=raw, parse_error=error, extra_text=raw, format="bfcl")
    return Completion(raw=raw, calls=calls, format="bfcl")


class ReplayBackend:
    """Outputs generated elsewhere, matched to samples by id.

    A file that repeats an id is refused, naming both lines. A sample the file has no output
    for is refused too (:meth:`check`), unless ``allow_missing``: then its record says
    ``no_output``, a failure of that sample.
    """

    def __init__(self, path: str, allow_missing: bool = False) -> None:
        self.spec = f"replay:{path}"
        self.path = Path(path)
        self.allow_missing = allow_missing
        if not self.path.is_file():
            raise BackendError(f"replay file {self.path} does not exist")
        self.outputs: dict[str, Completion | str] = {}
        self.lines: dict[str, int] = {}  # where each id was read, to name a repeat
        with self.path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    self._read(line, lineno)

    def _read(self, line: str, lineno: int) -> None:
        where = f"{self.path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BackendError(f"{where}: not JSON ({exc.msg})") from exc
        if isinstance(row, dict) and "sample" in row and "completion" in row:
            try:
                record = SampleRecord.model_validate(row)
            except ValidationError as exc:
                raise BackendError(
                    f"{where}: not a redline sample record ({error_text(exc)})"
                ) from exc
            # Keep the raw text: replaying re-parses it, so a parser fix shows up in the scores.
            sample_id, output = record.sample.id, record.completion.raw
        elif isinstance(row, dict) and "id" in row and "result" in row:
            sample_id = str(row["id"])
            output = _bfcl_result(row["result"], where)
        else:
            raise BackendError(
                f"{where}: expected a redline sample record or a BFCL {{id, result}} line"
            )
        if sample_id in self.lines:
            # Which of two outputs is the model's cannot be guessed; keeping either hides one.
            raise BackendError(
                f"{self.path}: id {sample_id!r} is given twice, on lines "
                f"{self.lines[sample_id]} and {lineno}"
            )
        self.lines[sample_id] = lineno
        self.outputs[sample_id] = output

    def missing(self, samples: Sequence[Sample]) -> list[str]:
        """The ids of ``samples`` this file has no output for, in suite order."""
        return [s.id for s in samples if s.id not in self.outputs]

    def check(self, samples: Sequence[Sample], suite: str = "the suite") -> str | None:
        """Refuse a file that lacks outputs for some of ``samples`` (or is empty), with the
        counts; with ``allow_missing``, say how many will be recorded as ``no_output``."""
        missing = self.missing(samples)
        if not missing:
            return None
        used = len(samples) - len(missing)
        counts = (
            f"{self.path} has outputs for {used} of the {len(samples)} samples of {suite} "
            f"and none for {len(missing)} ({_first(missing)})"
        )
        by_category: dict[str, int] = {}
        for sample in samples:
            if sample.id not in self.outputs:
                by_category[sample.category] = by_category.get(sample.category, 0) + 1
        if len(by_category) > 1:
            counts += "; missing by category: " + ", ".join(
                f"{name or '-'} {n}" for name, n in by_category.items()
            )
        wanted = {s.id for s in samples}
        others = [i for i in self.outputs if i not in wanted]
        if others:
            counts += f"; {len(others)} of its outputs are for other ids ({_first(others)})"
        if not self.outputs:
            counts = (
                f"{self.path} is empty: no output for any of the {len(samples)} samples of {suite}"
            )
        if self.allow_missing:
            return f"{counts}; the {len(missing)} missing are recorded as no_output (failures)"
        raise BackendError(
            f"{counts}. Check that the file is the one meant for {suite}, or give "
            "--allow-missing to record the missing samples as no_output (failures)"
        )

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        missing = self.missing(samples)
        if missing and not self.allow_missing:
            raise BackendError(
                f"{self.path} has no output for {len(missing)} samples ({_first(missing)}); "
                "allow_missing records them as no_output"
            )
        out = []
        for sample in samples:
            output = self.outputs.get(sample.id)
            if output is None:
                error = ParseError(
                    kind=ParseErrorKind.no_output,
                    message=f"{self.path} has no output for {sample.id}",
                )
                out.append(Completion(raw="", parse_error=error, format="replay"))
            elif isinstance(output, str):
                out.append(parse(output, fmt))
            else:
                out.append(output)
        return out


def _first(ids: Sequence[str], shown: int = 3) -> str:
    """A few ids of a list, for a message."""
    more = f", ... {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def make_backend(
    spec: str,
    mode: str = "json",
    sampling: Any = None,
    allow_missing: bool = False,
    concurrency: int | None = None,
) -> Backend:
    """The backend a spec names (one of :data:`MODEL_SPECS`; ``mode`` and ``sampling`` apply to
    the model ones, ``allow_missing`` to a replay, ``concurrency``, requests in flight, to
    openai: only)."""
    if spec == "truth":
        return TruthBackend()
    if spec.startswith("replay:"):
        return ReplayBackend(spec.split(":", 1)[1], allow_missing=allow_missing)
    if spec == "smollm2" or spec.startswith(("smollm2+lora:", "hf:")):
        from redline.harness.models import ModelError, make_local_backend

        try:
            return make_local_backend(spec, mode, sampling)
        except ModelError as exc:
            raise BackendError(str(exc)) from exc
    if spec.startswith("openai:"):
        from redline.harness.openai_backend import make_openai_backend

        try:
            return make_openai_backend(spec, mode, sampling, concurrency)
        except ValueError as exc:
            raise BackendError(str(exc)) from exc
    raise BackendError(f"unknown model spec {spec!r}: use {', '.join(MODEL_SPECS)}")


def _last_part(path: str) -> str:
    """The name a path or hub id is known by: its last part, or the last two when the last is a
    generic checkpoint or adapter folder (``sft/adapter`` reads better than ``adapter``)."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        return "model"
    generic = parts[-1] in ("adapter", "merged", "final", "model") or parts[-1].startswith(
        "checkpoint-"
    )
    return "-".join(parts[-2:]) if generic and len(parts) > 1 else parts[-1]


def model_label(spec: str) -> str:
    """A short readable name for a model spec, for default folder names: ``truth``,
    ``replay-NAME`` (the file's name without extension, or its run folder's name for a
    samples.jsonl), ``smollm2``, the model's own name for ``hf:`` and ``openai:``, with
    ``+lora-ADAPTER`` after it for an adapter. Only letters, digits and ``._+-`` are kept."""
    kind, _, body = spec.partition(":")
    if spec.startswith("replay:"):
        path = Path(body)
        name = path.parent.name if path.stem == "samples" and path.parent.name else path.stem
        label = f"replay-{name or 'file'}"
    elif spec.startswith("openai:"):
        served = body.rpartition("#")[2] if "#" in body else ""
        label = _last_part(served) if served else "openai"
    else:
        model, _, adapter = (body if kind == "hf" else spec).partition("+lora:")
        label = _last_part(model) + (f"+lora-{_last_part(adapter)}" if adapter else "")
    return "".join(c if c.isalnum() or c in "._+-" else "-" for c in label).strip("-.") or "model"
