"""Stage dataset_stats: counts after every step, labels, out-of-taxonomy rate, diversity beside GoEmotions."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from tqdm.auto import tqdm

from emopillars.config import load_params
from emopillars.contracts.synthesis import (STEP_RECORDS, SYNTHESIS_STEPS, DatasetDiversity, DatasetStats, Diversity,
                                            LabelsPerExample, OutOfTaxonomy, ReferenceStats, SynthesisCounts,
                                            SyntheticDatasets, SyntheticDatasetStats)
from emopillars.data.readers import read_goemotions
from emopillars.errors import require_writable, run_main
from emopillars.io import read_jsonl
from emopillars.synth.embed import MeanPoolEncoder
from emopillars.synth.stats import class_samples, diversity_of_samples, embed_all, labels_per_example, macro
from emopillars.taxonomy import EMOTIONS


def by_class(texts_labels) -> dict[str, list[str]]:
    out = defaultdict(list)
    for text, labels in texts_labels:
        for l in labels:
            out[l].append(text)
    return out


def diversity(per_class: dict[str, dict]) -> Diversity:
    return Diversity(macro=macro(per_class) or None, per_class=per_class)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--datasets", required=True, help="data/emopillars")
    p.add_argument("--step-metrics", required=True, help="folder of the per-stage count metrics")
    p.add_argument("--goemotions", required=True, help="folder of GoEmotions (train.tsv ...)")
    p.add_argument("--embedder", default="models/embedder", help="sentence-embedding model folder")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    require_writable(args.out)
    params = load_params(args.params)
    # Every step ran before curation made the datasets, so each step's metrics file must be there.
    counts = SynthesisCounts(**{s: STEP_RECORDS[s].read(Path(args.step_metrics) / f"{s}.json")
                                for s in SYNTHESIS_STEPS})
    encoder = MeanPoolEncoder(args.embedder, progress="dataset_stats: embedding")
    goemotions = read_goemotions(args.goemotions)["train"]
    go_by_class = by_class((r.text, r.labels) for r in goemotions)
    # The labelling that made each dataset's labels: the labels step, or the in-context relabelling.
    relabel = counts.contexts.relabel
    reports = {"contextless": OutOfTaxonomy.of(counts.labels.mapping),
               "contextual": OutOfTaxonomy.of(relabel.mapping) if relabel is not None else None}
    # Each dataset's classes and GoEmotions' on the same sample sizes; every sampled text is embedded once, then
    # the measures are taken class by class (both with a progress bar: on the default profile this is most of
    # the stage's time).
    rows_of, samples = {}, {}
    for name in ("contextless", "contextual"):
        rows = [r for s in ("train", "dev", "test") for r in read_jsonl(Path(args.datasets) / name / f"{s}.jsonl")]
        ours = by_class((r["utterance"], r["labels"]) for r in rows)
        sizes = {e: min(len(ours.get(e, [])), params.dataset_stats.sample_per_class) for e in EMOTIONS}
        sample_ours = class_samples(ours, sizes, params.seed)
        rows_of[name] = (rows, ours)
        samples[name] = (sample_ours, class_samples(go_by_class, {e: sizes[e] for e in sample_ours}, params.seed))
    embed_all(encoder, (s for pair in samples.values() for s in pair))
    datasets = {}
    with tqdm(total=sum(len(s) for pair in samples.values() for s in pair), desc="dataset_stats: diversity",
              unit="class", dynamic_ncols=True) as bar:
        divs = {name: tuple(diversity_of_samples(s, params.seed, encoder, bar) for s in pair)
                for name, pair in samples.items()}
    for name in ("contextless", "contextual"):
        rows, ours = rows_of[name]
        div_ours, div_go = divs[name]
        datasets[name] = SyntheticDatasetStats(
            examples=len(rows),
            label_distribution={e: len(ours.get(e, [])) for e in EMOTIONS},
            primary_distribution={e: sum(r["primary_emotion"] == e for r in rows) for e in EMOTIONS},
            classes_present=sum(1 for e in EMOTIONS if ours.get(e)),
            labels_per_example=LabelsPerExample(**labels_per_example(rows)),
            diversity=DatasetDiversity(ours=diversity(div_ours), goemotions_same_sizes=diversity(div_go)),
            out_of_taxonomy=reports[name],
        )
    go_rows = [{"labels": r.labels} for r in goemotions]
    stats = DatasetStats(counts=counts, datasets=SyntheticDatasets(**datasets),
                         goemotions=ReferenceStats(examples=len(goemotions),
                                                   labels_per_example=LabelsPerExample(**labels_per_example(go_rows))))
    stats.write(args.out)
    cl, cx = stats.datasets.contextless, stats.datasets.contextual

    def distinct_2(d: Diversity):
        return d.macro.distinct_2 if d.macro is not None else None

    print(f"dataset_stats: context-less {cl.examples} ({cl.classes_present} classes), contextual "
          f"{cx.examples}; distinct-2 ours {distinct_2(cl.diversity.ours)} vs GoEmotions "
          f"{distinct_2(cl.diversity.goemotions_same_sizes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
