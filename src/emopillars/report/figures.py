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
import matplotlib.colors  # noqa: E402
import matplotlib.ticker  # noqa: E402
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
    OWN_HEAD,
    seed_spread,
    transfer_runs,
)
from emopillars.report.tables import DATASET_NAMES, DIVERSITY_MEASURES  # noqa: E402
from emopillars.taxonomy import EMOTIONS  # noqa: E402

PALETTE = {"base": "#7f7f7f", "contextless": "#1f77b4", "contextual": "#ff7f0e",
           "contextless-ownhead": "#0b3c68", "contextual-ownhead": "#a34700",
           "goemotions": "#7f7f7f", "llm": "#2ca02c"}
MIN_SUPPORT = 10  # test examples below which a class's F1 is drawn greyed out, as too few to read
MIN_CURVE_POINTS = 5  # fewer evaluations than this are drawn as points, not as a curve
HIGHER, LOWER = "higher is better", "lower is better"


def _note(fig, text: str) -> None:
    """Small print under everything the figure draws (what is left out or greyed, and why); call it last."""
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, tick labels and legends included
    width, height = fig.get_figwidth(), fig.get_figheight()
    fig.text(box.x0 / width, (box.y0 - 0.05) / height, text, ha="left", va="top", fontsize=6.5, color="#555555",
             wrap=True)


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
            series.append((name, shares, int(sum(dist.values()))))
    if not series:
        return None
    _style()
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    x = np.arange(len(EMOTIONS))
    width = 0.8 / len(series)
    for k, (name, shares, n) in enumerate(series):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, 100 * shares, width,
               label=f"{DATASET_NAMES.get(name, name)} ({n:,} labels)", color=PALETTE.get(name))
    ax.set_xticks(x, EMOTIONS, rotation=60, ha="right")
    ax.set_xlim(-0.6, len(EMOTIONS) - 0.4)
    ax.set_ylabel("share of labels (%)")
    ax.grid(axis="x", visible=False)
    ax.legend(frameon=False, ncols=len(series), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig


# --------------------------------------------------------------------------- per-class F1
def per_class_f1_figure(results: dict, benchmark: str = "goemotions", min_support: int = MIN_SUPPORT):
    """Per-class test F1 of each initialisation at the largest training fraction, with each class's support.

    Classes with fewer than ``min_support`` test examples are drawn greyed out below the others: their F1
    rests on too few examples to be compared.
    """
    runs = [r for r in transfer_runs(results) if r.benchmark == benchmark]
    full = full_data_fraction(runs)
    own_head = sorted({r.init for r in runs if r.init.endswith(OWN_HEAD)})
    runs = {r.init: r for r in runs if r.fraction == full and not r.init.endswith(OWN_HEAD)}
    if "base" not in runs or len(runs) < 2:
        return None
    base = runs["base"].record.per_class
    labels = [e for e in EMOTIONS if e in base] or sorted(base)
    absent = [l for l in labels if base[l].support == 0]
    labels = [l for l in labels if l not in absent]
    support = {l: base[l].support for l in labels}
    reliable = sorted((l for l in labels if support[l] >= min_support), key=lambda l: -base[l].f1)
    few = sorted((l for l in labels if support[l] < min_support), key=lambda l: (-support[l], l))
    order = reliable + few
    _style()
    fig, ax = plt.subplots(figsize=(3.6, 0.16 * len(order) + 1.2))
    y = np.arange(len(order))
    inits = inits_in(list(runs.values()))
    height = 0.8 / len(inits)
    for k, init in enumerate(inits):
        f1 = [runs[init].record.per_class[l].f1 for l in order]
        colors = [matplotlib.colors.to_rgba(PALETTE.get(init, "#333333"), 1.0 if l in reliable else 0.3)
                  for l in order]
        ax.barh(y + (k - (len(inits) - 1) / 2) * height, f1, height, label=init_name(init), color=colors)
    ax.set_yticks(y, [f"{l} (n={support[l]})" for l in order])
    for tick, l in zip(ax.get_yticklabels(), order):
        if l in few:
            tick.set_color("#888888")
    if few and reliable:
        ax.axhline(len(reliable) - 0.5, color="#888888", lw=0.6, ls="--")
    ax.set_xlabel(f"F1 on {benchmark_name(benchmark)} test ({HIGHER})")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.4, 1.0), ncols=1)
    n_test = runs["base"].record.n_test
    _note(fig, f"n: test examples of the class (of {n_test:,}); trained on {100 * full:g}% of the training split "
               f"(first training seed). "
               + (f"Faded, below the line: fewer than {min_support} test examples, too few to compare. " if few else "")
               + "No bar: F1 = 0."
               + (f" Not in the test split, left out: {', '.join(absent)}." if absent else "")
               + (" Every encoder with a fresh head; the own-head runs are in the main table." if own_head else ""))
    return fig


# --------------------------------------------------------------------------- low-resource curves
def low_resource_figure(results: dict):
    runs = [r for r in transfer_runs(results) if r.primary is not None and r.fraction]
    benches = [b for b in benchmarks_in(runs) if len({r.fraction for r in runs if r.benchmark == b}) > 1]
    if not benches:
        return None
    _style()
    fig, axes = plt.subplots(1, len(benches), figsize=(2.4 * len(benches), 2.3), squeeze=False)
    spread = seed_spread(results)
    for ax, b in zip(axes[0], benches):
        brun = [r for r in runs if r.benchmark == b]
        for init in inits_in(brun):
            pts = sorted((r.fraction, r.primary) for r in brun if r.init == init)
            xs = [100 * f for f, _ in pts]
            ax.plot(xs, [s.value for _, s in pts], marker="o", ms=3, label=init_name(init), color=PALETTE.get(init),
                    ls="--" if init.endswith(OWN_HEAD) else "-", mfc="white" if init.endswith(OWN_HEAD) else None)
            sds = [spread[(b, init, f)].sd if (b, init, f) in spread else 0.0 for f, _ in pts]
            if any(sds):
                ax.errorbar(xs, [s.value for _, s in pts], yerr=sds, fmt="none", ecolor=PALETTE.get(init),
                            elinewidth=0.8, capsize=2)
            if all(s.ci for _, s in pts):
                ax.fill_between(xs, [s.ci_low for _, s in pts], [s.ci_high for _, s in pts], alpha=0.2,
                                color=PALETTE.get(init), linewidth=0)
        ax.set_xscale("log")
        ticks = sorted({100 * r.fraction for r in brun})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training data used (%)")
        ax.set_title(benchmark_name(b))
        ax.set_ylabel(f"{metric_name(brun[0].primary_metric)} ({HIGHER})")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, loc="lower center", ncols=min(len(labels), 3), bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    rec = runs[0].record
    tests = ", ".join(f"{benchmark_name(b)} {next(r.record.n_test for r in runs if r.benchmark == b):,}" for b in benches)
    seeds = sorted({sp.n for (b, _, _), sp in spread.items() if b in benches})
    _note(fig, f"Points: the first training seed's test score; shaded: its {rec.bootstrap.confidence:.0%} bootstrap "
               f"interval over the test examples ({tests})"
               + (f"; error bars: standard deviation over {'/'.join(map(str, seeds))} training seeds." if seeds
                  else "; one training seed per point."))
    return fig


# --------------------------------------------------------------------------- diversity per class
def diversity_figure(results: dict, synthetic: str = "contextless", reference: str = "goemotions"):
    """Four diversity measures per class, the synthetic set beside GoEmotions sampled at the same sizes.

    Each class is measured on a sample of its texts (``dataset_stats.sample_per_class`` at most); a class with
    fewer than two texts in the synthetic set has no measure in either series, and the figure says which.
    """
    datasets = dataset_summaries(results)
    series = [(n, datasets[n].diversity.per_class) for n in (synthetic, reference) if n in datasets]
    series = [(n, d) for n, d in series if d]
    if not series:
        return None
    _style()
    fig, axes = plt.subplots(1, len(DIVERSITY_MEASURES), figsize=(1.75 * len(DIVERSITY_MEASURES) + 1.2, 4.9),
                             sharey=True, squeeze=False)
    y = np.arange(len(EMOTIONS))
    for ax, (k, label, lower_is_more_diverse) in zip(axes[0], DIVERSITY_MEASURES):
        for name, d in series:
            vals = [float(getattr(d[e], k)) if e in d else np.nan for e in EMOTIONS]
            ax.plot(vals, y, "o", ms=3, label=DATASET_NAMES.get(name, name), color=PALETTE.get(name))
        ax.set_title(label)
        ax.set_xlabel(("← more diverse" if lower_is_more_diverse else "more diverse →"), fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ours = dict(series)[synthetic] if synthetic in dict(series) else series[0][1]
    axes[0][0].set_yticks(y, [f"{e} (n={ours[e].n})" if e in ours else f"{e} (–)" for e in EMOTIONS])
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, frameon=False, loc="lower center", ncols=len(labels), bbox_to_anchor=(0.5, 1.0))
    empty = [e for e in EMOTIONS if e not in ours]
    _note(fig, f"n: texts measured per class (the same number sampled from GoEmotions). "
               + (f"No points for {', '.join(empty)}: fewer than 2 texts of the class in "
                  f"{DATASET_NAMES.get(synthetic, synthetic)}. " if empty else "")
               + "Higher dist-1/dist-2 and lower self-BLEU/embedding similarity mean more diverse texts.")
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


def cooccurrence_figure(rows: list[dict], dataset: str = "contextless", split: str = "train"):
    """Heatmap of P(column label | row label) over the examples' labels, each cell with its count of examples.

    Only classes that occur are drawn; the title names the dataset and split and the number of examples.
    """
    counts, totals = cooccurrence_matrix(rows)
    if totals.sum() == 0:
        return None
    import seaborn as sns

    _style()
    present = [i for i in range(len(EMOTIONS)) if totals[i] > 0]
    counts, totals = counts[np.ix_(present, present)], totals[present]
    names = [EMOTIONS[i] for i in present]
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(counts > 0, counts / totals[:, None], np.nan)  # no example with both: a blank cell
    np.fill_diagonal(cond, np.nan)
    annot = np.where(np.eye(len(names), dtype=bool) | (counts == 0), "", counts.astype(int).astype(str))
    side = 1.6 + 0.2 * len(names)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    finite = cond[np.isfinite(cond)]
    sns.heatmap(cond, ax=ax, cmap="rocket_r", vmin=0, vmax=max(0.05, float(finite.max()) if finite.size else 1),
                xticklabels=names, yticklabels=[f"{e} (n={int(t)})" for e, t in zip(names, totals)], square=True,
                linewidths=0.2, linecolor="#f0f0f0", annot=annot, fmt="", annot_kws={"fontsize": 4.5},
                cbar_kws={"label": "P(column label | row label)", "shrink": 0.7})
    ax.tick_params(axis="both", labelsize=6)
    ax.grid(False)
    ax.set_xlabel("co-occurring label")
    ax.set_ylabel("label (n: examples with it)")
    absent = len(EMOTIONS) - len(names)
    ax.set_title(f"{DATASET_NAMES.get(dataset, dataset)}, {split} split: {len(rows):,} examples", fontsize=8)
    _note(fig, "Cell: examples labelled with both, coloured by their share of the row label's examples; blank: "
               "none (and the diagonal). "
               + (f"{absent} classes without examples are left out." if absent else ""))
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


CURVE_AXES = {"train_loss": ("train loss", LOWER), "dev_loss": ("dev loss", LOWER),
              "dev_macro_f1": ("dev macro-F1", HIGHER)}


def training_curves_figure(plots_dir: str | os.PathLike, min_points: int = MIN_CURVE_POINTS):
    """One panel per logged quantity, one series per model; a series with fewer than ``min_points`` evaluations
    is drawn as points (no line between them) and the figure says so."""
    curves = read_curves(plots_dir)
    if not curves:
        return None
    _style()
    metrics = sorted(curves)
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 2.3), squeeze=False)
    sparse: set[str] = set()
    for ax, metric in zip(axes[0], metrics):
        steps = sorted({float(v) for _, x, _ in curves[metric].values() for v in x})
        for model, (xname, x, y) in sorted(curves[metric].items()):
            few = len(x) < min_points
            if few:
                sparse.add(DATASET_NAMES.get(model, model))
            ax.plot(x, y, marker="o", ms=3.5 if few else 2, ls="none" if few else "-",
                    label=DATASET_NAMES.get(model, model), color=PALETTE.get(model))
        title, better = CURVE_AXES.get(metric, (metric.replace("_", " "), None))
        ax.set_title(title)
        if better:
            ax.set_ylabel(better, fontsize=7)
        ax.set_xlabel("optimizer step" if xname == "step" else xname)
        if len(steps) <= 6:  # label the logged steps themselves, not a fractional scale between them
            ax.set_xticks(steps, [f"{v:g}" for v in steps])
            ax.set_xlim(steps[0] - 0.5 - 0.1 * (steps[-1] - steps[0]), steps[-1] + 0.5 + 0.1 * (steps[-1] - steps[0]))
        else:
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5, integer=True))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, frameon=False, loc="lower center", ncols=len(labels), bbox_to_anchor=(0.5, 1.0))
    if sparse:
        _note(fig, f"Points, not curves, for {' and '.join(sorted(sparse))}: fewer than {min_points} values logged "
                   "in the run.")
    return fig


FIGURES = ("label_distribution", "per_class_f1", "low_resource", "diversity", "cooccurrence", "training_curves")


def make_figures(results: dict, train_rows: Optional[list[dict]], plots_dir: str | os.PathLike,
                 out_dir: str | os.PathLike, formats: Iterable[str] = ("pdf", "png"),
                 goemotions_dir: str | os.PathLike | None = None, train_dataset: str = "contextless",
                 train_split: str = "train") -> dict[str, list[Path]]:
    """Draw every figure there is data for; ``{figure name: written paths}`` (empty list: no data).

    ``goemotions_dir`` (the GoEmotions TSV folder) supplies GoEmotions' label distribution; ``train_rows`` are
    the examples of ``train_dataset``'s ``train_split`` (the co-occurrence heatmap names them).
    """
    makers = {
        "label_distribution": lambda: label_distribution_figure(
            results, reference_counts=goemotions_label_distribution(goemotions_dir) if goemotions_dir else None),
        "per_class_f1": lambda: per_class_f1_figure(results),
        "low_resource": lambda: low_resource_figure(results),
        "diversity": lambda: diversity_figure(results),
        "cooccurrence": lambda: cooccurrence_figure(train_rows or [], train_dataset, train_split),
        "training_curves": lambda: training_curves_figure(plots_dir),
    }
    written = {}
    for name in FIGURES:
        fig = makers[name]()
        written[name] = save_figure(fig, out_dir, name, formats) if fig is not None else []
    return written
