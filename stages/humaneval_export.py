"""DVC stage `humaneval_export`: a blind, stratified annotation sheet of synthetic examples.

    python stages/humaneval_export.py --params params.yaml --data-dir data/emopillars \
        --template reports/templates/annotate.html --out-dir reports/humaneval/sheet \
        --key reports/humaneval/key.json

Hand annotators the folder --out-dir only (sheet.html works offline; sheet.csv
for a spreadsheet). The key maps item ids back to the records and stays with
the organiser; what is hidden is listed in emopillars.report.humaneval.
"""

from __future__ import annotations

import argparse

from emopillars.config import load_params
from emopillars.errors import require_writable, run_main
from emopillars.report.humaneval import export_sheet
from emopillars.report.results import read_synthetic


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args(argv)
    require_writable(args.out_dir, args.key)

    params = load_params(args.params).report
    datasets = read_synthetic(args.data_dir, tuple(params.humaneval_splits))
    if not datasets:
        raise SystemExit(f"humaneval_export: error: no synthetic examples under {args.data_dir}/"
                         "{contextless,contextual}/ (run the curate stage first: dvc repro curate)")
    n, sheet_id = export_sheet(datasets, args.out_dir, args.key, args.template, params.humaneval_per_stratum,
                               params.humaneval_seed)
    sizes = ", ".join(f"{k}: {len(v)}" for k, v in datasets.items())
    print(f"humaneval_export: {n} items (sheet {sheet_id}) from {sizes} -> {args.out_dir}; key -> {args.key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
