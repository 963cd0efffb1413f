"""Exact replay end to end (slow, about 25 minutes on 2 cores): the smoke profile run, pushed to a folder remote,
pulled into a fresh clone, replays with no stage run and no model loaded (scripts/replay_check.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_pulled_smoke_run_replays_exactly(tmp_path):
    report = tmp_path / "replay.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "replay_check.py"), "--profile", "smoke",
                           "--work-dir", str(tmp_path / "work"), "--out", str(report), "--force-all"],
                          capture_output=True, text=True, cwd=ROOT)
    result = json.loads(report.read_text())
    assert done.returncode == 0, result["failures"] or done.stdout[-3000:] + done.stderr[-3000:]
    assert result["repro_ran"] == [] and result["failures"] == []
    assert all(s["generated_requests"] == 0 and s["model_loaded"] is False for s in result["generation_stats"].values())
    assert result["pull_and_repro_seconds"] < result["run_seconds"]
    # every stage forced on the pulled clone: the same data, metrics and tables, still no model loaded
    assert result["force_all_ran"] > 20 and result["force_all_files_compared"] > 40
    assert all(s["model_loaded"] is False for s in result["generation_stats_force_all"].values())
