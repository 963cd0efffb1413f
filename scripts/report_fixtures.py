"""Refresh the report tests' fixtures (tests/fixtures/results/) from a pipeline workspace that has run.

    python scripts/report_fixtures.py [--workspace .] [--out tests/fixtures/results] [--rows 60]
    make report-fixtures        # the same, from the repository root

What is copied, in the pipeline's own layout:

- every metrics file under ``outputs/metrics/`` (the records the reports read),
  byte for byte;
- the training curves under ``outputs/plots/train/``, byte for byte;
- the first ``--rows`` lines of each synthetic dataset's ``train.jsonl``
  (``data/emopillars/<dataset>/``), for the examples table and the
  co-occurrence figure;
- the human-evaluation sheet's items and key (``reports/humaneval/sheet/items.json``,
  ``reports/humaneval/key.json``), so that tests can answer the sheet that
  this run exported and import the answers with the real stage.

The folder is rebuilt whole and replaced in one rename, so a failed run leaves
the old fixtures in place and a file that the workspace no longer has does not
linger. The same workspace gives the same bytes. A workspace whose synthesis
has not run (no ``outputs/metrics/dataset_stats.json``) is refused: the report
tests need it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emopillars.contracts.synthesis import SYNTHETIC_DATASETS
from emopillars.io import atomic_path

ROOT = Path(__file__).resolve().parents[1]

README = """# Report fixtures

Outputs of a real pipeline run, copied by `scripts/report_fixtures.py` (`make report-fixtures`
from a workspace that has run the pipeline, e.g. `make repro PROFILE=smoke`): every file under
`outputs/metrics/` and `outputs/plots/train/`, the first {rows} lines of each synthetic
dataset's `train.jsonl`, and the human-evaluation sheet's items and key. Do not edit these files by
hand; rerun the script.
"""


def _tree(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching ``pattern``, in a fixed order, without atomic-write temporaries."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob(pattern)
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _head(path: Path, rows: int) -> bytes:
    with path.open("rb") as f:
        return b"".join(line for _, line in zip(range(rows), f))


def collect(workspace: Path, rows: int) -> dict[str, bytes]:
    """``{path relative to the fixture folder: content}`` of everything the report tests read."""
    if not (workspace / "outputs" / "metrics" / "dataset_stats.json").is_file():
        raise FileNotFoundError(f"{workspace / 'outputs' / 'metrics' / 'dataset_stats.json'}: not found; run the "
                                f"pipeline in {workspace} first (dvc repro dataset_stats, or make repro PROFILE=smoke)")
    files: dict[str, bytes] = {}
    for sub, pattern in (("outputs/metrics", "*.json"), ("outputs/plots/train", "*")):
        for path in _tree(workspace / sub, pattern):
            files[str(path.relative_to(workspace))] = path.read_bytes()
    for name in SYNTHETIC_DATASETS:
        path = workspace / "data" / "emopillars" / name / "train.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; the curate stage writes it")
        files[f"data/emopillars/{name}/train.jsonl"] = _head(path, rows)
    for rel in ("reports/humaneval/sheet/items.json", "reports/humaneval/key.json"):
        path = workspace / rel
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; the humaneval_export stage writes it")
        files[rel] = path.read_bytes()
    return files


def write_fixtures(files: dict[str, bytes], out: Path, rows: int) -> None:
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        for rel, content in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(content)
        (tmp / "README.md").write_text(README.format(rows=rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=ROOT, help="pipeline workspace that has run (default: the repo)")
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "results")
    p.add_argument("--rows", type=int, default=60, help="lines kept of each synthetic train.jsonl")
    args = p.parse_args(argv)
    try:
        files = collect(args.workspace.resolve(), args.rows)
    except FileNotFoundError as e:
        print(f"report_fixtures: error: {e}", file=sys.stderr)
        return 2
    write_fixtures(files, args.out, args.rows)
    size = sum(len(c) for c in files.values())
    print(f"report_fixtures: {len(files)} files ({size / 1024:.0f} KiB) from {args.workspace} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
