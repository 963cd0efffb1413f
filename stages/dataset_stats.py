"""Stage dataset_stats: counts after every step, labels, out-of-taxonomy rate, diversity beside GoEmotions."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from emopillars.config import load_params
from emopillars.data.readers import read_goemotions
from emopillars.io import read_json, read_jsonl, write_json
from emopillars.synth.embed import MeanPoolEncoder
from emopillars.synth.stats import diversity_by_class, labels_per_example, macro
from emopillars.taxonomy import EMOTIONS

STEPS = ("narratives", "characters", "utterances", "labels", "contexts", "curate")


def by_class(texts_labels) -> dict[str, list[str]]:
    out = defaultdict(list)
    for text, labels in texts_labels:
        for l in labels:
            out[l].append(text)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--datasets", required=True, help="data/emopillars")
    p.add_argument("--step-metrics", required=True, help="folder of the per-stage count metrics")
    p.add_argument("--goemotions", required=True, help="folder of GoEmotions (train.tsv ...)")
    p.add_argument("--embedder", default="models/embedder", help="sentence-embedding model folder")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    params = load_params(args.params)
    steps = {s: read_json(Path(args.step_metrics) / f"{s}.json") for s in STEPS
             if (Path(args.step_metrics) / f"{s}.json").exists()}
    encoder = MeanPoolEncoder(args.embedder)
    goemotions = read_goemotions(args.goemotions)["train"]
    go_by_class = by_class((r.text, r.labels) for r in goemotions)
    out = {"counts": steps, "datasets": {}}
    for name in ("contextless", "contextual"):
        rows = [r for s in ("train", "dev", "test") for r in read_jsonl(Path(args.datasets) / name / f"{s}.jsonl")]
        ours = by_class((r["utterance"], r["labels"]) for r in rows)
        sizes = {e: min(len(ours.get(e, [])), params.dataset_stats.sample_per_class) for e in EMOTIONS}
        div_ours = diversity_by_class(ours, sizes, params.seed, encoder)
        div_go = diversity_by_class(go_by_class, {e: sizes[e] for e in div_ours}, params.seed, encoder)
        out["datasets"][name] = {
            "examples": len(rows),
            "label_distribution": {e: len(ours.get(e, [])) for e in EMOTIONS},
            "primary_distribution": {e: sum(r["primary_emotion"] == e for r in rows) for e in EMOTIONS},
            "classes_present": sum(1 for e in EMOTIONS if ours.get(e)),
            "labels_per_example": labels_per_example(rows),
            "diversity": {"ours": {"macro": macro(div_ours), "per_class": div_ours},
                          "goemotions_same_sizes": {"macro": macro(div_go), "per_class": div_go}},
        }
    go_rows = [{"labels": r.labels} for r in goemotions]
    out["goemotions"] = {"examples": len(goemotions), "labels_per_example": labels_per_example(go_rows)}
    labels_metrics = steps.get("labels", {}).get("mapping", {})
    out["out_of_taxonomy"] = {k: labels_metrics.get(k) for k in
                              ("out_of_taxonomy_rate", "label_leakage_rate", "naive_label_leakage_rate",
                               "naive_examples_with_leaked_label", "non_emotion_rate", "out_of_taxonomy_words")}
    write_json(args.out, out)
    cl, cx = out["datasets"]["contextless"], out["datasets"]["contextual"]
    print(f"dataset_stats: context-less {cl['examples']} ({cl['classes_present']} classes), contextual "
          f"{cx['examples']}; distinct-2 ours {cl['diversity']['ours']['macro'].get('distinct_2')} vs GoEmotions "
          f"{cl['diversity']['goemotions_same_sizes']['macro'].get('distinct_2')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
