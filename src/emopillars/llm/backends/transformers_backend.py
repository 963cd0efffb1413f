"""transformers backend: batched ``generate`` where vLLM is not installed.

It cannot constrain decoding to a schema, so conformance rests on the engine's
validation and retries. Sampling runs per batch under one torch seed derived
from the batch's request seeds: answers are reproducible for the same batch,
but unlike vLLM they depend on which requests share a batch (the cache makes
reruns identical anyway).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emopillars.llm.backends import Backend, Call, Completion, hardware, versions
from emopillars.llm.types import stable_hash
from emopillars.models import require_model_dir, require_safetensors


class TransformersBackend(Backend):
    name = "transformers"
    supports_structured_output = False

    def __init__(self, model_dir: str | Path, llm_params):
        model_dir = require_safetensors(require_model_dir(model_dir, "generator"))
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = llm_params.dtype
        if dtype == "auto" or (self.device == "cpu" and dtype == "float16"):
            dtype = "float32"
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype),
                                                          use_safetensors=True).to(self.device).eval()
        self.max_model_len = llm_params.max_model_len
        self.dtype = dtype

    def complete(self, calls: list[Call]) -> list[Completion]:
        if not calls:
            return []
        # generate() takes one max_new_tokens and one temperature: group calls that share sampling settings.
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(calls):
            groups.setdefault((c.sampling.temperature, c.sampling.top_p, c.sampling.max_tokens,
                               c.sampling.repetition_penalty), []).append(i)
        out: list[Completion] = [None] * len(calls)  # type: ignore[list-item]
        for (temperature, top_p, max_tokens, penalty), idx in groups.items():
            for i, comp in zip(idx, self._generate([calls[i] for i in idx], temperature, top_p, max_tokens, penalty)):
                out[i] = comp
        return out

    def _generate(self, calls: list[Call], temperature: float, top_p: float, max_tokens: int,
                  repetition_penalty: float = 1.0) -> list[Completion]:
        torch = self._torch
        prompts = [self.tokenizer.apply_chat_template(c.messages, tokenize=False, add_generation_prompt=True) for c in calls]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        torch.manual_seed(int(stable_hash([c.seed for c in calls])[:8], 16))
        do_sample = temperature > 0
        with torch.no_grad():
            gen = self.model.generate(
                **enc,
                max_new_tokens=max_tokens,
                do_sample=do_sample,
                temperature=temperature if do_sample else None,
                top_p=top_p if do_sample else None,
                repetition_penalty=repetition_penalty if repetition_penalty != 1.0 else None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = gen[:, enc["input_ids"].shape[1]:]
        eos = set(_as_list(self.model.generation_config.eos_token_id)) | {self.tokenizer.eos_token_id}
        results = []
        for row, mask in zip(new.tolist(), enc["attention_mask"]):
            n, stopped = 0, False
            for tok in row:
                if tok in eos:
                    stopped = True
                    break
                n += 1
            text = self.tokenizer.decode(row[:n], skip_special_tokens=True)
            results.append(
                Completion(
                    text=text,
                    finish_reason="stop" if stopped else "length",
                    prompt_tokens=int(mask.sum()),
                    completion_tokens=n + (1 if stopped else 0),
                )
            )
        return results

    def info(self) -> dict[str, Any]:
        return {**super().info(), "device": self.device, "dtype": self.dtype,
                "versions": versions("torch", "transformers"), "hardware": hardware()}


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
