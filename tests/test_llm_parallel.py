"""Data-parallel generation: one engine process per device group, answers back in order, one cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from emopillars.config import defaults
from emopillars.llm.backends.parallel import DataParallelBackend, resolve_workers, worker_environments
from emopillars.llm.backends import Call
from emopillars.llm.engine import Engine
from emopillars.llm.types import BackendNotAvailableError, EngineError, GenerationRequest, SamplingParams

WORKER = "tests.helpers.scripted_backend:ScriptedBackend"
ROOT = Path(__file__).resolve().parents[1]


class Echo(BaseModel):
    text: str
    pid: int


def _calls(texts):
    return [Call(messages=[{"role": "user", "content": t}], sampling=SamplingParams(), seed=i) for i, t in enumerate(texts)]


def test_auto_uses_every_gpu_group_and_one_engine_on_cpu():
    assert resolve_workers("auto", 1, gpus=[]) == 1
    assert resolve_workers("auto", 1, gpus=[str(i) for i in range(8)]) == 8
    assert resolve_workers("auto", 2, gpus=[str(i) for i in range(8)]) == 4
    assert resolve_workers(2, 1, gpus=[]) == 2
    with pytest.raises(BackendNotAvailableError, match="needs 4 GPUs, but 2 are visible"):
        resolve_workers(2, 2, gpus=["0", "1"])


def test_each_worker_sees_only_its_devices():
    assert worker_environments(4, 2, gpus=[str(i) for i in range(8)]) == [
        {"CUDA_VISIBLE_DEVICES": "0,1"}, {"CUDA_VISIBLE_DEVICES": "2,3"},
        {"CUDA_VISIBLE_DEVICES": "4,5"}, {"CUDA_VISIBLE_DEVICES": "6,7"}]
    envs = worker_environments(2, 1, gpus=[], cpus=[0, 1, 2, 3])
    assert [e["VLLM_CPU_OMP_THREADS_BIND"] for e in envs] == ["0,1", "2,3"]
    assert all(e["CUDA_VISIBLE_DEVICES"] == "" for e in envs)
    with pytest.raises(BackendNotAvailableError, match="at least 3 CPU cores"):
        worker_environments(3, 1, gpus=[], cpus=[0, 1])


def test_calls_are_shared_out_and_answered_in_order(tmp_path):
    envs = [{"CUDA_VISIBLE_DEVICES": "", "VLLM_CPU_OMP_THREADS_BIND": str(w)} for w in range(2)]
    backend = DataParallelBackend(tmp_path, defaults().llm, 2, envs=envs, worker=WORKER)
    try:
        texts = [f"line {i}" for i in range(7)]
        answers = [json.loads(c.text) for c in backend.complete(_calls(texts))]
        assert [a["text"] for a in answers] == texts
        pids = [a["pid"] for a in answers]
        assert len(set(pids)) == 2 and os.getpid() not in pids
        # round robin: calls 0, 2, 4, 6 on the first engine, with its cores
        assert {a["cores"] for a in answers[0::2]} == {"0"} and {a["cores"] for a in answers[1::2]} == {"1"}
        assert backend.info()["data_parallel_workers"] == 2
    finally:
        backend.close()
    assert all(not p.is_alive() for p in backend._procs) if backend._procs else True


def test_a_dead_engine_is_an_error_that_names_it(tmp_path):
    envs = [{"CUDA_VISIBLE_DEVICES": "", "VLLM_CPU_OMP_THREADS_BIND": str(w)} for w in range(2)]
    backend = DataParallelBackend(tmp_path, defaults().llm, 2, envs=envs, worker=WORKER)
    try:
        with pytest.raises(EngineError, match=r"vLLM worker 1 .* exit"):
            backend.complete(_calls(["fine", "CRASH"]))
    finally:
        backend.close()


def test_engine_over_workers_retries_in_the_next_wave_and_caches_once(tmp_path):
    envs = [{"CUDA_VISIBLE_DEVICES": "", "VLLM_CPU_OMP_THREADS_BIND": str(w)} for w in range(2)]
    backend = DataParallelBackend(tmp_path, defaults().llm, 2, envs=envs, worker=WORKER)
    requests = [GenerationRequest(messages=[{"role": "user", "content": f"{'BAD' if i % 3 == 0 else 'ok'} {i}"}],
                                  seed=i, schema=Echo, tag=str(i)) for i in range(10)]
    try:
        engine = Engine(backend, tmp_path / "cache.sqlite", max_retries=3, batch_size=4, backend_name="vllm",
                        model_id="scripted", progress=False)
        results = engine.generate(requests)
        stats = engine.stats
        engine.close()
    finally:
        backend.close()
    assert [r.tag for r in results] == [str(i) for i in range(10)]
    assert all(r.ok for r in results), [(r.tag, r.reason) for r in results if not r.ok]
    assert stats["retried"] >= 1
    # 10 first attempts plus the retries, in full waves of 4 except the last: no wave of one retry alone
    assert stats["waves"] == -(-stats["model_calls"] // 4)
    again = Engine(_Refuse(), tmp_path / "cache.sqlite", backend_name="vllm", model_id="scripted", progress=False)
    assert [r.parsed for r in again.generate(requests)] == [r.parsed for r in results]
    again.close()


class _Refuse:
    name = "vllm"

    def complete(self, calls):
        raise AssertionError("a cached answer went to the model")


_PARENT = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from emopillars.config import defaults
from emopillars.llm.backends.parallel import DataParallelBackend
if __name__ == "__main__":
    envs = [{"CUDA_VISIBLE_DEVICES": "", "VLLM_CPU_OMP_THREADS_BIND": str(w)} for w in range(2)]
    b = DataParallelBackend(sys.argv[2], defaults().llm, 2, envs=envs, worker="tests.helpers.scripted_backend:ScriptedBackend")
    print(" ".join(str(p.pid) for p in b._procs), flush=True)
    time.sleep(600)
"""


def test_workers_die_with_a_killed_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    proc = subprocess.Popen([sys.executable, str(script), str(ROOT), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    pids = [int(x) for x in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.time() + 15
    alive = pids
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = [p for p in pids if _alive(p)]
    assert not alive, f"worker processes {alive} outlived their killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_two_real_vllm_engines_on_the_cpu_answer_one_cache(generator_dir, tmp_path):
    pytest.importorskip("vllm")
    params = defaults().llm.replace(data_parallel_size=2, kv_cache_memory_gib=0.25, max_model_len=1024, compact_json=True,
                       cache_path=str(tmp_path / "cache.sqlite"))
    requests = [GenerationRequest(messages=[{"role": "user", "content": f"Scene {i}: a child finds a puppy. "
                                             "Give the child's emotion as JSON."}],
                                  sampling=SamplingParams(max_tokens=30), seed=i, schema=_Emotion, tag=str(i))
                for i in range(6)]
    with Engine.from_params(params, generator_dir, progress=False) as engine:
        results = engine.generate(requests)
        info = engine.stats["backend_info"]
    assert info["data_parallel_workers"] == 2
    assert [e["VLLM_CPU_OMP_THREADS_BIND"] for e in info["worker_environments"]] == ["0", "1"]
    assert sum(r.ok for r in results) >= 4
    with Engine(_Refuse(), params.cache_path, backend_name="vllm", model_id=engine.model_id,
                revision=engine.revision, decoding=engine.decoding, progress=False) as replay:
        assert [r.raw for r in replay.generate(requests)] == [r.raw for r in results]


class _Emotion(BaseModel):
    emotion: str
