"""A toy benchmark for registry tests: three labels, 12/3/3 sentences in tests/fixtures/toybench."""

from __future__ import annotations

import csv
from pathlib import Path

from emopillars.benchmarks import Benchmark
from emopillars.data.readers import Splits
from emopillars.data.records import EmotionRecord

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "toybench"


def read_toybench(root) -> Splits:
    """``<split>.tsv`` files with ``text`` and ``label`` columns."""
    out = Splits()
    for split in ("train", "dev", "test"):
        with open(Path(root) / f"{split}.tsv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        out[split] = [EmotionRecord(id=f"{split}-{i}", text=r["text"], labels=[r["label"]], split=split,
                                    dataset="toybench") for i, r in enumerate(rows)]
    return out


TOY = Benchmark(
    name="toybench", display_name="ToyBench", reader=f"{__name__}:read_toybench",
    to_taxonomy={"up": ("joy", "excitement"), "down": ("sadness",), "calm": ("neutral",)},
    multi_label=False, primary_metric="macro_f1", protocol="toy splits of 12/3/3 sentences; 3 labels; macro-F1",
    mirror_folder=FOLDER.name)
