"""Stage llm_baseline: the generator classifies benchmark test examples with structured output.

Scored on a seeded sample of ``evaluate.llm_baseline_examples`` examples of
the test set the transfer stage uses (all of it when null; the record's
``test_set`` says which; scoring policy and record:
:mod:`emopillars.eval.llm_baseline`). Writes ``<metrics-dir>/<benchmark>.json``
per benchmark, ``<metrics-dir>/skipped.json`` listing the user-supplied
benchmarks that are not configured, and the engine statistics.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.contracts.evaluation import SKIP_FILE, SkippedBenchmarks, SkipRecord
from emopillars.errors import require_writable, run_main
from emopillars.eval.llm_baseline import benchmark_requests, evaluate_answers, baseline_sample
from emopillars.io import write_jsonl
from emopillars.synth.stagekit import add_cache_argument


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--raw-dir", required=True)
    p.add_argument("--model-dir", required=True, help="the generator (models/generator)")
    p.add_argument("--metrics-dir", required=True, help="outputs/metrics/llm_baseline")
    p.add_argument("--predictions-dir", required=True)
    p.add_argument("--stats", required=True, help="engine statistics JSON")
    add_cache_argument(p)
    args = p.parse_args(argv)
    require_writable(args.metrics_dir, args.predictions_dir, args.stats)
    params = load_params(args.params)
    ep, tp = params.evaluate, params.transfer
    cache = args.cache or params.llm.cache_path
    require_writable(cache, what="generation cache")
    from emopillars.llm.engine import Engine

    started = time.time()
    plan, requests, skipped = {}, [], []
    for bench in tp.benchmarks:
        splits, reason = benchmarks.read_splits(bench, params, args.raw_dir)
        if splits is None:
            print(f"llm_baseline {bench}: skipped: {reason}")
            skipped.append(SkipRecord(kind="llm_baseline", benchmark=bench, reason=reason))
            continue
        test, test_set = baseline_sample(splits["test"], tp.max_eval_examples, ep.llm_baseline_examples, tp.seed)
        plan[bench] = (test, test_set, len(requests))
        requests += benchmark_requests(bench, test, ep.seed)
    metrics_dir = Path(args.metrics_dir)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    SkippedBenchmarks(skipped=skipped).write(metrics_dir / SKIP_FILE)
    if not requests:
        print("llm_baseline: nothing to classify")
        return 0
    generator = params.models.generator
    system = f"generator ({generator.hf_id or generator.package})"
    with Engine.from_params(params.llm, model_dir=args.model_dir, stats_path=args.stats, cache_path=cache) as engine:
        results = engine.generate(requests, desc="llm_baseline")
    for bench, (test, test_set, start) in plan.items():
        record, rows = evaluate_answers(bench, test, results[start:start + len(test)], ep, system, test_set)
        record.write(metrics_dir / f"{record.run.run_name}.json")
        write_jsonl(Path(args.predictions_dir) / f"{record.run.run_name}.jsonl", rows)
        pm = record.primary
        print(f"llm_baseline {bench}: {len(test)} examples, {record.rejected_answers} rejected, "
              f"{record.primary_metric} {pm.value:.3f} [{pm.ci_low:.3f}, {pm.ci_high:.3f}], "
              f"{record.labels_per_example:.2f} labels/example")
    print(f"llm_baseline: {len(requests)} requests in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
