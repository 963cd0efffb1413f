"""What every synthesis stage script shares: arguments, the engine session, outputs and count metrics."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TypeVar

from emopillars.config import Params, load_params
from emopillars.contracts import Record
from emopillars.contracts.synthesis import GenerationStepMetrics
from emopillars.errors import require_writable
from emopillars.io import write_jsonl

G = TypeVar("G", bound=GenerationStepMetrics)


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
        add_cache_argument(p)
    return p


def add_cache_argument(p: argparse.ArgumentParser) -> None:
    """``--cache``: the stage's own generation cache (declared a DVC output of that stage), in place of
    ``llm.cache_path``, so that no two stages write one file and ``dvc push`` carries each stage's answers."""
    p.add_argument("--cache", default=None,
                   help="this stage's generation cache (SQLite; default: params llm.cache_path)")


@contextmanager
def engine_session(params: Params, model_dir: str, stats_path: str, cache_path: str | None = None) -> Iterator[object]:
    """The stage's engine: answers come from (and go to) ``cache_path``, else ``llm.cache_path``."""
    from emopillars.llm.engine import Engine

    cache = cache_path or params.llm.cache_path
    require_writable(cache, what="generation cache")
    with Engine.from_params(params.llm, model_dir=model_dir, stats_path=stats_path, cache_path=cache) as engine:
        yield engine


def write_outputs(args, records: list[dict], rejects: list[dict], metrics: Record) -> None:
    write_jsonl(args.out, records)
    if getattr(args, "rejects", None):
        write_jsonl(args.rejects, rejects)
    metrics.write(args.metrics)


def step_metrics(record: type[G], run, started: float, *, inputs: int | None = None,
                 reject_reasons: dict[str, int] | None = None, **extra) -> G:
    """The step's metrics record from its run: ``inputs`` defaults to the rows sent, ``reject_reasons`` to
    the run's final-round reasons (``rejects`` always counts the run's own rejected requests)."""
    elapsed = time.time() - started
    return record.build(
        inputs=run.inputs if inputs is None else inputs,
        outputs=len(run.records),
        requests=run.requests,
        requests_retried=run.retried,
        rejects=sum(run.reject_reasons.values()),
        reject_reasons=counter_dict(run.reject_reasons) if reject_reasons is None else reject_reasons,
        rejects_all_rounds=len(run.rejects),
        seconds=round(elapsed, 1),
        outputs_per_minute=round(len(run.records) / elapsed * 60, 1) if elapsed > 0 else None,
        **extra,
    )


def load(args) -> Params:
    """The stage's params, once every output path is known to be writable."""
    params = load_params(args.params)
    outputs = [getattr(args, key, None) for key in ("out", "metrics", "rejects", "generation_stats")]
    require_writable(*outputs)
    for value in outputs:
        if value:
            Path(value).parent.mkdir(parents=True, exist_ok=True)
    return params


def counter_dict(c: Counter) -> dict:
    return dict(c.most_common())
