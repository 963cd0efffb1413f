"""Transfer to emotion benchmarks: fine-tune each initialisation on a fraction of a benchmark.

Protocol per benchmark (stated in every metrics file):

* GoEmotions: official splits, 28 labels, multi-label; macro-F1 (also micro and
  per class); thresholds tuned on dev.
* ISEAR: fixed stratified 80/10/10 split (seeded, by the reader); 7 labels,
  single-label; macro-F1 and accuracy.
* MELD: official splits, 7 labels, single-label, the previous dialogue turns as
  context (second input segment); weighted-F1.
* IEMOCAP (user-supplied): 4-class protocol of the reader (sessions 1-4 train,
  5 test); weighted-F1.
* EmoContext (user-supplied): official splits; micro-F1 over happy, sad, angry.

Training pools are the train split, capped at ``max_train_examples`` by a
seeded sample; a fraction ``f`` trains on the first ``max(min_train_examples,
round(f * pool))`` examples of one seeded permutation of the pool, so smaller
fractions are subsets of larger ones. Dev and test are capped at
``max_eval_examples`` the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from emopillars.data.label_maps import BENCHMARK_LABELS, MULTI_LABEL, primary_class, project_scores
from emopillars.eval.evaluate import decide, evaluate_scores
from emopillars.taxonomy import EMOTIONS
from emopillars.train.data import Encoded, record_examples
from emopillars.train.modeling import build_classifier, load_classifier, replace_head
from emopillars.train.trainer import TrainConfig, predict_probs, train_classifier

PRIMARY_METRIC = {"goemotions": "macro_f1", "isear": "macro_f1", "meld": "weighted_f1", "iemocap": "weighted_f1",
                  "emocontext": "emocontext_micro_f1"}
CONTEXT_BENCHMARKS = frozenset({"meld", "iemocap", "emocontext"})
PROTOCOL = {
    "goemotions": "official train/dev/test; 28 labels, multi-label; macro-F1; thresholds tuned on dev only",
    "isear": "fixed stratified 80/10/10 split (seeded); 7 labels, single-label (arg-max); macro-F1 and accuracy",
    "meld": "official train/dev/test; 7 labels, single-label (arg-max); previous dialogue turns as context; weighted-F1",
    "iemocap": "4-class (ang, hap+exc, neu, sad); sessions 1-4 train (dev: seeded 10%), session 5 test; weighted-F1",
    "emocontext": "official train/dev/test; 4 labels, single-label; micro-F1 over happy, sad and angry",
}


def seeded_subset(items: list, n: Optional[int], seed: int) -> list:
    """``n`` items by a seeded permutation (all when ``n`` is None or large enough); order kept stable."""
    if n is None or n >= len(items):
        return list(items)
    rng = np.random.default_rng(seed)
    return [items[i] for i in sorted(rng.permutation(len(items))[:n])]


def fraction_sizes(pool: int, fractions: Sequence[float], min_examples: int) -> dict[float, int]:
    return {f: min(pool, max(min_examples, int(round(f * pool)))) for f in fractions}


@dataclass
class Head:
    """What the model outputs during transfer and how its scores are read on the benchmark."""

    benchmark: str
    kind: str  # "benchmark" | "taxonomy28"

    @property
    def bench_labels(self) -> list[str]:
        return list(BENCHMARK_LABELS[self.benchmark])

    @property
    def multi_label(self) -> bool:
        return self.benchmark in MULTI_LABEL

    @property
    def model_labels(self) -> list[str]:
        return list(EMOTIONS) if self.kind == "taxonomy28" else self.bench_labels

    def label_of(self):
        if self.kind == "taxonomy28" and self.benchmark != "goemotions":
            return lambda label: primary_class(self.benchmark, label)
        return None

    def to_bench_scores(self, probs: np.ndarray) -> np.ndarray:
        if self.kind == "taxonomy28" and self.benchmark != "goemotions":
            return project_scores(probs, self.benchmark)
        return probs


def gold(records, head: Head):
    """Gold labels in the benchmark's label space: indicator matrix or class ids."""
    labels = head.bench_labels
    index = {l: i for i, l in enumerate(labels)}
    if head.multi_label:
        out = np.zeros((len(records), len(labels)), dtype=bool)
        for i, r in enumerate(records):
            out[i, [index[l] for l in r.labels]] = True
        return out
    return np.array([index[r.labels[0]] for r in records])


def init_model(init: str, init_dir: Optional[Path], encoder_dir: Path, head: Head, pooling: str):
    """The model to fine-tune and whether its head is new: the base encoder, or an Emo Pillars model.

    An Emo Pillars model keeps its 28-way head when the benchmark is read
    through the taxonomy (or is GoEmotions itself); otherwise it gets a new one.
    """
    if init == "base" or init_dir is None:
        return build_classifier(encoder_dir, head.model_labels, pooling, head.multi_label), True
    model = load_classifier(init_dir)
    fresh = model.labels != head.model_labels
    if fresh:
        model = replace_head(model, head.model_labels, head.multi_label)
    model.multi_label = head.multi_label
    return model, fresh


def run_benchmark(benchmark: str, splits, inits: dict[str, Optional[Path]], encoder_dir: Path, tp, ep,
                  pooling: str = "mean", progress: bool = True, log=print) -> list[tuple[str, dict, list[dict]]]:
    """Every init x fraction on one benchmark: ``[(run name, metrics record, prediction rows)]``.

    ``inits`` maps an init name to its model folder (None for the base
    encoder); the base runs first so the others get a paired test against it.
    """
    from transformers import AutoTokenizer

    head = Head(benchmark, tp.head)
    use_context = benchmark in CONTEXT_BENCHMARKS
    pool = seeded_subset(splits["train"], tp.max_train_examples, tp.seed)
    dev_recs = seeded_subset(splits["dev"], tp.max_eval_examples, tp.seed)
    test_recs = seeded_subset(splits["test"], tp.max_eval_examples, tp.seed)
    order = np.random.default_rng(tp.seed + 1).permutation(len(pool))
    pool = [pool[i] for i in order]
    label_of = head.label_of()
    where = f"{benchmark}"
    pool_ex = record_examples(pool, head.model_labels, label_of, use_context, where)
    dev_ex = record_examples(dev_recs, head.model_labels, label_of, use_context, where)
    test_ex = record_examples(test_recs, head.model_labels, label_of, use_context, where)
    dev_gold, test_gold = gold(dev_recs, head), gold(test_recs, head)
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    test_enc = Encoded(tokenizer, test_ex, tp.max_length)
    sizes = fraction_sizes(len(pool_ex), tp.fractions, tp.min_train_examples)
    names = sorted(inits, key=lambda n: n != "base")
    base_pred: dict[float, np.ndarray] = {}
    out = []
    for fraction in sorted(tp.fractions):
        n = sizes[fraction]
        train = pool_ex[:n]
        # Tiny fractions still get a minimum number of optimiser steps.
        epochs = max(tp.epochs, tp.min_steps / math.ceil(n / tp.batch_size))
        for init in names:
            model, fresh_head = init_model(init, inits[init], encoder_dir, head, pooling)
            cfg = TrainConfig.from_params(tp, epochs=epochs, progress=progress, prior_bias_init=fresh_head)
            result = train_classifier(model, tokenizer, train, dev_ex, cfg,
                                      select_metric="macro_f1")
            dev_scores = head.to_bench_scores(result.best_dev_probs)
            test_scores = head.to_bench_scores(predict_probs(model, test_enc, mixed_precision=tp.mixed_precision))
            rule = decide(dev_scores, dev_gold if head.multi_label else None, head.multi_label, ep.threshold_mode)
            rec = evaluate_scores(test_scores, test_gold, head.bench_labels, head.multi_label, rule,
                                  PRIMARY_METRIC[benchmark], ep.bootstrap_samples, ep.confidence, ep.seed,
                                  baseline_pred=base_pred.get(fraction) if init != "base" else None)
            pred = rec.pop("predictions")
            if init == "base":
                base_pred[fraction] = pred
            name = f"{init}__frac{fraction}"
            record = {"benchmark": benchmark, "init": init, "fraction": fraction, "n_train": n, "n_dev": len(dev_ex),
                      "head": tp.head, "protocol": PROTOCOL[benchmark] + f"; training pool {len(pool_ex)} "
                      f"(cap {tp.max_train_examples}), eval cap {tp.max_eval_examples}; {epochs:g} epochs; "
                      "checkpoint chosen on dev; 95% percentile bootstrap; paired bootstrap test against the base "
                      "encoder at the same fraction",
                      "train_seconds": round(result.seconds, 2), "best_dev": result.best_dev, **rec}
            rows = []
            for i, r in enumerate(test_recs):
                p = pred[i]
                labels_pred = ([head.bench_labels[j] for j in np.flatnonzero(p)] if head.multi_label
                               else [head.bench_labels[int(p)]])
                rows.append({"id": r.id, "gold": list(r.labels), "pred": labels_pred,
                             "scores": [round(float(x), 5) for x in test_scores[i]]})
            pm = rec["metrics"][PRIMARY_METRIC[benchmark]]
            log(f"transfer {benchmark} {name}: n_train {n}, {PRIMARY_METRIC[benchmark]} {pm['value']:.3f} "
                f"[{pm['ci_low']:.3f}, {pm['ci_high']:.3f}]")
            out.append((name, record, rows))
    return out


def zero_shot(benchmark: str, splits, model_dir: Path, ep, max_eval_examples: Optional[int], seed: int,
              max_length: int = 64, use_context: Optional[bool] = None) -> tuple[dict, list[dict]]:
    """An Emo Pillars model read through the label mapping, with no benchmark training.

    Multi-label benchmarks (GoEmotions) use the model's own thresholds (tuned on
    its synthetic dev split); single-label ones take the arg-max of the
    projected scores.
    """
    from transformers import AutoTokenizer

    from emopillars.train.export import load_thresholds

    head = Head(benchmark, "taxonomy28")
    use_context = benchmark in CONTEXT_BENCHMARKS if use_context is None else use_context
    test_recs = seeded_subset(splits["test"], max_eval_examples, seed)
    model = load_classifier(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    ex = record_examples(test_recs, list(EMOTIONS), head.label_of(), use_context, benchmark)
    probs = predict_probs(model, Encoded(tokenizer, ex, max_length))
    scores = head.to_bench_scores(probs)
    if head.multi_label:
        own = load_thresholds(model_dir)
        rule = {"kind": own.get("kind", "global"), "global": own.get("global", 0.5), "per_class": own.get("per_class"),
                "tuned_on": "the model's synthetic dev split (no benchmark data)"}
    else:
        rule = {"kind": "argmax"}
    test_gold = gold(test_recs, head)
    rec = evaluate_scores(scores, test_gold, head.bench_labels, head.multi_label, rule, PRIMARY_METRIC[benchmark],
                          ep.bootstrap_samples, ep.confidence, ep.seed)
    pred = rec.pop("predictions")
    rows = [{"id": r.id, "gold": list(r.labels),
             "pred": ([head.bench_labels[j] for j in np.flatnonzero(pred[i])] if head.multi_label
                      else [head.bench_labels[int(pred[i])]])} for i, r in enumerate(test_recs)]
    return rec, rows
