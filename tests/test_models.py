"""Prompt modes and local model backends: a tiny random model generating in batches on CPU,
a LoRA adapter on top of it (also as smollm2+lora:, with the tiny model standing in for the
embedded one), `redline eval` with it, and the real embedded SmolLM2 weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.harness.backends import BackendError, make_backend
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


@pytest.fixture
def tiny_as_smollm2(tiny, monkeypatch):
    """The tiny model standing in for the embedded one (whose conversion takes half a minute)."""
    from pathlib import Path

    monkeypatch.setattr("redline.harness.models.smollm2_path", lambda: Path(tiny))
    return tiny


def _adapter(base: str, folder) -> str:
    """A LoRA adapter whose weights all start random, so that it changes what the model says."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(
        r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(model, config).save_pretrained(folder)
    return str(folder)


def test_smollm2_with_a_lora_adapter(tiny_as_smollm2, samples, tmp_path):
    from peft import PeftModel

    adapter = _adapter(tiny_as_smollm2, tmp_path / "adapter")
    sampling = Sampling(max_new_tokens=8)
    tuned = make_backend(f"smollm2+lora:{adapter}", mode="json", sampling=sampling)
    assert tuned.spec == f"smollm2+lora:{adapter}"
    assert isinstance(tuned.model, PeftModel)
    plain = make_backend("smollm2", mode="json", sampling=sampling)
    assert not isinstance(plain.model, PeftModel)
    assert tuned.generate(samples) != plain.generate(samples), "the adapter is applied"


def test_eval_runs_smollm2_with_an_adapter(tiny_as_smollm2, tmp_path):
    adapter = _adapter(tiny_as_smollm2, tmp_path / "adapter")
    out = tmp_path / "run"
    args = ["eval", "--model", f"smollm2+lora:{adapter}", "--suite", "bfcl:simple_python"]
    args += ["--limit", "2", "--max-new-tokens", "4", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["model"] == f"smollm2+lora:{adapter}"
    assert len((out / "samples.jsonl").read_text().splitlines()) == 2


def test_adapter_specs_are_checked(tiny_as_smollm2, tmp_path, monkeypatch):
    with pytest.raises(BackendError, match=r"'smollm2\+lora:' names no adapter"):
        make_backend("smollm2+lora:")
    empty, missing = tmp_path / "empty", tmp_path / "missing"
    empty.mkdir()
    for base in ("smollm2", f"hf:{tiny_as_smollm2}"):
        with pytest.raises(BackendError, match=f"{empty} is not a LoRA adapter folder"):
            make_backend(f"{base}+lora:{empty}")
        with pytest.raises(BackendError, match=f"cannot load LoRA adapter {missing}"):
            make_backend(f"{base}+lora:{missing}")
    with pytest.raises(BackendError, match=r"smollm2\+lora:ADAPTER") as unknown:
        make_backend("smollm3")
    assert "hf:PATH_OR_ID[+lora:ADAPTER]" in str(unknown.value)
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 250)
    assert "smollm2+lora:ADAPTER (an adapter on it)" in " ".join(
        CliRunner().invoke(app, ["eval", "--help"]).output.replace("│", "").split()
    )


def test_eval_with_a_local_model(tiny, tmp_path):
    out = tmp_path / "run"

    def run(max_new_tokens: str):
        return CliRunner().invoke(
            app,
            ["eval", "--model", f"hf:{tiny}", "--suite", "bfcl:simple_python", "--limit", "4"]
            + ["--max-new-tokens", max_new_tokens, "--batch-size", "2", "--out", str(out)],
        )

    result = run("6")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == f"hf:{tiny}"
    assert manifest["settings"]["mode"] == "json"
    assert manifest["settings"]["sampling"]["max_new_tokens"] == 6
    assert len((out / "samples.jsonl").read_text().splitlines()) == 4
    # Resuming with another generation length would mix two runs: refused, naming the field.
    result = run("16")
    assert result.exit_code == 2
    assert "belongs to another run (max_new_tokens: 6 there, 16 now)" in result.output
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_bfcl_records_its_sampling_and_refuses_another(tiny, tmp_path):
    out = tmp_path / "lb"

    def run(max_new_tokens: str):
        return CliRunner().invoke(
            app,
            ["bfcl", "--model", f"hf:{tiny}", "-c", "simple_python", "--limit", "2"]
            + ["--max-new-tokens", max_new_tokens, "--out", str(out)],
        )

    assert run("4").exit_code == 0
    manifest = json.loads((out / "simple_python" / "manifest.json").read_text())
    assert manifest["settings"]["sampling"]["max_new_tokens"] == 4
    result = run("8")
    assert result.exit_code == 2
    assert "max_new_tokens: 4 there, 8 now" in result.output


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
