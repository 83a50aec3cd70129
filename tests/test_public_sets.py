"""Loaders for IFEval, GSM8K and MMLU, read through HF datasets from local files in each set's
format (the hub is never reached in tests), and their checks."""

from __future__ import annotations

import json

import pytest

from redline.metrics.checks import failed_checks
from redline.metrics.scorers import score_sample
from redline.records import Completion
from redline.suites import public
from redline.suites.registry import SuiteError, load_suite


def write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_ifeval(tmp_path, monkeypatch):
    rows = [
        {
            "key": 1000,
            "prompt": "Write about tea without commas. Use at most 3 sentences.",
            "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_sentences"],
            "kwargs": [{}, {"num_sentences": 3, "relation": "less than"}],
        }
    ]
    monkeypatch.setenv("REDLINE_IFEVAL", str(write(tmp_path / "ifeval.jsonl", rows)))
    (sample,) = load_suite("regression:ifeval").samples
    assert sample.id == "ifeval_1000" and sample.expect == "answer"
    # The sentence counter needs NLTK's punkt data, which is not available: left out.
    assert [c["instruction_id"] for c in sample.metadata["checks"]] == ["punctuation:no_comma"]
    assert (
        score_sample(sample, Completion(raw="tea is calm and warm")).scores["answer"].value == 1.0
    )
    assert score_sample(sample, Completion(raw="tea, calm, warm")).scores["answer"].value == 0.0


def test_gsm8k(tmp_path, monkeypatch):
    rows = [{"question": "Tom has 3 apples and buys 4 more. How many?", "answer": "3+4=7\n#### 7"}]
    monkeypatch.setenv("REDLINE_GSM8K", str(write(tmp_path / "gsm8k.jsonl", rows)))
    (sample,) = load_suite("regression:gsm8k").samples
    assert sample.metadata["checks"] == [{"kind": "number", "value": 7.0}]
    assert (
        score_sample(sample, Completion(raw="3 + 4 = 7\nThe answer is 7")).scores["answer"].value
        == 1.0
    )


def test_mmlu(tmp_path, monkeypatch):
    rows = [
        {"question": "2 + 2 =", "subject": "math", "choices": ["3", "4", "5", "6"], "answer": 1}
    ]
    monkeypatch.setenv("REDLINE_MMLU", str(write(tmp_path / "mmlu.jsonl", rows)))
    (sample,) = load_suite("regression:mmlu").samples
    assert "B. 4" in sample.messages[0]["content"] and sample.category == "mmlu_math"
    assert failed_checks("B", sample.metadata["checks"]) == []
    assert failed_checks("(B) 4", sample.metadata["checks"]) == []
    assert failed_checks("A", sample.metadata["checks"]) == ["choice"]


def test_errors_name_the_set_and_row(tmp_path, monkeypatch):
    monkeypatch.setenv("REDLINE_GSM8K", str(write(tmp_path / "bad.jsonl", [{"question": "q"}])))
    with pytest.raises(SuiteError, match="gsm8k row 0"):
        load_suite("regression:gsm8k")
    monkeypatch.setenv("REDLINE_MMLU", str(tmp_path / "missing.jsonl"))
    with pytest.raises(SuiteError, match="cannot load mmlu from"):
        load_suite("regression:mmlu")
    with pytest.raises(public.PublicSetError, match="unknown public set"):
        public.load_public("trivia")


def test_a_hub_failure_says_how_to_work_offline(monkeypatch):
    monkeypatch.delenv("REDLINE_GSM8K", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("datasets.config.HF_HUB_OFFLINE", True)
    with pytest.raises(SuiteError, match=r"from openai/gsm8k: .*set REDLINE_GSM8K to a local"):
        load_suite("regression:gsm8k")
