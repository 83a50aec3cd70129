"""The ground-truth backend: answers every sample with its own expected calls, as text.

Writes the answer in a prompt format, parses it back and scores it, so a run over ground truth
exercises serialiser, parser and scorers end to end. Scoring rules stay in redline.metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from redline.harness.parsing import format_calls, parse
from redline.metrics.scorers import score_sample
from redline.records import Sample, SampleRecord

NO_CALL_TEXT = "None of the offered functions can answer this request."


def truth_text(sample: Sample, fmt: str) -> tuple[str, str]:
    """The sample's answer as model output, and the format it is written in.

    Prose when no call is expected. An answer that format ``fmt`` cannot express (BFCL has
    parameters named ``from`` or ``class``, which Python call syntax rejects) is written as JSON.
    """
    if sample.expect == "answer":
        return str(sample.metadata.get("reference", "")), fmt
    if sample.expect == "no_call" or not sample.expected:
        return NO_CALL_TEXT, fmt
    try:
        return format_calls(sample.expected, fmt), fmt
    except ValueError:
        return format_calls(sample.expected, "json"), "json"


def truth_records(samples: Iterable[Sample], fmt: str = "json") -> Iterator[SampleRecord]:
    for sample in samples:
        text, written_as = truth_text(sample, fmt)
        yield score_sample(sample, parse(text, written_as))
