"""Benchmark of the synthesis pipeline.

    python bench/synth.py --out bench/results/synth.json [--metrics-dir outputs/metrics]

1. Near-duplicate filtering (exact + MinHash LSH, as the curate stage runs it)
   of 300,000 utterance-length strings: GoEmotions' training comments plus
   perturbed copies (a word dropped, two words swapped, a word replaced, case
   and punctuation changed), so most strings have near duplicates. Reports
   wall time, peak memory and how many planted copies were caught.
2. Generated examples per minute of each generation stage, read from the
   stage metrics of the last pipeline run (default profile), with the engine's
   token counts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emopillars.synth.dedup import find_duplicates  # noqa: E402


def goemotions_texts(folder: Path) -> list[str]:
    with open(folder / "train.tsv", encoding="utf-8", newline="") as f:
        return [row[0] for row in csv.reader(f, delimiter="\t") if row]


def perturb(text: str, rng: random.Random, vocab: list[str]) -> str:
    w = text.split()
    if len(w) < 4:
        return text + rng.choice(["!", "?", "...", " right?"])
    kind = rng.randrange(4)
    if kind == 0:
        del w[rng.randrange(len(w))]
    elif kind == 1:
        i = rng.randrange(len(w) - 1)
        w[i], w[i + 1] = w[i + 1], w[i]
    elif kind == 2:
        w[rng.randrange(len(w))] = rng.choice(vocab)
    else:
        return text.upper() if rng.random() < 0.5 else text.rstrip(".!?") + "!!"
    return " ".join(w)


def bench_dedup(n: int, threshold: float, num_perm: int, seed: int, goemotions: Path) -> dict:
    rng = random.Random(seed)
    originals = goemotions_texts(goemotions)
    vocab = [w for t in originals[:5000] for w in t.split()]
    texts = list(originals)
    planted = []
    while len(texts) < n:
        i = rng.randrange(len(originals))
        planted.append(len(texts))
        texts.append(perturb(originals[i], rng, vocab))
    texts = texts[:n]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    t = time.perf_counter()
    result = find_duplicates(texts, threshold=threshold, num_perm=num_perm, seed=seed)
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    caught = sum(1 for i in planted if not result.keep[i])
    words = [len(x.split()) for x in texts]
    return {
        "strings": len(texts),
        "mean_words": round(sum(words) / len(words), 1),
        "threshold": threshold,
        "num_perm": num_perm,
        "bands_x_rows": [result.bands, result.rows],
        "seconds": round(seconds, 2),
        "target_seconds": 60,
        "peak_traced_mib": round(peak / 2**20, 1),
        "peak_rss_mib": round(rss_after, 1),
        "rss_before_mib": round(rss_before, 1),
        "dropped": int((~result.keep).sum()),
        "dropped_exact": sum(r == "exact duplicate" for r in result.reason),
        "dropped_near": sum(r == "near duplicate" for r in result.reason),
        "planted_copies": len(planted),
        "planted_copies_dropped_share": round(caught / max(len(planted), 1), 4),
        "cpu_count": os.cpu_count(),
    }


def generation_rates(metrics_dir: Path) -> dict:
    from emopillars.contracts.synthesis import GENERATION_STEPS, STEP_RECORDS, GenerationStats

    out = {}
    for stage in GENERATION_STEPS:
        path = metrics_dir / "synth" / f"{stage}.json"
        gen = metrics_dir / "generation" / f"{stage}.json"
        if not path.exists():
            continue
        m = STEP_RECORDS[stage].read(path)
        row = {"examples_out": m.outputs, "seconds": m.seconds, "examples_per_minute": m.outputs_per_minute,
               "requests": m.requests}
        if stage == "contexts":
            row["contextual_examples_out"] = m.contextual_examples_out
            if m.seconds:
                row["contextual_examples_per_minute"] = round(m.contextual_examples_out / m.seconds * 60, 1)
        g = GenerationStats.read(gen)
        row.update({"prompt_tokens": g.prompt_tokens, "generated_tokens": g.generated_tokens,
                    "generated_tokens_per_second": g.generated_tokens_per_second,
                    "model_seconds": g.model_seconds, "cache_hits": g.cache_hits})
        if row["examples_out"]:
            row["generated_tokens_per_example"] = round(g.generated_tokens / row["examples_out"], 1)
            row["prompt_tokens_per_example"] = round(g.prompt_tokens / row["examples_out"], 1)
        out[stage] = row
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results/synth.json")
    p.add_argument("--metrics-dir", default="outputs/metrics")
    p.add_argument("--goemotions", default=os.environ.get("EMOPILLARS_DATA_MIRROR", "../shared/data") + "/goemotions")
    p.add_argument("--strings", type=int, default=300_000)
    p.add_argument("--threshold", type=float, default=0.7)
    p.add_argument("--num-perm", type=int, default=64)
    args = p.parse_args(argv)
    goemotions = Path(args.goemotions)
    if not (goemotions / "train.tsv").exists():
        goemotions = ROOT / "data" / "raw" / "goemotions"
    result = {"dedup": bench_dedup(args.strings, args.threshold, args.num_perm, 13, goemotions),
              "generation": generation_rates(Path(args.metrics_dir))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    d = result["dedup"]
    print(f"bench synth: near-duplicate filtering of {d['strings']:,} strings in {d['seconds']} s "
          f"(peak RSS {d['peak_rss_mib']} MiB), {d['planted_copies_dropped_share']:.1%} of planted copies dropped; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
