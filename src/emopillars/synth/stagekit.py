"""What every synthesis stage script shares: arguments, the engine session, outputs and count metrics."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from emopillars.config import Params, load_params
from emopillars.io import write_json, write_jsonl


def parser(description: str, inputs: list[str], generation: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--params", default="params.yaml")
    for name in inputs:
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--out", required=True, help="records (JSONL)")
    p.add_argument("--metrics", required=True, help="counts in/out with drop reasons (JSON)")
    if generation:
        p.add_argument("--rejects", required=True, help="rejected answers with reasons (JSONL)")
        p.add_argument("--model-dir", default="models/generator")
        p.add_argument("--generation-stats", required=True, help="engine statistics (JSON)")
        p.add_argument("--prompts", default="prompts", help="folder of the *.j2 prompt templates")
    return p


@contextmanager
def engine_session(params: Params, model_dir: str, stats_path: str) -> Iterator[object]:
    from emopillars.llm.engine import Engine

    with Engine.from_params(params.llm, model_dir=model_dir, stats_path=stats_path) as engine:
        yield engine


def write_outputs(args, records: list[dict], rejects: list[dict], metrics: dict) -> None:
    write_jsonl(args.out, records)
    if getattr(args, "rejects", None):
        write_jsonl(args.rejects, rejects)
    write_json(args.metrics, metrics)


def step_metrics(stage: str, run, started: float, unit_in: str, unit_out: str, **extra) -> dict:
    elapsed = time.time() - started
    return {
        "stage": stage,
        f"{unit_in}_in": run.inputs,
        "requests": run.requests,
        "requests_retried": run.retried,
        f"{unit_out}_out": len(run.records),
        "rejects": sum(run.reject_reasons.values()),
        "reject_reasons": dict(run.reject_reasons.most_common()),
        "rejects_all_rounds": len(run.rejects),
        "seconds": round(elapsed, 1),
        f"{unit_out}_per_minute": round(len(run.records) / elapsed * 60, 1) if elapsed > 0 else None,
        **extra,
    }


def load(args) -> Params:
    params = load_params(args.params)
    for key in ("out", "metrics", "rejects", "generation_stats"):
        value = getattr(args, key, None)
        if value:
            Path(value).parent.mkdir(parents=True, exist_ok=True)
    return params


def counter_dict(c: Counter) -> dict:
    return dict(c.most_common())
