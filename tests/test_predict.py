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


def test_a_csv_row_with_more_fields_than_the_header_stops_naming_file_and_line(tmp_path):
    src = tmp_path / "texts.csv"
    src.write_text('id,text\n1,"Thank you, really"\n2,I can\'t believe it, you came\n')
    proc = _predict("--model", str(tmp_path / "no-model-needed"), "--input", str(src))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == (
        f"emopillars predict: error: {src}:3: expected 2 comma-separated fields as in the header (id, text), found 3 "
        '(a text that holds a comma must be in double quotes: "a, b")')


def _with_warning(model: Path, folder: Path, warning) -> Path:
    """``model`` (its files linked) with ``warning`` as the decision warning training left in its config."""
    folder.mkdir()
    for f in model.iterdir():
        if f.name != "config.json":
            (folder / f.name).symlink_to(f)
    config = json.loads((model / "config.json").read_text())
    config["emopillars"]["decision_warning"] = warning
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_predict_warns_when_the_model_was_trained_with_a_loose_rule(released_model, tmp_path):
    loose = _with_warning(released_model[0], tmp_path / "loose", "the tuned threshold 0.04 is below 0.1")
    proc = _predict("--model", str(loose), "--text", "hello")
    assert proc.returncode == 0, proc.stderr
    assert (f"emopillars predict: warning: {loose}'s decision rule is loose (the tuned threshold 0.04 is below 0.1); "
            "--threshold sets another") in proc.stderr
    proc = _predict("--model", str(loose), "--text", "hello", "--threshold", "0.5")
    assert proc.returncode == 0 and "warning" not in proc.stderr
    sound = _with_warning(released_model[0], tmp_path / "sound", None)
    proc = _predict("--model", str(sound), "--text", "hello")
    assert proc.returncode == 0 and proc.stderr == ""  # --quiet: no warning, no weight-loading bar
