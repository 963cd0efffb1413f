"""`make figures` reruns the report stages with the commands of dvc.yaml, even when inputs are missing."""

from __future__ import annotations

import sys
import textwrap

from emopillars.report.rebuild import missing_deps, rebuild, stage_specs


def test_rebuild_runs_the_dvc_yaml_command_and_skips_an_unexported_sheet(tmp_path):
    (tmp_path / "present.txt").write_text("x")
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent(f"""
        stages:
          humaneval_import:
            cmd: python -c "open('import-ran', 'w')"
            deps: [reports/humaneval/sheet/items.json]
          tables:
            cmd: python -c "import sys; open('tables-ran', 'w').write(sys.executable)"
            deps: [present.txt, data/not-made-yet.jsonl]
            outs: [{{reports/tables: {{cache: false}}}}]
    """))
    specs = stage_specs(tmp_path / "dvc.yaml")
    assert missing_deps(specs["tables"], tmp_path) == ["data/not-made-yet.jsonl"]
    assert rebuild(["humaneval_import", "tables", "no_such_stage"], tmp_path / "dvc.yaml") == 0
    assert not (tmp_path / "import-ran").exists()  # no sheet exported yet: nothing to import
    assert (tmp_path / "tables-ran").read_text() == sys.executable  # "python" is this environment's


def test_rebuild_reports_a_failing_stage(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  figures:\n    cmd: python -c \"raise SystemExit(3)\"\n")
    assert rebuild(["figures"], tmp_path / "dvc.yaml", use_dvc=False) == 3
