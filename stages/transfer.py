"""Stage transfer: fine-tune each initialisation on fractions of one benchmark; metrics with intervals.

Writes ``<metrics-dir>/<init>__frac<fraction>.json`` and the test predictions
``<predictions-dir>/<init>__frac<fraction>.jsonl``. A user-supplied benchmark
(IEMOCAP, EmoContext) that is not configured is skipped with a message and a
``SKIPPED.txt`` saying what to set. With ``transfer.num_processes`` above 1
(``auto``: one per visible GPU) the stage starts itself again in that many
data-parallel processes (see :mod:`emopillars.train.distributed`); every run
trains across all of them and only the main one writes the outputs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from emopillars.config import load_params
from emopillars.data.readers import DatasetNotSupplied, benchmark_root, read_benchmark
from emopillars.io import atomic_path, write_json, write_jsonl
from emopillars.train.distributed import is_main_process, maybe_relaunch
from emopillars.train.encoder import resolve_encoder
from emopillars.train.modeling import check_pooling
from emopillars.train.transfer import run_benchmark


def read_splits(benchmark: str, params, raw_dir: str):
    """The benchmark's splits, or None (with the reason) when the user has not supplied it."""
    opts = {}
    if benchmark in ("meld", "iemocap"):
        opts["context_turns"] = params.transfer.meld_context_turns
    if benchmark in ("isear", "iemocap"):
        opts["seed"] = params.transfer.seed
    try:
        return read_benchmark(benchmark, benchmark_root(benchmark, params.data, raw_dir), **opts), None
    except DatasetNotSupplied as e:
        return None, str(e)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--raw-dir", required=True, help="folder of the mirrored benchmarks (data/raw)")
    p.add_argument("--encoder", required=True)
    p.add_argument("--models-dir", required=True, help="folder of the Emo Pillars models (models/emopillars)")
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--predictions-dir", required=True)
    args = p.parse_args(argv)
    params = load_params(args.params)
    tp = params.transfer
    try:
        check_pooling(resolve_encoder(args.encoder), params.train.pooling)
    except (ValueError, FileNotFoundError) as e:
        print(f"transfer: error: {e}", file=sys.stderr)
        return 2
    code = maybe_relaunch(tp.num_processes, __file__, sys.argv[1:] if argv is None else argv)
    if code is not None:
        return code
    main_process = is_main_process()
    started = time.time()
    skipped, note, runs = None, None, []
    if args.benchmark not in tp.benchmarks:
        skipped, note = "not in transfer.benchmarks", "skipped (not in transfer.benchmarks)"
    else:
        splits, reason = read_splits(args.benchmark, params, args.raw_dir)
        if splits is None:
            skipped, note = reason, f"skipped: {reason}"
        else:
            inits = {i: (None if i == "base" else Path(args.models_dir) / i) for i in tp.inits}
            runs = run_benchmark(args.benchmark, splits, inits, resolve_encoder(args.encoder), tp, params.evaluate,
                                 pooling=params.train.pooling, progress=main_process,
                                 log=print if main_process else (lambda *_: None))
    if not main_process:
        return 0
    with atomic_path(args.metrics_dir) as mtmp, atomic_path(args.predictions_dir) as ptmp:
        mtmp.mkdir(parents=True)
        ptmp.mkdir(parents=True)
        if skipped is not None:
            (mtmp / "SKIPPED.txt").write_text(f"{args.benchmark}: skipped: {skipped}\n")
            print(f"transfer {args.benchmark}: {note}")
            return 0
        for name, record, rows in runs:
            write_json(mtmp / f"{name}.json", record)
            write_jsonl(ptmp / f"{name}.jsonl", rows)
    print(f"transfer {args.benchmark}: {len(runs)} runs ({len(tp.inits)} inits x {len(tp.fractions)} fractions) in "
          f"{time.time() - started:.0f} s -> {args.metrics_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
