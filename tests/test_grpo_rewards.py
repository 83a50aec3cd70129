"""The rewards inside a real trl.GRPOTrainer step on CPU, with a tiny randomly initialised model
and tokenizer built here (nothing downloaded)."""

from __future__ import annotations

import json
import math

import pytest
import trl
from datasets import Dataset

from redline import rewards
from redline.rewards import RewardFunction
from tests.tiny_models import tiny_model

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
