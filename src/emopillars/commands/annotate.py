"""``emopillars annotate``: the human-evaluation kit.

    emopillars annotate export --data-dir data/emopillars --out-dir annotation/ --key annotation-key.json
    emopillars annotate import answers/*.json --sheet-dir annotation/ --key annotation-key.json

``export`` writes a blind, stratified sample of synthetic examples as
``sheet.html`` (offline page that saves answers to a file) and ``sheet.csv``;
``import`` reads the answer files of several annotators and prints per-question
rates and Krippendorff's alpha (nominal and ordinal), optionally as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emopillars.errors import positive_int, require_writable

# The page template lives with the project's other report templates.
DEFAULT_TEMPLATE = str(Path(__file__).resolve().parents[3] / "reports" / "templates" / "annotate.html")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="write a blind, stratified annotation sheet (HTML + CSV)")
    e.add_argument("--data-dir", default="data/emopillars", help="folder with contextless/ and contextual/ JSONL splits")
    e.add_argument("--splits", default="train,dev,test")
    e.add_argument("--out-dir", required=True, help="folder to hand to annotators")
    e.add_argument("--key", required=True, help="where to write the key (item -> record); keep it from annotators")
    e.add_argument("--per-stratum", type=positive_int, default=None, help="items per (dataset, primary emotion); default: params")
    e.add_argument("--seed", type=int, default=None, help="sampling seed; default: params")
    e.add_argument("--params", default="params.yaml")
    e.add_argument("--template", default=DEFAULT_TEMPLATE)
    i = sub.add_parser("import", help="rates and inter-annotator agreement from answer files")
    i.add_argument("answers", nargs="+", help="answer files (.json from the page, or filled-in .csv sheets)")
    i.add_argument("--sheet-dir", required=True, help="the exported sheet folder (holds items.json)")
    i.add_argument("--key", required=True)
    i.add_argument("--out", help="also write the analysis as JSON here")


def run(args: argparse.Namespace) -> int:
    from emopillars.io import write_json
    from emopillars.report import humaneval

    if args.action == "export":
        from emopillars.config import load_params
        from emopillars.report.results import read_synthetic

        per_stratum, seed = args.per_stratum, args.seed
        if per_stratum is None or seed is None:
            params = load_params(args.params).report
            per_stratum = params.humaneval_per_stratum if per_stratum is None else per_stratum
            seed = params.humaneval_seed if seed is None else seed
        require_writable(args.out_dir, args.key)
        datasets = read_synthetic(args.data_dir, tuple(s for s in args.splits.split(",") if s))
        if not datasets:
            raise FileNotFoundError(f"{args.data_dir}: no contextless/ or contextual/ JSONL files to sample from")
        n, sheet_id = humaneval.export_sheet(datasets, args.out_dir, args.key, args.template, per_stratum, seed)
        print(f"annotate export: {n} items, sheet {sheet_id}: open {Path(args.out_dir) / 'sheet.html'} in a browser "
              f"(works offline); key in {args.key}")
        return 0

    require_writable(args.out)
    result = humaneval.import_answers(args.answers, Path(args.sheet_dir) / "items.json", args.key)
    if args.out:
        write_json(args.out, result)
    print(f"{result['n_annotators']} annotators, sheet {result['sheet_id']}")
    for q, d in result["questions"].items():
        def f(x):
            return "n/a" if x is None else f"{x:.3f}"
        print(f"  {d['title']:<22} items {d['n_items']:>4}  ratings {d['n_ratings']:>4}  positive {d['positive_rate']:.1%}"
              f"  alpha nominal {f(d['alpha_nominal'])}  ordinal {f(d['alpha_ordinal'])}")
    if not result["questions"]:
        print(json.dumps(result, indent=2))
    return 0
