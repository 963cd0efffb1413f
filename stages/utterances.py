"""Stage utterances: several first-person lines per character and seed emotions (the context-less examples)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from emopillars.contracts.synthesis import UtterancesMetrics
from emopillars.errors import run_main
from emopillars.io import read_jsonl
from emopillars.synth import stagekit
from emopillars.synth.steps import UtterancesStep, drop_repeated_lines, plan_utterance_requests, run_step
from emopillars.synth.text import load_vocabulary


def main(argv=None) -> int:
    ap = stagekit.parser(__doc__, ["characters"])
    ap.add_argument("--embedder", default=None,
                    help="model folder whose tokenizer's words tell English lines from others (models/embedder; "
                         "omit: no language check)")
    args = ap.parse_args(argv)
    params = stagekit.load(args)
    characters = read_jsonl(args.characters)
    rows = plan_utterance_requests(characters, params.utterances, params.utterances.seed)
    vocabulary = None
    if args.embedder:
        if not (Path(args.embedder) / "config.json").is_file():
            raise SystemExit(f"{args.embedder}: not a model folder (no config.json); run `dvc repro models`")
        vocabulary = load_vocabulary(args.embedder)
    step = UtterancesStep(params.utterances, args.prompts, seed=params.seed, vocabulary=vocabulary)
    started = time.time()
    with stagekit.engine_session(params, args.model_dir, args.generation_stats, args.cache) as engine:
        run = run_step(engine, step, rows, desc="utterances", validation_retries=params.utterances.retries)
    # near duplicates go before labelling, by the test curation applies (params curate.*)
    drop_repeated_lines(run, step, near_threshold=params.curate.near_dup_threshold, num_perm=params.curate.num_perm,
                        seed=params.curate.seed)
    seeds = Counter(e for r in rows for e in r["emotions_used_to_generate_context"])
    metrics = stagekit.step_metrics(UtterancesMetrics, run, started, prompt_hash=step.prompt_hash,
                                    characters_in=len(characters), seed_emotions=stagekit.counter_dict(seeds),
                                    expressiveness=stagekit.counter_dict(Counter(r["expressiveness"] for r in run.records)))
    stagekit.write_outputs(args, run.records, run.rejects, metrics)
    print(f"utterances: {len(characters)} characters, {len(rows)} requests -> {len(run.records)} utterances; "
          f"rejected {metrics.rejects} ({metrics.reject_reasons})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
