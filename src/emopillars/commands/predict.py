"""``emopillars predict``: per-label scores and predicted labels from an exported model."""

from __future__ import annotations

import argparse
import sys

from emopillars.errors import positive_int, require_writable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="exported model folder (e.g. models/emopillars/contextless)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", action="append", help="a text to classify (repeat for several)")
    src.add_argument("--input", help="CSV/TSV (header row) or JSONL file with a text column")
    p.add_argument("--text-column", default="text", help="column or key holding the text (default: text)")
    p.add_argument("--context", help="what precedes the text (contextual models)")
    p.add_argument("--character", help="who speaks, optionally 'Name: description' (contextual models)")
    p.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default: json lines)")
    p.add_argument("--output", help="output file (default: stdout)")
    p.add_argument("--threshold", type=float, help="one global threshold instead of the model's tuned ones")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--max-length", type=positive_int,
                   help="tokens per input (default: 128, or the model's positions if fewer)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from emopillars.train.predict import (Input, Predictor, check_positive, check_threshold, max_positions,
                                         read_inputs, write_predictions)

    check_threshold(args.threshold)
    check_positive("--batch-size", args.batch_size)
    if args.max_length is not None:
        check_positive("--max-length", args.max_length)
    if args.text is not None:
        for t in args.text:
            if not t.strip():
                raise ValueError("--text: empty text")
        name, _, desc = (args.character or "").partition(":")
        inputs = [Input(t, args.context, name.strip() or None, desc.strip() or None, str(i))
                  for i, t in enumerate(args.text, 1)]
    else:
        inputs = read_inputs(args.input, args.text_column)  # an empty or header-only file is an error there
    positions = max_positions(args.model)
    if positions is not None and args.max_length is not None and args.max_length > positions:
        raise ValueError(f"--max-length {args.max_length}: the model in {args.model} reads at most {positions} "
                         f"tokens; give --max-length {positions} or less")
    require_writable(args.output)
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the weight-loading bar
    predictor = Predictor(args.model, args.threshold, args.device, args.max_length)
    if predictor.rule_warning:
        print(f"emopillars predict: warning: {args.model}'s decision rule is loose ({predictor.rule_warning}); "
              "--threshold sets another", file=sys.stderr)
    if (args.context or args.character) and not predictor.contextual:
        print("emopillars predict: note: this model is context-less; --context/--character are ignored", file=sys.stderr)
    rows = predictor.predict(inputs, args.batch_size, progress=not args.quiet)
    text = write_predictions(rows, args.output, args.format, predictor.labels)
    if not args.output:
        sys.stdout.write(text)
    else:
        print(f"emopillars predict: {len(rows)} predictions -> {args.output}", file=sys.stderr)
    return 0

