"""The ``openai:BASE_URL#MODEL`` backend: any OpenAI-compatible chat server (vLLM, llama.cpp,
SGLang, ``transformers serve``, hosted APIs), reached with httpx.

Requests run concurrently up to a bound, with a timeout, and are retried with backoff on 429,
5xx and connection errors. ``native`` mode sends ``tools=`` and reads ``tool_calls``; the
prompt modes put the tools in the system prompt. A multi-LoRA vLLM server is reached by naming
the adapter as MODEL. No scoring here.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from typing import Any

import httpx

from redline.harness.prompts import PromptMode, get_mode
from redline.parsing import parse, parse_openai_message
from redline.records import Completion, Sample

API_KEY_ENV = "OPENAI_API_KEY"
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServerError(RuntimeError):
    """The server could not answer after every retry; what was finished before is kept."""


class OpenAIBackend:
    def __init__(
        self,
        base_url: str,
        model: str,
        mode: str = "json",
        sampling: Any = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        retries: int = 4,
        api_key_env: str = API_KEY_ENV,
    ) -> None:
        from redline.harness.models import Sampling

        self.spec = f"openai:{base_url}#{model}"
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.mode: PromptMode = get_mode(mode)
        self.sampling = sampling or Sampling()
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.api_key = os.environ.get(api_key_env)
        self.generated_tokens = 0

    def request(self, sample: Sample) -> dict[str, Any]:
        """The chat-completions body for one sample."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.mode.messages(sample),
            "max_tokens": self.sampling.max_new_tokens,
            "temperature": self.sampling.temperature,
            "seed": self.sampling.seed,
        }
        if self.sampling.temperature > 0:
            body["top_p"] = self.sampling.top_p
        tools = self.mode.tools(sample)
        if tools:
            body["tools"] = tools
        if self.sampling.enable_thinking:
            # vLLM and SGLang pass this to the chat template; sent only when asked for, since
            # hosted APIs refuse fields they do not know.
            body["chat_template_kwargs"] = {"enable_thinking": True}
        return body

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(f"{self.base_url}/chat/completions", json=body)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return response.json()
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in _RETRY_STATUS:
                    raise ServerError(f"{self.base_url} refused the request ({problem})")
            if attempt < self.retries:
                await asyncio.sleep(delay * (1 + random.random()))  # jitter spreads retries
                delay *= 2
        raise ServerError(f"{self.base_url} failed {self.retries + 1} times; last: {problem}")

    async def _complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limit = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:

            async def one(sample: Sample) -> Completion:
                async with limit:
                    data = await self._post(client, self.request(sample))
                usage = data.get("usage") or {}
                self.generated_tokens += int(usage.get("completion_tokens") or 0)
                message = (data.get("choices") or [{}])[0].get("message") or {}
                if message.get("tool_calls") or self.mode.tools_in_template:
                    return parse_openai_message(message)
                return parse(message.get("content") or "", fmt)

            return list(await asyncio.gather(*(one(s) for s in samples)))

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        return asyncio.run(self._complete(samples, fmt))


def make_openai_backend(spec: str, mode: str, sampling: Any = None) -> OpenAIBackend:
    """``openai:BASE_URL#MODEL``, e.g. ``openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-0.6B``."""
    body = spec.split(":", 1)[1]
    base_url, sep, model = body.rpartition("#")
    if not sep or not base_url or not model:
        raise ValueError(f"model spec {spec!r}: write openai:BASE_URL#MODEL")
    return OpenAIBackend(base_url, model, mode=mode, sampling=sampling)
