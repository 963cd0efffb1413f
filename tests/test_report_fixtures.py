"""scripts/report_fixtures.py: the report tests' fixtures are a copy of a workspace's real outputs."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "results"


def _main():
    return runpy.run_path(str(ROOT / "scripts" / "report_fixtures.py"))["main"]


def _workspace(tmp_path: Path, rows: int = 80) -> Path:
    """A workspace laid out as the pipeline leaves it, made from the fixtures themselves."""
    ws = tmp_path / "ws"
    shutil.copytree(FIX / "outputs", ws / "outputs")
    for name in ("contextless", "contextual"):
        src = (FIX / "data" / "emopillars" / name / "train.jsonl").read_text().splitlines(keepends=True)
        target = ws / "data" / "emopillars" / name / "train.jsonl"
        target.parent.mkdir(parents=True)
        target.write_text("".join((src * (rows // max(len(src), 1) + 1))[:rows]))
    shutil.copytree(FIX / "reports", ws / "reports")
    (ws / "outputs" / "metrics" / "synth" / ".labels.json.abc.tmp").write_text("{")  # a write in progress
    return ws


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fixtures_are_the_workspace_outputs_byte_for_byte_and_the_same_every_time(tmp_path):
    ws = _workspace(tmp_path)
    out = tmp_path / "fixtures"
    (out / "outputs" / "metrics").mkdir(parents=True)
    (out / "outputs" / "metrics" / "stale.json").write_text("{}")  # no longer in the workspace
    assert _main()(["--workspace", str(ws), "--out", str(out), "--rows", "5"]) == 0
    first = _files(out)
    assert _main()(["--workspace", str(ws), "--out", str(out), "--rows", "5"]) == 0
    assert _files(out) == first
    for path in sorted((ws / "outputs" / "metrics").rglob("*.json")):
        rel = str(path.relative_to(ws))
        if not path.name.startswith("."):
            assert first[rel] == path.read_bytes(), rel
    assert "outputs/metrics/stale.json" not in first
    assert not [k for k in first if Path(k).name.startswith(".")]
    head = (ws / "data" / "emopillars" / "contextless" / "train.jsonl").read_text().splitlines(keepends=True)[:5]
    assert first["data/emopillars/contextless/train.jsonl"].decode() == "".join(head)
    assert first["reports/humaneval/key.json"] == (ws / "reports" / "humaneval" / "key.json").read_bytes()
    assert "make report-fixtures" in first["README.md"].decode()


def test_a_workspace_that_has_not_run_is_refused_and_the_fixtures_kept(tmp_path, capsys):
    out = tmp_path / "fixtures"
    out.mkdir()
    (out / "keep.json").write_text("{}")
    assert _main()(["--workspace", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "dataset_stats.json: not found" in capsys.readouterr().err
    assert (out / "keep.json").read_text() == "{}"
