"""Stage zeroshot: each Emo Pillars model read on a benchmark through the label mapping, no benchmark training."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emopillars.config import load_params
from emopillars.io import atomic_path, write_json, write_jsonl
from emopillars.train.transfer import PRIMARY_METRIC, PROTOCOL, zero_shot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer import read_splits  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--raw-dir", required=True)
    p.add_argument("--models-dir", required=True)
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--predictions-dir", required=True)
    args = p.parse_args(argv)
    params = load_params(args.params)
    tp = params.transfer
    started = time.time()
    with atomic_path(args.metrics_dir) as mtmp, atomic_path(args.predictions_dir) as ptmp:
        mtmp.mkdir(parents=True)
        ptmp.mkdir(parents=True)
        splits, reason = read_splits(args.benchmark, params, args.raw_dir)
        if splits is None or args.benchmark not in tp.benchmarks:
            reason = reason or "not in transfer.benchmarks"
            (mtmp / "SKIPPED.txt").write_text(f"{args.benchmark}: skipped: {reason}\n")
            print(f"zeroshot {args.benchmark}: skipped: {reason}")
            return 0
        inits = [i for i in tp.inits if i != "base"]
        for init in inits:
            rec, rows = zero_shot(args.benchmark, splits, Path(args.models_dir) / init, params.evaluate,
                                  tp.max_eval_examples, tp.seed, tp.max_length)
            rec = {"benchmark": args.benchmark, "init": init, "fraction": 0.0, "n_train": 0,
                   "protocol": "zero-shot: the Emo Pillars model's 28 scores projected to the benchmark's labels "
                               "(max over each label's mapped classes, emopillars.data.label_maps); no benchmark "
                               "training; test set as in transfer: " + PROTOCOL[args.benchmark], **rec}
            write_json(mtmp / f"{init}.json", rec)
            write_jsonl(ptmp / f"{init}.jsonl", rows)
            pm = rec["metrics"][PRIMARY_METRIC[args.benchmark]]
            print(f"zeroshot {args.benchmark} {init}: {PRIMARY_METRIC[args.benchmark]} {pm['value']:.3f} "
                  f"[{pm['ci_low']:.3f}, {pm['ci_high']:.3f}], {rec['labels_per_example']:.2f} labels/example")
    print(f"zeroshot {args.benchmark}: {len(inits)} models in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
