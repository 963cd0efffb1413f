"""A multi-label toy benchmark over the tiny corpus (emopillars.train.encoder.TINY_CORPUS): joy, anger, sadness.

Each sentence has the labels whose keywords it holds (TINY_KEYWORDS); the first half of the corpus is dev,
the second half test, and every sentence has the previous one as its context.
"""

from __future__ import annotations

from pathlib import Path

from emopillars.benchmarks import Benchmark
from emopillars.data.readers import Splits
from emopillars.data.records import EmotionRecord
from emopillars.train.encoder import TINY_CORPUS, TINY_KEYWORDS

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "toybench"  # any folder: the data are inline


def read_tinymulti(root) -> Splits:
    rows = []
    for i, text in enumerate(TINY_CORPUS):
        labels = [l for l, words in TINY_KEYWORDS.items() if any(w in text.lower() for w in words)]
        rows.append(EmotionRecord(id=f"t{i}", text=text, labels=labels, split="", dataset="tinymulti",
                                  context=TINY_CORPUS[i - 1] if i else None))
    half = len(rows) // 2
    return Splits(train=rows[:half], dev=rows[:half], test=rows[half:])


TINY_MULTI = Benchmark(
    name="tinymulti", display_name="TinyMulti", reader=f"{__name__}:read_tinymulti",
    to_taxonomy={"joy": ("joy",), "anger": ("anger", "annoyance"), "sadness": ("sadness",)},
    multi_label=True, primary_metric="macro_f1", protocol="toy: 8 dev and 8 test sentences; 3 labels, multi-label",
    context=True, mirror_folder=FOLDER.name)
