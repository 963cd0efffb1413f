"""Stage zeroshot: each Emo Pillars model read on a benchmark through the label mapping, no benchmark training.

Writes one evaluation record per model, ``<metrics-dir>/<init>.json``, and its
test predictions ``<predictions-dir>/<init>.jsonl``; a user-supplied benchmark
that is not configured leaves a skip record, ``<metrics-dir>/skipped.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.contracts.evaluation import SKIP_FILE, SkippedBenchmarks, SkipRecord
from emopillars.errors import require_writable, run_main
from emopillars.io import atomic_path, write_jsonl
from emopillars.train.transfer import zero_shot


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--raw-dir", required=True)
    p.add_argument("--models-dir", required=True)
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--predictions-dir", required=True)
    args = p.parse_args(argv)
    require_writable(args.metrics_dir, args.predictions_dir)
    params = load_params(args.params)
    tp = params.transfer
    if args.benchmark not in tp.benchmarks:
        print(f"zeroshot: error: {args.benchmark!r} is not in transfer.benchmarks ({', '.join(tp.benchmarks)})",
              file=sys.stderr)
        return 2
    started = time.time()
    with atomic_path(args.metrics_dir) as mtmp, atomic_path(args.predictions_dir) as ptmp:
        mtmp.mkdir(parents=True)
        ptmp.mkdir(parents=True)
        splits, reason = benchmarks.read_splits(args.benchmark, params, args.raw_dir)
        if splits is None:
            SkippedBenchmarks(skipped=[SkipRecord(kind="zeroshot", benchmark=args.benchmark, reason=reason)]).write(
                mtmp / SKIP_FILE)
            print(f"zeroshot {args.benchmark}: skipped: {reason}")
            return 0
        inits = [i for i in tp.inits if i != "base"]
        for init in inits:
            record, rows = zero_shot(args.benchmark, splits, Path(args.models_dir) / init, init, params.evaluate,
                                     tp.max_eval_examples, tp.seed, tp.max_length)
            record.write(mtmp / f"{record.run.run_name}.json")
            write_jsonl(ptmp / f"{record.run.run_name}.jsonl", rows)
            pm = record.primary
            print(f"zeroshot {args.benchmark} {init}: {record.primary_metric} {pm.value:.3f} "
                  f"[{pm.ci_low:.3f}, {pm.ci_high:.3f}], {record.labels_per_example:.2f} labels/example")
    print(f"zeroshot {args.benchmark}: {len(inits)} models in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
