"""Kill-and-resume: a generation run killed with SIGKILL and rerun yields every request exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from emopillars.config import defaults

ROOT = Path(__file__).resolve().parents[1]


def _write_inputs(tmp_path: Path, generator_dir: Path, n: int, max_tokens: int, backend: str, batch_size: int) -> tuple[Path, Path]:
    requests = tmp_path / "requests.jsonl"
    with open(requests, "w") as f:
        for i in range(n):
            f.write(json.dumps({
                "messages": [{"role": "user", "content": f"Name one feeling a sailor has on day {i} at sea."}],
                "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": max_tokens},
                "seed": i, "tag": f"day-{i}",
            }) + "\n")
    params = tmp_path / "params.yaml"
    raw = defaults().model_dump(mode="json")
    raw["llm"].update(backend=backend, cache_path=str(tmp_path / "cache.sqlite"), batch_size=batch_size, max_retries=0,
                      dtype="float32", kv_cache_memory_gib=0.25, max_model_len=1024)
    params.write_text(yaml.safe_dump(raw))
    return requests, params


def _cmd(params: Path, requests: Path, out: Path, generator_dir: Path) -> list[str]:
    return [sys.executable, "-m", "emopillars.cli", "generate", "--params", str(params), "--requests", str(requests),
            "--out", str(out), "--model-dir", str(generator_dir), "--stats", str(out.with_suffix(".stats.json")), "--quiet"]


def _rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(cache, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_and_resume(tmp_path: Path, generator_dir: Path, backend: str, n: int, batch_size: int, max_tokens: int, kill_after_rows: int):
    requests, params = _write_inputs(tmp_path, generator_dir, n, max_tokens, backend, batch_size)
    cache = tmp_path / "cache.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cmd(params, requests, tmp_path / "killed.jsonl", generator_dir), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while _rows(cache) < kill_after_rows:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail("no batch was committed within 10 minutes")
        time.sleep(0.2)
    children = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The engine's helper processes (vLLM's engine core and workers) must not outlive the killed run.
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], f"orphans left: {alive}"
    rows_at_kill = _rows(cache)
    assert 0 < rows_at_kill < n, "the kill must land mid-run"
    assert not (tmp_path / "killed.jsonl").exists(), "a killed run writes no partial output"

    out = tmp_path / "resumed.jsonl"
    r = subprocess.run(_cmd(params, requests, out, generator_dir), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    results = [json.loads(line) for line in out.read_text().splitlines()]
    stats = json.loads(out.with_suffix(".stats.json").read_text())
    return results, stats, rows_at_kill


def test_kill_and_resume_transformers(tmp_path, generator_dir):
    n = 8
    results, stats, rows_at_kill = kill_and_resume(tmp_path, generator_dir, "transformers", n=n, batch_size=2, max_tokens=6, kill_after_rows=2)
    assert [r["tag"] for r in results] == [f"day-{i}" for i in range(n)]
    assert len({r["key"] for r in results}) == n
    # What was committed before the kill is reused; only the rest is generated.
    assert stats["cache_hits"] >= rows_at_kill
    assert stats["cache_hits"] + stats["generated_requests"] == n
    assert _rows(tmp_path / "cache.sqlite") == n


@pytest.mark.slow
@pytest.mark.vllm
def test_kill_and_resume_vllm(tmp_path, generator_dir):
    n = 48
    results, stats, rows_at_kill = kill_and_resume(tmp_path, generator_dir, "vllm", n=n, batch_size=8, max_tokens=24, kill_after_rows=8)
    assert [r["tag"] for r in results] == [f"day-{i}" for i in range(n)]
    assert len({r["key"] for r in results}) == n
    assert stats["cache_hits"] >= rows_at_kill and stats["cache_hits"] + stats["generated_requests"] == n
