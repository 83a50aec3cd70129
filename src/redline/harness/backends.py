"""Model backends, chosen by a spec string: each turns samples into completions.

``truth`` answers with the samples' own answers; ``replay:FILE`` replays outputs generated
elsewhere (a redline samples.jsonl, or a BFCL result file of ``{"id", "result"}`` lines);
``smollm2`` and ``hf:`` run local models (redline.harness.models); ``openai:`` reaches an
OpenAI-compatible server (redline.harness.openai_backend). No scoring here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from redline.harness.parsing import parse
from redline.harness.truth import truth_text
from redline.records import (
    Completion,
    ParseError,
    ParseErrorKind,
    Sample,
    SampleRecord,
    ToolCall,
    error_text,
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


def _bfcl_result(value: Any, where: str) -> Completion:
    """A BFCL result: a string of model output, or already decoded ``[{name: {arg: value}}]``."""
    if isinstance(value, str):
        return parse(value, "auto")
    raw = json.dumps(value, ensure_ascii=False)
    try:
        if not isinstance(value, list):
            raise ValueError("a decoded result is a list of calls")
        calls = [ToolCall.from_bfcl(item) for item in value]
    except (ValueError, ValidationError) as exc:
        error = ParseError(kind=ParseErrorKind.bad_structure, message=f"{where}: {exc}")
        return Completion(raw=raw, parse_error=error, extra_text=raw, format="bfcl")
    return Completion(raw=raw, calls=calls, format="bfcl")


class ReplayBackend:
    """Outputs generated elsewhere, matched to samples by id."""

    def __init__(self, path: str) -> None:
        self.spec = f"replay:{path}"
        self.path = Path(path)
        if not self.path.is_file():
            raise BackendError(f"replay file {self.path} does not exist")
        self.outputs: dict[str, Completion | str] = {}
        with self.path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    self._read(line, f"{self.path}:{lineno}")

    def _read(self, line: str, where: str) -> None:
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
            self.outputs[record.sample.id] = record.completion.raw
        elif isinstance(row, dict) and "id" in row and "result" in row:
            self.outputs[str(row["id"])] = _bfcl_result(row["result"], where)
        else:
            raise BackendError(
                f"{where}: expected a redline sample record or a BFCL {{id, result}} line"
            )

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        out = []
        for sample in samples:
            output = self.outputs.get(sample.id)
            if output is None:
                error = ParseError(
                    kind=ParseErrorKind.empty, message=f"{self.path} has no output for {sample.id}"
                )
                out.append(Completion(raw="", parse_error=error, format="replay"))
            elif isinstance(output, str):
                out.append(parse(output, fmt))
            else:
                out.append(output)
        return out


def make_backend(
    spec: str, mode: str = "json", sampling: Any = None, concurrency: int | None = None
) -> Backend:
    """The backend a spec names: ``truth``, ``replay:FILE``, ``smollm2``,
    ``hf:PATH_OR_ID[+lora:ADAPTER]`` or ``openai:BASE_URL#MODEL`` (``mode`` and ``sampling``
    apply to the model ones, ``concurrency``, requests in flight, to openai: only)."""
    if spec == "truth":
        return TruthBackend()
    if spec.startswith("replay:"):
        return ReplayBackend(spec.split(":", 1)[1])
    if spec == "smollm2" or spec.startswith("hf:"):
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
    raise BackendError(
        f"unknown model spec {spec!r}: use truth, replay:FILE, smollm2, "
        "hf:PATH_OR_ID[+lora:ADAPTER] or openai:BASE_URL#MODEL"
    )
