"""GRPO with TRL's GRPOTrainer, PEFT LoRA, redline's rewards and the red-line gate callback.

The composite reward named in the config is the one trained on; its components ride along
at weight 0 so TRL logs each of them (``rewards/<name>/mean``). Run folder: ``training.json``,
``train_log.jsonl``, ``gate_log.jsonl``, ``baseline/``, ``checkpoints/``, ``adapter/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redline.training.common import (
    data_mode,
    finish_training,
    load_model,
    load_split,
    log_callback,
    lora_config,
    refuse_taken,
    trainer_args,
    write_training,
)
from redline.training.config import GRPOSettings
from redline.training.data import TARGET_FORMAT


def reward_functions(spec: Any, mode: str) -> tuple[list[Any], list[float]]:
    """The composite (weight 1) and each of its components (weight 0, for the logs)."""
    from redline.rewards import make_composite, make_reward
    from redline.rewards.functions import load_spec

    fmt = TARGET_FORMAT[mode]
    components = load_spec(spec)
    funcs = [make_composite(spec, fmt=fmt)]
    funcs += [make_reward(c.name, fmt) for c in components]
    return funcs, [1.0] + [0.0] * len(components)


def _policy(settings: GRPOSettings) -> tuple[Any, Any]:
    model, tokenizer = load_model(settings.base_model)
    if settings.adapter is not None:
        from peft import PeftModel

        # GRPO starts from the SFT model: fold its adapter in, train a fresh one on top.
        model = PeftModel.from_pretrained(model, str(settings.adapter)).merge_and_unload()
    return model, tokenizer


def run_grpo(settings: GRPOSettings, lines: Any = None, progress: bool = True) -> Path:
    """Train; returns the folder of the final adapter (the restored best one when the gate
    stopped the run). ``lines`` overrides the gate's red lines (a list of RedLine)."""
    from trl import GRPOConfig, GRPOTrainer

    from redline.training.gate_callback import make_gate_callback

    mode = data_mode(settings.data, settings.mode)
    out = settings.out
    refuse_taken(out)
    train = load_split(
        settings.data, "train", ("prompt", "tools", "answers", "expect"), settings.limit
    )
    model, tokenizer = _policy(settings)
    write_training(out, "grpo", settings.base_model, {**settings.model_dump(), "mode": mode})
    funcs, weights = reward_functions(settings.rewards, mode)
    vllm = {"use_vllm": True, "vllm_mode": settings.vllm_mode} if settings.use_vllm else {}
    args = GRPOConfig(
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        beta=settings.beta,
        reward_weights=weights,
        # The Trainer turns config.use_cache off for training; sampling still wants the cache.
        generation_kwargs={"use_cache": True},
        **vllm,
        **trainer_args(settings, out, progress),
    )
    holder: dict[str, Any] = {}
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=lora_config(settings.lora),
        callbacks=[log_callback(out, extra=lambda: {"beta": holder["trainer"].beta})],
    )
    holder["trainer"] = trainer
    gate = None
    if settings.gate is not None:
        gate = make_gate_callback(settings.gate, out, mode, lines=lines, progress=progress)
        gate.attach(trainer)
    result = trainer.train()
    adapter = out / "adapter"
    trainer.save_model(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    stopped = gate is not None and gate.breaches >= 3
    finish_training(
        out,
        steps=result.global_step,
        stopped_by_gate=stopped,
        final_beta=trainer.beta,
        lr_scale=gate.lr_scale if gate else 1.0,
    )
    return adapter
