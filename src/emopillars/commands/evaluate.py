"""``emopillars evaluate``: any sequence classifier on a benchmark's test split, with the benchmark's protocol.

The same evaluation as the ``peers`` stage (:func:`emopillars.eval.peers.evaluate_peer`): a summary on
stdout, the typed record with ``--out``. Bad input, a hub model that cannot be had, or labels that cannot
be read on the benchmark stop with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a model folder, or a Hugging Face id (owner/name)")
    p.add_argument("--benchmark", required=True, help="a registered benchmark (goemotions, isear, meld, ...)")
    p.add_argument("--revision", help="hub commit, branch or tag to download (default: the default branch)")
    p.add_argument("--threshold", type=float, help="the model's own decision threshold (default: its exported "
                                                   "thresholds, else 0.5)")
    p.add_argument("--contextual", action="store_true", default=None,
                   help="give the model the benchmark's context (default: as its config says)")
    p.add_argument("--out", help="write the evaluation record (JSON) here")
    p.add_argument("--raw-dir", help="folder holding the benchmark folders (default: data.out_dir, data/raw)")
    p.add_argument("--params", default="params.yaml", help="params file (evaluate, data and peers sections; "
                                                           "default: params.yaml, else conf/ defaults)")
    p.add_argument("--max-examples", type=int, help="seeded sample of at most this many test (and dev) examples "
                                                    "(default: peers.max_eval_examples, null = all)")
    p.add_argument("--batch-size", type=int, help="default: peers.batch_size")
    p.add_argument("--max-length", type=int, help="tokens per input at most (default: peers.max_length)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda when there is one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from emopillars import benchmarks
    from emopillars.config import defaults, load_params
    from emopillars.eval.peers import PeerSpec, evaluate_peer, summary

    if args.benchmark not in benchmarks.names():
        raise ValueError(f"--benchmark: unknown benchmark {args.benchmark!r}; known: {', '.join(benchmarks.names())}")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise ValueError(f"--threshold: expected a number in [0, 1], got {args.threshold}")
    if args.max_examples is not None and args.max_examples < 1:
        raise ValueError(f"--max-examples: expected a positive number, got {args.max_examples}")
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    params = load_params(args.params) if Path(args.params).exists() or args.params != "params.yaml" else defaults()
    pp = params.peers
    spec = PeerSpec(name=Path(args.model.rstrip("/")).name, model=args.model, revision=args.revision,
                    threshold=args.threshold, threshold_from="--threshold", contextual=args.contextual,
                    contextual_from="--contextual")
    max_examples = args.max_examples if args.max_examples is not None else pp.max_eval_examples
    [(record, _)] = evaluate_peer(spec, [args.benchmark], lambda b: benchmarks.read_splits(b, params, args.raw_dir),
                                  params.evaluate, max_examples, params.transfer.seed,
                                  args.batch_size or pp.batch_size, args.max_length or pp.max_length, args.device,
                                  progress=not args.quiet)
    if args.out:
        record.write(args.out)
    if not record.available:
        print(f"emopillars evaluate: error: {args.model} on {args.benchmark}: {record.status.replace('_', ' ')}: "
              f"{record.reason}", file=sys.stderr)
        return 2
    print(summary(record))
    if args.out:
        print(f"record -> {args.out}")
    return 0
