"""Answers to the human-evaluation sheet that the fixture run exported, imported by the real stage.

The smoke run has no annotators. The report tests need a humaneval record with
some, so three annotators answer the fixture's sheet here, in the file format
that the annotation page downloads, and ``stages/humaneval_import.py`` turns
their answers into ``humaneval.json`` as it does in the pipeline.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers.stages import load_stage

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "results"
ANNOTATORS = ("ann1", "ann2", "ann3")


def write_answers(answers_dir: Path) -> list[Path]:
    """Three annotators: the first two choose each item's primary emotion, the third one other class on every
    third item; naturalness cycles so that the ratings vary."""
    from emopillars.taxonomy import EMOTIONS

    sheet = json.loads((FIX / "reports" / "humaneval" / "sheet" / "items.json").read_text())
    key = json.loads((FIX / "reports" / "humaneval" / "key.json").read_text())["items"]
    answers_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for a, who in enumerate(ANNOTATORS):
        answers = {}
        for i, item in enumerate(sheet["items"]):
            primary = key[item["item"]]["primary_emotion"]
            other = EMOTIONS[(EMOTIONS.index(primary) + 1) % len(EMOTIONS)]
            chosen = other if a == 2 and i % 3 == 0 else primary
            answers[item["item"]] = {"emotions": [chosen], "naturalness": str(1 + (i + a) % 5)}
        path = answers_dir / f"{who}.json"
        path.write_text(json.dumps({"sheet": sheet["sheet_id"], "annotator": who, "answers": answers}))
        paths.append(path)
    return paths


def metrics_with_humaneval(tmp_path: Path) -> Path:
    """A copy of the fixture's metrics folder whose humaneval.json the import stage wrote from three annotators."""
    metrics = tmp_path / "metrics_with_humaneval"
    shutil.copytree(FIX / "outputs" / "metrics", metrics)
    write_answers(tmp_path / "answers")
    code = load_stage("humaneval_import").main(["--sheet", str(FIX / "reports" / "humaneval" / "sheet" / "items.json"),
                       "--key", str(FIX / "reports" / "humaneval" / "key.json"),
                       "--answers-dir", str(tmp_path / "answers"), "--out", str(metrics / "humaneval.json")])
    assert code == 0
    return metrics
