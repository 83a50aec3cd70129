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


def truth_text(sample: Sample, fmt: str) -> str:
    """The sample's answer as model output in format ``fmt`` (prose when no call is expected)."""
    if sample.expect == "no_call" or not sample.expected:
        return NO_CALL_TEXT
    return format_calls(sample.expected, fmt)


def truth_records(samples: Iterable[Sample], fmt: str = "python") -> Iterator[SampleRecord]:
    for sample in samples:
        yield score_sample(sample, parse(truth_text(sample, fmt), fmt))
