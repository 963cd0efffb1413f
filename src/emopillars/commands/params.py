"""``emopillars params``: validate a params file and print it resolved."""

from __future__ import annotations

import argparse
import json

from emopillars.config import load_params


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    p.add_argument("--section", help="print only this section")


def run(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    dump = params.model_dump()
    if args.section:
        if args.section not in dump:
            raise ValueError(f"{args.params}: no section {args.section!r}; sections are {', '.join(dump)}")
        dump = dump[args.section]
    print(json.dumps(dump, indent=2))
    return 0
