"""kl_probe: zero for a model against itself (and a fresh LoRA adapter), positive and growing
with the perturbation, equal to a direct computation on one sequence."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from redline.harness.truth import truth_records
from redline.records import Completion
from redline.suites.registry import REGRESSION_PARTS, load_suite
from redline.suites.regression import kl_probe
from redline.training.gate_callback import kl_records
from tests.tiny_models import tiny_model

PAIRS = [
    (
        "user: weather in Paris? assistant: ",
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    ),
    ("user: tell me a joke assistant: ", "I cannot tell."),
    ("user: hi assistant: ", "<tool_call> </tool_call>"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = tiny_model(tmp_path_factory.mktemp("kl") / "m")
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def perturbed(model, scale, seed=0):
    other = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale)
    return other


def test_a_model_against_itself_is_zero(setup):
    model, tokenizer = setup
    assert kl_probe(model, model, PAIRS, tokenizer, batch_size=2) == pytest.approx(0.0, abs=1e-6)


def test_kl_grows_with_the_perturbation(setup):
    model, tokenizer = setup
    small = kl_probe(perturbed(model, 0.01), model, PAIRS, tokenizer)
    large = kl_probe(perturbed(model, 0.2), model, PAIRS, tokenizer)
    assert 0 < small < large


def test_matches_a_direct_computation_and_ignores_batching(setup):
    model, tokenizer = setup
    other = perturbed(model, 0.1)
    prompt, completion = PAIRS[0]
    head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    tail = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([head + tail])
    with torch.no_grad():
        lp = F.log_softmax(other(input_ids=ids).logits, -1)[0]
        lq = F.log_softmax(model(input_ids=ids).logits, -1)[0]
    rows = range(len(head) - 1, len(head) + len(tail) - 1)
    direct = sum(float((lp[t].exp() * (lp[t] - lq[t])).sum()) for t in rows) / len(tail)
    assert kl_probe(other, model, PAIRS[:1], tokenizer) == pytest.approx(direct, rel=1e-4)
    one_by_one = kl_probe(other, model, PAIRS, tokenizer, batch_size=1)
    batched = kl_probe(other, model, PAIRS, tokenizer, batch_size=3)
    assert batched == pytest.approx(one_by_one, rel=1e-4)


def test_a_fresh_lora_adapter_has_zero_kl(setup):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = setup
    policy = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    )
    assert kl_probe(policy, model, PAIRS, tokenizer) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(kl_probe(policy, model, [], tokenizer)), "no tokens: NaN, not 0"


def test_the_gate_probes_kl_on_prompts_from_every_category():
    # The baseline's records come in suite order; regression's first 8 are all instructions.
    records = list(truth_records(load_suite("regression", limit=48).samples))
    records[1] = records[1].model_copy(update={"completion": Completion(raw="")})
    chosen = kl_records(records, 8)
    assert len(chosen) == 8 and all(r.completion.raw for r in chosen)
    assert {r.sample.category for r in chosen} == set(REGRESSION_PARTS)
    assert kl_records(records, 8) == chosen  # the same prompts at every check
