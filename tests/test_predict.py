"""``emopillars predict`` on texts and files, and its error messages."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "tests" / "fixtures" / "released"


def _predict(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "emopillars.cli", "predict", "--quiet", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_predict_text_gives_scores_and_thresholded_labels(released_model):
    model = released_model[0]
    proc = _predict("--model", str(model), "--text", "Thank you for the bread!", "--text", "Run, the wolf is here!",
                    "--context", "The storm had passed.", "--character", "Gretel: a brave girl")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(l) for l in proc.stdout.splitlines()]
    assert len(rows) == 2
    thresholds = json.loads((model / "thresholds.json").read_text())
    for row in rows:
        assert len(row["scores"]) == 28
        thr = thresholds["per_class"] if thresholds["kind"] == "per_class" else [thresholds["global"]] * 28
        expected = [l for l, t in zip(thresholds["labels"], thr) if row["scores"][l] >= t]
        assert row["labels"] == expected


def test_predict_file_to_csv(released_model, tmp_path):
    model = released_model[0]
    out = tmp_path / "pred.csv"
    proc = _predict("--model", str(model), "--input", str(RELEASED / "test.jsonl"), "--format", "csv",
                    "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and "admiration" in rows[0] and rows[0]["id"]
    # a CSV input with a custom text column
    src = tmp_path / "in.csv"
    src.write_text("id,sentence\n1,I am so happy today\n2,Leave me alone\n")
    proc = _predict("--model", str(model), "--input", str(src), "--text-column", "sentence")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(l)["id"] for l in proc.stdout.splitlines()] == ["1", "2"]


def test_predict_errors_are_clear(released_model, tmp_path):
    model = released_model[0]
    proc = _predict("--model", str(model), "--text", "   ")
    assert proc.returncode == 2 and "empty text" in proc.stderr
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": ""}\n')
    proc = _predict("--model", str(model), "--input", str(bad))
    assert proc.returncode == 2 and "in.jsonl:2: empty text" in proc.stderr
    bare = tmp_path / "bare"
    shutil.copytree(model, bare)
    (bare / "thresholds.json").unlink()
    config = json.loads((bare / "config.json").read_text())
    del config["emopillars"]["thresholds"]
    (bare / "config.json").write_text(json.dumps(config))
    proc = _predict("--model", str(bare), "--text", "hello")
    assert proc.returncode == 2 and "no decision thresholds" in proc.stderr
    # an explicit threshold makes such a folder usable
    proc = _predict("--model", str(bare), "--text", "hello", "--threshold", "0.5")
    assert proc.returncode == 0, proc.stderr
