"""Metrics, thresholds and bootstrap against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from emopillars.eval.bootstrap import bootstrap_metrics, paired_bootstrap
from emopillars.eval.evaluate import decide, evaluate_scores
from emopillars.eval.metrics import classification_report
from emopillars.eval.thresholds import apply_thresholds, tune_global_threshold, tune_per_class_thresholds

LABELS = ["a", "b", "c"]

# 4 examples, 3 classes (multi-label).
#   class a: gold rows 0,1,3; predicted rows 0,1,2   -> TP 2, FP 1, FN 1 -> P 2/3, R 2/3, F1 2/3
#   class b: gold row 2;      predicted rows 2,3     -> TP 1, FP 1, FN 0 -> P 1/2, R 1,  F1 2/3
#   class c: gold row 1;      predicted none         -> TP 0, FP 0, FN 1 -> P 0,   R 0,  F1 0
TRUE = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=bool)
PRED = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=bool)


def test_multilabel_report_matches_hand_computation():
    r = classification_report(TRUE, PRED, LABELS)
    assert r["per_class"]["a"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert r["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert r["per_class"]["c"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})
    assert r["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    # micro: TP 3, FP 2, FN 2 -> 2*3 / (6 + 2 + 2)
    assert r["micro_f1"] == pytest.approx(0.6)
    # weighted by support 3, 1, 1
    assert r["weighted_f1"] == pytest.approx((3 * 2 / 3 + 1 * 2 / 3 + 0) / 5)
    # exact match only on row 0
    assert r["accuracy"] == pytest.approx(0.25)
    assert r["labels_per_example"] == pytest.approx(5 / 4)


def test_single_label_accuracy_weighted_f1_and_emocontext_micro_f1():
    labels = ["happy", "sad", "angry", "others"]
    gold = np.array([0, 0, 1, 2, 3, 3])
    pred = np.array([0, 3, 1, 1, 3, 0])
    r = classification_report(gold, pred, labels)
    assert r["accuracy"] == pytest.approx(3 / 6)
    # happy: TP1 FP1 FN1 -> F1 .5; sad: TP1 FP1 FN0 -> 2/3; angry: 0; others: TP1 FP1 FN1 -> .5
    assert r["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0 + 0.5) / 4)
    assert r["weighted_f1"] == pytest.approx((2 * 0.5 + 1 * 2 / 3 + 0 + 2 * 0.5) / 6)
    # EmoContext: micro over happy/sad/angry only: TP 2, FP 2 (row 5 as happy, row 3 as sad), FN 2 (rows 1, 3)
    assert r["emocontext_micro_f1"] == pytest.approx(2 * 2 / (4 + 2 + 2))


def test_global_threshold_tuning_finds_the_separating_value():
    probs = np.array([[0.9, 0.1], [0.8, 0.75], [0.3, 0.2], [0.62, 0.1]])
    gold = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], dtype=bool)
    t, f1 = tune_global_threshold(probs, gold)
    assert f1 == pytest.approx(1.0)
    assert 0.3 < t <= 0.62
    per = tune_per_class_thresholds(probs, gold)
    pred = apply_thresholds(probs, per)
    assert (pred == gold).all()


def test_thresholds_come_from_dev_only():
    rng = np.random.default_rng(0)
    dev_probs = rng.random((200, 3))
    dev_gold = dev_probs > np.array([0.7, 0.4, 0.55])
    rule = decide(dev_probs, dev_gold, multi_label=True, mode="per_class")
    np.testing.assert_allclose(rule["per_class"], [0.7, 0.4, 0.55], atol=0.011)
    test_probs = rng.random((50, 3))
    records = [evaluate_scores(test_probs, test_gold, LABELS, True, rule, "macro_f1", bootstrap_samples=20)
               for test_gold in (test_probs > 0.5, test_probs > 0.1)]
    # Different test labels, same decision rule and same predictions: nothing was tuned on test.
    assert records[0]["thresholds"] == records[1]["thresholds"] == rule
    assert (records[0]["predictions"] == records[1]["predictions"]).all()
    assert records[0]["metrics"]["macro_f1"]["value"] != records[1]["metrics"]["macro_f1"]["value"]


def test_bootstrap_interval_brackets_the_value_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, 400)
    pred = np.where(rng.random(400) < 0.7, gold, rng.integers(0, 3, 400))
    small = bootstrap_metrics(gold[:50], pred[:50], LABELS, samples=300, seed=2)["accuracy"]
    big = bootstrap_metrics(gold, pred, LABELS, samples=300, seed=2)["accuracy"]
    for m in (small, big):
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
    assert big["ci_high"] - big["ci_low"] < small["ci_high"] - small["ci_low"]


def test_paired_bootstrap_separates_better_from_equal_systems():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 300)
    good = np.where(rng.random(300) < 0.9, gold, (gold + 1) % 3)
    poor = np.where(rng.random(300) < 0.5, gold, (gold + 1) % 3)
    better = paired_bootstrap(gold, good, poor, LABELS, "macro_f1", samples=500)
    assert better["delta"] > 0.2 and better["p_value"] < 0.01
    same = paired_bootstrap(gold, good, good, LABELS, "macro_f1", samples=200)
    assert same["delta"] == 0 and same["p_value"] == 1.0


def test_a_tuned_rule_that_fires_on_most_classes_is_reported_and_a_sound_one_is_not():
    from emopillars.eval.thresholds import loose_rule_warning

    rng = np.random.default_rng(0)
    gold = np.zeros((200, 28), dtype=bool)
    gold[np.arange(200), rng.integers(0, 28, 200)] = True  # one label per example
    flat = rng.uniform(0.02, 0.09, size=gold.shape)  # a model that has learnt only the base rate
    text = loose_rule_warning(0.04, flat >= 0.04, gold)
    assert text.startswith("the tuned threshold 0.04 is below 0.1 and it gives ")
    assert f"{(flat >= 0.04).sum(1).mean():.1f} labels per dev example where gold has 1.0" in text
    # a threshold that is not low but still gives five labels per example where gold has one
    five = np.zeros_like(gold)
    five[:, :5] = True
    assert "gives 5.0 labels per dev example where gold has 1.0" in loose_rule_warning(0.3, five, gold)
    assert "below" not in loose_rule_warning(0.3, five, gold)
    # a low threshold is reported even when few labels fire
    assert loose_rule_warning(0.05, gold, gold).startswith("the tuned threshold 0.05 is below 0.1 (1.0 labels")
    # sound rules: the gold count, and four labels where gold has three (not over twice as many)
    assert loose_rule_warning(0.35, gold, gold) is None
    three, four = np.zeros_like(gold), np.zeros_like(gold)
    three[:, :3], four[:, :4] = True, True
    assert loose_rule_warning(0.2, four, three) is None
