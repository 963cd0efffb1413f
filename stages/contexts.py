"""Stage contexts: for a share of the labelled utterances, the situation leading to the line (contextual examples).

With params.contexts.relabel the contextual examples are labelled again in the
same engine session, the labeller reading context + character + utterance;
otherwise they keep the utterance's labels.
"""

from __future__ import annotations

import random
import time

from emopillars.contracts.synthesis import ContextsMetrics, MappingReport, RelabelReport
from emopillars.errors import run_main
from emopillars.io import read_jsonl
from emopillars.synth import stagekit
from emopillars.synth.embed import MeanPoolEncoder
from emopillars.synth.lexicon import TaxonomyMapper
from emopillars.synth.stats import mapping_report
from emopillars.synth.steps import ContextsStep, LabelsStep, run_step


def main(argv=None) -> int:
    p = stagekit.parser(__doc__, ["labels", "narratives", "characters"])
    p.add_argument("--embedder", default="models/embedder", help="sentence-embedding model folder")
    args = p.parse_args(argv)
    params = stagekit.load(args)
    cp = params.contexts
    passages = {r["plot_id"]: r["passage"] for r in read_jsonl(args.narratives)}
    names: dict[str, list[str]] = {}
    for c in read_jsonl(args.characters):
        names.setdefault(c["plot_id"], []).append(c["character"])
    labelled = read_jsonl(args.labels)
    k = round(cp.share * len(labelled))
    chosen = sorted(random.Random(cp.seed).sample(range(len(labelled)), k))
    rows = []
    for i in chosen:
        row = labelled[i]
        if row["plot_id"] not in passages:
            raise ValueError(f"{args.labels}: plot_id {row['plot_id']!r} of {row['id']} is not in {args.narratives}")
        rows.append({**row, "passage": passages[row["plot_id"]]})
    step = ContextsStep(cp, args.prompts, seed=params.seed)
    started = time.time()
    relabel_run = None
    with stagekit.engine_session(params, args.model_dir, args.generation_stats, args.cache) as engine:
        run = run_step(engine, step, rows, desc="contexts", validation_retries=cp.retries)
        records, rejects = run.records, list(run.rejects)
        if cp.relabel and records:
            mapper = TaxonomyMapper(MeanPoolEncoder(args.embedder), params.labels.similarity_threshold)
            relabel = LabelsStep(params.labels, mapper, args.prompts, seed=params.seed, in_context=True)
            inputs = []
            for r in records:
                # the context-less labelling stays on the record for comparison
                keep = {"labels_without_context": r["labels"], "primary_emotion_without_context": r["primary_emotion"]}
                inputs.append({**r, **keep, "passage_characters": names.get(r["plot_id"], [])})
            relabel_run = run_step(engine, relabel, inputs, desc="labels in context",
                                   validation_retries=params.labels.retries)
            records = [{k: v for k, v in r.items() if k != "passage_characters"} for r in relabel_run.records]
            for r in relabel_run.rejects:
                r["stage"] = "labels_in_context"
            rejects += relabel_run.rejects
    relabel_report = None
    if relabel_run is not None:
        relabel_report = RelabelReport(
            inputs=relabel_run.inputs, labelled=len(relabel_run.records),
            reject_reasons=stagekit.counter_dict(relabel_run.reject_reasons),
            labels_changed_by_context=sum(set(r["labels"]) != set(r["labels_without_context"]) for r in records),
            mapping=MappingReport(**mapping_report(relabel_run.records, relabel_run.rejects, params.labels.threshold)))
    metrics = stagekit.step_metrics(ContextsMetrics, run, started, prompt_hash=step.prompt_hash,
                                    utterances_in=len(labelled), share=cp.share, relabelled=cp.relabel,
                                    contextual_examples_out=len(records), relabel=relabel_report)
    stagekit.write_outputs(args, records, rejects, metrics)
    print(f"contexts: {len(rows)} utterances chosen -> {len(run.records)} contexts "
          f"(rejected {metrics.rejects}: {metrics.reject_reasons}) -> {len(records)} contextual examples")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
