"""The OpenAI-compatible HTTP backend: a real `vllm serve` (slow), and retry/backoff behaviour (fast)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from emopillars.config import defaults
from emopillars.llm.backends import Call
from emopillars.llm.backends.openai_backend import OpenAIBackend
from emopillars.llm.engine import Engine
from emopillars.llm.types import BackendNotAvailableError, GenerationRequest, SamplingParams


class Feeling(BaseModel):
    emotion: str
    intensity: int = Field(ge=1, le=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requests(n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            messages=[{"role": "user", "content": f"Story {i}: a boy's kite flies away. His emotion and its intensity (1-5), as JSON."}],
            sampling=SamplingParams(temperature=0.7, max_tokens=48), seed=i, schema=Feeling, tag=f"kite-{i}",
        )
        for i in range(n)
    ]


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503, then 429, then a well-formed chat completion."""

    calls = 0

    def do_POST(self):  # noqa: N802 - http.server API
        type(self).calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).calls <= 2:
            self.send_response(503 if type(self).calls == 1 else 429)
            self.end_headers()
            return
        assert body["response_format"]["type"] == "json_schema"
        answer = {"choices": [{"message": {"content": '{"emotion": "sadness", "intensity": 2}'}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 11, "completion_tokens": 9}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_retries_with_backoff_on_5xx_and_429():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        params = defaults().llm.replace(backend="openai", openai_base_url=f"http://127.0.0.1:{server.server_port}/v1", openai_concurrency=1)
        backend = OpenAIBackend("m", params, max_http_retries=3, backoff_s=0.01)
        call = Call([{"role": "user", "content": "hi"}], SamplingParams(), 1, Feeling.model_json_schema())
        [c] = backend.complete([call])
    finally:
        server.shutdown()
    assert _Flaky.calls == 3 and backend.http_retries == 2
    assert json.loads(c.text) == {"emotion": "sadness", "intensity": 2}
    assert (c.finish_reason, c.prompt_tokens, c.completion_tokens) == ("stop", 11, 9)


class _Named(BaseHTTPRequestHandler):
    """Answers with the server's own name and the prompt it got."""

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = json.dumps({"server": self.server.name, "prompt": body["messages"][-1]["content"]})
        data = json.dumps({"choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_several_servers_share_the_calls_and_answers_keep_their_order():
    servers = []
    for name in ("a", "b", "c"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        params = defaults().llm.replace(backend="openai", openai_base_urls=[f"http://127.0.0.1:{s.server_port}/v1" for s in servers],
                           openai_concurrency=2)
        backend = OpenAIBackend("m", params, max_http_retries=0)
        calls = [Call([{"role": "user", "content": f"q{i}"}], SamplingParams(), i) for i in range(7)]
        answers = [json.loads(c.text) for c in backend.complete(calls)]
    finally:
        for s in servers:
            s.shutdown()
    assert [a["prompt"] for a in answers] == [f"q{i}" for i in range(7)]
    assert [a["server"] for a in answers] == ["a", "b", "c", "a", "b", "c", "a"]
    assert backend.info()["base_urls"] == params.openai_base_urls


def test_unreachable_server_is_a_clear_error():
    params = defaults().llm.replace(backend="openai", openai_base_url=f"http://127.0.0.1:{_free_port()}/v1", request_timeout_s=2)
    backend = OpenAIBackend("m", params, max_http_retries=2, backoff_s=0.01)
    with pytest.raises(BackendNotAvailableError, match="no answer after 3 tries.*ConnectError.*is the server up"):
        backend.complete([Call([{"role": "user", "content": "hi"}], SamplingParams(), 0)])


@pytest.fixture(scope="module")
def vllm_server(generator_dir):
    pytest.importorskip("vllm")
    port = _free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"vllm-serve-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(generator_dir),
         "--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16",
         "--max-model-len", "1024", "--kv-cache-memory-bytes", str(256 << 20), "--enforce-eager"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    import httpx

    deadline = time.time() + 400
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vllm serve exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(f"vllm serve did not come up in 400 s; see {log.name}")
            time.sleep(2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.slow
@pytest.mark.vllm
def test_engine_over_vllm_serve(vllm_server, generator_dir, tmp_path):
    params = defaults().llm.replace(backend="openai", openai_base_url=vllm_server, openai_concurrency=4,
                       cache_path=str(tmp_path / "c.sqlite"), max_retries=1)
    requests = _requests(8)
    with Engine.from_params(params, generator_dir, model_id="smollm2", progress=False) as engine:
        results = engine.generate(requests)
        stats = engine.stats
    assert [r.tag for r in results] == [q.tag for q in requests]
    ok = [r for r in results if r.ok]
    assert len(ok) >= 7, [(r.reason, r.raw) for r in results]
    for r in ok:
        Feeling.model_validate(r.parsed)
        assert r.prompt_tokens > 0 and r.completion_tokens > 0
    assert stats["backend"] == "openai" and stats["generated_tokens"] > 0
    # Rerun: all from the cache.
    with Engine.from_params(params, generator_dir, model_id="smollm2", progress=False) as engine:
        assert all(r.cached for r in engine.generate(requests))
