"""Transfer to emotion benchmarks: fine-tune each initialisation on a fraction of a benchmark.

Each benchmark's label set, metric, context use and protocol (stated in every
metrics file) come from its definition in :mod:`emopillars.benchmarks`.

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

from emopillars import benchmarks
from emopillars.contracts.evaluation import EvaluationRecord, RunIdentity
from emopillars.data.label_maps import primary_class, project_scores
from emopillars.eval.evaluate import (decide, evaluate_scores, evaluation_record, gold_labels, prediction_rows,
                                      seeded_subset)
from emopillars.taxonomy import EMOTIONS
from emopillars.train.data import Encoded, record_examples
from emopillars.train.modeling import build_classifier, load_classifier, replace_head
from emopillars.train.trainer import TrainConfig, predict_probs, train_classifier

ZERO_SHOT_PROTOCOL = ("zero-shot: the Emo Pillars model's 28 scores projected to the benchmark's labels (max over "
                      "each label's mapped classes, emopillars.data.label_maps); no benchmark training; test set as "
                      "in transfer: ")


def system_name(init: str) -> str:
    """What an initialisation is, as the evaluation records name it."""
    return "base encoder" if init == "base" else f"emopillars-{init}"


def fraction_sizes(pool: int, fractions: Sequence[float], min_examples: int) -> dict[float, int]:
    return {f: min(pool, max(min_examples, int(round(f * pool)))) for f in fractions}


@dataclass
class Head:
    """What the model outputs during transfer and how its scores are read on the benchmark."""

    benchmark: str
    kind: str  # "benchmark" | "taxonomy28"

    @property
    def definition(self) -> benchmarks.Benchmark:
        return benchmarks.get(self.benchmark)

    @property
    def bench_labels(self) -> list[str]:
        return list(self.definition.labels)

    @property
    def multi_label(self) -> bool:
        return self.definition.multi_label

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
    return gold_labels(records, head.bench_labels, head.multi_label)


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
                  pooling: str = "mean", progress: bool = True, log=print) -> list[tuple[EvaluationRecord, list[dict]]]:
    """Every init x fraction on one benchmark: ``[(metrics record, prediction rows)]``.

    ``inits`` maps an init name to its model folder (None for the base
    encoder); the base runs first so the others get a paired test against it.
    """
    from transformers import AutoTokenizer

    head = Head(benchmark, tp.head)
    bench = head.definition
    use_context = bench.context
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
                                  bench.primary_metric, ep.bootstrap_samples, ep.confidence, ep.seed,
                                  baseline_pred=base_pred.get(fraction) if init != "base" else None)
            pred = rec.pop("predictions")
            if init == "base":
                base_pred[fraction] = pred
            run = RunIdentity(kind="transfer", benchmark=benchmark, init=init, fraction=fraction, head=tp.head)
            record = evaluation_record(
                run, system_name(init), bench.protocol + f"; training pool {len(pool_ex)} "
                f"(cap {tp.max_train_examples}), eval cap {tp.max_eval_examples}; {epochs:g} epochs; "
                "checkpoint chosen on dev; 95% percentile bootstrap; paired bootstrap test against the base "
                "encoder at the same fraction", rec, n, n_dev=len(dev_ex), train_seconds=round(result.seconds, 2),
                best_dev=result.best_dev)
            rows = prediction_rows(test_recs, head.bench_labels, pred, scores=test_scores)
            pm = record.primary
            log(f"transfer {benchmark} {run.run_name}: n_train {n}, {bench.primary_metric} {pm.value:.3f} "
                f"[{pm.ci_low:.3f}, {pm.ci_high:.3f}]")
            out.append((record, rows))
    return out


def zero_shot(benchmark: str, splits, model_dir: Path, init: str, ep, max_eval_examples: Optional[int], seed: int,
              max_length: int = 64, use_context: Optional[bool] = None) -> tuple[EvaluationRecord, list[dict]]:
    """An Emo Pillars model (initialisation ``init``) read through the label mapping, with no benchmark training.

    Multi-label benchmarks (GoEmotions) use the model's own thresholds (tuned on
    its synthetic dev split); single-label ones take the arg-max of the
    projected scores.
    """
    from transformers import AutoTokenizer

    from emopillars.train.export import load_thresholds

    head = Head(benchmark, "taxonomy28")
    bench = head.definition
    use_context = bench.context if use_context is None else use_context
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
    rec = evaluate_scores(scores, test_gold, head.bench_labels, head.multi_label, rule, bench.primary_metric,
                          ep.bootstrap_samples, ep.confidence, ep.seed)
    pred = rec.pop("predictions")
    run = RunIdentity(kind="zeroshot", benchmark=benchmark, init=init, fraction=0.0, head="taxonomy28")
    record = evaluation_record(run, system_name(init), ZERO_SHOT_PROTOCOL + bench.protocol, rec, 0)
    return record, prediction_rows(test_recs, head.bench_labels, pred)
