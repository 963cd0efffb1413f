"""Transfer recipe choices judged in domain and out of domain together (this CPU, the real benchmarks).

    python bench/recipe_check.py --out bench/results/recipe_check.json [--cells goemotions:0.01 isear:0.1 meld:0.01]

The transfer defaults (a third epoch, the head at 10x the learning rate, the head's biases started at the
log-odds of each label's training prior, and on multi-label benchmarks one threshold per class tuned on dev)
are each judged here. A recipe tuned on one benchmark can lose on the others, so each choice is undone one at a time
and judged on every cell of ``--cells`` (``benchmark:fraction``): the base encoder fine-tuned by the transfer
stage's own code (``run_benchmark``, full dev and test splits, the profile's seed), its in-domain test score,
and the exported model scored by the cross-domain stage's code on every other benchmark's full test split, in
the Ekman groups that they share. The threshold rule is a variant only where a cell is multi-label.

Each row holds the in-domain primary metric and the out-of-domain macro-F1s with their 95% bootstrap
intervals, and the change against the defaults on the same cell. The table in the README is this file's.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# name -> (what it undoes, the transfer params it changes (from the defaults), prior-initialised biases)
VARIANTS = {
    "defaults": ("the transfer defaults", lambda tp: {}, True),
    "2 epochs": ("no third epoch", lambda tp: {"epochs": 2.0}, True),
    "head lr 1x": ("the head at the encoder's learning rate", lambda tp: {"head_lr_multiplier": 1.0}, True),
    "zero biases": ("the head's biases started at zero, not at the label priors", lambda tp: {}, False),
    "other threshold rule": ("the other threshold rule (global <-> per class), tuned on dev",
                             lambda tp: {"threshold_mode": "global" if tp.threshold_mode == "per_class"
                                         else "per_class"}, True),
}


class _NoPriorBias:
    """Stands in for ``TrainConfig`` inside ``run_benchmark``: the same config, biases started at zero."""

    def __init__(self, real):
        self.real = real

    def from_params(self, section, **run):
        return self.real.from_params(section, **{**run, "prior_bias_init": False})


def run_cell(source: str, fraction: float, variant: str, params, read_splits, encoder: Path, work: Path) -> dict:
    """One variant on one cell; ``read_splits(benchmark)`` gives ``(splits, reason)`` (read once per benchmark)."""
    from emopillars.data.label_maps import shared_groups
    from emopillars.eval.crossdomain import model_scores, score_crossdomain, uses_context
    from emopillars.eval.evaluate import transfer_test_set
    from emopillars.train import transfer as transfer_mod

    _, changes, prior = VARIANTS[variant]
    tp = params.transfer.replace(inits=["base"], fractions_by_benchmark={source: [fraction]}, n_seeds=1,
                                 keep_emopillars_head=False, num_processes=1, **changes(params.transfer))
    ep = params.evaluate
    splits, reason = read_splits(source)
    if splits is None:
        raise SystemExit(f"recipe_check: {source}: {reason}")
    out_dir = work / f"{source}-{variant.replace(' ', '_')}"
    exported = {}

    def export(cell, model, tokenizer, record, rule, head):
        transfer_mod.export_benchmark_model(out_dir, source, cell, model, tokenizer, record, rule, head,
                                            str(encoder), tp)
        exported["dir"] = out_dir

    real = transfer_mod.TrainConfig
    started = time.perf_counter()
    try:
        if not prior:
            transfer_mod.TrainConfig = _NoPriorBias(real)
        [(record, _)] = transfer_mod.run_benchmark(source, splits, {"base": None}, encoder, tp, ep,
                                                   pooling=params.train.pooling, progress=False,
                                                   log=lambda *_: None, export=export)
    finally:
        transfer_mod.TrainConfig = real
    train_s = time.perf_counter() - started
    pm = record.primary
    row = {"source": source, "fraction": fraction, "variant": variant, "undoes": VARIANTS[variant][0],
           "recipe": {"epochs": tp.epochs, "head_lr_multiplier": tp.head_lr_multiplier, "prior_bias_init": prior,
                      "threshold_mode": tp.threshold_mode},
           "n_train": record.n_train, "seconds": round(train_s, 1),
           "in_domain": {"metric": record.primary_metric, "value": pm.value, "ci": [pm.ci_low, pm.ci_high]},
           "out_of_domain": {}}
    for target in [b for b in tp.benchmarks if b != source and shared_groups(source, b)]:
        t_splits, reason = read_splits(target)
        if t_splits is None:
            continue
        test, test_set = transfer_test_set(t_splits["test"], tp.max_eval_examples, tp.seed)
        scores = model_scores(exported["dir"], source, test, tp.max_length, uses_context(source, target),
                              tp.mixed_precision)
        cd, _ = score_crossdomain(source, target, "base", "base", exported["dir"], scores, test, ep, test_set)
        row["out_of_domain"][target] = {"value": cd.primary.value, "ci": [cd.primary.ci_low, cd.primary.ci_high],
                                        "n_test": cd.n_test, "groups": len(cd.shared_groups)}
    ood = [v["value"] for v in row["out_of_domain"].values()]
    row["out_of_domain_mean"] = round(sum(ood) / len(ood), 4) if ood else None
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/recipe_check.json")
    ap.add_argument("--profile", default="default", help="params of this profile (its recipe, seed, benchmarks)")
    ap.add_argument("--raw-dir", default=os.environ.get("EMOPILLARS_DATA_MIRROR", "data/raw"))
    ap.add_argument("--encoder", default="models/encoder")
    ap.add_argument("--cells", nargs="+", default=["goemotions:0.01", "isear:0.1", "meld:0.01"],
                    help="benchmark:fraction ...")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args(argv)

    from emopillars import benchmarks
    from emopillars.config import defaults
    from emopillars.io import write_json
    from emopillars.train.encoder import resolve_encoder

    params = defaults(args.profile)
    encoder = resolve_encoder(args.encoder)
    cells = []
    for cell in args.cells:
        name, _, frac = cell.partition(":")
        if name not in params.transfer.benchmarks or not frac:
            print(f"recipe_check: --cells {cell!r}: expected benchmark:fraction with a benchmark of "
                  f"transfer.benchmarks ({', '.join(params.transfer.benchmarks)})", file=sys.stderr)
            return 2
        cells.append((name, float(frac)))
    read_splits = functools.cache(lambda name: benchmarks.read_splits(name, params, args.raw_dir))
    rows, load_start = [], os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for source, fraction in cells:
            for variant in args.variants:
                if variant == "other threshold rule" and not benchmarks.get(source).multi_label:
                    continue  # single-label: the arg-max, no threshold to tune
                rows.append(run_cell(source, fraction, variant, params, read_splits, encoder, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
    by_cell = {(r["source"], r["fraction"]): r for r in rows if r["variant"] == "defaults"}
    for r in rows:
        ref = by_cell.get((r["source"], r["fraction"]))
        if ref and r is not ref:
            r["in_domain_delta"] = round(r["in_domain"]["value"] - ref["in_domain"]["value"], 4)
            if r["out_of_domain_mean"] is not None and ref["out_of_domain_mean"] is not None:
                r["out_of_domain_mean_delta"] = round(r["out_of_domain_mean"] - ref["out_of_domain_mean"], 4)
    result = {"benchmark": "recipe_check",
              "what": "each transfer default undone in turn, judged in domain and out of domain (base encoder, "
                      "full dev and test splits, one seed)",
              "command": " ".join(["python", "bench/recipe_check.py", *(argv if argv is not None else sys.argv[1:])]),
              "profile": args.profile, "encoder": str(encoder), "seed": params.transfer.seed, "rows": rows,
              "load_average_at_start": load_start, "load_average_at_end": os.getloadavg(),
              "note": "one training seed per row: a difference inside the intervals is not a finding"}
    write_json(Path(args.out), result)
    print(f"recipe_check: {len(rows)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
