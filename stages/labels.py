"""Stage labels: the generator explains each utterance's emotions (without its seeds); words are mapped to the 28."""

from __future__ import annotations

import time
from collections import defaultdict

from emopillars.contracts.synthesis import LabelsMetrics, MappingReport
from emopillars.errors import run_main
from emopillars.io import read_jsonl
from emopillars.synth import stagekit
from emopillars.synth.embed import MeanPoolEncoder
from emopillars.synth.lexicon import TaxonomyMapper
from emopillars.synth.stats import mapping_report
from emopillars.synth.steps import LabelsStep, run_step


def passage_names(characters: list[dict]) -> dict[str, list[str]]:
    names = defaultdict(list)
    for c in characters:
        names[c["plot_id"]].append(c["character"])
    return names


def main(argv=None) -> int:
    p = stagekit.parser(__doc__, ["utterances", "characters"])
    p.add_argument("--embedder", default="models/embedder", help="sentence-embedding model folder")
    args = p.parse_args(argv)
    params = stagekit.load(args)
    names = passage_names(read_jsonl(args.characters))
    rows = [{**u, "passage_characters": names.get(u["plot_id"], [])} for u in read_jsonl(args.utterances)]
    mapper = TaxonomyMapper(MeanPoolEncoder(args.embedder), params.labels.similarity_threshold)
    step = LabelsStep(params.labels, mapper, args.prompts, seed=params.seed)
    started = time.time()
    with stagekit.engine_session(params, args.model_dir, args.generation_stats, args.cache) as engine:
        run = run_step(engine, step, rows, desc="labels", validation_retries=params.labels.retries)
    for r in run.records:
        r.pop("passage_characters", None)
    report = MappingReport(**mapping_report(run.records, run.rejects, params.labels.threshold))
    metrics = stagekit.step_metrics(LabelsMetrics, run, started, prompt_hash=step.prompt_hash, mapping=report)
    stagekit.write_outputs(args, run.records, run.rejects, metrics)
    print(f"labels: {len(rows)} utterances -> {len(run.records)} labelled; rejected {metrics.rejects} "
          f"({metrics.reject_reasons}); out-of-taxonomy words {report.out_of_taxonomy_rate:.1%}, "
          f"naive label leakage {report.naive_label_leakage_rate}, ours {report.label_leakage_rate}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
