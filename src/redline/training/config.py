"""Typed training configs (pydantic, loaded from YAML): SFT, GRPO and the red-line gate.

The defaults are the seed's values; only the base model and the data folder are required.
Configs say what to do; sft.py and grpo.py do it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from redline.records import first_error

T = TypeVar("T", bound=BaseModel)


class ConfigError(ValueError):
    """A config file cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    # No NaN or infinity in any float field: a learning rate of .inf passes `gt=0`.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LoraSettings(_Strict):
    """The seed's LoRA: rank 32, alpha 64, on every linear layer."""

    r: int = Field(32, ge=1)
    alpha: int = Field(64, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


def adapter_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a LoRA adapter folder, or None when it is one."""
    if not (folder / "adapter_config.json").is_file():
        return f"{folder} is not a LoRA adapter folder (no adapter_config.json)"
    return None


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # name or namespace/name


class _Common(_Strict):
    base_model: str  # smollm2, a hub id, or a local folder
    data: Path  # a folder written by `redline data prepare`
    out: Path = Path("runs/train")
    mode: Literal["json", "native", "python"] | None = None  # default: the data's prompt mode
    lora: LoraSettings = LoraSettings()
    learning_rate: float = Field(2e-4, gt=0)
    epochs: float = Field(3, gt=0)
    max_steps: int = -1  # > 0 overrides epochs; -1 (transformers' "none"): train for epochs
    batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(4, ge=1)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    lr_scheduler: str = "linear"  # any transformers scheduler name ("constant", "cosine", ...)
    weight_decay: float = Field(0.0, ge=0)  # AdamW's decoupled decay, as in TrainingArguments
    logging_steps: int = Field(10, ge=1)
    seed: int = Field(42, ge=0, le=2**32 - 1)  # numpy's seeds (set_seed seeds numpy too)
    # None: on where the device supports them (a CUDA GPU; bf16 where it has bf16).
    bf16: bool | None = None
    gradient_checkpointing: bool | None = None
    limit: int | None = Field(None, ge=1)  # train on the first N rows only (smoke runs)

    @field_validator("max_steps")
    @classmethod
    def _positive_steps(cls, value: int) -> int:
        # transformers takes any value <= 0 as "train for the epochs": -5 ran a full training.
        if value != -1 and value < 1:
            raise ValueError(
                f"must be a positive number of steps, or -1 to train for epochs; got {value}"
            )
        return value

    @field_validator("base_model")
    @classmethod
    def _model_source(cls, value: str) -> str:
        # A hub id can only be tried when loading (it may need the network); a local path that
        # is not a model folder is a mistake to say now.
        if value == "smollm2" or Path(value).is_dir():
            return value
        if (
            Path(value).exists()
            or value.startswith(("/", ".", "~"))
            or not _HUB_ID.fullmatch(value)
        ):
            raise ValueError(f"{value!r} is neither a model folder nor a hub id (namespace/name)")
        return value


class SFTSettings(_Common):
    max_length: int = Field(1024, ge=16)


class GateSettings(_Strict):
    """The red-line gate run every ``every`` steps during GRPO."""

    every: int = Field(10, ge=1)
    # suite -> --limit for its eval; fc:dev is the function-calling dev suite.
    suites: dict[str, int | None] = {"fc:dev": 32, "regression": 64}
    redlines: Path | None = None  # YAML red lines; None: the seed's defaults
    # A max_drop line that holds only because the gate's samples are too few to detect a drop
    # of max_drop counts as a breach (as `redline gate --require-power`).
    require_power: bool = False
    max_new_tokens: int = Field(128, ge=1)
    batch_size: int = Field(16, ge=1)
    kl_prompts: int = Field(16, ge=0)  # regression prompts for the KL probe
    beta_factor: float = Field(2.0, gt=1)
    lr_factor: float = Field(0.5, gt=0, lt=1)
    # Existing baseline runs of the starting checkpoint (suite -> run folder); missing ones
    # are evaluated before the first step.
    baseline: dict[str, Path] = {}

    # Checked with the config, before the run folder is made: a mistake found when the gate
    # starts would leave a folder that a second try is refused.
    @field_validator("suites")
    @classmethod
    def _known_suites(cls, value: dict[str, int | None]) -> dict[str, int | None]:
        from redline.suites.registry import suite_names

        if not value:
            raise ValueError("the gate needs at least one suite")
        small = {name: limit for name, limit in value.items() if limit is not None and limit < 1}
        if small:
            raise ValueError(f"a suite's limit is a positive number of samples (or null): {small}")
        known = suite_names()
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown suite(s) {unknown}; see `redline suites`")
        return value

    @field_validator("redlines")
    @classmethod
    def _readable_redlines(cls, value: Path | None) -> Path | None:
        from redline.gate import load_redlines

        if value is not None:
            load_redlines(value)
        return value

    @model_validator(mode="after")
    def _lines_for_gated_suites(self) -> GateSettings:
        # A rule of a family no gated suite has could never be checked. (The default rules
        # cover both families; one whose family is not gated is simply not applied.)
        from redline.gate import family, load_redlines

        if self.redlines is not None:
            families = {family(suite) for suite in self.suites}
            for line in load_redlines(self.redlines):
                if not any(line.applies_to(f) for f in families):
                    raise ValueError(
                        f"redlines: {self.redlines}: the rule {line} concerns no gated suite "
                        f"({', '.join(self.suites)})"
                    )
        return self

    @model_validator(mode="after")
    def _baseline_runs(self) -> GateSettings:
        from redline.harness.runs import SAMPLES

        for suite, run in self.baseline.items():
            if suite not in self.suites:
                raise ValueError(f"baseline: {suite!r} is not a gated suite ({list(self.suites)})")
            if not (run / SAMPLES).is_file():
                raise ValueError(f"baseline: {run} holds no {SAMPLES}: not a run folder")
        return self


class GRPOSettings(_Common):
    adapter: Path | None = None  # an SFT adapter folded into the base before GRPO starts
    learning_rate: float = Field(5e-6, gt=0)
    epochs: float = Field(1, gt=0)
    batch_size: int = Field(8, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    logging_steps: int = Field(1, ge=1)
    # The composite spec of the rewards issue: [{name, weight}] or a YAML file.
    rewards: list[dict[str, Any]] | Path = [
        {"name": "parse", "weight": 0.25},
        {"name": "schema_hit", "weight": 0.25},
        {"name": "exec", "weight": 0.25},
        {"name": "semantic_f1", "weight": 0.25},
        # Not in the seed's four: without it the negative samples (no call expected) would
        # get no reward at all, and refusing a needed call would cost nothing.
        {"name": "abstain", "weight": 0.25},
    ]
    beta: float = Field(0.04, gt=0)  # the KL term must exist for the gate to raise it
    num_generations: int = Field(4, ge=2)
    max_completion_length: int = Field(128, ge=1)
    temperature: float = Field(1.0, gt=0)
    use_vllm: bool = False
    vllm_mode: Literal["server", "colocate"] = "colocate"
    gate: GateSettings | None = GateSettings()

    @field_validator("adapter")
    @classmethod
    def _adapter_folder(cls, value: Path | None) -> Path | None:
        problem = None if value is None else adapter_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("rewards")
    @classmethod
    def _known_rewards(cls, value: Any) -> Any:
        # Checked with the config, before the run folder is made: a bad spec found at the
        # trainer's start would leave a folder that a second try is refused.
        from redline.rewards.functions import load_spec

        load_spec(value)
        return value

    @model_validator(mode="after")
    def _whole_groups(self) -> GRPOSettings:
        # TRL generates batch_size x accumulation completions per step, in whole groups.
        if (self.batch_size * self.gradient_accumulation_steps) % self.num_generations:
            raise ValueError(
                f"batch_size x gradient_accumulation_steps "
                f"({self.batch_size} x {self.gradient_accumulation_steps}) must be a multiple "
                f"of num_generations ({self.num_generations})"
            )
        return self


def load_config(path: str | Path, kind: type[T], **overrides: Any) -> T:
    """Read a YAML config into ``kind``; relative paths in it are taken from the working
    directory. ``overrides`` (non-None values) replace top-level fields."""
    where = Path(path)
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config {where}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a config is a mapping of fields")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        field, message = first_error(exc)
        raise ConfigError(f"{where}: {field or '(top)'}: {message}") from exc
