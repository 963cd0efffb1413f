"""``emopillars generate``: run chat requests from a JSONL file through the generation engine.

Each input line is one request::

    {"messages": [{"role": "user", "content": "..."}], "seed": 0, "sample_index": 0,
     "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 256},
     "schema": "mypackage.schemas:Answer", "tag": "row-17", "meta": {...}}

``schema`` (optional) names a pydantic model as ``module:Class``; answers must be
JSON that validates against it. Results (one line per request, same order) keep
the raw text, the parsed answer or the reject reason. Rerunning reuses the cache,
so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from emopillars.config import load_params
from emopillars.errors import non_negative_int, positive_int, require_writable
from emopillars.io import read_jsonl, write_jsonl
from emopillars.llm.types import GenerationRequest, SamplingParams


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
    requests = []
    for lineno, row in enumerate(read_jsonl(path), 1):
        try:
            schema = _import_schema(row["schema"]) if row.get("schema") else None
            requests.append(
                GenerationRequest(
                    messages=row["messages"],
                    sampling=SamplingParams(**row.get("sampling", {})),
                    seed=int(row.get("seed", 0)),
                    sample_index=int(row.get("sample_index", 0)),
                    schema=schema,
                    tag=str(row.get("tag", lineno)),
                    meta=row.get("meta", {}),
                )
            )
        except (KeyError, TypeError, ValueError, ImportError, AttributeError) as e:
            raise ValueError(f"{path}:{lineno}: bad request ({type(e).__name__}: {e}); expected keys messages, "
                             f"and optionally sampling, seed, sample_index, schema ('module:Class'), tag, meta") from None
    return requests


def _import_schema(ref: str):
    module, _, name = ref.partition(":")
    if not name:
        raise ValueError(f"schema {ref!r} must be 'module:Class'")
    return getattr(importlib.import_module(module), name)


def run(args: argparse.Namespace) -> int:
    from emopillars.llm.engine import results_to_records
    from emopillars.llm.types import EngineError

    params = load_params(args.params)
    overrides = {k: v for k, v in {
        "backend": args.backend, "cache_path": args.cache, "batch_size": args.batch_size,
        "max_retries": args.max_retries, "cache_only": args.cache_only or None,
    }.items() if v is not None}
    llm = params.llm.model_copy(update=overrides)
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
