"""DVC stage `data`: materialise the raw datasets into data/raw/, every file verified against checksums/.

    python stages/data.py --params params.yaml --out data/raw --metrics outputs/metrics/data.json

The source is the mirror ($EMOPILLARS_DATA_MIRROR, else params data.mirror) or,
when neither is set, the datasets' public URLs. Either way the output is the
same bytes (the sums pin them), which is why DVC need not track the variable.
"""

from __future__ import annotations

import argparse
import sys
import time

from emopillars.config import data_mirror, load_params
from emopillars.data.materialize import MaterializeError, materialize, split_counts
from emopillars.io import write_json


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per dataset)")
    p.add_argument("--metrics", required=True, help="manifest JSON: files, bytes, sha256, counts per split")
    p.add_argument("--checksums", default="checksums", help="folder of <dataset>.sha256 files")
    args = p.parse_args(argv)

    params = load_params(args.params)
    mirror = data_mirror(params)
    t0 = time.perf_counter()
    try:
        manifest = materialize(params.data.datasets, args.out, mirror, args.checksums)
    except MaterializeError as e:
        print(f"data: error: {e}", file=sys.stderr)
        return 1
    for ds, entry in manifest.items():
        entry.update(split_counts(ds, f"{args.out}/{ds}"))
    write_json(args.metrics, {"datasets": manifest})

    parts = []
    for ds, entry in manifest.items():
        splits = "/".join(f"{n:,}" for n in entry["splits"].values())
        skipped = sum(entry.get("skipped", {}).values())
        parts.append(f"{ds} {len(entry['files'])} files, {splits}" + (f" ({skipped} skipped)" if skipped else ""))
    origin = f"mirror {mirror}" if mirror else "public sources"
    print(f"data: {len(manifest)} datasets verified from {origin} -> {args.out} "
          f"in {time.perf_counter() - t0:.1f} s: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
