"""Stage characters: the generator lists each passage's characters; made-up names are rejected."""

from __future__ import annotations

import sys
import time

from emopillars.io import read_jsonl
from emopillars.synth import stagekit
from emopillars.synth.steps import CharactersStep, run_step


def main(argv=None) -> int:
    args = stagekit.parser(__doc__, ["narratives"]).parse_args(argv)
    params = stagekit.load(args)
    passages = read_jsonl(args.narratives)
    step = CharactersStep(params.characters, args.prompts, seed=params.seed)
    started = time.time()
    with stagekit.engine_session(params, args.model_dir, args.generation_stats) as engine:
        run = run_step(engine, step, passages, desc="characters", validation_retries=params.characters.retries)
    with_chars = len({r["plot_id"] for r in run.records})
    metrics = stagekit.step_metrics("characters", run, started, "passages", "characters",
                                    passages_with_characters=with_chars, prompt_hash=step.prompt_hash)
    stagekit.write_outputs(args, run.records, run.rejects, metrics)
    print(f"characters: {len(passages)} passages -> {len(run.records)} characters in {with_chars} passages; "
          f"rejected {metrics['rejects']} ({metrics['reject_reasons']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
