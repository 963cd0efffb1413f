"""OpenAI-compatible HTTP backend (``vllm serve``, several servers, or a fleet behind a load balancer).

Calls ``POST {base_url}/chat/completions`` with bounded concurrency
(``llm.openai_concurrency`` per server), a timeout per request (``llm.request_timeout_s``),
and retries with exponential backoff on 429, 5xx and connection errors. A schema
is sent as ``response_format: {type: json_schema}``; servers that honour it
constrain decoding, and the engine validates every answer either way.

With several servers (``llm.openai_base_urls``: one ``vllm serve`` per GPU or
per machine) the calls of a wave are dealt out round-robin; the answers come
back in order into the one cache of the process that runs the stage.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Optional

from emopillars.llm.backends import Backend, Call, Completion, hardware, versions
from emopillars.llm.types import BackendNotAvailableError, EngineError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend(Backend):
    name = "openai"
    supports_structured_output = True

    def __init__(self, model: str, llm_params, max_http_retries: int = 5, backoff_s: float = 1.0):
        import httpx

        self._httpx = httpx
        self.model = model
        urls = list(llm_params.openai_base_urls) or [llm_params.openai_base_url]
        self.base_urls = [u.rstrip("/") for u in urls]
        self.base_url = self.base_urls[0]
        self.api_key = llm_params.openai_api_key
        self.concurrency = llm_params.openai_concurrency
        self.timeout = llm_params.request_timeout_s
        self.max_http_retries = max_http_retries
        self.backoff_s = backoff_s
        self.http_retries = 0

    def _payload(self, call: Call) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": call.messages,
            "temperature": call.sampling.temperature,
            "top_p": call.sampling.top_p,
            "max_tokens": call.sampling.max_tokens,
            "seed": call.seed,
        }
        if call.sampling.repetition_penalty != 1.0:
            body["repetition_penalty"] = call.sampling.repetition_penalty  # a vLLM server extension
        if call.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": call.schema.get("title", "answer"), "schema": call.schema, "strict": True},
            }
        return body

    async def _one(self, client, sem: asyncio.Semaphore, call: Call, base_url: str) -> Completion:
        httpx = self._httpx
        async with sem:
            last: Optional[str] = None
            for attempt in range(self.max_http_retries + 1):
                if attempt:
                    self.http_retries += 1
                    await asyncio.sleep(min(30.0, self.backoff_s * 2 ** (attempt - 1)) * (0.5 + random.random()))
                try:
                    r = await client.post(f"{base_url}/chat/completions", json=self._payload(call))
                except (httpx.TransportError, httpx.TimeoutException) as e:
                    last = f"{type(e).__name__}: {e}"
                    continue
                if r.status_code in RETRY_STATUS:
                    last = f"HTTP {r.status_code}: {r.text[:200]}"
                    continue
                if r.status_code != 200:
                    raise EngineError(f"{base_url}: HTTP {r.status_code} for model {self.model!r}: {r.text[:500]}")
                data = r.json()
                choice = data["choices"][0]
                usage = data.get("usage") or {}
                return Completion(
                    text=choice["message"].get("content") or "",
                    finish_reason=choice.get("finish_reason"),
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                )
            raise BackendNotAvailableError(
                f"{base_url}: no answer after {self.max_http_retries + 1} tries (last: {last}); is the server up?"
            )

    async def _all(self, calls: list[Call]) -> list[Completion]:
        sems = [asyncio.Semaphore(self.concurrency) for _ in self.base_urls]
        headers = {"Authorization": f"Bearer {self.api_key}"}
        limits = self._httpx.Limits(max_connections=self.concurrency * len(self.base_urls))
        n = len(self.base_urls)
        async with self._httpx.AsyncClient(timeout=self.timeout, headers=headers, limits=limits) as client:
            return list(await asyncio.gather(*(self._one(client, sems[i % n], c, self.base_urls[i % n])
                                               for i, c in enumerate(calls))))

    def complete(self, calls: list[Call]) -> list[Completion]:
        if not calls:
            return []
        return asyncio.run(self._all(calls))

    def info(self) -> dict[str, Any]:
        return {**super().info(), "base_url": self.base_url, "base_urls": self.base_urls, "model": self.model, "concurrency": self.concurrency,
                "http_retries": self.http_retries, "versions": versions("httpx"), "hardware": hardware()}
