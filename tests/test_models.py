"""Prompt modes and local model backends: a tiny random model generating in batches on CPU,
a LoRA adapter on top of it, `redline eval` with it, and the real embedded SmolLM2 weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.models import HFBackend, Sampling, smollm2_path
from redline.harness.prompts import JSON_SYSTEM, get_mode
from redline.suites.bfcl_data import load_samples
from tests.tiny_models import tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    # BFCL's prompts are longer than the tiny model's 256 positions, which the backend rejects
    # (tests/test_streaming_runner.py): these tests generate, so give it room.
    config = Path(path) / "config.json"
    config.write_text(
        json.dumps({**json.loads(config.read_text()), "max_position_embeddings": 2048})
    )
    return path


@pytest.fixture(scope="module")
def samples():
    return load_samples("simple_python")[:3] + load_samples("live_simple")[:2]


def test_prompt_modes(samples):
    sample = samples[0]
    messages = get_mode("json").messages(sample)
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(JSON_SYSTEM)
    assert sample.tools[0].name in messages[0]["content"]
    assert messages[1:] == sample.messages
    assert get_mode("json").tools(sample) is None
    assert "Python list of calls" in get_mode("python").messages(sample)[0]["content"]
    native = get_mode("native")
    assert native.messages(sample) == sample.messages
    assert native.tools(sample)[0]["function"]["name"] == sample.tools[0].name
    with_system = sample.model_copy(
        update={"messages": [{"role": "system", "content": "Be brief."}, *sample.messages]}
    )
    first, *rest = get_mode("python").messages(with_system)
    assert first["content"].endswith("Be brief.") and rest == sample.messages
    with pytest.raises(ValueError, match="unknown prompt mode 'xml'"):
        get_mode("xml")


def test_batched_generation_matches_one_at_a_time(tiny, samples):
    backend = HFBackend(tiny, mode="json", sampling=Sampling(max_new_tokens=8))
    together = backend.generate(samples)
    alone = [backend.generate([s])[0] for s in samples]
    assert together == alone, "left padding must not change greedy outputs"
    assert backend.generate(samples) == together, "greedy decoding is deterministic"
    assert backend.generated_tokens > 0
    completions = backend.complete(samples[:2], "json")
    assert [c.format for c in completions] == ["json", "json"]


def test_lora_adapter_loads(tiny, samples, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny)
    lora = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(tmp_path / "adapter")
    backend = HFBackend(
        tiny, adapter=str(tmp_path / "adapter"), sampling=Sampling(max_new_tokens=4)
    )
    assert backend.spec.endswith("+lora:" + str(tmp_path / "adapter"))
    assert len(backend.generate(samples[:2])) == 2


def test_eval_with_a_local_model(tiny, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            f"hf:{tiny}",
            "--suite",
            "bfcl:simple_python",
            "--limit",
            "4",
            "--max-new-tokens",
            "6",
            "--batch-size",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == f"hf:{tiny}"
    assert manifest["settings"]["mode"] == "json"
    assert manifest["settings"]["sampling"]["max_new_tokens"] == 6
    assert len((out / "samples.jsonl").read_text().splitlines()) == 4


def test_a_missing_model_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        app, ["eval", "--model", f"hf:{tmp_path / 'nothing'}", "--suite", "bfcl:multiple"]
    )
    assert result.exit_code == 2 and "cannot load model" in result.output


def test_the_embedded_model_generates(samples):
    path = smollm2_path()  # converted from the GGUF on first use, then cached
    assert (path / "config.json").is_file() and smollm2_path() == path
    backend = HFBackend(path, mode="json", sampling=Sampling(max_new_tokens=16))
    texts = backend.generate(samples[:2])
    assert len(texts) == 2 and all(t.strip() for t in texts)


def test_thinking_switch_reaches_the_chat_template(tiny, samples):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "{% if enable_thinking is defined and not enable_thinking %}/no_think{% endif %}"
    )
    backend = HFBackend(tiny, sampling=Sampling(max_new_tokens=2))
    backend.tokenizer = tokenizer
    assert backend.prompt(samples[0]).endswith("/no_think"), "off by default"
    backend.sampling = Sampling(max_new_tokens=2, enable_thinking=True)
    assert not backend.prompt(samples[0]).endswith("/no_think")
