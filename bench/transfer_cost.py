"""Cost of every transfer cell (benchmark x fraction x initialisation) under the full-split protocol, on this CPU.

    python bench/transfer_cost.py --out bench/results/transfer_cost.json

For each benchmark the transfer stage's own pieces are timed on its real data (read as the stage reads it):
training examples per second (``train_classifier`` with the transfer params, on a seeded sample of the train
split) and scoring examples per second (``predict_probs`` on a sample of the dev split). A cell's time is then
what the stage does in it, per initialisation: ``epochs x n_train`` examples of training, the dev set scored at
every evaluation the schedule makes (``trainer.dev_evaluations``), and the test set scored once. Every
initialisation has the same encoder, so the three cost the same. Sizes are the full splits (or the profile's
caps, ``--profile``). Under load the process gets less than its cores; the rates per CPU-second are recorded too
and ``2 x`` them is the idle two-core estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def timed_rates(bench: str, splits, encoder, tp, pooling: str, n_train: int, n_eval: int) -> dict:
    from transformers import AutoTokenizer

    from emopillars.eval.evaluate import seeded_subset
    from emopillars.train.data import Encoded, record_examples
    from emopillars.train.modeling import build_classifier
    from emopillars.train.trainer import TrainConfig, predict_probs, train_classifier
    from emopillars.train.transfer import Head

    head = Head(bench, tp.head)
    use_context = head.definition.context
    ex = lambda recs: record_examples(recs, head.model_labels, head.label_of(), use_context, bench)  # noqa: E731
    train = ex(seeded_subset(splits["train"], n_train, tp.seed))
    dev = ex(seeded_subset(splits["dev"], n_eval, tp.seed))
    tok = AutoTokenizer.from_pretrained(str(encoder))
    model = build_classifier(encoder, head.model_labels, pooling, head.multi_label)
    cfg = TrainConfig.from_params(tp, epochs=1, max_evals=1, evals_per_epoch=1, progress=False)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train_classifier(model, tok, train, dev[:32], cfg)
    train_share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    enc = Encoded(tok, dev, tp.max_length)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    predict_probs(model, enc, mixed_precision=tp.mixed_precision)
    wall = time.perf_counter() - wall0
    predict_share = (time.process_time() - cpu0) / wall
    return {"train_examples_per_s": round(result.train_samples_per_s, 2),
            "train_cores_used": round(train_share, 2),
            "predict_examples_per_s": round(len(dev) / wall, 2),
            "predict_cores_used": round(predict_share, 2),
            "mean_tokens_per_example": round(sum(map(len, enc.input_ids)) / len(enc), 1)}


def cell_seconds(n_train: int, n_dev: int, n_test: int, rates: dict, tp) -> dict:
    from emopillars.train.trainer import TrainConfig, dev_evaluations
    from emopillars.train.transfer import run_epochs

    epochs = run_epochs(n_train, tp)
    cfg = TrainConfig.from_params(tp, epochs=epochs)
    evals = dev_evaluations(n_train, cfg)
    train_s = epochs * n_train / rates["train_examples_per_s"]
    score_s = (evals * n_dev + n_test) / rates["predict_examples_per_s"]
    return {"n_train": n_train, "epochs": round(epochs, 2), "dev_evaluations": evals,
            "train_s": round(train_s), "scoring_s": round(score_s), "seconds_per_init": round(train_s + score_s)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/transfer_cost.json")
    ap.add_argument("--profile", default="default", help="params of this profile (its recipe and caps)")
    ap.add_argument("--raw-dir", default=os.environ.get("EMOPILLARS_DATA_MIRROR", "data/raw"))
    ap.add_argument("--encoder", default="models/encoder")
    ap.add_argument("--train-sample", type=int, default=256)
    ap.add_argument("--eval-sample", type=int, default=512)
    ap.add_argument("--fractions", type=float, nargs="*", default=[0.01, 0.1, 1.0])
    args = ap.parse_args(argv)

    import torch

    from emopillars import benchmarks
    from emopillars.config import defaults
    from emopillars.eval.evaluate import seeded_subset
    from emopillars.io import write_json
    from emopillars.train.encoder import resolve_encoder
    from emopillars.train.transfer import fraction_sizes

    params = defaults(args.profile)
    tp = params.transfer
    encoder = resolve_encoder(args.encoder)
    load_start = os.getloadavg()
    rows, rates = [], {}
    for bench in tp.benchmarks:
        splits, reason = benchmarks.read_splits(bench, params, args.raw_dir)
        if splits is None:
            print(f"{bench}: skipped ({reason.split('. ')[0]})")
            continue
        rates[bench] = r = timed_rates(bench, splits, encoder, tp, params.train.pooling, args.train_sample,
                                       args.eval_sample)
        pool = len(seeded_subset(splits["train"], tp.max_train_examples, tp.seed))
        n_dev = len(seeded_subset(splits["dev"], tp.max_eval_examples, tp.seed))
        n_test = len(seeded_subset(splits["test"], tp.max_eval_examples, tp.seed))
        idle = {k: 2 * r[k] / max(r[c], 1e-6) for k, c in (("train_examples_per_s", "train_cores_used"),
                                                             ("predict_examples_per_s", "predict_cores_used"))}
        for fraction, n in fraction_sizes(pool, args.fractions, tp.min_train_examples).items():
            cell = cell_seconds(n, n_dev, n_test, r, tp)
            idle_cell = cell_seconds(n, n_dev, n_test, idle, tp)
            rows.append({"benchmark": bench, "fraction": fraction, "n_dev": n_dev, "n_test": n_test, **cell,
                         "minutes_all_inits": round(cell["seconds_per_init"] * len(tp.inits) / 60, 1),
                         "idle_two_core_minutes_all_inits":
                             round(idle_cell["seconds_per_init"] * len(tp.inits) / 60, 1)})
            print(json.dumps(rows[-1]))
    result = {
        "benchmark": "transfer_cost",
        "what": "time of every transfer cell (all initialisations) under the profile's protocol, from measured "
                "training and scoring rates on each benchmark's real data",
        "command": " ".join(["python", "bench/transfer_cost.py", *(argv if argv is not None else sys.argv[1:])]),
        "profile": args.profile,
        "encoder": str(encoder),
        "recipe": {k: getattr(tp, k) for k in ("epochs", "batch_size", "max_length", "evals_per_epoch", "max_evals",
                                               "min_steps", "mixed_precision", "max_train_examples",
                                               "max_eval_examples")},
        "inits": list(tp.inits),
        "rates": rates,
        "cells": rows,
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "note": "the machine is shared: cores_used under 2 means other jobs took the rest; the idle_two_core "
                "figures scale the rates to both cores",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
