"""Wall time of the rehearsal profile (`make repro PROFILE=rehearsal`) from a fresh clone of HEAD.

    python bench/rehearsal.py --out bench/results/rehearsal.json

The clone runs its own code in this checkout's .venv (set-up time is not part of the figure) and reads the mirror
named by $EMOPILLARS_DATA_MIRROR. Each stage's time is taken from the moment DVC announces it to the next
announcement, so it includes DVC's own bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def run(workdir: Path, log_path: Path) -> tuple[int, float, dict[str, float]]:
    # the clone's own code, through this checkout's environment (whose editable install points here)
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
           "PYTHONPATH": str(workdir / "src"), "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    mirror = ROOT.parent / "shared" / "data"
    if "EMOPILLARS_DATA_MIRROR" not in env and mirror.is_dir():
        env["EMOPILLARS_DATA_MIRROR"] = str(mirror)
    subprocess.run(["dvc", "config", "hydra.enabled", "true"], cwd=workdir, env=env, check=True)
    started = time.perf_counter()
    marks: list[tuple[str, float]] = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["dvc", "exp", "run", "-S", "profile=rehearsal"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            log.write(line)
            m = STAGE_LINE.search(line)
            if m:
                marks.append((m.group(1), time.perf_counter() - started))
        rc = proc.wait()
    total = time.perf_counter() - started
    stages = {}
    for (name, t0), (_, t1) in zip(marks, marks[1:] + [("end", total)]):
        stages[name] = round(t1 - t0, 1)
    return rc, total, stages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/rehearsal.json")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="emopillars-rehearsal-"))
    clone = tmp / "emopillars"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    rc, total, stages = run(clone, tmp / "repro.log")
    tail = (tmp / "repro.log").read_text()[-3000:]
    if rc == 0:
        shutil.rmtree(tmp)
    else:
        print(f"rehearsal failed: the clone and its full log are kept in {tmp}", file=sys.stderr)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = {"bench": "rehearsal", "command": "make repro PROFILE=rehearsal", "commit": commit, "rc": rc,
              "wall_seconds": round(total, 1), "stages_seconds": stages, "cpus": os.cpu_count(),
              "machine": platform.platform(), "log_tail": tail if rc else None}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(record, indent=2) + "\n")
    tmp_out.replace(out)
    print(f"rehearsal: rc {rc}, {total / 60:.1f} min; slowest: " +
          ", ".join(f"{k} {v:.0f} s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])[:5]))
    return rc


if __name__ == "__main__":
    sys.exit(main())
