"""DVC stage `figures`: the paper's figures as PDF and PNG, from metrics and data files only.

    python stages/figures.py --params params.yaml --results reports/results_full.json \
        --train-data data/emopillars/contextless/train.jsonl --train-plots outputs/plots/train \
        --goemotions data/raw/goemotions --out-dir reports/figures

A figure whose inputs do not exist yet is left out (and reported), not an error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emopillars.config import load_params
from emopillars.errors import require_writable, run_main
from emopillars.io import read_jsonl
from emopillars.report.figures import make_figures
from emopillars.report.results import load_results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--results", required=True)
    p.add_argument("--train-data", required=True, help="JSONL of synthetic examples for the co-occurrence heatmap")
    p.add_argument("--train-plots", required=True, help="folder of training curves, one sub-folder per model")
    p.add_argument("--goemotions", default=None, help="GoEmotions TSV folder, for its label distribution")
    p.add_argument("--out-dir", required=True)
    args = p.parse_args(argv)
    require_writable(args.out_dir)

    params = load_params(args.params).report
    results = load_results(args.results)
    train_rows = read_jsonl(args.train_data) if Path(args.train_data).exists() else []
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    data = Path(args.train_data)  # <datasets>/<dataset>/<split>.jsonl
    written = make_figures(results, train_rows, args.train_plots, args.out_dir, params.formats, args.goemotions,
                           train_dataset=data.parent.name, train_split=data.stem)
    drawn = [n for n, paths in written.items() if paths]
    skipped = [n for n, paths in written.items() if not paths]
    print(f"figures: {len(drawn)} drawn ({', '.join(drawn) or 'none'}) as {'+'.join(params.formats)} -> {args.out_dir}"
          + (f"; no data yet for {', '.join(skipped)}" if skipped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
