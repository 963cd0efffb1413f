"""Request and result records of the generation engine.

A request is everything that changes the answer (messages, sampling, seed,
sample index, schema) plus a ``tag`` and ``meta`` that travel with it but are
not part of the cache key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Type

from pydantic import BaseModel


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    repetition_penalty: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        out = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.repetition_penalty != 1.0:  # absent when off, so answers cached without it keep their keys
            out["repetition_penalty"] = self.repetition_penalty
        return out


@dataclass
class GenerationRequest:
    """One chat completion to make.

    ``schema`` is a pydantic model: the answer must be JSON that validates
    against it; backends that support structured output constrain decoding to
    its JSON schema. ``tag`` identifies the request in outputs (e.g. a record
    id) and ``meta`` carries anything the caller wants back; neither is part of
    the cache key.
    """

    messages: list[dict[str, str]]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    seed: int = 0
    sample_index: int = 0
    schema: Optional[Type[BaseModel]] = None
    tag: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def json_schema(self) -> Optional[dict[str, Any]]:
        return schema_of(self.schema) if self.schema is not None else None


@functools.lru_cache(maxsize=None)
def schema_of(model: Type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic model class, built once per class (callers must not mutate it)."""
    return model.model_json_schema()


@dataclass
class GenerationResult:
    """The outcome of one request: either a validated answer or a reject with its reason.

    ``raw`` is the model's text of the last attempt (kept for rejects too), so a
    surprising label can be traced to what the model said.
    """

    key: str
    tag: str
    status: Literal["ok", "reject"]
    raw: str
    parsed: Optional[dict[str, Any]] = None
    reason: Optional[str] = None
    attempts: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: Optional[str] = None
    cached: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class EngineError(RuntimeError):
    """Base class of the generation engine's errors."""


class BackendNotAvailableError(EngineError):
    """The chosen backend's library is not installed (or a server is unreachable)."""


class StructuredOutputUnsupportedError(EngineError):
    """A request has a schema but the backend cannot constrain decoding to it.

    Raised instead of silently generating unconstrained text.
    """


class CacheMissError(EngineError):
    """``cache_only`` is set and some requests have no cached answer.

    ``missing`` lists ``(key, tag)`` of every such request.
    """

    def __init__(self, missing: list[tuple[str, str]]):
        self.missing = missing
        shown = "\n".join(f"  {k}  {t}" for k, t in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        super().__init__(
            f"cache_only is set and {len(missing)} request(s) have no cached answer (key, tag):\n{shown}{more}\n"
            f"Unset llm.cache_only to generate them."
        )


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
