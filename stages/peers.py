"""Stage peers: one published classifier (a ``peers.models`` entry) read on every benchmark it applies to.

Writes one :class:`~emopillars.contracts.evaluation.PeerEvaluationRecord` per benchmark,
``<metrics-dir>/<benchmark>.json``, and the test predictions of each rule,
``<predictions-dir>/<benchmark>__<rule>.jsonl``. A hub model that cannot be had (offline, missing)
and a benchmark whose data is missing leave an ``unavailable`` record with the reason, a model whose
labels cannot be read on a benchmark a ``not_applicable`` one; the stage still exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.errors import require_writable, run_main
from emopillars.eval.peers import PeerSpec, evaluate_peer, summary
from emopillars.io import atomic_path, write_jsonl


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--peer", required=True)
    p.add_argument("--raw-dir", required=True)
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--predictions-dir", required=True)
    args = p.parse_args(argv)
    require_writable(args.metrics_dir, args.predictions_dir)
    params = load_params(args.params)
    pp = params.peers
    if args.peer not in pp.models:
        print(f"peers: error: {args.peer!r} is not in peers.models ({', '.join(pp.models)})", file=sys.stderr)
        return 2
    entry = pp.models[args.peer]
    names = list(params.transfer.benchmarks) if entry.benchmarks == "all" else list(entry.benchmarks)
    started = time.time()
    try:
        runs = evaluate_peer(PeerSpec.from_params(args.peer, entry), names,
                             lambda b: benchmarks.read_splits(b, params, args.raw_dir), params.evaluate,
                             pp.max_eval_examples, params.transfer.seed, pp.batch_size, pp.max_length)
    except ValueError as e:
        print(f"peers {args.peer}: error: {e}", file=sys.stderr)
        return 2
    with atomic_path(args.metrics_dir) as mtmp, atomic_path(args.predictions_dir) as ptmp:
        mtmp.mkdir(parents=True)
        ptmp.mkdir(parents=True)
        for record, rows in runs:
            record.write(mtmp / f"{record.benchmark}.json")
            for rule, rule_rows in rows.items():
                write_jsonl(ptmp / f"{record.benchmark}__{rule}.jsonl", rule_rows)
            print(summary(record))
    evaluated = sum(r.available for r, _ in runs)
    print(f"peers {args.peer}: {evaluated} of {len(runs)} benchmarks evaluated in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
