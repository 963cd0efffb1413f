"""``emopillars datasets``: read a benchmark or corpus folder and print what the reader makes of it.

Meant for checking a copy you supplied yourself (IEMOCAP, EmoContext,
WikiPlots) before pointing params at it::

    emopillars datasets iemocap /data/IEMOCAP_full_release
    emopillars datasets meld                       # data/raw/meld, or the folder params name
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.data.readers import (
    benchmark_root,
    load_benchmark,
    read_benchmark,
    read_fairytaleqa,
    read_wikiplots_with_counts,
)

CORPORA = ("fairytaleqa", "wikiplots")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=sorted(benchmarks.names()) + list(CORPORA), help="benchmark or corpus")
    p.add_argument("folder", nargs="?", help="dataset folder (default: from --params: data/raw/<name> or data.<name>_dir)")
    p.add_argument("--params", default="params.yaml", help="params file used when no folder is given")
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")


def run(args: argparse.Namespace) -> int:
    folder, data_params = args.folder, None
    if folder is None:
        data_params = load_params(args.params).data
        folder = benchmark_root(args.name, data_params)
    if args.name == "fairytaleqa":
        stories = read_fairytaleqa(folder)
        summary = {"stories": len(stories), "splits": dict(Counter(s.split for s in stories))}
    elif args.name == "wikiplots":
        plots, skipped = read_wikiplots_with_counts(folder)
        summary = {"plots": len(plots), "skipped": skipped}
    else:
        splits = load_benchmark(args.name, data_params) if data_params else read_benchmark(args.name, folder)
        summary = {"splits": splits.counts(), "labels": splits.label_counts(), "skipped": splits.skipped,
                   "excluded": splits.excluded}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.name} ({folder}):")
    for key, value in summary.items():
        if key == "labels":
            for split, counts in value.items():
                print(f"  labels[{split}]: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        elif isinstance(value, dict):
            print(f"  {key}: " + (", ".join(f"{k} {v:,}" for k, v in value.items()) or "none"))
        else:
            print(f"  {key}: {value:,}")
    return 0
