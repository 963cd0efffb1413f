"""Stage released: the released Emo Pillars data, read from a folder or the hub, in this project's layout.

With ``train.source: released`` it reads ``train.released_dir`` (a folder, or a hub dataset id downloaded at
``train.released_revision``), resolves the release's emotion words onto the 28 classes as synthesis does
(lexicon, then the embedder's nearest neighbours) and writes ``contextless/`` and ``contextual/`` splits that
the train stage reads, plus ``RELEASE.json`` (source, resolved commit, sha256 of each file, mapping counts).
With ``train.source: synthetic`` it reads nothing and says so.
"""

from __future__ import annotations

import argparse

from emopillars.config import load_params
from emopillars.data.released import LazyEmbedder, export_release, resolve_source, unused_record
from emopillars.errors import require_writable, run_main
from emopillars.io import atomic_path, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--embedder", required=True, help="sentence-embedding model folder (models/embedder)")
    p.add_argument("--out", required=True, help="folder for the normalised splits (data/released)")
    p.add_argument("--metrics", required=True)
    args = p.parse_args(argv)
    require_writable(args.out, args.metrics)
    params = load_params(args.params)
    tp = params.train
    if tp.source != "released":
        record = unused_record(f"train.source is {tp.source!r}")
        with atomic_path(args.out) as tmp:
            tmp.mkdir()
            write_json(tmp / "RELEASE.json", record)
        write_json(args.metrics, record)
        print(f"released: nothing to read ({record['reason']})")
        return 0
    from emopillars.synth.embed import MeanPoolEncoder
    from emopillars.synth.lexicon import TaxonomyMapper

    # a ReleasedDataError (a ValueError naming file, line and field) is the one error line of run_main
    source = resolve_source(tp.released_dir, tp.released_revision)
    mapper = TaxonomyMapper(LazyEmbedder(lambda: MeanPoolEncoder(args.embedder, progress="released: embedding")),
                            params.labels.similarity_threshold)
    record = export_release(source, args.out, mapper, params.labels.threshold,
                            progress=lambda msg: print(f"released: {msg}"))
    write_json(args.metrics, record)
    for variant, v in record["variants"].items():
        total = v["mapping_total"]
        print(f"released {variant}: {v['sizes']['train']} train / {v['sizes']['dev']} dev / {v['sizes']['test']} "
              f"test; {total['out_of_taxonomy_words']} of {total['emotion_words']} emotion words out of the "
              f"taxonomy ({100 * total['out_of_taxonomy_share']:.1f}%), {total['dropped_no_taxonomy_emotion']} "
              f"lines without a class left out -> {args.out}/{variant}")
    if source.kind == "hub":
        print(f"released: {source.repo_id} at {source.revision or 'main'} = commit {source.resolved_commit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
