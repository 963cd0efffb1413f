"""Stage curate: filters, exact/near duplicate removal, splits by story, export of both datasets."""

from __future__ import annotations

import argparse
import time
from collections import Counter

from emopillars.config import load_params
from emopillars.contracts.synthesis import CurateCounts, CurateMetrics
from emopillars.errors import require_writable, run_main
from emopillars.io import atomic_path, read_jsonl, write_text
from emopillars.synth.curate import (CONTEXTLESS_FIELDS, CONTEXTUAL_FIELDS, SPLITS, assign_splits, dataset_card,
                                     export_dataset, filter_examples, label_distribution, project)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--labels", required=True, help="labelled utterances (context-less examples)")
    p.add_argument("--contexts", required=True, help="contextual examples")
    p.add_argument("--out-dir", required=True, help="folder of the two datasets (data/emopillars)")
    p.add_argument("--metrics", required=True)
    args = p.parse_args(argv)
    require_writable(args.out_dir, args.metrics)
    params = load_params(args.params)
    cp = params.curate
    started = time.time()
    contextless_in = read_jsonl(args.labels)
    contextual_in = read_jsonl(args.contexts)
    contextless, drops_cl = filter_examples(contextless_in, "utterance", cp.min_words, cp.max_words,
                                            cp.near_dup_threshold, cp.num_perm, cp.seed)
    contextual, drops_cx = filter_examples(contextual_in, "utterance", cp.min_words, cp.max_words,
                                           cp.near_dup_threshold, cp.num_perm, cp.seed)
    sizes = Counter(r["story_id"] for r in contextless) + Counter(r["story_id"] for r in contextual)
    story_split = assign_splits(dict(sizes), cp.dev_share, cp.test_share, cp.seed)
    datasets = {}
    for name, rows, fields in (("contextless", contextless, CONTEXTLESS_FIELDS),
                               ("contextual", contextual, CONTEXTUAL_FIELDS)):
        datasets[name] = {s: [project(r, fields) for r in rows if story_split[r["story_id"]] == s] for s in SPLITS}
    summary = {
        "profile": params.profile,
        "generator": params.models.generator.hf_id or params.models.generator.package,
        "relabelled": params.contexts.relabel,
        "datasets": {name: {"sizes": {s: len(v) for s, v in d.items()},
                            "labels": label_distribution([r for v in d.values() for r in v])}
                     for name, d in datasets.items()},
    }
    with atomic_path(args.out_dir) as tmp:
        tmp.mkdir(parents=True)
        for name, d in datasets.items():
            export_dataset(tmp / name, d, contextual=(name == "contextual"))
        write_text(tmp / "README.md", dataset_card(summary))
    counts = {name: CurateCounts(inputs=n_in, outputs=len(kept), dropped=dict(drops.most_common()),
                                 sizes=summary["datasets"][name]["sizes"])
              for name, n_in, kept, drops in (("contextless", len(contextless_in), contextless, drops_cl),
                                              ("contextual", len(contextual_in), contextual, drops_cx))}
    metrics = CurateMetrics(stage="curate", **counts,
                            stories={s: sum(1 for v in story_split.values() if v == s) for s in SPLITS},
                            seconds=round(time.time() - started, 1))
    metrics.write(args.metrics)
    print(f"curate: context-less {len(contextless_in)} -> {len(contextless)} ({dict(drops_cl)}), "
          f"contextual {len(contextual_in)} -> {len(contextual)} ({dict(drops_cx)}); "
          f"stories per split {metrics.stories}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
