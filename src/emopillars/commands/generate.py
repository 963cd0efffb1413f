"""``emopillars generate``: run chat requests from a JSONL file through the generation engine.

Each input line is one request::

    {"messages": [{"role": "user", "content": "..."}], "seed": 0, "sample_index": 0,
     "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 256},
     "schema": "emopillars.synth.schemas:UtteranceList", "tag": "row-17", "meta": {...}}

``messages`` holds system/user/assistant turns with non-empty content;
``sampling`` takes temperature >= 0, top_p in (0, 1], max_tokens >= 1 and
repetition_penalty > 0. ``schema`` (optional) names a pydantic model of the
project's answer schemas as ``module:Class`` (``emopillars.synth.schemas:
UtteranceList``); answers must be JSON that validates against it. Every line
is checked before the model loads; a bad one stops with the file, line and field. Results (one line per request, same order) keep
the raw text, the parsed answer or the reject reason. Rerunning reuses the cache,
so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from emopillars.config import ParamsError, load_params
from emopillars.errors import non_negative_int, positive_int, require_writable
from emopillars.io import read_jsonl, write_jsonl
from emopillars.llm.types import (
    GenerationRequest,
    InvalidRequest,
    RequestSpec,
    SamplingParams,
    describe_validation_error,
    resolve_schema,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", required=True, help="input JSONL, one request per line")
    p.add_argument("--out", required=True, help="results JSONL")
    p.add_argument("--params", default="params.yaml", help="params file; its `llm` section configures the engine")
    p.add_argument("--model-dir", default="models/generator")
    p.add_argument("--model-id", help="model id for cache keys (and the served model name for --backend openai)")
    p.add_argument("--stats", help="write engine statistics (JSON) here")
    p.add_argument("--backend", choices=["vllm", "openai", "transformers"], help="override llm.backend")
    p.add_argument("--cache", help="override llm.cache_path")
    p.add_argument("--batch-size", type=positive_int, help="override llm.batch_size")
    p.add_argument("--max-retries", type=non_negative_int, help="override llm.max_retries")
    p.add_argument("--cache-only", action="store_true", help="never call the model; fail listing what is not cached")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def load_requests(path: str | Path) -> list[GenerationRequest]:
    """The requests of a JSONL file, each checked against :class:`RequestSpec` before any model loads.

    A bad line raises :class:`InvalidRequest` naming the file, the line and the field.
    """
    requests = []
    for lineno, row in enumerate(read_jsonl(path), 1):
        try:
            RequestSpec.model_validate(row)
        except ValidationError as e:
            raise InvalidRequest(f"{path}:{lineno}: {describe_validation_error(e)}") from None
        try:
            schema = resolve_schema(row["schema"]) if row.get("schema") is not None else None
        except InvalidRequest as e:
            raise InvalidRequest(f"{path}:{lineno}: {e}") from None
        # Built from the values as given (not the validated copies, which turn 1 into 1.0), so cache keys
        # stay those of earlier runs.
        requests.append(GenerationRequest(
            messages=row["messages"],
            sampling=SamplingParams(**row.get("sampling", {})),
            seed=row.get("seed", 0),
            sample_index=row.get("sample_index", 0),
            schema=schema,
            tag=str(row.get("tag", lineno)),
            meta=row.get("meta", {}),
        ))
    return requests


def _llm_with_overrides(llm, args: argparse.Namespace):
    """``params.llm`` with the command-line overrides, validated like the params file (``--batch-size 0`` stops)."""
    flags = {"backend": "--backend", "cache_path": "--cache", "batch_size": "--batch-size",
             "max_retries": "--max-retries", "cache_only": "--cache-only"}
    values = {"backend": args.backend, "cache_path": args.cache, "batch_size": args.batch_size,
              "max_retries": args.max_retries, "cache_only": args.cache_only or None}
    overrides = {k: v for k, v in values.items() if v is not None}
    try:
        return llm.replace(**overrides)
    except ValidationError as e:
        err = e.errors()[0]
        key = str(err["loc"][0])
        raise ParamsError(f"{flags.get(key, key)} {err.get('input')!r}: {err['msg']} (it overrides llm.{key})") from None


def run(args: argparse.Namespace) -> int:
    from emopillars.llm.engine import results_to_records
    from emopillars.llm.types import EngineError

    params = load_params(args.params)
    llm = _llm_with_overrides(params.llm, args)
    requests = load_requests(args.requests)
    require_writable(args.out, args.stats, llm.cache_path)
    try:
        results, stats = _generate(llm, args, requests)
    except EngineError as e:
        raise ValueError(str(e)) from None
    write_jsonl(args.out, results_to_records(results))
    print(
        f"generate: {stats['requests']} requests, {stats['cache_hits']} cached, {stats['valid']} valid, "
        f"{stats['rejected']} rejected, {stats['generated_tokens']} tokens at {stats['generated_tokens_per_second']} tok/s -> {args.out}"
    )
    return 0


def _generate(llm, args, requests):
    from emopillars.llm.engine import Engine

    with Engine.from_params(llm, args.model_dir, model_id=args.model_id, stats_path=args.stats, progress=not args.quiet) as engine:
        results = engine.generate(requests, desc="generate")
        return results, engine.stats
