"""DVC stage `aggregate`: every metrics JSON under outputs/metrics/ into one results file.

    python stages/aggregate.py --metrics-dir outputs/metrics --out reports/results.json

The results file is declared as DVC metrics, so ``dvc metrics show`` and
``dvc metrics diff`` compare runs on it. Parts of the pipeline that have not
run are simply absent.
"""

from __future__ import annotations

import argparse

from emopillars.io import write_json
from emopillars.report.results import aggregate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics-dir", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    results = aggregate(args.metrics_dir)
    write_json(args.out, results)
    parts = sorted(k for k in results if k != "sources")
    print(f"aggregate: {len(results['sources'])} metrics files ({', '.join(parts) or 'none'}) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
