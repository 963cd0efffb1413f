"""DVC stage `data`: materialise the datasets a profile reads into data/raw/, every file verified.

    python stages/data.py --params params.yaml --out data/raw --metrics outputs/metrics/data.json

What is made: every dataset of params data.datasets in data/raw/<dataset>/,
and the narrative corpus of narratives.corpus in data/raw/<corpus>/
(fairytaleqa: the checked fairytaleqa_stories files; wikiplots: a copy of
data.wikiplots_dir). The source of the checked datasets is the mirror
($EMOPILLARS_DATA_MIRROR, else data.mirror when that folder exists) or their
pinned public URLs; either way the bytes are the same (the sums in checksums/
pin them), which is why DVC need not track the variable. What cannot be had
stops the stage before anything is fetched, one line per dataset, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time

from emopillars.config import ParamsError, load_params
from emopillars.data.materialize import MaterializeError, materialize, resolve_mirror, split_counts
from emopillars.errors import require_writable, run_main
from emopillars.io import write_json

SEEDED = ("isear", "iemocap")  # datasets whose split the project makes with data.split_seed


def _summary(name: str, entry: dict) -> str:
    if entry.get("read_in_place"):
        text = f"{name} checked in {entry['source']}"
    else:
        text = f"{name} {len(entry['files'])} files"
    if "plots" in entry:
        text += f", {entry['plots']:,} plots"
    if entry.get("splits"):
        text += ", " + "/".join(f"{n:,}" for n in entry["splits"].values())
    skipped = sum(entry.get("skipped", {}).values())
    return text + (f" ({skipped:,} skipped)" if skipped else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per dataset)")
    p.add_argument("--metrics", required=True, help="manifest JSON: files, bytes, sha256, counts per split")
    p.add_argument("--checksums", default="checksums", help="folder of <dataset>.sha256 files")
    args = p.parse_args(argv)
    require_writable(args.out, args.metrics)

    try:
        params = load_params(args.params)
    except ParamsError as e:
        print(f"data: error: {e}", file=sys.stderr)
        return 2
    data = params.data
    mirror, how = resolve_mirror(data.mirror)
    if mirror is None and data.mirror:
        print(f"data: no mirror ({how}): checked datasets come from their public sources", file=sys.stderr)
    user_dirs = {"wikiplots": data.wikiplots_dir, "iemocap": data.iemocap_dir, "emocontext": data.emocontext_dir}
    read_opts = {ds: {"seed": data.split_seed} for ds in SEEDED}
    t0 = time.perf_counter()
    try:
        manifest = materialize(data.datasets, args.out, mirror, args.checksums, corpus=params.narratives.corpus,
                               user_dirs=user_dirs, mirror_note=how, read_opts=read_opts)
    except MaterializeError as e:
        for line in e.problems:
            print(f"data: error: {line}", file=sys.stderr)
        return 2
    for name, entry in manifest.items():
        if "splits" not in entry:
            ds = entry.get("dataset", name)
            entry.update(split_counts(ds, f"{args.out}/{name}", **read_opts.get(ds, {})))
    write_json(args.metrics, {"datasets": manifest})

    origin = how if mirror else "public sources and user copies"
    print(f"data: {len(manifest)} datasets verified ({origin}) -> {args.out} "
          f"in {time.perf_counter() - t0:.1f} s: " + "; ".join(_summary(n, e) for n, e in manifest.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
