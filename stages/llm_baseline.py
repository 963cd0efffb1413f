"""Stage llm_baseline: the generator classifies benchmark test examples with structured output.

Scored on the first ``evaluate.llm_baseline_examples`` examples of the same
seeded test sample the transfer stage uses; a rejected answer counts as no
label (multi-label) or a wrong one (single-label).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from emopillars.config import load_params
from emopillars.data.label_maps import BENCHMARK_LABELS, MULTI_LABEL
from emopillars.eval.evaluate import evaluate_scores
from emopillars.eval.llm_baseline import format_request, parse_answer
from emopillars.io import write_json, write_jsonl
from emopillars.train.transfer import CONTEXT_BENCHMARKS, PRIMARY_METRIC, PROTOCOL, gold, seeded_subset, Head

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer import read_splits  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--raw-dir", required=True)
    p.add_argument("--model-dir", required=True, help="the generator (models/generator)")
    p.add_argument("--metrics-dir", required=True, help="outputs/metrics/llm_baseline")
    p.add_argument("--predictions-dir", required=True)
    p.add_argument("--stats", required=True, help="engine statistics JSON")
    args = p.parse_args(argv)
    params = load_params(args.params)
    ep, tp = params.evaluate, params.transfer
    from emopillars.llm.engine import Engine

    started = time.time()
    plan, requests = {}, []
    for bench in tp.benchmarks:
        splits, reason = read_splits(bench, params, args.raw_dir)
        if splits is None:
            print(f"llm_baseline {bench}: skipped: {reason}")
            continue
        test = seeded_subset(splits["test"], tp.max_eval_examples, tp.seed)[:ep.llm_baseline_examples]
        labels, multi = list(BENCHMARK_LABELS[bench]), bench in MULTI_LABEL
        reqs = [format_request(r, labels, multi, ep.seed, use_context=bench in CONTEXT_BENCHMARKS) for r in test]
        for q in reqs:
            q.meta["benchmark"] = bench
        plan[bench] = (test, labels, multi, len(requests), len(reqs))
        requests += reqs
    Path(args.metrics_dir).mkdir(parents=True, exist_ok=True)
    if not requests:
        print("llm_baseline: nothing to classify")
        return 0
    with Engine.from_params(params.llm, model_dir=args.model_dir, stats_path=args.stats) as engine:
        results = engine.generate(requests, desc="llm_baseline")
    for bench, (test, labels, multi, start, n) in plan.items():
        res = results[start:start + n]
        pred = np.stack([parse_answer(r.parsed if r.ok else None, labels, multi) for r in res])
        head = Head(bench, "benchmark")
        g = gold(test, head)
        rejected = sum(not r.ok for r in res)
        if multi:
            rule, scores = {"kind": "global", "global": 0.5}, pred.astype(float)
        else:
            # A rejected answer (no label) is scored as a wrong label, never as a lucky arg-max of zeros.
            ids = np.where(pred.any(1), pred.argmax(1), (g + 1) % len(labels))
            rule, scores = {"kind": "argmax"}, np.eye(len(labels))[ids]
        rec = evaluate_scores(scores, g, labels, multi, rule, PRIMARY_METRIC[bench], ep.bootstrap_samples,
                              ep.confidence, ep.seed)
        rec.pop("predictions")
        rec["labels_per_example"] = float(pred.sum(1).mean())
        rec = {"benchmark": bench, "init": "llm", "system": f"generator ({params.models.generator.hf_id or params.models.generator.package})",
               "n_train": 0, "n_test": len(test), "rejected_answers": rejected,
               "protocol": "zero-shot LLM classification with a JSON schema restricted to the benchmark's labels "
                           "(temperature 0); rejected answers count as no label (multi-label) or wrong (single-label); "
                           f"first {len(test)} examples of the transfer test sample; " + PROTOCOL[bench], **rec}
        write_json(Path(args.metrics_dir) / f"{bench}.json", rec)
        write_jsonl(Path(args.predictions_dir) / f"{bench}.jsonl",
                    [{"id": r.id, "gold": list(r.labels), "pred": [labels[j] for j in np.flatnonzero(pr)], "raw": res_i.raw}
                     for r, pr, res_i in zip(test, pred, res)])
        pm = rec["metrics"][PRIMARY_METRIC[bench]]
        print(f"llm_baseline {bench}: {len(test)} examples, {rejected} rejected, {PRIMARY_METRIC[bench]} "
              f"{pm['value']:.3f} [{pm['ci_low']:.3f}, {pm['ci_high']:.3f}], {rec['labels_per_example']:.2f} labels/example")
    print(f"llm_baseline: {len(requests)} requests in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
