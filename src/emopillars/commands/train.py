"""``emopillars train``: fine-tune an Emo Pillars model on a folder of train/dev/test.jsonl, or on the released data.

``--released`` reads ``--data`` as the released Emo Pillars data (a folder, or the hub id
``alex-shvets/EmoPillars`` at ``--revision``), maps its emotion words onto the 28 classes as the released
stage does and trains on the chosen variant.
"""

from __future__ import annotations

import argparse

from emopillars.errors import require_writable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="folder with train.jsonl, dev.jsonl, test.jsonl; with --released "
                                                "the released data's folder or hub id")
    p.add_argument("--released", action="store_true", help="--data is the released Emo Pillars data (either layout)")
    p.add_argument("--revision", help="hub revision of --data with --released (default: main)")
    p.add_argument("--embedder", default="models/embedder",
                   help="sentence embedder for mapping words with --released (default: the packaged MiniLM)")
    p.add_argument("--variant", choices=("contextless", "contextual"), default="contextless")
    p.add_argument("--out", required=True, help="folder of the exported model")
    p.add_argument("--params", default="params.yaml", help="params file (sections train and evaluate)")
    p.add_argument("--encoder", default="models/encoder", help="base encoder folder (default: the packaged MiniLM)")
    p.add_argument("--metrics", help="write the metrics record here (JSON)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a train param, e.g. --set epochs=1")


def run(args: argparse.Namespace) -> int:
    require_writable(args.out, args.metrics)  # before torch is even imported
    import yaml

    from emopillars.config import load_params
    from emopillars.train.emopillars import train_emopillars
    from emopillars.train.encoder import resolve_encoder

    params = load_params(args.params)
    tp = params.train
    if args.set:
        raw = tp.model_dump()
        for kv in args.set:
            key, sep, value = kv.partition("=")
            if not sep or key not in raw:
                raise ValueError(f"--set {kv!r}: expected KEY=VALUE with KEY one of {', '.join(raw)}")
            raw[key] = yaml.safe_load(value)
        tp = type(tp).model_validate(raw)
    if not args.released:
        record, _ = train_emopillars(args.variant, args.data, resolve_encoder(args.encoder), tp, params.evaluate,
                                     args.out)
    else:
        import tempfile

        from emopillars.data.released import LazyEmbedder, export_release, resolve_source
        from emopillars.synth.embed import MeanPoolEncoder
        from emopillars.synth.lexicon import TaxonomyMapper

        source = resolve_source(args.data, args.revision)
        mapper = TaxonomyMapper(LazyEmbedder(lambda: MeanPoolEncoder(args.embedder)),
                                params.labels.similarity_threshold)
        tp = tp.replace(source="released", released_dir=args.data, released_revision=args.revision)
        with tempfile.TemporaryDirectory(prefix="emopillars-released-") as tmp:
            release = export_release(source, f"{tmp}/released", mapper, params.labels.threshold)
            total = release["variants"][args.variant]["mapping_total"]
            print(f"emopillars train: {total['out_of_taxonomy_words']} of {total['emotion_words']} emotion words "
                  f"out of the taxonomy; {total['dropped_no_taxonomy_emotion']} lines without a class left out")
            label = (f"{source.repo_id}@{source.resolved_commit}" if source.kind == "hub" else str(source.folder))
            record, _ = train_emopillars(args.variant, f"{tmp}/released/{args.variant}", resolve_encoder(args.encoder),
                                         tp, params.evaluate, args.out, data_label=f"{label}/{args.variant}")
        record = record.model_copy(update={"source": "released"})
    if args.metrics:
        record.write(args.metrics)
    m = record.metrics["macro_f1"]
    print(f"emopillars train: {record.n_train} examples; test macro-F1 {m.value:.3f} "
          f"[{m.ci_low:.3f}, {m.ci_high:.3f}] -> {args.out}")
    return 0
