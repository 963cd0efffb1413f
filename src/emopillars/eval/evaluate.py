"""From scores to a metrics record: decision rule tuned on dev, metrics and intervals on test.

:func:`evaluate_scores` returns the keys every metrics file of the project
shares (``metrics`` {name: {value, ci_low, ci_high}}, ``per_class``,
``labels_per_example``, ``thresholds``); :func:`evaluation_record` adds the
run's identity and protocol to make the typed record a benchmark run writes,
and :func:`prediction_rows` the rows of its predictions file.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence

import numpy as np

from emopillars.contracts.evaluation import EvaluationRecord, RunIdentity
from emopillars.eval.bootstrap import bootstrap_metrics, paired_bootstrap
from emopillars.eval.metrics import classification_report
from emopillars.eval.thresholds import (apply_thresholds, predict_single_label, tune_global_threshold,
                                        tune_per_class_thresholds)


def seeded_subset(items: list, n: Optional[int], seed: int) -> list:
    """``n`` items by a seeded permutation (all when ``n`` is None or large enough); order kept stable."""
    if n is None or n >= len(items):
        return list(items)
    rng = np.random.default_rng(seed)
    return [items[i] for i in sorted(rng.permutation(len(items))[:n])]


def transfer_test_set(test_split: list, max_eval_examples: Optional[int], seed: int) -> tuple[list, str]:
    """The transfer protocol's test set (the full split, or a seeded sample of ``max_eval_examples``), and which it
    is in words, for the records that score on it."""
    chosen = seeded_subset(test_split, max_eval_examples, seed)
    if len(chosen) == len(test_split):
        return chosen, f"the full test split ({len(test_split)} examples)"
    return chosen, f"the transfer test sample ({len(chosen)} of the {len(test_split)} test examples, seed {seed})"


def gold_labels(records, labels: Sequence[str], multi_label: bool) -> np.ndarray:
    """Gold labels of ``records`` over ``labels``: an indicator matrix (multi-label) or class ids."""
    index = {l: i for i, l in enumerate(labels)}
    if multi_label:
        out = np.zeros((len(records), len(labels)), dtype=bool)
        for i, r in enumerate(records):
            out[i, [index[l] for l in r.labels]] = True
        return out
    return np.array([index[r.labels[0]] for r in records])


def decide(dev_probs: Optional[np.ndarray], dev_gold: Optional[np.ndarray], multi_label: bool,
           mode: Literal["global", "per_class"] = "global") -> dict:
    """The decision rule, from dev only: ``{"kind", "global", "per_class"}``.

    Single-label data use the arg-max (no threshold). Multi-label data without
    dev scores fall back to 0.5.
    """
    if not multi_label:
        return {"kind": "argmax"}
    if dev_probs is None or dev_gold is None or not len(dev_probs):
        return {"kind": "global", "global": 0.5, "per_class": None, "tuned_on": None}
    g, dev_f1 = tune_global_threshold(dev_probs, dev_gold)
    per = tune_per_class_thresholds(dev_probs, dev_gold, fallback=g)
    return {"kind": mode, "global": g, "per_class": [float(x) for x in per], "dev_macro_f1_at_global": dev_f1,
            "tuned_on": "dev"}


def apply_rule(probs: np.ndarray, rule: dict, kind: Optional[str] = None) -> np.ndarray:
    kind = kind or rule["kind"]
    if kind == "argmax":
        return predict_single_label(probs)
    if kind == "per_class" and rule.get("per_class") is not None:
        return apply_thresholds(probs, np.asarray(rule["per_class"]))
    return apply_thresholds(probs, rule["global"])


def evaluate_scores(test_probs: np.ndarray, test_gold: np.ndarray, labels: Sequence[str], multi_label: bool,
                    rule: dict, primary_metric: str, bootstrap_samples: int = 1000, confidence: float = 0.95,
                    seed: int = 13, baseline_pred: Optional[np.ndarray] = None) -> dict:
    """Metrics with intervals for test scores under a rule tuned beforehand on dev.

    ``test_gold`` is an indicator matrix (multi-label) or class ids. Returns
    the shared metrics record plus ``predictions`` (indicator rows or ids) for
    writing and for paired tests.
    """
    pred = apply_rule(test_probs, rule)
    report = classification_report(test_gold, pred, labels)
    metrics = bootstrap_metrics(test_gold, pred, labels, bootstrap_samples, confidence, seed)
    out = {
        "primary_metric": primary_metric,
        "metrics": metrics,
        "per_class": report["per_class"],
        "labels_per_example": report["labels_per_example"],
        "gold_labels_per_example": report["gold_labels_per_example"],
        "n_test": report["n"],
        "thresholds": rule,
        "bootstrap": {"samples": bootstrap_samples, "confidence": confidence, "seed": seed, "method": "percentile"},
    }
    if multi_label and rule.get("per_class") is not None:
        # Both rules are reported; the record's own rule is the one in "thresholds.kind".
        other = "per_class" if rule["kind"] == "global" else "global"
        alt = classification_report(test_gold, apply_rule(test_probs, rule, other), labels)
        out[f"macro_f1_with_{other}_thresholds"] = alt["macro_f1"]
    if baseline_pred is not None:
        out["paired_test"] = paired_bootstrap(test_gold, pred, baseline_pred, labels, primary_metric,
                                              bootstrap_samples, seed)
    out["predictions"] = pred
    return out


def evaluation_record(run: RunIdentity, system: str, protocol: str, evaluated: dict, n_train: int,
                      **extra: Any) -> EvaluationRecord:
    """The typed record of one run from :func:`evaluate_scores`' output (without its predictions).

    ``extra`` fills the optional fields (``n_dev``, ``train_seconds``, ``best_dev``,
    ``rejected_answers``); the alternative rule's macro-F1 of a multi-label run
    becomes ``alternative_rule_macro_f1``.
    """
    return EvaluationRecord(run=run, system=system, protocol=protocol, n_train=n_train, **evaluation_fields(evaluated),
                            **extra)


def evaluation_fields(evaluated: dict) -> dict:
    """:func:`evaluate_scores`' output as the fields of an :class:`~emopillars.contracts.evaluation.Evaluation`."""
    fields = {k: v for k, v in evaluated.items() if k != "predictions"}
    for other in ("global", "per_class"):
        key = f"macro_f1_with_{other}_thresholds"
        if key in fields:
            fields["alternative_rule_macro_f1"] = fields.pop(key)
    return fields


def prediction_rows(records, labels: Sequence[str], pred: np.ndarray, scores: Optional[np.ndarray] = None,
                    raw: Optional[Sequence[str]] = None) -> list[dict]:
    """One row per test record: ``id``, ``gold``, ``pred`` (label names), then ``scores`` or ``raw`` when given.

    ``pred`` is class ids (one per row) or an indicator matrix (any number of
    labels per row, none for a rejected answer).
    """
    pred = np.asarray(pred)
    rows = []
    for i, r in enumerate(records):
        chosen = [labels[j] for j in np.flatnonzero(pred[i])] if pred.ndim == 2 else [labels[int(pred[i])]]
        row = {"id": r.id, "gold": list(r.labels), "pred": chosen}
        if scores is not None:
            row["scores"] = [round(float(x), 5) for x in scores[i]]
        if raw is not None:
            row["raw"] = raw[i]
        rows.append(row)
    return rows
