"""A process killed with SIGKILL at any moment leaves no child process and no /dev/shm entry behind.

The fast test kills a parent whose spawned children (started inside a :class:`Reaper`'s mark, one of them
holding a shared-memory segment) are still starting up. The slow one runs ``emopillars generate`` on vLLM
and kills it at a random moment during the model load and during generation, 5 times each.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RUNS_PER_PHASE = 5


def _shm() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


def _mapped_shm(pid: int) -> set[str]:
    try:
        with open(f"/proc/{pid}/maps") as f:
            return {line[line.find("/dev/shm/") + 9:].split()[0] for line in f
                    if "/dev/shm/" in line and not line.rstrip().endswith("(deleted)")}
    except OSError:
        return set()


def _mapped_by_others(names: set[str], exclude: set[int]) -> set[str]:
    """Those of ``names`` that a live process outside ``exclude`` maps (another program's own segments)."""
    held = set()
    for pid in psutil.pids():
        if pid not in exclude and names - held:
            held |= _mapped_shm(pid) & names
    return held


class Watch:
    """Follows a process's tree while it lives: every descendant seen, and the /dev/shm entries they map."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.seen, self.shm_before, self.shm_used = proc, {}, _shm(), set()

    def poll(self) -> None:
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return
        for p in tree:
            try:
                self.seen.setdefault(p.pid, p)
                self.shm_used |= _mapped_shm(p.pid)
            except psutil.Error:
                pass
        self.shm_used |= _mapped_shm(self.proc.pid)

    def kill_and_count(self, grace_s: float = 30.0) -> tuple[list[psutil.Process], set[str]]:
        """SIGKILL the process; after ``grace_s`` at most, the descendants still alive and the new /dev/shm
        entries (less those another live program holds)."""
        self.poll()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.time() + grace_s
        while True:
            alive = [p for p in self.seen.values() if _alive(p)]
            left = _shm() - self.shm_before
            if (not alive and not left) or time.time() > deadline:
                break
            time.sleep(0.5)
        ours = set(self.seen) | {self.proc.pid}
        return alive, left - _mapped_by_others(left - self.shm_used, ours)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --------------------------------------------------------------------------- without vLLM
_PARENT = r"""
import multiprocessing as mp, sys, time
sys.path.insert(0, sys.argv[1])
from emopillars.llm.backends.reaper import Reaper


def child(hold_shm):
    if hold_shm:
        from multiprocessing import shared_memory
        seg = shared_memory.SharedMemory(create=True, size=4096)
        print(seg.name, flush=True)
    ctx = mp.get_context("spawn")
    grandchild = ctx.Process(target=time.sleep, args=(600,))
    grandchild.start()
    time.sleep(600)


if __name__ == "__main__":
    reaper = Reaper()
    ctx = mp.get_context("spawn")
    with reaper.marking():
        procs = [ctx.Process(target=child, args=(i == 0,)) for i in range(2)]
        for p in procs:
            p.start()
    print("started", flush=True)
    time.sleep(600)
"""


def test_spawned_children_and_their_shared_memory_go_with_a_killed_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    proc = subprocess.Popen([sys.executable, str(script), str(ROOT / "src")], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    watch = Watch(proc)
    lines = []
    deadline = time.time() + 120
    while len(lines) < 2 and time.time() < deadline:  # the segment's name and "started", in either order
        lines.append(proc.stdout.readline().strip())
    segment = next(line for line in lines if line != "started")
    # every child and grandchild is up and the segment exists: the tree is at its fullest
    while len(watch.seen) < 5 and time.time() < deadline:  # 2 children, 2 grandchildren, the watchdog
        watch.poll()
        time.sleep(0.1)
    assert (Path("/dev/shm") / segment).exists()
    alive, left = watch.kill_and_count()
    assert not alive, f"processes outlived their killed parent: {alive}"
    assert segment not in _shm() and not left, f"/dev/shm entries left: {sorted(left)}"


def test_a_normal_close_stops_the_watchdog_and_leaves_the_children_alone():
    from emopillars.llm.backends.reaper import Reaper

    reaper = Reaper()
    watchdog = reaper._watchdog
    with reaper.marking():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert "EMOPILLARS_ENGINE_OWNER" not in os.environ
    reaper.close()
    assert watchdog.poll() is not None
    time.sleep(1)
    assert child.poll() is None, "closing the guard must not kill what it guarded"
    child.kill()
    child.wait()


# --------------------------------------------------------------------------- vLLM, killed at random moments
def _generate_cmd(tmp: Path, generator_dir: Path, n: int, max_tokens: int) -> list[str]:
    from emopillars.config import defaults

    requests = tmp / "requests.jsonl"
    requests.write_text("".join(json.dumps({
        "messages": [{"role": "user", "content": f"Tell a short story about lighthouse keeper number {i}."}],
        "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": max_tokens}, "seed": i}) + "\n"
        for i in range(n)))
    raw = defaults().model_dump(mode="json")
    raw["llm"].update(backend="vllm", cache_path=str(tmp / "cache.sqlite"), batch_size=4, max_retries=0,
                      dtype="float32", kv_cache_memory_gib=0.25, max_model_len=1024)
    (tmp / "params.yaml").write_text(yaml.safe_dump(raw))
    return [sys.executable, "-m", "emopillars.cli", "generate", "--params", str(tmp / "params.yaml"),
            "--requests", str(requests), "--out", str(tmp / "out.jsonl"), "--model-dir", str(generator_dir), "--quiet"]


def _cached_rows(cache: Path) -> int:
    try:
        with sqlite3.connect(cache, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0


def _run_and_kill(tmp: Path, generator_dir: Path, phase: str, rng: random.Random, load_s: float) -> dict:
    tmp.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(_generate_cmd(tmp, generator_dir, n=64, max_tokens=64), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = Watch(proc)
    started = time.time()
    kill_at = started + rng.uniform(2.0, 0.85 * load_s) if phase == "load" else None
    deadline = started + 900
    while True:
        watch.poll()
        if proc.poll() is not None:
            pytest.fail(f"the {phase} run ended (rc {proc.returncode}) before it could be killed")
        rows = _cached_rows(tmp / "cache.sqlite")
        if phase == "load" and time.time() >= kill_at:
            assert rows == 0, "a kill meant for the model load came after generation had started"
            break
        if phase == "generation" and rows > 0:
            if kill_at is None:
                kill_at = time.time() + rng.uniform(0.0, 5.0)
            if time.time() >= kill_at:
                break
        assert time.time() < deadline, f"the {phase} run made no progress in 15 minutes"
        time.sleep(0.2)
    at = time.time() - started
    processes_at_kill = sum(1 for p in watch.seen.values() if _alive(p))
    alive, left = watch.kill_and_count()
    return {"phase": phase, "killed_after_s": round(at, 1), "rows_at_kill": _cached_rows(tmp / "cache.sqlite"),
            "processes_at_kill": processes_at_kill, "processes_left": len(alive), "shm_left": sorted(left),
            "left": [f"{p.pid} {p.name()}" for p in alive if _alive(p)]}


@pytest.mark.slow
@pytest.mark.vllm
def test_sigkill_during_load_and_generation_leaves_nothing(tmp_path, generator_dir):
    pytest.importorskip("vllm")
    rng = random.Random(int(os.environ.get("EMOPILLARS_KILL_SEED", time.time())))
    runs = []
    # generation first: its first cached answer dates the end of the load, which bounds the load-time kills
    for i in range(RUNS_PER_PHASE):
        runs.append(_run_and_kill(tmp_path / f"generation-{i}", generator_dir, "generation", rng, 0.0))
    load_s = min(r["killed_after_s"] for r in runs)
    for i in range(RUNS_PER_PHASE):
        runs.append(_run_and_kill(tmp_path / f"load-{i}", generator_dir, "load", rng, load_s))
    report = Path(os.environ.get("EMOPILLARS_KILL_REPORT", tmp_path / "kills.json"))
    report.write_text(json.dumps(runs, indent=1))
    print(json.dumps(runs, indent=1))
    bad = [r for r in runs if r["processes_left"] or r["shm_left"]]
    assert not bad, f"left behind after SIGKILL: {bad}"
    assert all(r["processes_at_kill"] > 0 for r in runs if r["phase"] == "generation")
