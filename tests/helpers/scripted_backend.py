"""A backend for worker processes of the data-parallel engine: it answers from its own process.

Each answer is JSON naming the worker's pid and environment, so a test can see which engine process
answered which call. A message containing ``CRASH`` makes the process exit at once (a dead engine);
``BAD`` gets an answer that fails the schema once per seed parity, so the engine retries it.
"""

from __future__ import annotations

import json
import os

from emopillars.llm.backends import Backend, Completion


class ScriptedBackend(Backend):
    name = "vllm"
    supports_structured_output = True

    def __init__(self, model_dir, llm_params):
        self.model_dir = str(model_dir)

    def complete(self, calls):
        out = []
        for call in calls:
            text = call.messages[-1]["content"]
            if "CRASH" in text:
                os._exit(3)
            answer = {"text": text, "pid": os.getpid(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                      "cores": os.environ.get("VLLM_CPU_OMP_THREADS_BIND"), "seed": call.seed}
            if "BAD" in text and call.seed % 2 == 0:
                answer = {"oops": True}
            out.append(Completion(text=json.dumps(answer), finish_reason="stop", prompt_tokens=3, completion_tokens=5))
        return out
