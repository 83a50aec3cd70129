"""The rewards inside a real trl.GRPOTrainer step on CPU, with a tiny randomly initialised model
and tokenizer built here (nothing downloaded)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import trl
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from redline import rewards
from redline.rewards import RewardFunction

TOOLS = [
    {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def tiny_model(path):
    corpus = [
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        "user: what is the weather in Paris? assistant: I cannot tell.",
        "<tool_call> </tool_call> <think> </think> [get_weather(city='Oslo')]",
    ] * 20
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=320,
            special_tokens=["<unk>", "<pad>", "<eos>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id,
        bos_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


def test_rewards_run_in_a_grpo_step(tmp_path):
    model_dir = tiny_model(tmp_path / "model")
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Weather in {city}?"}],
            "tools": json.dumps(TOOLS),
            "answers": json.dumps([{"name": "get_weather", "arguments": {"city": city}}]),
        }
        for city in ("Paris", "Oslo", "Rome", "Lima")
    ]

    def explode(scores, sample):
        raise RuntimeError("a bug in a reward")

    broken = RewardFunction("broken", ("parse",), explode)
    config = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=12,
        max_steps=1,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        beta=0.0,
        seed=0,
    )
    funcs = [rewards.composite, rewards.parse, rewards.abstain, rewards.toolrl, broken]
    trainer = trl.GRPOTrainer(
        model=model_dir,
        reward_funcs=funcs,
        args=config,
        train_dataset=Dataset.from_list(rows),
    )
    trainer.train()

    logged = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    for name in ("composite", "parse", "abstain", "toolrl"):
        assert f"rewards/{name}/mean" in logged, sorted(logged)
        assert math.isfinite(logged[f"rewards/{name}/mean"])
    # A random model writes no calls: parse 0, abstain -1 (it refused), toolrl -3.
    assert logged["rewards/parse/mean"] == 0.0
    assert logged["rewards/toolrl/mean"] == pytest.approx(-3.0)
    # The broken reward never stopped the step; every completion it saw was counted.
    assert broken.errors == 4
