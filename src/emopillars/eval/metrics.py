"""Classification metrics from 0/1 indicator matrices.

Every metric is computed from per-class counts (true positives, false
positives, false negatives), so the same code serves multi-label data,
single-label data (one 1 per row) and the bootstrap (which re-weights rows).

Conventions: a class's precision, recall or F1 whose denominator is 0 is 0
(as scikit-learn's ``zero_division=0``); macro averages run over every class
of the label set, also classes absent from the gold labels; weighted F1 weighs
classes by gold support; ``accuracy`` is the share of rows whose predicted set
equals the gold set (for single-label data: the usual accuracy).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

EMOCONTEXT_CLASSES = ("happy", "sad", "angry")


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def as_indicator(y, n_classes: int) -> np.ndarray:
    """Class ids ``[n]`` or an indicator matrix ``[n, k]`` -> bool matrix ``[n, k]``."""
    y = np.asarray(y)
    if y.ndim == 1:
        out = np.zeros((len(y), n_classes), dtype=bool)
        out[np.arange(len(y)), y.astype(int)] = True
        return out
    if y.shape[1] != n_classes:
        raise ValueError(f"expected {n_classes} columns, got {y.shape[1]}")
    return y.astype(bool)


def counts(y_true: np.ndarray, y_pred: np.ndarray, weights: Optional[np.ndarray] = None):
    """Per-class TP, FP, FN and exact-match count; ``weights`` ([n] or [B, n]) re-weights rows."""
    t = y_true.astype(np.float64)
    p = y_pred.astype(np.float64)
    tp_rows, fp_rows, fn_rows = t * p, (1 - t) * p, t * (1 - p)
    exact = np.all(y_true == y_pred, axis=1).astype(np.float64)
    if weights is None:
        return tp_rows.sum(0), fp_rows.sum(0), fn_rows.sum(0), exact.sum(), float(len(exact))
    w = np.asarray(weights, dtype=np.float64)
    return w @ tp_rows, w @ fp_rows, w @ fn_rows, w @ exact, w.sum(-1)


def prf(tp, fp, fn):
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    return precision, recall, f1


def scores_from_counts(tp, fp, fn, exact, n, label_names: Sequence[str], emocontext: bool = False) -> dict:
    """Aggregate metrics from counts (arrays may have a leading bootstrap axis)."""
    _, _, f1 = prf(tp, fp, fn)
    support = tp + fn
    out = {
        "macro_f1": f1.mean(-1),
        "micro_f1": _div(2 * tp.sum(-1), 2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1)),
        "weighted_f1": _div((f1 * support).sum(-1), support.sum(-1)),
        "accuracy": _div(exact, n),
    }
    if emocontext:
        idx = [list(label_names).index(c) for c in EMOCONTEXT_CLASSES]
        tps, fps, fns = tp[..., idx].sum(-1), fp[..., idx].sum(-1), fn[..., idx].sum(-1)
        out["emocontext_micro_f1"] = _div(2 * tps, 2 * tps + fps + fns)
    return out


def classification_report(y_true, y_pred, label_names: Sequence[str]) -> dict:
    """Macro/micro/weighted F1, accuracy, per-class P/R/F1/support and labels per example.

    ``y_true``/``y_pred``: class ids ``[n]`` or indicator matrices ``[n, k]``.
    Adds ``emocontext_micro_f1`` (micro-F1 over happy, sad and angry, the
    official EmoContext metric) when those three classes are in the label set.
    """
    k = len(label_names)
    t, p = as_indicator(y_true, k), as_indicator(y_pred, k)
    tp, fp, fn, exact, n = counts(t, p)
    emocontext = all(c in label_names for c in EMOCONTEXT_CLASSES)
    agg = {name: float(v) for name, v in scores_from_counts(tp, fp, fn, exact, n, label_names, emocontext).items()}
    precision, recall, f1 = prf(tp, fp, fn)
    agg["per_class"] = {
        label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(tp[i] + fn[i])}
        for i, label in enumerate(label_names)
    }
    agg["labels_per_example"] = float(p.sum(1).mean()) if len(p) else 0.0
    agg["gold_labels_per_example"] = float(t.sum(1).mean()) if len(t) else 0.0
    agg["n"] = int(n)
    return agg


def macro_f1(y_true, y_pred, n_classes: int) -> float:
    t, p = as_indicator(y_true, n_classes), as_indicator(y_pred, n_classes)
    tp, fp, fn, _, _ = counts(t, p)
    return float(prf(tp, fp, fn)[2].mean())
