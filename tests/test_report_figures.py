"""Figures are drawn from metrics and data files only, as non-empty PDF and PNG images."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest

from emopillars.io import read_jsonl
from emopillars.report.figures import FIGURES, cooccurrence_matrix, make_figures, read_curves
from emopillars.report.results import aggregate
from emopillars.taxonomy import EMOTION_INDEX

FIX = Path(__file__).parent / "fixtures" / "results"
MIRROR = Path(os.environ.get("EMOPILLARS_DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    results = aggregate(FIX / "outputs" / "metrics")
    rows = read_jsonl(FIX / "data" / "emopillars" / "contextless" / "train.jsonl")
    return out, make_figures(results, rows, FIX / "outputs" / "plots" / "train", out, ("pdf", "png"),
                             MIRROR / "goemotions")


def test_every_figure_is_written_as_pdf_and_png(drawn):
    out, written = drawn
    assert set(written) == set(FIGURES)
    for name, paths in written.items():
        assert sorted(p.suffix for p in paths) == [".pdf", ".png"], name
        pdf = out / f"{name}.pdf"
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000
        w, h = png_size(out / f"{name}.png")
        assert w > 300 and h > 200, (name, w, h)


def test_png_is_not_blank(drawn):
    import matplotlib.image as mpimg

    out, _ = drawn
    for name in FIGURES:
        img = mpimg.imread(out / f"{name}.png")
        assert img[..., :3].std() > 0.05, f"{name}.png looks empty"


def test_missing_inputs_leave_figures_out_instead_of_failing(tmp_path):
    written = make_figures({"sources": []}, [], tmp_path / "no-plots", tmp_path / "fig", ("png",))
    assert all(paths == [] for paths in written.values())
    assert not list(tmp_path.rglob("*.png"))


def test_cooccurrence_counts_pairs_of_labels():
    rows = [{"labels": ["joy", "love"]}, {"labels": ["joy"]}, {"labels": ["joy", "love", "not-an-emotion"]}]
    counts, totals = cooccurrence_matrix(rows)
    j, l = EMOTION_INDEX["joy"], EMOTION_INDEX["love"]
    assert totals[j] == 3 and totals[l] == 2
    assert counts[j, l] == counts[l, j] == 2
    assert counts.sum() == 3 + 2 + 2 * 2  # diagonal plus both orders of the pair


@pytest.mark.skipif(not (MIRROR / "goemotions" / "train.tsv").exists(), reason="GoEmotions mirror not present")
def test_goemotions_label_distribution_from_the_real_training_split():
    from emopillars.report.figures import goemotions_label_distribution

    counts = goemotions_label_distribution(MIRROR / "goemotions")
    assert set(counts) == set(EMOTION_INDEX)
    assert max(counts, key=counts.get) == "neutral"  # the most frequent GoEmotions label
    assert sum(counts.values()) > 43410  # multi-label: more labels than the 43,410 examples


def test_training_curves_read_dvc_plot_tables():
    # the train stage's plots: train.tsv (step, epoch, train_loss) and dev.tsv (step, epoch, dev_loss, dev_macro_f1)
    curves = read_curves(FIX / "outputs" / "plots" / "train")
    assert set(curves) == {"train_loss", "dev_loss", "dev_macro_f1"}
    assert set(curves["dev_macro_f1"]) == {"contextless", "contextual"}
    xname, x, y = curves["dev_macro_f1"]["contextless"]
    rows = [line.split("\t") for line in (FIX / "outputs/plots/train/contextless/dev.tsv").read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    assert xname == "step" and list(x) == [int(r[header.index("step")]) for r in rows]
    assert list(y) == [float(r[header.index("dev_macro_f1")]) for r in rows]


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_per_class_bars_show_support_and_grey_out_classes_with_few_test_examples():
    from emopillars.report.figures import MIN_SUPPORT, per_class_f1_figure

    results = aggregate(FIX / "outputs" / "metrics")
    fig = per_class_f1_figure(results)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_yticklabels()]
    supports = [int(t.get_text().rsplit("(n=", 1)[1].rstrip(")")) for t in ticks]
    few = [s < MIN_SUPPORT for s in supports]
    assert any(few) and not all(few)
    assert few == sorted(few)  # every class with too few test examples comes after the others
    greyed = [t.get_color() != ticks[0].get_color() for t in ticks]
    assert greyed == few
    assert f"fewer than {MIN_SUPPORT} test examples" in _texts(fig)
    assert "higher is better" in ax.get_xlabel()


def test_cooccurrence_cells_carry_their_counts_and_the_title_names_the_dataset():
    from emopillars.report.figures import cooccurrence_figure

    rows = read_jsonl(FIX / "data" / "emopillars" / "contextless" / "train.jsonl")
    fig = cooccurrence_figure(rows, "contextless", "train")
    ax = fig.axes[0]
    assert ax.get_title() == f"Emo Pillars (context-less), train split: {len(rows):,} examples"
    counts, totals = cooccurrence_matrix(rows)
    pairs = int(counts.sum() - np.trace(counts))
    cells = [int(t.get_text()) for t in ax.texts if t.get_text()]
    assert sum(cells) == pairs and all(c > 0 for c in cells)
    assert len(ax.get_yticklabels()) == int((totals > 0).sum())


def test_training_curves_with_few_values_are_points_with_a_note():
    from emopillars.report.figures import MIN_CURVE_POINTS, training_curves_figure

    fig = training_curves_figure(FIX / "outputs" / "plots" / "train")
    lines = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata())]
    assert lines
    for line in lines:
        assert (line.get_linestyle() == "None") == (len(line.get_xdata()) < MIN_CURVE_POINTS)
    assert f"fewer than {MIN_CURVE_POINTS} values logged" in _texts(fig)
    assert {ax.get_ylabel() for ax in fig.axes if ax.get_title()} <= {"lower is better", "higher is better"}


def test_diversity_says_which_classes_are_empty_and_which_way_is_more_diverse():
    from emopillars.report.figures import diversity_figure
    from emopillars.report.results import dataset_summaries

    results = aggregate(FIX / "outputs" / "metrics")
    fig = diversity_figure(results)
    measured = dataset_summaries(results)["contextless"].diversity.per_class
    empty = [e for e in EMOTION_INDEX if e not in measured]
    assert empty
    assert f"No points for {', '.join(empty)}: fewer than 2 texts" in _texts(fig)
    arrows = [ax.get_xlabel() for ax in fig.axes]
    assert arrows == ["more diverse \u2192", "more diverse \u2192", "\u2190 more diverse", "\u2190 more diverse"]
