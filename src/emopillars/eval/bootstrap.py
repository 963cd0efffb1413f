"""Bootstrap confidence intervals and the paired bootstrap test.

Rows (test examples) are resampled with replacement; every resample is a
vector of row counts, so all metrics of all resamples come from one matrix
product over per-row TP/FP/FN indicators (1,000 resamples of 5,000 rows x 28
classes take well under a second).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emopillars.eval.metrics import EMOCONTEXT_CLASSES, as_indicator, counts, scores_from_counts


def resample_weights(n: int, samples: int, seed: int) -> np.ndarray:
    """``[samples, n]`` row counts of ``samples`` bootstrap resamples of ``n`` rows."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    w = np.zeros((samples, n), dtype=np.float64)
    np.add.at(w, (np.repeat(np.arange(samples), n), idx.ravel()), 1.0)
    return w


def _metrics(y_true, y_pred, label_names, weights=None):
    k = len(label_names)
    t, p = as_indicator(y_true, k), as_indicator(y_pred, k)
    emocontext = all(c in label_names for c in EMOCONTEXT_CLASSES)
    return scores_from_counts(*counts(t, p, weights), label_names, emocontext)


def bootstrap_metrics(y_true, y_pred, label_names: Sequence[str], samples: int = 1000, confidence: float = 0.95,
                      seed: int = 13) -> dict[str, dict[str, float]]:
    """``{metric: {value, ci_low, ci_high}}`` with percentile intervals at ``confidence``."""
    n = len(y_true)
    point = _metrics(y_true, y_pred, label_names)
    boot = _metrics(y_true, y_pred, label_names, resample_weights(n, samples, seed))
    alpha = (1 - confidence) / 2
    return {
        name: {"value": float(point[name]), "ci_low": float(np.quantile(boot[name], alpha)),
               "ci_high": float(np.quantile(boot[name], 1 - alpha))}
        for name in point
    }


def paired_bootstrap(y_true, pred_a, pred_b, label_names: Sequence[str], metric: str, samples: int = 1000,
                     seed: int = 13) -> dict[str, float]:
    """Paired bootstrap test of ``metric(a) - metric(b)`` on the same test rows.

    Both systems are scored on the same resamples. ``p_value`` is two-sided:
    twice the share of resamples whose difference has the opposite sign of the
    observed one (or is zero), capped at 1.
    """
    n = len(y_true)
    w = resample_weights(n, samples, seed)
    a = _metrics(y_true, pred_a, label_names)[metric]
    b = _metrics(y_true, pred_b, label_names)[metric]
    da = _metrics(y_true, pred_a, label_names, w)[metric]
    db = _metrics(y_true, pred_b, label_names, w)[metric]
    delta = float(a - b)
    diffs = da - db
    if delta > 0:
        tail = float(np.mean(diffs <= 0))
    elif delta < 0:
        tail = float(np.mean(diffs >= 0))
    else:
        tail = 0.5
    return {"metric": metric, "delta": delta, "p_value": min(1.0, 2 * tail), "samples": samples,
            "ci_low": float(np.quantile(diffs, 0.025)), "ci_high": float(np.quantile(diffs, 0.975))}
