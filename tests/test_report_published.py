"""The published-figures file: every entry is typed, sourced, and uses a metric this project computes."""

from pathlib import Path

import pytest

from emopillars.contracts import RecordError
from emopillars.report.published import read_published

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_file_reads_and_every_figure_names_its_source():
    figures = read_published(ROOT / "reports" / "published.yaml").figures
    assert {f.system for f in figures} >= {"SamLowe/roberta-base-go_emotions",
                                           "alex-shvets/roberta-large-emopillars-contextless-goemotions"}
    for f in figures:
        assert f.source.startswith("https://"), f.system
        assert f.where.strip(), f.system
        if f.value is None:
            assert "not found" in f.where, f"{f.system}: a missing figure must say where it was looked for"
        else:
            assert 0 < f.value < 1


def test_a_card_figure_is_what_the_card_says():
    figures = read_published(ROOT / "reports" / "published.yaml").figures
    samlowe = {f.metric: f for f in figures if f.system == "SamLowe/roberta-base-go_emotions"}
    assert samlowe["micro_f1"].value == 0.585 and samlowe["micro_f1"].threshold == 0.5
    assert samlowe["accuracy"].value == 0.474


def _write(tmp_path, text):
    p = tmp_path / "published.yaml"
    p.write_text(text, encoding="utf-8")
    return p


ENTRY = ("figures:\n  - system: s\n    benchmark: goemotions\n    metric: {metric}\n    value: 0.5\n    split: test\n"
         "    threshold: null\n    protocol: p\n    source: https://example.org\n    where: w\n{extra}")


def test_an_unknown_metric_fails_naming_the_entry(tmp_path):
    with pytest.raises(RecordError, match=r"published.yaml: figures.0.metric: unknown metric 'f1'"):
        read_published(_write(tmp_path, ENTRY.format(metric="f1", extra="")))


def test_an_unexpected_key_fails_naming_the_field(tmp_path):
    with pytest.raises(RecordError, match=r"field 'figures.0.url' is not part of PublishedFigures"):
        read_published(_write(tmp_path, ENTRY.format(metric="macro_f1", extra="    url: x\n")))


def test_a_missing_source_fails(tmp_path):
    text = ENTRY.format(metric="macro_f1", extra="").replace("    source: https://example.org\n", "")
    with pytest.raises(RecordError, match=r"field 'figures.0.source' is missing"):
        read_published(_write(tmp_path, text))
