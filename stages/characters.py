"""Stage characters: the generator lists each passage's characters; made-up names are rejected."""

from __future__ import annotations

import time

from emopillars.contracts.synthesis import CharactersMetrics
from emopillars.errors import run_main
from emopillars.io import read_jsonl
from emopillars.synth import stagekit
from emopillars.synth.steps import CharactersStep, run_step
from emopillars.synth.text import candidate_characters


def main(argv=None) -> int:
    args = stagekit.parser(__doc__, ["narratives"]).parse_args(argv)
    params = stagekit.load(args)
    all_passages = read_jsonl(args.narratives)
    # A passage where no name or role noun is found has nobody to speak: it is not sent to the model
    # (which would make names up) but counted.
    passages = [p for p in all_passages if candidate_characters(p["passage"])]
    nameless = len(all_passages) - len(passages)
    step = CharactersStep(params.characters, args.prompts, seed=params.seed)
    started = time.time()
    with stagekit.engine_session(params, args.model_dir, args.generation_stats, args.cache) as engine:
        run = run_step(engine, step, passages, desc="characters", validation_retries=params.characters.retries)
    with_chars = len({r["plot_id"] for r in run.records})
    reasons = stagekit.counter_dict(run.reject_reasons)
    if nameless:
        reasons = {"passage without any name (not sent)": nameless, **reasons}
    metrics = stagekit.step_metrics(CharactersMetrics, run, started, inputs=len(all_passages), reject_reasons=reasons,
                                    prompt_hash=step.prompt_hash, passages_without_names=nameless,
                                    passages_with_characters=with_chars)
    stagekit.write_outputs(args, run.records, run.rejects, metrics)
    print(f"characters: {len(all_passages)} passages ({nameless} without any name, skipped) -> "
          f"{len(run.records)} characters in {with_chars} passages; "
          f"rejected {metrics.rejects} ({metrics.reject_reasons})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
