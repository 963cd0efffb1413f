"""Smallest vLLM KV-cache reservation that works on CPU, and what it costs in throughput.

    python bench/kv_memory.py --out bench/results/kv_memory.json

For each KV-cache size (``llm.kv_cache_memory_gib``) a fresh vLLM engine (one at a
time, each in its own process) loads the default generator, answers the same 64
structured requests in one batch, and reports generated tokens/s and the resident
memory of the engine's processes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(kv_gib: float, model_dir: str, n: int, max_model_len: int) -> dict:
    import psutil

    sys.path.insert(0, str(ROOT))
    from bench.engine import make_requests, bare_chat
    from emopillars.config import defaults
    from emopillars.llm.backends.vllm_backend import VLLMBackend

    t0 = time.perf_counter()
    backend = VLLMBackend(model_dir, defaults().llm.replace(kv_cache_memory_gib=kv_gib, max_model_len=max_model_len))
    load = time.perf_counter() - t0
    try:
        bare_chat(backend, make_requests(4, 8))
        run = bare_chat(backend, make_requests(n, 64))
        me = psutil.Process()
        procs = [me] + me.children(recursive=True)
        rss = {p.pid: p.memory_info().rss for p in procs}
        uss = sum(p.memory_full_info().uss for p in procs)
    finally:
        backend.close()
    return {"kv_cache_memory_gib": kv_gib, "max_model_len": max_model_len, "load_seconds": round(load, 1), **run,
            "rss_gib_by_process": {str(k): round(v / 2**30, 2) for k, v in rss.items()},
            "uss_gib_total": round(uss / 2**30, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results/kv_memory.json")
    p.add_argument("--model-dir", default="models/generator")
    p.add_argument("--sizes", default="0.05,0.25,1.0")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--max-model-len", type=int, default=2048)
    p.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one is not None:
        print("RESULT " + json.dumps(one(args.one, args.model_dir, args.n, args.max_model_len)), flush=True)
        return 0
    rows = []
    for size in [float(s) for s in args.sizes.split(",")]:
        r = subprocess.run([sys.executable, __file__, "--one", str(size), "--model-dir", args.model_dir, "--n", str(args.n),
                            "--max-model-len", str(args.max_model_len)], capture_output=True, text=True, cwd=ROOT)
        line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            err = [l for l in (r.stderr or "").splitlines() if "Error" in l or "error" in l][-3:]
            rows.append({"kv_cache_memory_gib": size, "max_model_len": args.max_model_len, "ok": False, "error": " | ".join(err)})
        else:
            rows.append({"ok": True, **json.loads(line[7:])})
        print(rows[-1], flush=True)
    sys.path.insert(0, str(ROOT / "src"))
    from emopillars.io import write_json

    write_json(args.out, {"command": "python bench/kv_memory.py " + " ".join(argv or sys.argv[1:]), "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
