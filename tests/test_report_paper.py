"""The paper only uses generated files, each a declared DVC output; it compiles where TeX is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "results"
MIRROR = Path(os.environ.get("EMOPILLARS_DATA_MIRROR") or ROOT.parent / "shared" / "data")
TARGET = re.compile(r"\\(?:input|includegraphics|generatedfigure)(?:\[[^\]]*\])?(?:\{[^}]*\})?\{([^}]+)\}")


def paper_targets() -> list[str]:
    """Every file \\input or included by paper/*.tex, relative to the project root."""
    targets = []
    for tex in (ROOT / "paper").glob("*.tex"):
        text = "\n".join(line.split("%", 1)[0] if not line.lstrip().startswith("\\newcommand") else ""
                         for line in tex.read_text().splitlines())
        for m in TARGET.finditer(text):
            target = m.group(1)
            if "#" in target:
                continue  # a macro parameter, not a file
            path = (tex.parent / target).resolve()
            if path.suffix == "":
                path = path.with_suffix(".tex")
            targets.append(str(path.relative_to(ROOT)))
    return targets


def dvc_outputs() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    outs = []
    for spec in stages.values():
        for key in ("outs", "metrics", "plots"):
            for entry in spec.get(key) or []:
                outs.append(next(iter(entry)) if isinstance(entry, dict) else entry)
    return outs


def test_paper_uses_only_declared_dvc_outputs():
    targets = paper_targets()
    assert any(t.startswith("reports/tables/") for t in targets)
    assert any(t.startswith("reports/figures/") for t in targets)
    assert "reports/numbers.tex" in targets
    outs = dvc_outputs()
    for t in targets:
        assert any(t == o or t.startswith(o.rstrip("/") + "/") for o in outs), f"paper uses {t}, no DVC stage makes it"


def test_paper_targets_are_what_the_report_stages_write(tmp_path):
    """Each table and figure the paper names is a file the tables/figures code produces."""
    from emopillars.report.figures import FIGURES

    names = {Path(t).stem for t in paper_targets() if t.startswith(("reports/tables/", "reports/figures/"))}
    from emopillars.report.tables import all_tables
    from emopillars.config import defaults

    from emopillars.report.published import read_published

    published = read_published(Path(__file__).resolve().parents[1] / "reports" / "published.yaml")
    produced = {t.name for t in all_tables({}, {}, 3, 13, defaults().report.paper_scale, published)} | set(FIGURES)
    assert "generation_cost" in names
    assert names <= produced, names - produced


def _build_reports(root: Path) -> None:
    """Run the report stages on the fixture into ``root/reports`` (the paper's relative paths)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    py = sys.executable
    r = root / "reports"
    cmds = [
        [py, "stages/aggregate.py", "--metrics-dir", str(FIX / "outputs/metrics"), "--out", str(r / "results.json"),
         "--full", str(r / "results_full.json")],
        [py, "stages/tables.py", "--params", "params.yaml", "--results", str(r / "results_full.json"), "--templates",
         "reports/templates", "--data-dir", str(FIX / "data/emopillars"), "--published", "reports/published.yaml",
         "--out-dir", str(r / "tables"),
         "--numbers", str(r / "numbers.tex")],
        [py, "stages/figures.py", "--params", "params.yaml", "--results", str(r / "results_full.json"), "--train-data",
         str(FIX / "data/emopillars/contextless/train.jsonl"), "--train-plots", str(FIX / "outputs/plots/train"),
         "--goemotions", str(MIRROR / "goemotions"), "--out-dir", str(r / "figures")],
    ]
    for cmd in cmds:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed (make paper installs TeX)")
def test_paper_compiles_from_the_fixture(tmp_path):
    _build_reports(tmp_path)
    shutil.copytree(ROOT / "paper", tmp_path / "paper", ignore=shutil.ignore_patterns("*.pdf", "*.aux", "*.log",
                                                                                      "*.fdb_latexmk", "*.fls", "*.out"))
    proc = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
                          cwd=tmp_path / "paper", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    pdf = tmp_path / "paper" / "main.pdf"
    assert pdf.stat().st_size > 50_000
    log = (tmp_path / "paper" / "main.log").read_text(errors="replace")
    assert not re.search(r"Reference `[^']*' on page \d+ undefined", log)
    assert not re.search(r"Control sequence .* undefined", log)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "Figure not generated yet" not in text  # every figure of the fixture made it in
        assert "0.490" in text and "GoEmotions" in text
