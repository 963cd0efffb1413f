"""Move the pipeline's DVC outputs to and from a remote: ``make push`` and ``make pull``.

    python -m emopillars.remote push [dvc push arguments]
    python -m emopillars.remote pull [dvc pull arguments]

The remote is named by one setting, ``EMOPILLARS_REMOTE`` (or ``--remote``):

* the name of a remote already in DVC's config (``dvc remote add NAME URL``), or
* a URL or a folder (``s3://bucket/emopillars``, ``https://host/emopillars``, ``/mnt/lab/emopillars``): it is
  written as the remote ``emopillars`` into ``.dvc/config.local``, this workspace's own config (not committed),
  and made its default remote (so plain ``dvc pull`` and ``make figures`` use it too); a folder is made absolute
  first.

Without the setting DVC's default remote (``dvc remote add -d``) is used. With no remote at all the command
stops with one line saying how to name one, and exit code 2. Everything a stage caches travels: the models,
the synthetic data, each generation stage's answers (``outputs/cache/<stage>.sqlite``) and the metrics.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from emopillars.errors import run_main

ENV = "EMOPILLARS_REMOTE"
LOCAL_NAME = "emopillars"


class RemoteError(ValueError):
    """No remote to use, or one DVC cannot take."""


def dvc(*args: str, cwd: str | Path = ".", capture: bool = True) -> subprocess.CompletedProcess:
    """``dvc ARGS`` in ``cwd`` with this interpreter's DVC."""
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, text=True,
                          capture_output=capture, check=False)


def configured(cwd: str | Path = ".") -> dict[str, str]:
    """The remotes DVC's config holds (every level): name -> URL."""
    out = dvc("remote", "list", cwd=cwd)
    if out.returncode != 0:
        raise RemoteError(f"dvc remote list failed in {Path(cwd).resolve()}: {out.stderr.strip()}")
    remotes = {}
    for line in out.stdout.splitlines():
        parts = line.split(None, 1)
        if parts:
            remotes[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return remotes


def default_remote(cwd: str | Path = ".") -> Optional[str]:
    out = dvc("config", "core.remote", cwd=cwd)
    name = out.stdout.strip()
    return name if out.returncode == 0 and name else None


def is_url(spec: str) -> bool:
    return "://" in spec


def is_folder(spec: str) -> bool:
    return "/" in spec or spec.startswith((".", "~"))


def resolve(spec: Optional[str], cwd: str | Path = ".") -> str:
    """The name of the DVC remote that ``spec`` (a remote's name, a URL or a folder; None: the default) means.

    A URL or folder is configured first as the local remote ``emopillars``.
    """
    remotes = configured(cwd)
    if not spec:
        name = default_remote(cwd)
        if name:
            return name
        raise RemoteError(f"no DVC remote: set {ENV} to a remote's name, a URL or a folder "
                          f"(e.g. {ENV}=/mnt/lab/emopillars make push), or add a default one: "
                          "dvc remote add -d NAME URL")
    if spec in remotes:
        return spec
    if not is_url(spec) and not is_folder(spec):
        known = ", ".join(sorted(remotes)) or "none"
        raise RemoteError(f"{ENV}={spec}: no DVC remote of that name (configured: {known}); give a URL or a "
                          "folder, or `dvc remote add` it")
    url = spec if is_url(spec) else str(Path(spec).expanduser().resolve())
    out = dvc("remote", "add", "--local", "--force", "--default", LOCAL_NAME, url, cwd=cwd)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["dvc remote add failed"])[-1]
        raise RemoteError(f"{ENV}={spec}: DVC cannot use it as a remote: {last}")
    return LOCAL_NAME


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("push", "pull"))
    p.add_argument("--remote", default=None, help=f"a remote's name, a URL or a folder (default: ${ENV}, then "
                                                  "DVC's default remote)")
    p.add_argument("--repo", default=".", help="the DVC project (default: here)")
    args, rest = p.parse_known_args(argv)
    name = resolve(args.remote or os.environ.get(ENV), args.repo)
    print(f"{args.action}: remote {name} ({configured(args.repo).get(name, '?')})", flush=True)
    return dvc(args.action, "-r", name, *rest, cwd=args.repo, capture=False).returncode


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="remote"))
