"""The paper's figures, drawn only from metrics, predictions and data files.

Each ``*_figure`` function takes what it plots (already read from disk) and
returns a matplotlib figure, or ``None`` when there is nothing to plot, so a part
of the pipeline that has not run leaves its figure out instead of failing.
Restyling a figure never reruns training or generation.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Iterable, Optional

import matplotlib

matplotlib.use("Agg")  # headless, whatever matplotlibrc is in effect
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from emopillars.io import atomic_path  # noqa: E402
from emopillars.report.results import (  # noqa: E402
    benchmark_name,
    benchmarks_in,
    dataset_summaries,
    full_data_fraction,
    init_name,
    inits_in,
    metric_name,
    transfer_runs,
)
from emopillars.report.tables import DATASET_NAMES, DIVERSITY_MEASURES  # noqa: E402
from emopillars.taxonomy import EMOTIONS  # noqa: E402

PALETTE = {"base": "#7f7f7f", "contextless": "#1f77b4", "contextual": "#ff7f0e",
           "goemotions": "#7f7f7f", "llm": "#2ca02c"}


def _style() -> None:
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", font_scale=0.9, rc={"axes.spines.top": False,
                                                                         "axes.spines.right": False})


def save_figure(fig, out_dir: str | os.PathLike, name: str, formats: Iterable[str] = ("pdf", "png")) -> list[Path]:
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format, atomically; close it."""
    paths = []
    for fmt in formats:
        target = Path(out_dir) / f"{name}.{fmt}"
        with atomic_path(target, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=200 if fmt == "png" else None, bbox_inches="tight",
                        metadata={"CreationDate": None} if fmt == "pdf" else None)
        paths.append(target)
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------- label distribution
def _shares(dist: dict) -> Optional[np.ndarray]:
    counts = np.array([float(dist.get(e, 0) or 0) for e in EMOTIONS])
    return counts / counts.sum() if counts.sum() > 0 else None


def goemotions_label_distribution(goemotions_dir: str | os.PathLike, split: str = "train") -> Optional[dict]:
    """Label counts of a GoEmotions split read from its TSV files (``None`` if the folder is absent)."""
    if not goemotions_dir or not (Path(goemotions_dir) / f"{split}.tsv").is_file():
        return None
    from emopillars.data.readers import read_goemotions

    counts = dict.fromkeys(EMOTIONS, 0)
    for rec in read_goemotions(goemotions_dir)[split]:
        for label in rec.labels:
            counts[label] = counts.get(label, 0) + 1
    return counts


def label_distribution_figure(results: dict, synthetic: Iterable[str] = ("contextless", "contextual"),
                              reference: str = "goemotions", reference_counts: Optional[dict] = None):
    """Share of each label in the synthetic datasets (``dataset_stats``) and in GoEmotions (``reference_counts``)."""
    datasets = dataset_summaries(results)
    series = []
    dists = [(name, datasets[name].label_distribution) for name in synthetic if name in datasets]
    for name, dist in dists + [(reference, reference_counts)]:
        shares = _shares(dist) if dist is not None else None
        if shares is not None:
            series.append((name, shares))
    if not series:
        return None
    _style()
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    x = np.arange(len(EMOTIONS))
    width = 0.8 / len(series)
    for k, (name, shares) in enumerate(series):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, 100 * shares, width, label=DATASET_NAMES.get(name, name),
               color=PALETTE.get(name))
    ax.set_xticks(x, EMOTIONS, rotation=60, ha="right")
    ax.set_xlim(-0.6, len(EMOTIONS) - 0.4)
    ax.set_ylabel("share of labels (%)")
    ax.grid(axis="x", visible=False)
    ax.legend(frameon=False, ncols=len(series), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig


# --------------------------------------------------------------------------- per-class F1
def per_class_f1_figure(results: dict, benchmark: str = "goemotions"):
    runs = [r for r in transfer_runs(results) if r.benchmark == benchmark]
    full = full_data_fraction(runs)
    runs = {r.init: r for r in runs if r.fraction == full}
    if "base" not in runs or len(runs) < 2:
        return None
    base = runs["base"].record.per_class
    labels = [e for e in EMOTIONS if e in base] or sorted(base)
    order = sorted(labels, key=lambda l: -base[l].f1)
    _style()
    fig, ax = plt.subplots(figsize=(3.4, 0.16 * len(order) + 0.9))
    y = np.arange(len(order))
    inits = inits_in(list(runs.values()))
    height = 0.8 / len(inits)
    for k, init in enumerate(inits):
        f1 = [runs[init].record.per_class[l].f1 for l in order]
        ax.barh(y + (k - (len(inits) - 1) / 2) * height, f1, height, label=init_name(init), color=PALETTE.get(init))
    ax.set_yticks(y, order)
    ax.invert_yaxis()
    ax.set_xlabel(f"F1 on {benchmark_name(benchmark)} test")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.4, 1.0), ncols=1)
    return fig


# --------------------------------------------------------------------------- low-resource curves
def low_resource_figure(results: dict):
    runs = [r for r in transfer_runs(results) if r.primary is not None and r.fraction]
    benches = [b for b in benchmarks_in(runs) if len({r.fraction for r in runs if r.benchmark == b}) > 1]
    if not benches:
        return None
    _style()
    fig, axes = plt.subplots(1, len(benches), figsize=(2.4 * len(benches), 2.3), squeeze=False)
    for ax, b in zip(axes[0], benches):
        brun = [r for r in runs if r.benchmark == b]
        for init in inits_in(brun):
            pts = sorted((r.fraction, r.primary) for r in brun if r.init == init)
            xs = [100 * f for f, _ in pts]
            ax.plot(xs, [s.value for _, s in pts], marker="o", ms=3, label=init_name(init), color=PALETTE.get(init))
            if all(s.ci for _, s in pts):
                ax.fill_between(xs, [s.ci_low for _, s in pts], [s.ci_high for _, s in pts], alpha=0.2,
                                color=PALETTE.get(init), linewidth=0)
        ax.set_xscale("log")
        ticks = sorted({100 * r.fraction for r in brun})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training data used (%)")
        ax.set_title(benchmark_name(b))
        ax.set_ylabel(metric_name(brun[0].primary_metric))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, loc="lower center", ncols=len(labels), bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- diversity per class
def diversity_figure(results: dict, synthetic: str = "contextless", reference: str = "goemotions"):
    datasets = dataset_summaries(results)
    series = [(n, datasets[n].diversity.per_class) for n in (synthetic, reference) if n in datasets]
    series = [(n, d) for n, d in series if d]
    measures = [(k, label) for k, label, _ in DIVERSITY_MEASURES]
    if not series:
        return None
    _style()
    fig, axes = plt.subplots(1, len(measures), figsize=(1.75 * len(measures) + 0.8, 4.6), sharey=True,
                             squeeze=False)
    y = np.arange(len(EMOTIONS))
    for ax, (k, label) in zip(axes[0], measures):
        for name, d in series:
            vals = [float(getattr(d[e], k)) if e in d else np.nan for e in EMOTIONS]
            ax.plot(vals, y, "o", ms=3, label=DATASET_NAMES.get(name, name), color=PALETTE.get(name))
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_yticks(y, EMOTIONS)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, frameon=False, loc="lower center", ncols=len(labels), bbox_to_anchor=(0.5, 1.0))
    return fig


# --------------------------------------------------------------------------- co-occurrence
def cooccurrence_matrix(rows: Iterable[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``C[i, j]`` of examples labelled both ``i`` and ``j`` (diagonal: examples with ``i``)."""
    n = len(EMOTIONS)
    idx = {e: i for i, e in enumerate(EMOTIONS)}
    counts = np.zeros((n, n))
    for row in rows:
        labels = sorted({idx[l] for l in row.get("labels") or [] if l in idx})
        for i, j in itertools.product(labels, labels):
            counts[i, j] += 1
    return counts, np.diag(counts).copy()


def cooccurrence_figure(rows: list[dict]):
    """Heatmap of P(column label | row label) over the examples' labels."""
    counts, totals = cooccurrence_matrix(rows)
    if totals.sum() == 0:
        return None
    import seaborn as sns

    _style()
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(totals[:, None] > 0, counts / totals[:, None], np.nan)
    np.fill_diagonal(cond, np.nan)
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    sns.heatmap(cond, ax=ax, cmap="rocket_r", vmin=0, vmax=max(0.05, float(np.nanmax(cond)) if np.isfinite(cond).any() else 1),
                xticklabels=EMOTIONS, yticklabels=EMOTIONS, square=True, linewidths=0,
                cbar_kws={"label": "P(column label | row label)", "shrink": 0.7})
    ax.tick_params(axis="both", labelsize=6)
    ax.grid(False)
    ax.set_xlabel("co-occurring label")
    ax.set_ylabel("label")
    return fig


# --------------------------------------------------------------------------- training curves
def read_curves(plots_dir: str | os.PathLike) -> dict[str, dict[str, tuple[str, np.ndarray, np.ndarray]]]:
    """``{metric: {model: (x name, x, y)}}`` from ``plots_dir/<model>/**/*.{tsv,csv,json}``.

    Accepts the tables DVC plots and dvclive write: a step or epoch column
    and one or more numeric columns; JSON as a list of row objects.
    """
    import pandas as pd

    plots_dir = Path(plots_dir)
    curves: dict[str, dict] = {}
    if not plots_dir.is_dir():
        return curves
    for model_dir in sorted(p for p in plots_dir.iterdir() if p.is_dir()):
        for path in sorted(model_dir.rglob("*")):
            if path.suffix not in (".tsv", ".csv", ".json") or path.name.startswith("."):
                continue
            try:
                if path.suffix == ".json":
                    import json

                    data = json.loads(path.read_text(encoding="utf-8"))
                    if isinstance(data, dict):  # {"train": [...]} as DVC plots accept
                        data = next((v for v in data.values() if isinstance(v, list)), [])
                    df = pd.DataFrame(data)
                else:
                    df = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
            except (ValueError, OSError) as e:
                raise ValueError(f"{path}: cannot read a training curve ({e})") from None
            if df.empty:
                continue
            xcol = next((c for c in ("step", "epoch", "global_step") if c in df.columns), None)
            numeric = [c for c in df.columns if c != xcol and c != "timestamp" and pd.api.types.is_numeric_dtype(df[c])]
            for col in numeric:
                x = df[xcol].to_numpy() if xcol else np.arange(len(df))
                metric = col if len(numeric) > 1 or col not in ("value", "y") else path.stem
                if metric in ("step", "epoch"):
                    continue
                curves.setdefault(metric, {})[model_dir.name] = (xcol or "step", x, df[col].to_numpy(dtype=float))
    return curves


def training_curves_figure(plots_dir: str | os.PathLike):
    curves = read_curves(plots_dir)
    if not curves:
        return None
    _style()
    metrics = sorted(curves)
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 2.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for model, (xname, x, y) in sorted(curves[metric].items()):
            ax.plot(x, y, marker="o" if len(x) < 12 else None, ms=3, label=DATASET_NAMES.get(model, model),
                    color=PALETTE.get(model))
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel(xname)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, frameon=False, loc="lower center", ncols=len(labels), bbox_to_anchor=(0.5, 1.0))
    return fig


FIGURES = ("label_distribution", "per_class_f1", "low_resource", "diversity", "cooccurrence", "training_curves")


def make_figures(results: dict, train_rows: Optional[list[dict]], plots_dir: str | os.PathLike,
                 out_dir: str | os.PathLike, formats: Iterable[str] = ("pdf", "png"),
                 goemotions_dir: str | os.PathLike | None = None) -> dict[str, list[Path]]:
    """Draw every figure there is data for; ``{figure name: written paths}`` (empty list: no data).

    ``goemotions_dir`` (the GoEmotions TSV folder) supplies GoEmotions' label distribution.
    """
    makers = {
        "label_distribution": lambda: label_distribution_figure(
            results, reference_counts=goemotions_label_distribution(goemotions_dir) if goemotions_dir else None),
        "per_class_f1": lambda: per_class_f1_figure(results),
        "low_resource": lambda: low_resource_figure(results),
        "diversity": lambda: diversity_figure(results),
        "cooccurrence": lambda: cooccurrence_figure(train_rows or []),
        "training_curves": lambda: training_curves_figure(plots_dir),
    }
    written = {}
    for name in FIGURES:
        fig = makers[name]()
        written[name] = save_figure(fig, out_dir, name, formats) if fig is not None else []
    return written
