"""Transfer to emotion benchmarks: fine-tune each initialisation on a fraction of a benchmark.

Each benchmark's label set, metric, context use and protocol (stated in every
metrics file) come from its definition in :mod:`emopillars.benchmarks`.

The training pool is the whole train split (a profile may cap it at
``max_train_examples`` by a seeded sample); a fraction ``f`` trains on the
first ``max(min_train_examples, round(f * pool))`` examples of one seeded
permutation of the pool, so smaller fractions are subsets of larger ones. Dev
and test are the full splits (or capped at ``max_eval_examples`` the same way).
Every initialisation starts from a fresh head of the same shape; the Emo
Pillars head is kept only in runs of their own (``keep_emopillars_head``).
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
from emopillars.train.trainer import TrainConfig, predict_probs, set_seed, train_classifier

ZERO_SHOT_PROTOCOL = ("zero-shot: the Emo Pillars model's 28 scores projected to the benchmark's labels (max over "
                      "each label's mapped classes, emopillars.data.label_maps); no benchmark training; test set as "
                      "in transfer: ")


def system_name(init: str) -> str:
    """What an initialisation is, as the evaluation records name it."""
    return "base encoder" if init == "base" else f"emopillars-{init}"


def fraction_sizes(pool: int, fractions: Sequence[float], min_examples: int) -> dict[float, int]:
    return {f: min(pool, max(min_examples, int(round(f * pool)))) for f in fractions}


def run_epochs(n_train: int, tp) -> float:
    """Epochs of a run on ``n_train`` examples: ``tp.epochs``, more for tiny fractions (at least ``min_steps`` steps)."""
    return max(tp.epochs, tp.min_steps / math.ceil(n_train / tp.batch_size))


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


def init_model(init: str, init_dir: Optional[Path], encoder_dir: Path, head: Head, pooling: str,
               keep_head: bool = False):
    """The model to fine-tune: the base encoder or an Emo Pillars model, with a fresh head of ``head``'s shape.

    With ``keep_head`` an Emo Pillars model keeps its own 28-way head (and the biases that it learnt on the
    synthetic data); ``head`` must then read the 28 classes (``taxonomy28``).
    """
    if init == "base" or init_dir is None:
        return build_classifier(encoder_dir, head.model_labels, pooling, head.multi_label)
    model = load_classifier(init_dir)
    if keep_head:
        if model.labels != head.model_labels:
            raise ValueError(f"{init_dir}: its head has {len(model.labels)} labels; keeping it needs the 28 classes")
    else:
        model = replace_head(model, head.model_labels, head.multi_label)
    model.multi_label = head.multi_label
    return model


@dataclass(frozen=True)
class Cell:
    """One transfer run to make: initialisation, fraction, training seed, and whether it keeps the Emo Pillars head."""

    init: str
    fraction: float
    seed: int
    keep_head: bool = False


def base_first(inits: Sequence[str]) -> list[str]:
    """``inits`` with the base encoder first: the others get their paired test against its run."""
    return sorted(inits, key=lambda n: n != "base")


def planned_runs(benchmark: str, inits: Sequence[str], tp) -> list[Cell]:
    """Every run of ``benchmark`` in order: by fraction, then seed; the base encoder first in each, so the
    others get their paired test against it at the same fraction and seed."""
    names = base_first(inits)
    out = []
    for fraction in tp.fractions_for(benchmark):
        for seed in tp.training_seeds():
            for init in names:
                out.append(Cell(init, fraction, seed))
                if tp.keep_emopillars_head and init != "base":
                    out.append(Cell(init, fraction, seed, keep_head=True))
    return out


def exported_cells(benchmark: str, inits: Sequence[str], tp) -> list[Cell]:
    """The runs whose models are exported: the largest fraction, first seed, fresh head, every initialisation."""
    largest, first = max(tp.fractions_for(benchmark)), tp.training_seeds()[0]
    return [c for c in planned_runs(benchmark, inits, tp)
            if c.fraction == largest and c.seed == first and not c.keep_head]


def run_benchmark(benchmark: str, splits, inits: dict[str, Optional[Path]], encoder_dir: Path, tp, ep,
                  pooling: str = "mean", progress: bool = True, log=print,
                  export=None) -> list[tuple[EvaluationRecord, list[dict]]]:
    """Every run of :func:`planned_runs` on one benchmark: ``[(metrics record, prediction rows)]``.

    ``inits`` maps an init name to its model folder (None for the base
    encoder). ``export(cell, model, tokenizer, record, rule, head)``, when
    given, is called for every run of :func:`exported_cells`.
    """
    from transformers import AutoTokenizer

    bench = benchmarks.get(benchmark)
    use_context = bench.context
    pool = seeded_subset(splits["train"], tp.max_train_examples, tp.seed)
    dev_recs = seeded_subset(splits["dev"], tp.max_eval_examples, tp.seed)
    test_recs = seeded_subset(splits["test"], tp.max_eval_examples, tp.seed)
    order = np.random.default_rng(tp.seed + 1).permutation(len(pool))
    pool = [pool[i] for i in order]
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    heads = {False: Head(benchmark, tp.head), True: Head(benchmark, "taxonomy28")}
    data = {}

    def examples(keep_head: bool):
        if keep_head not in data:
            head = heads[keep_head]
            label_of = head.label_of()
            ex = [record_examples(recs, head.model_labels, label_of, use_context, benchmark)
                  for recs in (pool, dev_recs, test_recs)]
            data[keep_head] = ex[0], ex[1], Encoded(tokenizer, ex[2], tp.max_length)
        return data[keep_head]

    dev_gold, test_gold = gold(dev_recs, heads[False]), gold(test_recs, heads[False])
    sizes = fraction_sizes(len(pool), tp.fractions_for(benchmark), tp.min_train_examples)
    to_export = set(exported_cells(benchmark, list(inits), tp)) if export else set()
    base_pred: dict[tuple[float, int], np.ndarray] = {}
    out = []
    for cell in planned_runs(benchmark, list(inits), tp):
        head = heads[cell.keep_head]
        pool_ex, dev_ex, test_enc = examples(cell.keep_head)
        n = sizes[cell.fraction]
        epochs = run_epochs(n, tp)
        set_seed(cell.seed)  # the fresh head's weights are drawn from the run's seed
        model = init_model(cell.init, inits[cell.init], encoder_dir, head, pooling, keep_head=cell.keep_head)
        cfg = TrainConfig.from_params(tp, epochs=epochs, seed=cell.seed, progress=progress,
                                      prior_bias_init=not cell.keep_head)
        result = train_classifier(model, tokenizer, pool_ex[:n], dev_ex, cfg, select_metric="macro_f1")
        dev_scores = head.to_bench_scores(result.best_dev_probs)
        test_scores = head.to_bench_scores(predict_probs(model, test_enc, mixed_precision=tp.mixed_precision))
        rule = decide(dev_scores, dev_gold if head.multi_label else None, head.multi_label, tp.threshold_mode)
        key = (cell.fraction, cell.seed)
        rec = evaluate_scores(test_scores, test_gold, head.bench_labels, head.multi_label, rule,
                              bench.primary_metric, ep.bootstrap_samples, ep.confidence, ep.seed,
                              baseline_pred=base_pred.get(key) if cell.init != "base" else None)
        pred = rec.pop("predictions")
        if cell.init == "base":
            base_pred[key] = pred
        run = RunIdentity(kind="transfer", benchmark=benchmark, init=cell.init, fraction=cell.fraction,
                          head=head.kind, head_init="emopillars" if cell.keep_head else "fresh", seed=cell.seed)
        caps = ("full official splits" if tp.max_train_examples is None and tp.max_eval_examples is None else
                f"training split cap {tp.max_train_examples}, dev/test cap {tp.max_eval_examples}")
        head_text = ("the Emo Pillars model's own 28-way head, read through the label mapping" if cell.keep_head
                     else "a fresh head with prior-initialised biases")
        record = evaluation_record(
            run, system_name(cell.init) + (" (own head)" if cell.keep_head else ""),
            bench.protocol + f"; {n} of {len(pool)} training examples ({caps}); {head_text}; training seed "
            f"{cell.seed}; {epochs:g} epochs; checkpoint chosen on dev; 95% percentile bootstrap; paired bootstrap "
            "test against the base encoder at the same fraction and seed", rec, n, n_dev=len(dev_ex),
            train_seconds=round(result.seconds, 2), best_dev=result.best_dev)
        rows = prediction_rows(test_recs, head.bench_labels, pred, scores=test_scores)
        pm = record.primary
        log(f"transfer {benchmark} {run.run_name}: n_train {n}, {bench.primary_metric} {pm.value:.3f} "
            f"[{pm.ci_low:.3f}, {pm.ci_high:.3f}]")
        if cell in to_export:
            export(cell, model, tokenizer, record, rule, head)
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


def export_benchmark_model(out_dir: Path, benchmark: str, cell: Cell, model, tokenizer, record: EvaluationRecord,
                           rule: dict, head: Head, base_model: str, tp) -> Path:
    """Write one transfer run's model as a folder that ``predict`` and ``pipeline()`` load, with its card.

    Its labels are the benchmark's (or the 28 classes with a ``taxonomy28`` head), its decision rule the
    one tuned on the benchmark's dev split (the arg-max for single-label benchmarks), and its metrics the
    run's test metrics with their intervals.
    """
    from emopillars.train.export import model_card, save_classifier

    bench = head.definition
    name = f"{benchmark}-{cell.init}"
    pct = f"{100 * cell.fraction:g}%"
    kind = "Multi-label" if head.multi_label else "Single-label"
    start = ("the base encoder" if cell.init == "base" else
             f"the Emo Pillars {cell.init} model (itself fine-tuned from `{base_model}` on synthetic data)")
    context = ("the utterance, then the previous dialogue turns as a second segment" if bench.context
               else "the text alone")
    card = model_card(
        name, base_model,
        f"{pct} of the {bench.display_name} training split ({record.n_train} examples), selected on its dev split "
        f"({record.n_dev} examples).",
        f"Input: {context}.", head.model_labels, {k: v.model_dump() for k, v in record.metrics.items()},
        rule,
        {"epochs": run_epochs(record.n_train, tp), "learning_rate": tp.learning_rate,
         "head_lr_multiplier": tp.head_lr_multiplier, "batch_size": tp.batch_size, "max_length": tp.max_length,
         "seed": cell.seed, "n_train": record.n_train, "initialisation": cell.init},
        limits=[f"Trained and tested on {bench.display_name} only; other domains are scored in the cross-domain "
                "table, through the Ekman groups that the label sets share.",
                f"Test metrics on the full {bench.display_name} test split ({record.n_test} examples); "
                f"primary metric {bench.primary_metric}.",
                "English only."],
        summary=f"{kind} emotion classifier over the {len(head.model_labels)} {bench.display_name} labels, "
                f"fine-tuned from {start} (`{base_model}`).")
    return save_classifier(model, tokenizer, out_dir, head.model_labels, rule,
                           {"variant": "benchmark", "benchmark": benchmark, "text": "utterance",
                            "text_pair": "previous dialogue turns" if bench.context else None}, card,
                           extra={"metrics": {k: v.value for k, v in record.metrics.items()},
                                  "transfer": {"benchmark": benchmark, "init": cell.init, "fraction": cell.fraction,
                                               "seed": cell.seed}})
