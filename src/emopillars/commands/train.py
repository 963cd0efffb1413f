"""``emopillars train``: fine-tune an Emo Pillars model on a folder of train/dev/test.jsonl (e.g. the released data)."""

from __future__ import annotations

import argparse

from emopillars.errors import require_writable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="folder with train.jsonl, dev.jsonl, test.jsonl")
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
    record, _ = train_emopillars(args.variant, args.data, resolve_encoder(args.encoder), tp, params.evaluate, args.out)
    if args.metrics:
        record.write(args.metrics)
    m = record.metrics["macro_f1"]
    print(f"emopillars train: {record.n_train} examples; test macro-F1 {m.value:.3f} "
          f"[{m.ci_low:.3f}, {m.ci_high:.3f}] -> {args.out}")
    return 0
