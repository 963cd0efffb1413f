"""Benchmark of the training code and of ``predict`` on the default encoder (CPU).

    python bench/train.py --out bench/results/train.json

- training overhead: samples/s through ``train_classifier`` (tokenised once,
  batches padded to their longest row, dev evaluation switched off by a dev
  set of one example) divided by samples/s of a bare PyTorch loop (forward,
  BCE, backward, AdamW step) on the same model class, the same batches (same
  padded tensors) and the same sequence lengths. Both are timed after a warm-up
  in the same process, alternating, and the best of ``--repeats`` is kept;
- predict throughput: sentences/s of ``Predictor.predict`` (an exported model
  loaded with ``AutoModelForSequenceClassification``, thresholds applied).

Texts are GoEmotions training comments (from the mirror) so lengths are real.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def bare_loop(model, batches, targets, lr: float) -> float:
    """Seconds for one pass of a plain loop over ``batches``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    t = time.perf_counter()
    for inputs, y in zip(batches, targets):
        logits = model(**inputs)
        loss = loss_fn(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/train.json")
    ap.add_argument("--encoder", default="models/encoder")
    ap.add_argument("--data", default=None, help="GoEmotions folder (default: $EMOPILLARS_DATA_MIRROR/goemotions)")
    ap.add_argument("--examples", type=int, default=320)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--predict-examples", type=int, default=500)
    args = ap.parse_args(argv)

    from transformers import AutoTokenizer

    from emopillars.data.readers import read_benchmark
    from emopillars.taxonomy import EMOTIONS
    from emopillars.train.data import Encoded, record_examples
    from emopillars.train.encoder import resolve_encoder
    from emopillars.train.export import save_classifier
    from emopillars.train.modeling import build_classifier
    from emopillars.train.predict import Input, Predictor
    from emopillars.train.trainer import TrainConfig, train_classifier

    data = Path(args.data or Path(os.environ.get("EMOPILLARS_DATA_MIRROR", ROOT.parent / "shared" / "data")) / "goemotions")
    splits = read_benchmark("goemotions", data)
    labels = list(EMOTIONS)
    train = record_examples(splits["train"][:args.examples], labels)
    dev = record_examples(splits["dev"][:1], labels)
    encoder = resolve_encoder(args.encoder)
    tok = AutoTokenizer.from_pretrained(str(encoder))
    torch.manual_seed(0)

    # The same batches for both loops: the trainer's own order (seeded permutation) and padding.
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size, max_length=args.max_length, warmup_ratio=0.0,
                      evals_per_epoch=1, progress=False, prior_bias_init=False)
    enc = Encoded(tok, train, args.max_length)
    order = np.random.default_rng(cfg.seed).permutation(len(enc))
    batches, targets = [], []
    for s in range(0, len(order), args.batch_size):
        inputs, y = enc.batch(order[s:s + args.batch_size])
        batches.append(inputs)
        targets.append(y)

    ours, bare = [], []
    warm = build_classifier(encoder, labels, "mean")
    bare_loop(warm, batches[:2], targets[:2], 1e-4)  # warm-up (allocator, kernels)
    for _ in range(args.repeats):
        model = build_classifier(encoder, labels, "mean")
        bare.append(len(train) / bare_loop(model, batches, targets, 1e-4))
        model = build_classifier(encoder, labels, "mean")
        result = train_classifier(model, tok, train, dev, cfg)
        ours.append(result.train_samples_per_s)
    ratio = max(ours) / max(bare)

    # predict throughput through an exported folder
    with tempfile.TemporaryDirectory() as tmp:
        save_classifier(model, tok, Path(tmp) / "m", labels, {"kind": "global", "global": 0.3, "per_class": None},
                        {"variant": "contextless"}, "# bench\n")
        predictor = Predictor(Path(tmp) / "m", max_length=args.max_length)
        texts = [Input(r.text, id=r.id) for r in splits["test"][:args.predict_examples]]
        predictor.predict(texts[:64], progress=False)
        t = time.perf_counter()
        predictor.predict(texts, batch_size=64, progress=False)
        predict_sps = len(texts) / (time.perf_counter() - t)

    result = {
        "benchmark": "train",
        "what": "training samples/s of emopillars' train_classifier vs a bare PyTorch loop on the same model "
                "(MeanPoolClassifier over all-MiniLM-L6-v2), same batches and lengths; predict sentences/s",
        "command": "python bench/train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "examples": len(train), "batch_size": args.batch_size, "max_length": args.max_length,
        "mean_tokens_per_example": float(np.mean([len(x) for x in enc.input_ids])),
        "train_samples_per_s": {"emopillars": [round(x, 2) for x in ours], "bare_loop": [round(x, 2) for x in bare]},
        "train_ratio": round(ratio, 3),
        "target_ratio": 0.90,
        "predict_sentences_per_s": round(predict_sps, 1),
        "predict_examples": len(texts),
        "torch_threads": torch.get_num_threads(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "load_average_at_end": os.getloadavg()},
        "note": "the machine is shared: a load average above the CPU count means other jobs ran at the same time",
    }
    from emopillars.io import write_json

    write_json(args.out, result)
    print(f"bench train: ratio {ratio:.3f} (ours {max(ours):.1f} vs bare {max(bare):.1f} samples/s); "
          f"predict {predict_sps:.1f} sentences/s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
