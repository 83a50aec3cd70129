"""The ``openai:BASE_URL#MODEL`` backend: any OpenAI-compatible chat server (vLLM, llama.cpp,
SGLang, ``transformers serve``, hosted APIs), reached with httpx.

Requests stream: up to ``concurrency`` in flight over the whole suite on one connection pool,
each completion handed on as it arrives. They have a timeout and are retried with backoff on 429,
5xx and connection errors; 401, 403 and 404 (key, URL or model name) stop the run; any other
4xx is that request's fault and becomes that sample's ``rejected`` completion. ``native`` mode
sends ``tools=`` and reads ``tool_calls``; the prompt modes put the tools in the system prompt.
A multi-LoRA vLLM server is reached by naming the adapter as MODEL. No scoring here.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from redline.harness.prompts import PromptMode, get_mode
from redline.parsing import parse, parse_openai_message
from redline.records import Completion, Sample

API_KEY_ENV = "OPENAI_API_KEY"
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# Refusals that say nothing about the one request but about every one (no key, a wrong key, a
# wrong URL or model name): recording them as each sample's failure would fill the run with
# records that resuming never retries, so they stop the run instead.
_RUN_REFUSED = {401, 403, 404}


# Requests in flight by default. vLLM (and SGLang) batch every request they hold, up to
# --max-num-seqs (256 by default), so throughput keeps rising with concurrency well past 8; 32
# keeps a one-GPU server's batch full for the small models redline evaluates, while a server that
# answers one request at a time (llama.cpp with few slots, `transformers serve`) only queues them,
# each queued request still well inside the 120 s timeout. Lower it for a rate-limited hosted API.
DEFAULT_CONCURRENCY = 32


class ServerError(RuntimeError):
    """The server could not answer after every retry; what was finished before is kept."""


class _Rejected(Exception):
    """The server refused one request as the client's fault; that sample gets the message."""


class OpenAIBackend:
    def __init__(
        self,
        base_url: str,
        model: str,
        mode: str = "json",
        sampling: Any = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 120.0,
        retries: int = 4,
        api_key_env: str = API_KEY_ENV,
    ) -> None:
        from redline.harness.models import Sampling

        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
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

    def client(self) -> httpx.AsyncClient:
        """One client, so one pool of kept-alive connections, sized to the concurrency."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        return httpx.AsyncClient(timeout=self.timeout, headers=headers, limits=limits)

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
                problem = f"HTTP {response.status_code}: {_server_message(response)}"
                if response.status_code in _RUN_REFUSED:
                    raise ServerError(
                        f"{self.base_url} refused the request ({problem}): check the URL, the "
                        f"model name {self.model!r} and ${API_KEY_ENV}"
                    )
                if response.status_code not in _RETRY_STATUS:
                    if 400 <= response.status_code < 500:
                        raise _Rejected(problem)
                    raise ServerError(f"{self.base_url} answered {problem}")
            if attempt < self.retries:
                await asyncio.sleep(delay * (1 + random.random()))  # jitter spreads retries
                delay *= 2
        raise ServerError(f"{self.base_url} failed {self.retries + 1} times; last: {problem}")

    async def complete_one(self, client: httpx.AsyncClient, sample: Sample, fmt: str) -> Completion:
        """One sample's completion; a request the server rejects becomes a ``rejected`` one.
        Raises ServerError, naming the sample, when the server cannot answer at all."""
        try:
            data = await self._post(client, self.request(sample))
        except _Rejected as exc:
            return Completion(raw="", format="rejected", rejected=str(exc))
        except ServerError as exc:
            raise ServerError(f"{exc} (sample {sample.id} was in flight)") from exc
        usage = data.get("usage") or {}
        self.generated_tokens += int(usage.get("completion_tokens") or 0)
        message = (data.get("choices") or [{}])[0].get("message") or {}
        if message.get("tool_calls") or self.mode.tools_in_template:
            return parse_openai_message(message)
        return parse(message.get("content") or "", fmt)

    async def stream(
        self, samples: Sequence[Sample], fmt: str, stop: asyncio.Event | None = None
    ) -> AsyncIterator[tuple[Sample, Completion]]:
        """Each sample with its completion, as each finishes: ``concurrency`` requests in flight
        over the whole list, on one connection pool. When ``stop`` is set no further sample is
        taken and the requests in flight are abandoned (they run again on resume)."""
        todo = iter(samples)  # shared: each worker takes the next sample when it is free
        done: asyncio.Queue[Any] = asyncio.Queue()
        finished, stopped = object(), object()
        async with self.client() as client:

            async def worker() -> None:
                try:
                    for sample in todo:
                        if stop is not None and stop.is_set():
                            break
                        done.put_nowait((sample, await self.complete_one(client, sample, fmt)))
                except ServerError as exc:
                    done.put_nowait(exc)
                done.put_nowait(finished)

            async def watch() -> None:
                if stop is not None:
                    await stop.wait()
                    done.put_nowait(stopped)  # wakes the reader at once

            workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
            watcher = asyncio.create_task(watch())
            try:
                running = len(workers)
                while running:
                    item = await done.get()
                    if item is stopped:
                        break
                    if item is finished:
                        running -= 1
                    elif isinstance(item, ServerError):
                        raise item
                    else:
                        yield item
                while not done.empty():  # stopped: what finished meanwhile is still handed on
                    item = done.get_nowait()
                    if isinstance(item, tuple):
                        yield item
            finally:
                for task in (*workers, watcher):
                    task.cancel()
                await asyncio.gather(*workers, watcher, return_exceptions=True)

    async def _complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        out = {}
        async for sample, completion in self.stream(samples, fmt):
            out[id(sample)] = completion
        return [out[id(s)] for s in samples]

    def complete(self, samples: Sequence[Sample], fmt: str) -> list[Completion]:
        """Completions in the samples' order (for callers that want a list, not a stream)."""
        return asyncio.run(self._complete(samples, fmt))


def _server_message(response: httpx.Response) -> str:
    """The error text a server sent: OpenAI's ``{"error": {"message"}}`` (vLLM, llama.cpp) or a
    bare ``{"detail"}``/``{"message"}`` (FastAPI servers), else the body itself, shortened."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:500]
        for key in ("error", "detail", "message"):
            if isinstance(body.get(key), str):
                return body[key][:500]
    return response.text[:500]


def make_openai_backend(
    spec: str, mode: str, sampling: Any = None, concurrency: int | None = None
) -> OpenAIBackend:
    """``openai:BASE_URL#MODEL``, e.g. ``openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-0.6B``."""
    body = spec.split(":", 1)[1]
    base_url, sep, model = body.rpartition("#")
    if not sep or not base_url or not model:
        raise ValueError(f"model spec {spec!r}: write openai:BASE_URL#MODEL")
    concurrency = concurrency or DEFAULT_CONCURRENCY
    return OpenAIBackend(base_url, model, mode=mode, sampling=sampling, concurrency=concurrency)
