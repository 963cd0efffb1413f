"""Stage transfer: fine-tune each initialisation on fractions of one benchmark; metrics with intervals.

Writes one evaluation record per run, ``<metrics-dir>/<run name>.json``
(``<init>__frac<fraction>__seed<seed>``, see ``RunIdentity.run_name``), the test
predictions ``<predictions-dir>/<run name>.jsonl``, and the model of each
initialisation's run at the benchmark's largest fraction (first seed) in
``<export-dir>/<init>/``, a folder that ``emopillars predict`` and
``transformers.pipeline`` load (``<export-dir>/index.json`` lists them). A
user-supplied benchmark (IEMOCAP, EmoContext) that is not configured is skipped
with a message and a skip record, ``<metrics-dir>/skipped.json``, saying what to
set. A benchmark outside ``transfer.benchmarks`` is an error. With ``transfer.num_processes`` above 1
(``auto``: one per visible GPU) the stage starts itself again in that many
data-parallel processes (see :mod:`emopillars.train.distributed`); every run
trains across all of them and only the main one writes the outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.contracts.evaluation import SKIP_FILE, SkippedBenchmarks, SkipRecord
from emopillars.errors import require_writable, run_main
from emopillars.io import atomic_path, write_json, write_jsonl
from emopillars.train.distributed import is_main_process, maybe_relaunch
from emopillars.train.encoder import resolve_encoder
from emopillars.train.modeling import check_pooling
from emopillars.train.transfer import export_benchmark_model, run_benchmark


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--raw-dir", required=True, help="folder of the mirrored benchmarks (data/raw)")
    p.add_argument("--encoder", required=True)
    p.add_argument("--models-dir", required=True, help="folder of the Emo Pillars models (models/emopillars)")
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--predictions-dir", required=True)
    p.add_argument("--export-dir", required=True, help="folder of the exported models (models/transfer/<benchmark>)")
    args = p.parse_args(argv)
    require_writable(args.metrics_dir, args.predictions_dir, args.export_dir)
    params = load_params(args.params)
    tp = params.transfer
    if args.benchmark not in tp.benchmarks:
        print(f"transfer: error: {args.benchmark!r} is not in transfer.benchmarks ({', '.join(tp.benchmarks)})",
              file=sys.stderr)
        return 2
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
    runs = []
    base_model = params.models.encoder.hf_id or args.encoder
    exported = {}
    # Only the main process writes; the others train their share and leave the folder alone.
    with (atomic_path(args.export_dir) if main_process else contextlib.nullcontext()) as etmp:
        if main_process:
            etmp.mkdir(parents=True)

        def export(cell, model, tokenizer, record, rule, head):
            if main_process:
                export_benchmark_model(etmp / cell.init, args.benchmark, cell, model, tokenizer, record, rule, head,
                                       base_model, tp)
                exported[cell.init] = {"run": record.run.run_name, "fraction": cell.fraction, "seed": cell.seed}

        splits, skipped = benchmarks.read_splits(args.benchmark, params, args.raw_dir)
        if splits is not None:
            inits = {i: (None if i == "base" else Path(args.models_dir) / i) for i in tp.inits}
            runs = run_benchmark(args.benchmark, splits, inits, resolve_encoder(args.encoder), tp, params.evaluate,
                                 pooling=params.train.pooling, progress=main_process,
                                 log=print if main_process else (lambda *_: None), export=export)
        if main_process:
            write_json(etmp / "index.json", {"benchmark": args.benchmark, "models": exported,
                                             "skipped": skipped})
    if not main_process:
        return 0
    with atomic_path(args.metrics_dir) as mtmp, atomic_path(args.predictions_dir) as ptmp:
        mtmp.mkdir(parents=True)
        ptmp.mkdir(parents=True)
        if skipped is not None:
            SkippedBenchmarks(skipped=[SkipRecord(kind="transfer", benchmark=args.benchmark, reason=skipped)]).write(
                mtmp / SKIP_FILE)
            print(f"transfer {args.benchmark}: skipped: {skipped}")
            return 0
        for record, rows in runs:
            record.write(mtmp / f"{record.run.run_name}.json")
            write_jsonl(ptmp / f"{record.run.run_name}.jsonl", rows)
    own = " (own-head runs included)" if tp.keep_emopillars_head and len(tp.inits) > 1 else ""
    print(f"transfer {args.benchmark}: {len(runs)} runs ({len(tp.inits)} inits x "
          f"{len(tp.fractions_for(args.benchmark))} fractions x {tp.n_seeds} seeds{own}) in "
          f"{time.time() - started:.0f} s "
          f"-> {args.metrics_dir}; {len(exported)} models -> {args.export_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
