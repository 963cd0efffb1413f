"""DVC stage `aggregate`: every metrics JSON under outputs/metrics/ into one results file.

    python stages/aggregate.py --metrics-dir outputs/metrics --out reports/results.json \
        --full reports/results_full.json

``--out`` holds the headline numbers (every metric with its interval, paired
tests, dataset sizes and rates, human-evaluation agreement) and is declared as
DVC metrics, so ``dvc metrics show`` and ``dvc metrics diff`` compare runs on it.
``--full`` holds every metrics file verbatim (per-class scores, histograms) for
the tables and figures. Parts of the pipeline that have not run are absent.
"""

from __future__ import annotations

import argparse
import sys

from emopillars.contracts import RecordError
from emopillars.errors import require_writable, run_main
from emopillars.io import write_json
from emopillars.report.results import aggregate, summarise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--out", required=True, help="headline numbers (DVC metrics)")
    p.add_argument("--full", required=True, help="every metrics file verbatim, for tables and figures")
    args = p.parse_args(argv)
    require_writable(args.out, args.full)
    results = aggregate(args.metrics_dir)
    try:
        headline = summarise(results)
    except RecordError as e:
        print(f"aggregate: error: {e}", file=sys.stderr)
        return 2
    write_json(args.full, results)
    write_json(args.out, headline)
    parts = sorted(k for k in results if k != "sources")
    print(f"aggregate: {len(results['sources'])} metrics files ({', '.join(parts) or 'none'}) -> {args.out}, {args.full}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
