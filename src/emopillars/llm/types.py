"""Request and result records of the generation engine.

A request is everything that changes the answer (messages, sampling, seed,
sample index, schema) plus a ``tag`` and ``meta`` that travel with it but are
not part of the cache key.

:class:`RequestSpec` is a request as ``emopillars generate`` reads it (one
JSON object a line); :func:`check_request` holds every request to the same
rules before the engine answers it, so a bad request stops before any model
loads and names the field.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Type

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


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


# --------------------------------------------------------------------------- validation
# Modules a request may name its answer schema from ("module:Class"); nothing else is imported.
SCHEMA_MODULES = ("emopillars.synth.schemas",)


class InvalidRequest(ValueError):
    """A generation request breaks the request rules; the message names the request and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("content is blank; expected text")
        return v


class SamplingSpec(_Strict):
    """The sampling settings of a request, with :class:`SamplingParams`' defaults and the ranges backends accept."""

    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)
    repetition_penalty: float = Field(1.0, gt=0)


class RequestSpec(_Strict):
    """One request as a JSON object; ``schema`` is ``"module:Class"`` in one of :data:`SCHEMA_MODULES`."""

    messages: list[ChatMessage] = Field(min_length=1)
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    seed: int = 0
    sample_index: int = Field(0, ge=0)
    schema_: Optional[str] = Field(None, alias="schema")
    tag: str | int = ""
    meta: dict[str, Any] = Field(default_factory=dict)


def describe_validation_error(err: ValidationError) -> str:
    """``field: problem`` for each problem of a pydantic error, joined with ``; `` (one line)."""
    parts = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "request"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] not in ("missing",) and not isinstance(e.get("input"), (dict, list)):
            msg += f" (got {e.get('input')!r})"
        parts.append(f"{key}: {msg}")
    return "; ".join(parts)


def resolve_schema(ref: Any) -> Type[BaseModel]:
    """The pydantic model class ``ref`` (``"module:Class"``) names, from the project's schema modules only."""
    expected = f"'module:Class' naming a pydantic model in {', '.join(SCHEMA_MODULES)}"
    module, _, name = ref.partition(":") if isinstance(ref, str) else ("", "", "")
    if module not in SCHEMA_MODULES or not name.isidentifier():
        raise InvalidRequest(f"schema: expected {expected}, got {ref!r}")
    model = getattr(importlib.import_module(module), name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise InvalidRequest(f"schema: {ref!r} is not a pydantic model class; expected {expected}")
    return model


def check_request(request: "GenerationRequest", where: str = "") -> None:
    """Raise :class:`InvalidRequest` (``where: field: problem``) unless ``request`` keeps the request rules."""
    where = where or f"request {request.tag!r}"
    problem = None
    if request.schema is not None and not (isinstance(request.schema, type) and issubclass(request.schema, BaseModel)):
        problem = f"schema: expected a pydantic model class, got {request.schema!r}"
    elif not isinstance(request.sampling, SamplingParams):
        problem = f"sampling: expected SamplingParams, got {type(request.sampling).__name__}"
    else:
        try:
            RequestSpec.model_validate({"messages": request.messages, "sampling": dataclasses.asdict(request.sampling),
                                        "seed": request.seed, "sample_index": request.sample_index,
                                        "meta": request.meta})
        except ValidationError as e:
            problem = describe_validation_error(e)
    if problem:
        raise InvalidRequest(f"{where}: {problem}")


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
