"""The released profile's stages run as DVC runs them: compose the params, then `released`, then `train`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "tests" / "fixtures" / "emopillars_release"


def released_params(tmp: Path, bootstrap_samples: int | None = None, **train) -> Path:
    """``params.yaml`` of the released profile in ``tmp``, with ``train`` fields (and the bootstrap size) set."""
    from emopillars.profiles import compose

    params = compose("released", tmp / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(params.read_text())
    raw["train"].update(train)
    if bootstrap_samples is not None:
        raw["evaluate"]["bootstrap_samples"] = bootstrap_samples
    params.write_text(yaml.safe_dump(raw))
    return params


def released_stage(params: Path, embedder, out: Path, env=None) -> subprocess.CompletedProcess:
    """``stages/released.py`` writing ``out`` and ``<out>/../released.json``."""
    return subprocess.run([sys.executable, str(ROOT / "stages" / "released.py"), "--params", str(params),
                           "--embedder", str(embedder), "--out", str(out), "--metrics",
                           str(out.parent / "released.json")], capture_output=True, text=True, cwd=ROOT, env=env)


def train_stage(params: Path, variant: str, data: Path, encoder, out: Path, metrics: Path,
                plots: Path) -> subprocess.CompletedProcess:
    """``stages/train.py`` on one variant's folder of the released stage's output."""
    return subprocess.run([sys.executable, str(ROOT / "stages" / "train.py"), "--params", str(params), "--variant",
                           variant, "--data", str(data), "--encoder", str(encoder), "--out", str(out), "--metrics",
                           str(metrics), "--plots", str(plots)], capture_output=True, text=True, cwd=ROOT)
