"""Exact replay from a DVC remote, end to end: what a newcomer without a GPU gets from pulled outputs.

    python scripts/replay_check.py --profile smoke [--work-dir DIR] [--keep] [--out bench/results/replay_smoke.json]
    python scripts/replay_check.py --run-dir DIR [--force-all] ...   # a run that already exists in DIR

1. clones this repository's HEAD and runs the profile there (``dvc exp run -S profile=...``), then commits
   the run (params.yaml, dvc.lock and the reports kept in git);
2. pushes every output to a folder remote (``python -m emopillars.remote push``);
3. clones that commit afresh, pulls (``python -m emopillars.remote pull``) and runs ``dvc repro``: no stage
   may run, ``git status`` stays clean, and ``reports/results.json`` and ``reports/tables/`` are byte-identical
   to the pushed run's; the aggregate and tables stages forced again from the pulled outputs give the same bytes;
4. forces the generation and curation stages again on the pulled clone (``dvc repro --force --single-item``,
   ``llm.cache_only: true``): every answer comes from the pulled caches (no request generated, the model never
   loaded), and the synthetic data, both curated datasets and the LLM baseline's predictions are
   byte-identical to the pushed run's;
5. with ``--force-all``, forces every stage on the pulled clone (``dvc repro --force``, the generation stages
   still from the pulled caches): the synthetic data, both curated datasets, the metrics in git (``metrics/``)
   and the tables must be byte-identical to the pushed run's (training and evaluation are deterministic on the
   CPU; ``reports/results.json`` is not compared here, as it records the stages' wall times). The forced
   ``data`` stage reads the datasets from ``$EMOPILLARS_DATA_MIRROR`` again, as the run did.

``--run-dir`` checks a run that is already there (a clone where ``dvc exp run -S profile=...`` finished, such
as a default-profile run): step 1 only commits it, if it has uncommitted changes; the rest is the same.

The pulled clone runs without the dataset mirror and offline (``HF_HUB_OFFLINE=1``). Times and sizes go to
``--out``. Exit code 0 when every check holds, 1 with the failed checks listed otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The stages a forced replay runs, in pipeline order: every generation stage (answers from the pulled caches)
# and the deterministic ones between them (narratives before, curate after).
REPLAY_STAGES = ["narratives", "characters", "utterances", "labels", "contexts", "curate", "llm_baseline"]
GENERATION_STATS = ["characters", "utterances", "labels", "contexts", "llm_baseline"]
# What the forced replay must give back byte for byte.
REPLAYED_OUTPUTS = ["data/synth", "data/emopillars", "outputs/predictions/llm_baseline", "outputs/cache"]
# What the pulled repro must leave as the pushed run made it.
REPORTS = ["reports/results.json", "reports/tables"]
# What a full forced repro of the pulled clone must give back byte for byte.
FORCED_ALL_OUTPUTS = ["data/synth", "data/emopillars", "metrics", "reports/tables"]


def log(message: str) -> None:
    print(f"[replay-check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def environment(repo: Path, offline: bool) -> dict:
    env = dict(os.environ)
    # dvc runs each stage's `python` from PATH: this interpreter's; the project's code is the clone's own.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo / "src")
    if offline:
        env.pop("EMOPILLARS_DATA_MIRROR", None)
        env["HF_HUB_OFFLINE"] = "1"
        env["TRANSFORMERS_OFFLINE"] = "1"
    return env


def run(cmd: list[str], cwd: Path, env: dict, capture: bool = False) -> tuple[float, str]:
    """Run ``cmd``; its wall time and (with ``capture``) its output, echoed as it comes. Fails on a non-zero exit."""
    log(f"$ {' '.join(cmd)}   (in {cwd})")
    started = time.perf_counter()
    if capture:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        code = proc.wait()
        output = "".join(lines)
    else:
        code = subprocess.run(cmd, cwd=cwd, env=env).returncode
        output = ""
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"replay-check: `{' '.join(cmd)}` failed with exit code {code}")
    return seconds, output


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def git(*args: str) -> list[str]:
    return ["git", "-c", "user.name=replay-check", "-c", "user.email=replay-check@localhost", *args]


def digests(root: Path, rel: str) -> dict[str, str]:
    """``relative path -> sha256`` of the file ``rel`` or of every file under the folder ``rel``."""
    base = root / rel
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
    out = {}
    for path in files:
        if path.name.endswith(("-wal", "-shm")):  # SQLite's transient files beside an open cache
            continue
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def compare(a: Path, b: Path, rels: list[str], what: str, failures: list[str]) -> int:
    """Files under ``rels`` byte-identical in ``a`` and ``b``; a failure per difference. Returns files compared."""
    n = 0
    for rel in rels:
        da, db = digests(a, rel), digests(b, rel)
        if not da:
            failures.append(f"{what}: {rel} is missing from the pushed run")
            continue
        for path in sorted(set(da) | set(db)):
            if da.get(path) != db.get(path):
                state = "missing" if path not in db else "extra" if path not in da else "differs"
                failures.append(f"{what}: {path} {state}")
        n += len(da)
    return n


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def output_sizes(repo: Path) -> dict[str, int]:
    """Bytes of every output the pipeline's lock file records, grouped by its first two path parts."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    groups: dict[str, int] = {}
    seen = set()
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            path = out["path"]
            if path in seen or not (repo / path).exists():
                continue
            seen.add(path)
            key = "/".join(Path(path).parts[:2])
            groups[key] = groups.get(key, 0) + size(repo / path)
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def ran_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def set_cache_only(repo: Path) -> None:
    """``llm.cache_only: true`` in the clone's params.yaml: a missing answer stops the stage instead of loading
    the model (one line changed, the rest of the file as the run wrote it)."""
    path = repo / "params.yaml"
    text, n = re.subn(r"(?m)^(  cache_only:) false$", r"\1 true", path.read_text())
    if n != 1 or yaml.safe_load(text)["llm"]["cache_only"] is not True:
        raise SystemExit(f"replay-check: {path}: expected one `llm.cache_only: false` line to set")
    path.write_text(text)


def check_generation_stats(repo: Path, failures: list[str]) -> dict:
    found = {}
    for stage in GENERATION_STATS:
        path = repo / "outputs" / "metrics" / "generation" / f"{stage}.json"
        stats = json.loads(path.read_text())
        loaded = stats.get("backend_info", {}).get("loaded", True)
        found[stage] = {"requests": stats["requests"], "cache_hits": stats["cache_hits"],
                        "generated_requests": stats["generated_requests"], "model_calls": stats["model_calls"],
                        "model_loaded": loaded, "cache_path": stats["cache_path"],
                        "wall_seconds": stats["wall_seconds"]}
        if stats["generated_requests"] != 0 or stats["model_calls"] != 0:
            failures.append(f"forced replay: {stage} generated {stats['generated_requests']} request(s) "
                            f"({stats['model_calls']} model calls)")
        if loaded is not False:
            failures.append(f"forced replay: {stage} loaded the model")
        if stats["cache_path"] != f"outputs/cache/{stage}.sqlite":
            failures.append(f"forced replay: {stage} read {stats['cache_path']}, not its own cache")
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="smoke")
    p.add_argument("--source", default=str(ROOT), help="the git repository whose HEAD is checked (default: this one)")
    p.add_argument("--work-dir", default=None, help="where the clones and the remote go (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the clones and the remote")
    p.add_argument("--out", default=None, help="times, sizes and checks as JSON")
    p.add_argument("--run-dir", default=None,
                   help="a git clone of this project where the profile has already run: check that run "
                        "instead of cloning --source and running --profile")
    p.add_argument("--force-all", action="store_true",
                   help="also force every stage on the pulled clone and compare data, metrics/ and tables")
    args = p.parse_args(argv)

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="emopillars-replay-")).resolve()
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"replay-check: {work} is not empty; give an empty or new --work-dir")
    work.mkdir(parents=True, exist_ok=True)
    first, remote, pulled = work / "run", work / "remote", work / "pulled"
    failures: list[str] = []
    report: dict = {"profile": args.profile, "work_dir": str(work)}
    try:
        # 1. the run the remote will hold: an existing one (--run-dir), or the profile run in a clone of --source
        if args.run_dir:
            first = Path(args.run_dir).resolve()
            if not (first / "dvc.lock").is_file() or not (first / ".git").exists():
                print(f"replay-check: {first}: expected a git clone of this project with a dvc.lock "
                      "(a finished run)", file=sys.stderr)
                raise SystemExit(2)
            report["profile"] = yaml.safe_load((first / "params.yaml").read_text()).get("profile")
            report["run_dir"], report["run_seconds"] = str(first), None
        else:
            run(git("clone", "--quiet", args.source, str(first)), work, os.environ.copy())
        env = environment(first, offline=False)
        if not args.run_dir:
            report["run_seconds"], _ = run(dvc("exp", "run", "-S", f"profile={args.profile}"), first, env)
        if subprocess.run(["git", "status", "--porcelain"], cwd=first, text=True, capture_output=True).stdout.strip():
            run(git("add", "-A"), first, env)
            run(git("commit", "--quiet", "-m", f"{report['profile']} run: params, lock file and reports"), first, env)
        report["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=first, text=True,
                                          capture_output=True).stdout.strip()
        report["output_bytes"] = output_sizes(first)
        report["output_bytes_total"] = sum(report["output_bytes"].values())

        # 2. push everything to a folder remote
        report["push_seconds"], _ = run([sys.executable, "-m", "emopillars.remote", "push", "--remote", str(remote)],
                                        first, env)
        report["remote_bytes"] = size(remote)

        # 3. a fresh clone: pull, then repro must run nothing
        run(git("clone", "--quiet", str(first), str(pulled)), work, env)
        env = environment(pulled, offline=True)
        report["pull_seconds"], _ = run([sys.executable, "-m", "emopillars.remote", "pull", "--remote", str(remote)],
                                        pulled, env)
        report["repro_seconds"], out = run(dvc("repro"), pulled, env, capture=True)
        ran = ran_stages(out)
        report["repro_ran"] = ran
        if ran:
            failures.append(f"pulled repro ran {len(ran)} stage(s): {', '.join(ran)}")
        status = subprocess.run(["git", "status", "--porcelain"], cwd=pulled, text=True, capture_output=True).stdout
        if status.strip():
            failures.append(f"pulled repro changed tracked files: {status.split()}")
        report["reports_compared"] = compare(first, pulled, REPORTS, "pulled repro", failures)
        report["pull_and_repro_seconds"] = round(report["pull_seconds"] + report["repro_seconds"], 1)

        # the paper's tables again from the pulled outputs alone
        # (--single-item runs the targets in the order given)
        report["tables_seconds"], _ = run(dvc("repro", "--force", "--single-item", "aggregate", "tables"), pulled, env)
        compare(first, pulled, REPORTS, "tables rebuilt from pulled outputs", failures)

        # 4. forced replay of generation and curation from the pulled caches, the model never loaded
        set_cache_only(pulled)
        report["forced_replay_seconds"], _ = run(dvc("repro", "--force", "--single-item", *REPLAY_STAGES), pulled, env)
        report["generation_stats"] = check_generation_stats(pulled, failures)
        report["replayed_files_compared"] = compare(first, pulled, REPLAYED_OUTPUTS, "forced replay", failures)

        # 5. every stage forced, the generation stages still answered from the pulled caches
        if args.force_all:
            # still offline, but the forced `data` stage reads the datasets again: from the mirror, as the run did
            env_all = dict(env)
            if os.environ.get("EMOPILLARS_DATA_MIRROR"):
                env_all["EMOPILLARS_DATA_MIRROR"] = os.environ["EMOPILLARS_DATA_MIRROR"]
            report["force_all_seconds"], out = run(dvc("repro", "--force"), pulled, env_all, capture=True)
            report["force_all_ran"] = len(ran_stages(out))
            report["generation_stats_force_all"] = check_generation_stats(pulled, failures)
            report["force_all_files_compared"] = compare(first, pulled, FORCED_ALL_OUTPUTS, "forced repro",
                                                         failures)
    finally:
        report["failures"] = failures
        for key, value in list(report.items()):
            if key.endswith("_seconds") and isinstance(value, float):
                report[key] = round(value, 1)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    log(json.dumps({k: v for k, v in report.items() if not k.startswith("generation_stats")}, indent=2))
    if failures:
        log(f"FAILED: {len(failures)} check(s):\n  " + "\n  ".join(failures))
        return 1
    against = f" against {report['run_seconds']:.0f} s for the run" if report["run_seconds"] else ""
    log(f"OK: the {report['profile']} run replays exactly from the remote "
        f"(pull + repro {report['pull_and_repro_seconds']:.0f} s{against})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
