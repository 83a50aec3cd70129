"""What SFT and GRPO share: resolving the base model, device defaults, the prepared data, the
LoRA config, and the training run folder's ``training.json`` and ``train_log.jsonl``.

No evaluation here (the gate callback calls the harness).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline import __version__
from redline.training.config import ConfigError, LoraSettings

TRAINING = "training.json"
TRAIN_LOG = "train_log.jsonl"
GATE_LOG = "gate_log.jsonl"


def resolve_model(spec: str) -> str:
    """``smollm2`` is the embedded model (converted from its GGUF once); anything else is a hub
    id or a local folder, as transformers takes it."""
    if spec == "smollm2":
        from redline.harness.models import smollm2_path

        return str(smollm2_path())
    return spec


def device_defaults(bf16: bool | None, checkpointing: bool | None) -> dict[str, Any]:
    """bf16 and gradient checkpointing where the device supports them (a CUDA GPU), unless the
    config says otherwise; CPU training otherwise."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "use_cpu": not cuda,
        "bf16": (cuda and torch.cuda.is_bf16_supported()) if bf16 is None else bf16,
        "activation_checkpointing": cuda if checkpointing is None else checkpointing,
    }


def trainer_args(settings: Any, out: Path, progress: bool) -> dict[str, Any]:
    """The TrainingArguments SFT and GRPO share, from a config (see redline.training.config)."""
    return {
        "output_dir": str(out / "trainer"),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "learning_rate": settings.learning_rate,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "lr_scheduler_type": settings.lr_scheduler,
        "weight_decay": settings.weight_decay,
        "warmup_steps": settings.warmup_ratio,  # a float below 1 is a share of all steps
        "logging_steps": settings.logging_steps,
        "save_strategy": "no",  # adapters are saved by redline: at the end, and by the gate
        "report_to": "none",
        "seed": settings.seed,
        "disable_tqdm": not progress,
        **device_defaults(settings.bf16, settings.gradient_checkpointing),
    }


def lora_config(settings: LoraSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def data_mode(data: Path, mode: str | None) -> str:
    """The prompt mode the data was prepared in (``prepare_report.json``), unless overridden."""
    report = data / "prepare_report.json"
    if not (data / "train.jsonl").is_file():
        raise ConfigError(f"{data} holds no train.jsonl: make it with `redline data prepare`")
    if mode:
        return mode
    try:
        return json.loads(report.read_text(encoding="utf-8"))["settings"]["mode"]
    except (OSError, KeyError, ValueError):
        return "json"


def load_split(data: Path, name: str, keep: tuple[str, ...], limit: int | None) -> Any:
    """A prepared split as a datasets.Dataset with only the ``keep`` columns (None when the
    split's file is absent)."""
    from datasets import load_dataset

    path = data / f"{name}.jsonl"
    if not path.is_file():
        return None
    dataset = load_dataset("json", data_files=str(path), split="train")
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset.remove_columns([c for c in dataset.column_names if c not in keep])


def refuse_taken(out: Path) -> None:
    """Refuse a run folder that already holds a run, so that logs, checkpoints and evals of two
    runs never mix (checked first, and again when the folder is started)."""
    if (out / TRAINING).exists():
        raise ConfigError(f"{out} already holds a training run: choose another out, or remove it")


def load_model(spec: str) -> tuple[Any, Any]:
    """The model and tokenizer of a config's ``base_model`` (see resolve_model); a model that
    cannot be loaded (a hub id not found, or no network) is a ConfigError naming it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(spec)
    try:
        return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise ConfigError(f"cannot load the model {spec}: {exc}") from exc


def write_training(out: Path, kind: str, base_model: str, config: dict[str, Any]) -> None:
    """Start a training run folder (after what can fail early has been tried: the config, the
    data, the model); see refuse_taken."""
    refuse_taken(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "kind": kind,
        "base_model": base_model,
        "config": config,
        "redline_version": __version__,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "finished": None,
    }
    (out / TRAINING).write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")


def finish_training(out: Path, **fields: Any) -> None:
    path = out / TRAINING
    info = json.loads(path.read_text(encoding="utf-8"))
    info.update(fields, finished=datetime.now(UTC).isoformat(timespec="seconds"))
    path.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({k: clean(v) for k, v in row.items()}, default=str) + "\n")


def log_callback(out: Path, extra: Any = None) -> Any:
    """A TrainerCallback appending each log event to ``train_log.jsonl`` with its step;
    ``extra()`` adds fields the trainer does not log (GRPO's current beta)."""
    from transformers import TrainerCallback

    path = out / TRAIN_LOG

    class TrainLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs:
                row = {"step": state.global_step, "epoch": state.epoch, **logs}
                if extra is not None:
                    row.update(extra())
                append_jsonl(path, row)

    return TrainLog()
