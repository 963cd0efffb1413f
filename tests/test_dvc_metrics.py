"""DVC's inspection commands on the pipeline, run with the real ``dvc`` in a git repository of its own.

The repository holds this project's dvc.yaml and params.yaml, and the metrics
folder written by the aggregate stage from the report fixtures (a real run's
records). What a DVC user types first must be short, clean and work between
commits: ``dvc metrics show``, ``dvc metrics diff``, ``dvc params diff`` and
``dvc plots show``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emopillars.report.figures import FIGURES
from tests.helpers.stages import load_stage

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "results"
DVC = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")

pytestmark = pytest.mark.skipif(DVC is None, reason="dvc is not installed")


def run(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    cmd = [DVC, *args[1:]] if args[0] == "dvc" else list(args)
    p = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def aggregate(repo: Path, metrics_dir: Path) -> None:
    rc = load_stage("aggregate").main(["--metrics-dir", str(metrics_dir), "--out", str(repo / "reports/results.json"),
                                       "--full", str(repo / "reports/results_full.json"),
                                       "--metrics", str(repo / "metrics")])
    assert rc == 0


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git + DVC repository with the project's pipeline files and one committed run's metrics."""
    repo = tmp_path_factory.mktemp("dvcrepo")
    run(repo, "git", "init", "-q")
    run(repo, "dvc", "init", "-q")
    for name in ("dvc.yaml", "params.yaml", ".dvc/config", "reports/templates/plots.html"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(FIX / "outputs", repo / "outputs")
    aggregate(repo, repo / "outputs" / "metrics")
    run(repo, "git", "add", "dvc.yaml", "params.yaml", ".dvc", "reports/templates", "metrics")
    run(repo, "git", "commit", "-qm", "a run")
    return repo


def test_metrics_show_is_a_short_table_of_the_metrics_folder(repo):
    p = run(repo, "dvc", "metrics", "show")
    assert "failed" not in (p.stdout + p.stderr).lower(), p.stderr
    lines = p.stdout.splitlines()
    rows = [line.split()[0] for line in lines[1:]]
    written = sorted(str(f.relative_to(repo)) for f in (repo / "metrics").rglob("*.json"))
    assert sorted(rows) == written  # one row per metrics file, nothing from outputs/ or reports/
    assert len(p.stdout) < 20_000, f"{len(p.stdout)} characters"
    assert len(lines[0].split()) < 20, lines[0]  # a few columns, shared by every row
    for f in written:
        data = json.loads((repo / f).read_text())
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data.values()), f


def test_metrics_diff_between_commits_names_the_changed_result(repo, tmp_path):
    metrics = tmp_path / "metrics"
    shutil.copytree(FIX / "outputs" / "metrics", metrics)
    record = next(p for p in sorted((metrics / "train").glob("*.json")))
    data = json.loads(record.read_text())
    primary = data["primary_metric"]
    data["metrics"][primary]["value"] += 0.125
    record.write_text(json.dumps(data))
    aggregate(repo, metrics)
    try:
        p = run(repo, "dvc", "metrics", "diff", "HEAD")
        changed = [line.split() for line in p.stdout.splitlines()[1:]]
        assert [(c[0], c[1]) for c in changed] == [(f"metrics/synthetic/test-{record.stem}.json", primary)], p.stdout
        assert float(changed[0][-1]) == pytest.approx(0.125, abs=1e-4)
    finally:
        run(repo, "git", "checkout", "-q", "--", "metrics")


def test_params_diff_between_commits(repo):
    params = (repo / "params.yaml").read_text()
    assert "\nseed: 13\n" in params
    (repo / "params.yaml").write_text(params.replace("\nseed: 13\n", "\nseed: 14\n"))
    try:
        p = run(repo, "dvc", "params", "diff", "HEAD")
        assert [line.split() for line in p.stdout.splitlines()[1:]] == [["params.yaml", "seed", "13", "14"]]
    finally:
        (repo / "params.yaml").write_text(params)


def test_plots_show_renders_the_figures_without_the_network(repo, tmp_path):
    figures = repo / "reports" / "figures"
    figures.mkdir(parents=True)
    for name in FIGURES:  # any PNG will do: DVC copies the images it shows
        shutil.copy(ROOT / "reports" / "figures" / "per_class_f1.png", figures / f"{name}.png")
    p = run(repo, "dvc", "plots", "show", "-o", str(tmp_path / "plots"))
    page = (tmp_path / "plots" / "index.html").read_text()
    assert "<title>Emo Pillars: figures</title>" in page  # the project's page (.dvc/config plots.html_template)
    assert "<script" not in page and "http" not in page.split("<body>")[1]  # nothing fetched from a CDN
    shown = sorted(name for name in FIGURES for src in _img_sources(page) if src.endswith(f"figures_{name}.png"))
    assert shown == sorted(FIGURES), p.stdout
    for src in _img_sources(page):
        assert (tmp_path / "plots" / src).is_file() or src.startswith("data:image/png"), src


def _img_sources(page: str) -> list[str]:
    import re

    return re.findall(r'<img[^>]*src="([^"]+)"', page)


def test_readme_draws_the_stage_graph_dvc_draws():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    drawn = run(ROOT, "dvc", "dag", "--mermaid").stdout.strip()
    assert block.strip() == drawn, "README's stage graph is out of date: paste the output of dvc dag --mermaid"


def test_exp_show_lists_only_the_metrics_folder_as_metrics(repo):
    p = run(repo, "dvc", "exp", "show", "--no-pager", "--json")
    workspace = json.loads(p.stdout)[0]["data"]
    files = sorted(workspace["metrics"])
    assert files == sorted(str(f.relative_to(repo)) for f in (repo / "metrics").rglob("*.json"))
    columns = sum(len(m["data"]) for m in workspace["metrics"].values())
    assert columns < 15 * len(files)  # a handful of numbers per file, no per-class tables or checksums
