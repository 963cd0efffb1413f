"""DVC stage `tables`: the paper's tables (LaTeX and Markdown twins) and its quoted numbers.

    python stages/tables.py --params params.yaml --results reports/results_full.json \
        --templates reports/templates --data-dir data/emopillars \
        --published reports/published.yaml --out-dir reports/tables --numbers reports/numbers.tex

Tables are built as data (emopillars.report.tables) and rendered by the Jinja
templates table.tex.j2 and table.md.j2; every table is written, with a
"no results yet" line when its part of the pipeline has not run.
"""

from __future__ import annotations

import argparse
import sys

from emopillars.config import load_params
from emopillars.contracts import RecordError
from emopillars.errors import require_writable, run_main
from emopillars.io import write_text
from emopillars.report.numbers import compute_numbers, render_numbers
from emopillars.report.published import read_published
from emopillars.report.results import load_results, read_synthetic
from emopillars.report.table import write_table
from emopillars.report.tables import all_tables


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--results", required=True)
    p.add_argument("--templates", required=True)
    p.add_argument("--data-dir", required=True, help="folder with contextless/ and contextual/ train.jsonl")
    p.add_argument("--published", required=True, help="published figures with their sources (reports/published.yaml)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--numbers", required=True)
    args = p.parse_args(argv)
    require_writable(args.out_dir, args.numbers)

    params = load_params(args.params).report
    results = load_results(args.results)
    datasets = read_synthetic(args.data_dir)
    try:
        tables = all_tables(results, datasets, params.examples_per_dataset, params.examples_seed, params.paper_scale,
                            read_published(args.published))
        numbers = compute_numbers(results)
    except RecordError as e:
        print(f"tables: error: {e}", file=sys.stderr)
        return 2
    for table in tables:
        write_table(table, args.out_dir, args.templates)
    write_text(args.numbers, render_numbers(numbers))
    filled = [t.name for t in tables if not t.is_empty]
    print(f"tables: {len(tables)} tables ({len(filled)} with results: {', '.join(filled) or 'none'}), "
          f"{len(numbers)} macros -> {args.out_dir}, {args.numbers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
