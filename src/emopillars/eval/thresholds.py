"""Decision rules for sigmoid scores, tuned on the dev split only.

The functions here take dev scores and dev labels and nothing else, so test
labels cannot leak into a threshold: callers tune on dev, then apply the
result to test with :func:`apply_thresholds`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emopillars.eval.metrics import counts, prf

DEFAULT_GRID = tuple(np.round(np.arange(0.02, 0.96, 0.01), 2))


def apply_thresholds(probs: np.ndarray, thresholds, at_least_one: bool = False) -> np.ndarray:
    """Indicator matrix ``probs >= thresholds`` (scalar or per class).

    ``at_least_one`` adds the arg-max class to rows that would be empty.
    """
    pred = probs >= np.asarray(thresholds, dtype=np.float64)
    if at_least_one and len(pred):
        empty = ~pred.any(1)
        pred[empty, probs[empty].argmax(1)] = True
    return pred


def tune_global_threshold(dev_probs: np.ndarray, dev_true: np.ndarray, grid: Sequence[float] = DEFAULT_GRID) -> tuple[float, float]:
    """The single threshold maximising dev macro-F1; returns ``(threshold, dev macro-F1)``.

    Ties go to the threshold closest to 0.5 (the least tuned choice).
    """
    dev_true = dev_true.astype(bool)
    best = (-1.0, 0.5)
    for t in sorted(grid, key=lambda x: abs(x - 0.5)):
        tp, fp, fn, _, _ = counts(dev_true, dev_probs >= t)
        score = float(prf(tp, fp, fn)[2].mean())
        if score > best[0] + 1e-12:
            best = (score, float(t))
    return best[1], best[0]


def tune_per_class_thresholds(dev_probs: np.ndarray, dev_true: np.ndarray, grid: Sequence[float] = DEFAULT_GRID,
                              fallback: float | None = None) -> np.ndarray:
    """One threshold per class, each maximising that class's dev F1.

    A class with no positive in dev cannot be tuned: it gets ``fallback``
    (default: the tuned global threshold).
    """
    dev_true = dev_true.astype(bool)
    if fallback is None:
        fallback, _ = tune_global_threshold(dev_probs, dev_true, grid)
    grid_arr = np.asarray(sorted(grid, key=lambda x: abs(x - 0.5)), dtype=np.float64)
    # [g, n, k] would be large; loop over the grid, vectorised over classes.
    best_f1 = np.full(dev_probs.shape[1], -1.0)
    best_t = np.full(dev_probs.shape[1], float(fallback))
    for t in grid_arr:
        tp, fp, fn, _, _ = counts(dev_true, dev_probs >= t)
        f1 = prf(tp, fp, fn)[2]
        better = f1 > best_f1 + 1e-12
        best_f1[better] = f1[better]
        best_t[better] = t
    best_t[dev_true.sum(0) == 0] = float(fallback)
    return best_t


def predict_single_label(probs: np.ndarray) -> np.ndarray:
    """Arg-max class ids (single-label benchmarks need no threshold)."""
    return probs.argmax(1)


# A tuned rule that makes most classes fire on most texts is a symptom (too little data, or a model that has not
# learnt to separate the classes), not a decision rule a user can trust: training reports it.
LOW_THRESHOLD = 0.1
MAX_LABELS_PER_EXAMPLE = 3.0


def loose_rule_warning(threshold: float, dev_pred: np.ndarray, dev_true: np.ndarray) -> str | None:
    """A one-line warning when a tuned multi-label rule fires too readily, else ``None``.

    ``threshold`` is the rule's global threshold (per-class rules: their median), ``dev_pred`` the rule's dev
    predictions, ``dev_true`` the dev labels. It warns when the threshold is below :data:`LOW_THRESHOLD`, or when the
    rule gives more than :data:`MAX_LABELS_PER_EXAMPLE` labels per dev example and over twice as many as gold has.
    """
    pred = float(np.asarray(dev_pred, dtype=bool).sum(1).mean()) if len(dev_pred) else 0.0
    gold = float(np.asarray(dev_true, dtype=bool).sum(1).mean()) if len(dev_true) else 0.0
    low = threshold < LOW_THRESHOLD
    many = pred > MAX_LABELS_PER_EXAMPLE and pred > 2 * gold
    if not (low or many):
        return None
    why = " and ".join(x for x, on in ((f"the tuned threshold {threshold:g} is below {LOW_THRESHOLD:g}", low),
                                         (f"it gives {pred:.1f} labels per dev example where gold has {gold:.1f}",
                                          many)) if on)
    if low and not many:
        why += f" ({pred:.1f} labels per dev example, gold {gold:.1f})"
    return (f"{why}: most classes fire on most texts, so the predicted labels say little; the model has not learnt "
            "to separate the classes (too little or too uniform training data) -- read the scores' ranking, or "
            "train on more data")
