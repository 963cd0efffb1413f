"""DVC stage `aggregate`: every metrics JSON under outputs/metrics/ into one results file.

    python stages/aggregate.py --metrics-dir outputs/metrics --out reports/results.json \
        --full reports/results_full.json --metrics metrics

``--metrics`` is the folder of DVC metrics: one small file of numbers per system
and benchmark (primary metric with its interval, test size, paired test; see
:mod:`emopillars.report.summaries`), kept in git so that ``dvc metrics show`` and
``dvc metrics diff HEAD~1`` work on any clone. ``--out`` holds the headline numbers
(every metric with its interval, paired tests, dataset sizes and rates,
human-evaluation agreement, every training fraction). ``--full`` holds every
metrics file verbatim (per-class scores, histograms) for the tables and figures.
Parts of the pipeline that have not run are absent.
"""

from __future__ import annotations

import argparse
import sys

from emopillars.contracts import RecordError
from emopillars.errors import require_writable, run_main
from emopillars.io import atomic_path, write_json
from emopillars.report.results import aggregate, summarise
from emopillars.report.summaries import metric_summaries


def write_metrics(folder: str, summaries: dict[str, dict]) -> None:
    """The metrics folder, replaced whole: a system that is no longer evaluated leaves no stale file."""
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        for rel, numbers in summaries.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            write_json(tmp / rel, numbers)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--out", required=True, help="headline numbers, every run")
    p.add_argument("--metrics", default=None,
                   help="folder of DVC metrics, small files of numbers kept in git (default: not written)")
    p.add_argument("--full", required=True, help="every metrics file verbatim, for tables and figures")
    args = p.parse_args(argv)
    require_writable(args.out, args.full, args.metrics)
    results = aggregate(args.metrics_dir)
    try:
        headline = summarise(results)
        summaries = metric_summaries(results)
    except RecordError as e:
        print(f"aggregate: error: {e}", file=sys.stderr)
        return 2
    write_json(args.full, results)
    write_json(args.out, headline)
    if args.metrics is not None:
        write_metrics(args.metrics, summaries)
    parts = sorted(k for k in results if k != "sources")
    print(f"aggregate: {len(results['sources'])} metrics files ({', '.join(parts) or 'none'}) -> {args.out}, "
          f"{args.full}" + (f", {len(summaries)} DVC metrics files in {args.metrics}/" if args.metrics else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
