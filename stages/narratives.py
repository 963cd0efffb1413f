"""Stage narratives: cut the story corpus into passages and pick params.narratives.n_passages of them.

    python stages/narratives.py --params params.yaml --corpus-dir data/raw/<narratives.corpus> ...

The corpus folder is what the data stage made of narratives.corpus
(data/raw/fairytaleqa: stories.jsonl; data/raw/wikiplots: plots and titles).
"""

from __future__ import annotations

import sys

from emopillars.contracts.synthesis import NarrativesMetrics
from emopillars.data.readers import DataError, DatasetNotSupplied
from emopillars.errors import run_main
from emopillars.synth import stagekit
from emopillars.synth.narratives import load_stories, select_passages


def main(argv=None) -> int:
    p = stagekit.parser(__doc__.splitlines()[0], ["corpus-dir"], generation=False)
    args = p.parse_args(argv)
    params = stagekit.load(args)
    np_ = params.narratives
    try:
        stories = load_stories(np_.corpus, args.corpus_dir)
    except DatasetNotSupplied as e:
        print(f"narratives: error: {e} (narratives.corpus={np_.corpus}; the data stage makes "
              f"data/raw/{np_.corpus}: `dvc repro data`)", file=sys.stderr)
        return 2
    except DataError as e:
        print(f"narratives: error: {e}", file=sys.stderr)
        return 2
    passages, report = select_passages(stories, np_.n_passages, np_.min_words, np_.max_words, np_.seed)
    metrics = NarrativesMetrics.build(
        inputs=report.stories, outputs=len(passages), corpus=np_.corpus, sections_in=report.sections,
        passages_cut=report.passages, dropped=stagekit.counter_dict(report.dropped),
        truncated_at_max_words=report.truncated, stories_used=len({p["story_id"] for p in passages}),
        words_per_passage_mean=round(sum(p["n_words"] for p in passages) / max(len(passages), 1), 1))
    stagekit.write_outputs(args, passages, [], metrics)
    truncated = f", {report.truncated} cut at max_words" if report.truncated else ""
    print(f"narratives: {report.stories} stories -> {report.passages} passages "
          f"({sum(report.dropped.values())} pieces dropped: {dict(report.dropped)}{truncated}); picked {len(passages)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
