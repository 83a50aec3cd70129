"""LoRA SFT on prepared data with TRL's SFTTrainer and PEFT, and merging an adapter into its
base model. A thin client: TRL trains; redline picks the defaults, the data and the folder.

Run folder: ``training.json``, ``train_log.jsonl``, ``adapter/`` (with the tokenizer).
"""

from __future__ import annotations

from pathlib import Path

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
from redline.training.config import SFTSettings


def run_sft(settings: SFTSettings, progress: bool = True) -> Path:
    """Train a LoRA adapter; returns the adapter folder."""
    from trl import SFTConfig, SFTTrainer

    mode = data_mode(settings.data, settings.mode)
    out = settings.out
    refuse_taken(out)
    # TRL hands a ``tools`` column to the chat template: only native mode wants that, the json
    # and python modes list the tools in the system prompt, as they do at evaluation time.
    keep = ("prompt", "completion", "tools") if mode == "native" else ("prompt", "completion")
    train = load_split(settings.data, "train", keep, settings.limit)
    val = load_split(settings.data, "val", keep, settings.limit)
    model, tokenizer = load_model(settings.base_model)
    write_training(out, "sft", settings.base_model, {**settings.model_dump(), "mode": mode})
    args = SFTConfig(
        per_device_eval_batch_size=settings.batch_size,
        eval_strategy="epoch" if val is not None and settings.max_steps < 0 else "no",
        max_length=settings.max_length,
        **trainer_args(settings, out, progress),
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val if args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        peft_config=lora_config(settings.lora),
        callbacks=[log_callback(out)],
    )
    result = trainer.train()
    adapter = out / "adapter"
    trainer.save_model(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    finish_training(out, steps=result.global_step, train_loss=result.training_loss)
    return adapter


def merge_adapter(base_model: str, adapter: str | Path, out: str | Path) -> Path:
    """Fold a LoRA adapter into its base model and save a plain model folder (with the
    tokenizer), which any backend or server can load."""
    from peft import PeftModel

    model, tokenizer = load_model(base_model)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    target = Path(out)
    merged.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target
