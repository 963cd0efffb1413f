"""Rebuild the report stages (tables, figures) from the outputs that exist, with the commands in dvc.yaml.

    python -m emopillars.report.rebuild [--dvc-file dvc.yaml] [STAGE ...]

A stage whose dependencies all exist is run by ``dvc repro --single-item``
(so ``dvc.lock`` records it); a stage with a missing dependency (a part of the
pipeline that has not run) is run directly with its ``cmd`` from ``dvc.yaml``,
and its outputs leave that part out. Either way the command is the one in
``dvc.yaml``, so ``make figures`` and ``dvc repro`` cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPORT_STAGES = ("humaneval_import", "aggregate", "tables", "figures")


def stage_specs(dvc_file: str | Path) -> dict[str, dict]:
    data = yaml.safe_load(Path(dvc_file).read_text(encoding="utf-8")) or {}
    return data.get("stages") or {}


def _paths(entries) -> list[str]:
    out = []
    for e in entries or []:
        out.append(next(iter(e)) if isinstance(e, dict) else str(e))
    return out


def missing_deps(spec: dict, root: Path) -> list[str]:
    return [d for d in _paths(spec.get("deps")) if not (root / d).exists()]


def rebuild(stages: list[str], dvc_file: str | Path = "dvc.yaml", use_dvc: bool = True) -> int:
    dvc_file = Path(dvc_file)
    root = dvc_file.resolve().parent
    specs = stage_specs(dvc_file)
    dvc = Path(sys.executable).with_name("dvc")
    for name in stages:
        if name not in specs:
            print(f"rebuild: no stage {name!r} in {dvc_file}; skipped", file=sys.stderr)
            continue
        spec = specs[name]
        missing = missing_deps(spec, root)
        if name == "humaneval_import" and missing:
            print(f"rebuild: {name}: no annotation sheet yet ({', '.join(missing)}); skipped")
            continue
        if use_dvc and not missing and dvc.exists():
            cmd = [str(dvc), "repro", "--single-item", name]
        else:
            if missing:
                print(f"rebuild: {name}: missing {', '.join(missing)}; running its command directly")
            cmd = shlex.split(spec["cmd"])
            if cmd and cmd[0] in ("python", "python3"):
                cmd[0] = sys.executable
        # dvc runs a stage's "python" from PATH: make it this environment's interpreter.
        env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        rc = subprocess.call(cmd, cwd=root, env=env)
        if rc != 0:
            print(f"rebuild: {name} failed ({' '.join(cmd)} exited with {rc})", file=sys.stderr)
            return rc
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stages", nargs="*", default=list(REPORT_STAGES))
    p.add_argument("--dvc-file", default="dvc.yaml")
    p.add_argument("--no-dvc", action="store_true", help="always run the commands directly")
    args = p.parse_args(argv)
    return rebuild(args.stages, args.dvc_file, use_dvc=not args.no_dvc)


if __name__ == "__main__":
    raise SystemExit(main())
