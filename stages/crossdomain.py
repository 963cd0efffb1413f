"""Stage crossdomain: each exported model of one benchmark scored on the other benchmarks' test sets.

Reads the models that ``transfer@<benchmark>`` exported (``<models-dir>/<init>/``,
one per initialisation of ``transfer.inits``; ``<models-dir>/index.json``) and
scores each on the test set of every other benchmark of ``transfer.benchmarks``
(the transfer stage's: the full test split unless ``transfer.max_eval_examples``
caps it), in the Ekman groups the two label sets share (policy:
:mod:`emopillars.eval.crossdomain`). Writes one record per model and target,
``<metrics-dir>/<init>__to__<target>.json``; a target that is not configured
(IEMOCAP, EmoContext), or a source benchmark that its transfer stage skipped, is
listed in ``<metrics-dir>/skipped.json`` with the reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.contracts.evaluation import SKIP_FILE, SkippedBenchmarks, SkipRecord
from emopillars.data.label_maps import shared_groups
from emopillars.errors import require_writable, run_main
from emopillars.eval.crossdomain import model_scores, score_crossdomain, uses_context
from emopillars.eval.evaluate import transfer_test_set
from emopillars.io import atomic_path, read_json
from emopillars.train.transfer import base_first, system_name


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--benchmark", required=True, help="the source benchmark: whose exported models are scored")
    p.add_argument("--raw-dir", required=True, help="folder of the mirrored benchmarks (data/raw)")
    p.add_argument("--models-dir", required=True, help="the source's exported models (models/transfer/<benchmark>)")
    p.add_argument("--metrics-dir", required=True)
    args = p.parse_args(argv)
    require_writable(args.metrics_dir)
    params = load_params(args.params)
    tp, ep = params.transfer, params.evaluate
    source = args.benchmark
    if source not in tp.benchmarks:
        print(f"crossdomain: error: {source!r} is not in transfer.benchmarks ({', '.join(tp.benchmarks)})",
              file=sys.stderr)
        return 2
    models_dir = Path(args.models_dir)
    index_path = models_dir / "index.json"
    if not index_path.is_file():
        print(f"crossdomain: error: {index_path}: not found; run the transfer stage first (dvc repro "
              f"transfer@{source})", file=sys.stderr)
        return 2
    index = read_json(index_path)
    started = time.time()
    skipped: list[SkipRecord] = []
    records = []
    if index.get("skipped"):
        skipped.append(SkipRecord(kind="crossdomain", benchmark=source,
                                  reason=f"no {source} models (transfer@{source} skipped it): {index['skipped']}"))
        print(f"crossdomain {source}: skipped: {index['skipped']}")
    else:
        inits = base_first(tp.inits)  # the others are tested against the base
        missing = [i for i in inits if not (models_dir / i / "config.json").is_file()]
        if missing:
            print(f"crossdomain: error: {models_dir / missing[0]}: no exported model (config.json) of init "
                  f"{missing[0]!r}; the transfer stage exports one per init of transfer.inits: rerun "
                  f"transfer@{source}", file=sys.stderr)
            return 2
        for target in [b for b in tp.benchmarks if b != source]:
            if not shared_groups(source, target):
                skipped.append(SkipRecord(kind="crossdomain", benchmark=target,
                                          reason=f"{source} and {target} share no Ekman group"))
                continue
            splits, reason = benchmarks.read_splits(target, params, args.raw_dir)
            if splits is None:
                print(f"crossdomain {source} -> {target}: skipped: {reason}")
                skipped.append(SkipRecord(kind="crossdomain", benchmark=target, reason=reason))
                continue
            test, test_set = transfer_test_set(splits["test"], tp.max_eval_examples, tp.seed)
            base_pred = None
            for init in inits:
                model_dir = models_dir / init
                scores = model_scores(model_dir, source, test, tp.max_length, uses_context(source, target),
                                      tp.mixed_precision)
                record, pred = score_crossdomain(source, target, init, system_name(init), model_dir, scores, test,
                                                 ep, test_set, baseline_pred=None if init == "base" else base_pred)
                if init == "base":
                    base_pred = pred
                records.append(record)
                pm = record.primary
                print(f"crossdomain {source} -> {target} {init}: {record.n_test} scored, {record.n_excluded} "
                      f"excluded, macro-F1 {pm.value:.3f} [{pm.ci_low:.3f}, {pm.ci_high:.3f}] over "
                      f"{len(record.shared_groups)} groups")
    with atomic_path(args.metrics_dir) as tmp:
        tmp.mkdir(parents=True)
        SkippedBenchmarks(skipped=skipped).write(tmp / SKIP_FILE)
        for record in records:
            record.write(tmp / f"{record.run_name}.json")
    print(f"crossdomain {source}: {len(records)} records in {time.time() - started:.0f} s -> {args.metrics_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
