"""The teacher row of the main table, the cross-domain table, and the two conclusions the paper's text quotes."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from emopillars.config import defaults
from emopillars.contracts import RecordError
from emopillars.contracts.evaluation import Interval, PairedTest, SkippedBenchmarks, SkipRecord
from emopillars.data.records import EmotionRecord
from emopillars.eval.crossdomain import score_crossdomain
from emopillars.report.numbers import compute_numbers, crossdomain_conclusion, render_numbers, teacher_conclusion
from emopillars.report.results import Score, aggregate
from emopillars.report.table import render
from emopillars.report.tables import TEACHER_ROW, crossdomain_table, main_table

FIX = Path(__file__).parent / "fixtures" / "results"
TEMPLATES = Path(__file__).resolve().parents[1] / "reports" / "templates"


@pytest.fixture(scope="module")
def fixture_results():
    return aggregate(FIX / "outputs" / "metrics")


def s(value, low, high):
    return Score(value, low, high)


# --------------------------------------------------------------------------- teacher
def test_the_teacher_row_is_shown_with_its_sample_and_never_marked_best(fixture_results):
    results = copy.deepcopy(fixture_results)
    meld = results["llm_baseline"]["meld"]
    meld["metrics"]["weighted_f1"] = {"value": 0.99, "ci_low": 0.98, "ci_high": 1.0}
    meld["test_set"] = "a seeded sample of 8 examples (seed 13) of the full test split (2610 examples)"
    t = main_table(results)
    row = next(r for r in t.rows if r.header == TEACHER_ROW)
    assert not row.compare and [c.display for c in row.cells][2] == "0.990"
    assert not any(c.best for c in row.cells)
    # the best Emo Pillars / base cell of the column is still marked
    assert any(r.cells[2].best for r in t.rows if r.compare)
    note = next(n for n in t.notes if str(n).startswith("Teacher:"))
    assert "GoEmotions n = 8" in note and "MELD n = 8, a seeded sample of 8 examples (seed 13)" in note
    tex, md = render(t, TEMPLATES)
    assert "Teacher (generator zero-shot) & 0.000" in tex and "\\textbf{0.990}" not in tex


def test_no_teacher_row_without_an_llm_baseline(fixture_results):
    results = {k: v for k, v in fixture_results.items() if k != "llm_baseline"}
    t = main_table(results)
    assert TEACHER_ROW not in [r.header for r in t.rows]
    assert not any(str(n).startswith("Teacher:") for n in t.notes)


BASE = s(0.50, 0.45, 0.55)


@pytest.mark.parametrize("teacher, expected", [
    ([s(0.2, 0.1, 0.3)] * 3, "The teacher scores below the student's base encoder on all 3 benchmarks (A, B and C; "
                             "non-overlapping 95% intervals), so distillation from it cannot be expected to help "
                             "the student there."),
    ([s(0.8, 0.7, 0.9)] * 3, "The teacher scores above the student's base encoder on all 3 benchmarks (A, B and C; "
                             "non-overlapping 95% intervals), so it knows something"),
    ([s(0.5, 0.3, 0.7)] * 3, "The teacher's scores cannot be told apart from the student's base encoder's on any of "
                             "the 3 benchmarks (A, B and C; overlapping 95% intervals)"),
    ([s(0.2, 0.1, 0.3), s(0.8, 0.7, 0.9), s(0.52, 0.4, 0.6)],
     "The teacher scores below the student's base encoder on 1 of the 3 benchmarks (A; non-overlapping 95% "
     "intervals), so distillation cannot be expected to help the student there; it scores above it on 1 of the 3 "
     "benchmarks (B), where it has something to pass on; the intervals overlap on 1 of the 3 benchmarks (C)."),
    ([s(0.8, 0.7, 0.9), s(0.5, 0.3, 0.7), s(0.5, 0.3, 0.7)],
     "The teacher scores above the student's base encoder on 1 of the 3 benchmarks (A; non-overlapping 95% "
     "intervals), where it has something to pass on; the intervals overlap on 2 of the 3 benchmarks (B and C)."),
])
def test_the_teacher_conclusion_follows_the_comparison(teacher, expected):
    text = teacher_conclusion([(name, t, BASE) for name, t in zip("ABC", teacher)])
    assert text.startswith(expected)


def test_the_teacher_conclusion_of_one_benchmark_and_of_none():
    assert teacher_conclusion([("ISEAR", s(0.1, 0.0, 0.2), BASE)], 0.9).startswith(
        "The teacher scores below the student's base encoder on the one benchmark (ISEAR; non-overlapping 90% ")
    assert teacher_conclusion([]) == "--"


def test_the_fixture_run_gives_both_conclusions(fixture_results):
    numbers = compute_numbers(fixture_results)
    # the fixture's teacher: 0.000 on GoEmotions and 0.032 on ISEAR, far below the base; MELD within the intervals
    assert numbers["TeacherConclusion"].startswith("The teacher scores below the student's base encoder on 2 of "
                                                   "the 3 benchmarks (GoEmotions and ISEAR")
    # the cross-domain conclusion counts the table's columns where an Emo Pillars row beats the base row
    t = crossdomain_table(fixture_results)
    rows = {r.header: r for r in t.rows}
    above = sum(max(rows[n].cells[j].value for n in ("Emo Pillars (context-less)", "Emo Pillars (contextual)"))
                > rows["Base encoder"].cells[j].value for j in range(len(t.columns)))
    assert len(t.columns) == 6
    assert numbers["CrossDomainConclusion"].startswith(
        "No Emo Pillars initialisation scores above" if above == 0 else
        f"An Emo Pillars initialisation scores above the base encoder out of domain on {above} of the 6 ")


def test_no_crossdomain_records_leave_the_macro_undefined_as_missing(fixture_results):
    results = {k: v for k, v in fixture_results.items() if k != "crossdomain"}
    assert compute_numbers(results)["CrossDomainConclusion"] == "--"


# --------------------------------------------------------------------------- cross-domain
def _record(source, target, init, value, low, high, paired_p=None):
    records = [EmotionRecord(id=f"r{i}", text="t", labels=[lab], split="test", dataset=target)
               for i, lab in enumerate(["joy", "anger", "sadness", "fear", "disgust", "joy"])]
    scores = np.eye(7)[[0, 2, 3, 1, 4, 0]]
    rec, _ = score_crossdomain("isear", "meld", init, init, Path("m"), scores, records, defaults().evaluate,
                               "the full test split (6 examples)")
    update = {"source": source, "target": target,
              "metrics": {**rec.metrics, "macro_f1": Interval(value=value, ci_low=low, ci_high=high)}}
    if paired_p is not None:
        update["paired_test"] = PairedTest(metric="macro_f1", delta=0.1, p_value=paired_p, samples=1000, ci_low=0.01,
                                           ci_high=0.2)
    if (source, target) == ("goemotions", "isear"):
        update.update(n_excluded=4, excluded_labels={"shame": 3, "guilt": 1})
    return rec.model_copy(update=update)


def _results(cells: dict[tuple[str, str], dict[str, tuple]]) -> dict:
    out: dict = {"crossdomain": {}}
    for (source, target), inits in cells.items():
        for init, args in inits.items():
            rec = _record(source, target, init, *args)
            out["crossdomain"].setdefault(source, {})[rec.run_name] = rec.model_dump(mode="json")
    return out


CELLS = {
    ("goemotions", "isear"): {"base": (0.30, 0.25, 0.35), "contextless": (0.45, 0.40, 0.50, 0.001),
                              "contextual": (0.33, 0.28, 0.38, 0.3)},
    ("isear", "meld"): {"base": (0.40, 0.35, 0.45), "contextless": (0.20, 0.15, 0.25, 1.0),
                        "contextual": (0.38, 0.33, 0.43, 0.6)},
}


def test_the_crossdomain_table_has_a_column_per_pair_and_marks_the_best(tmp_path):
    results = _results(CELLS)
    results["crossdomain"]["isear"]["skipped"] = SkippedBenchmarks(skipped=[SkipRecord(
        kind="crossdomain", benchmark="emocontext", reason="emocontext: no folder configured. Obtain it")]).model_dump()
    t = crossdomain_table(results)
    assert [str(c.header) for c in t.columns] == ["GoEmotions → ISEAR", "ISEAR → MELD"]
    assert [r.header for r in t.rows] == ["Base encoder", "Emo Pillars (context-less)", "Emo Pillars (contextual)",
                                          "Scored / excluded"]
    best = [[c.best for c in r.cells] for r in t.rows]
    assert best[:3] == [[False, True], [True, False], [False, False]]
    assert t.rows[1].cells[0].marker == "dagger" and t.rows[2].cells[0].marker == ""
    assert [c.display for c in t.rows[3].cells] == ["6 / 4", "6 / 0"]
    notes = " ".join(map(str, t.notes))
    assert "GoEmotions to ISEAR: shame 3, guilt 1" in notes and "EmoContext: not evaluated" in notes
    assert "Shared Ekman groups: anger, disgust, fear, joy, sadness (GoEmotions to ISEAR, ISEAR to MELD)" in notes
    tex, md = render(t, TEMPLATES)
    assert "GoEmotions $\\rightarrow$ ISEAR" in tex and "\\textbf{0.450}$^{\\dagger}${\\scriptsize\\,[0.400, 0.500]}" in tex
    assert "| **0.450**† [0.400, 0.500] |" in md


def test_an_empty_run_has_an_empty_crossdomain_table_and_a_missing_record_is_named():
    assert crossdomain_table({}).is_empty
    cells = copy.deepcopy(CELLS)
    del cells[("isear", "meld")]["contextual"]
    cells[("isear", "goemotions")] = {i: (0.3, 0.2, 0.4) for i in ("base", "contextless", "contextual")}
    with pytest.raises(RecordError, match="crossdomain/isear/contextual__to__meld.json: cross-domain record not found"):
        crossdomain_table(_results(cells))
    results = _results(CELLS)
    results["crossdomain"]["isear"]["base__to__goemotions"] = results["crossdomain"]["isear"].pop("base__to__meld")
    with pytest.raises(RecordError, match="base__to__goemotions.json: the record is about isear's base model on meld"):
        crossdomain_table(results)


def test_the_crossdomain_macros_come_from_the_records():
    numbers = compute_numbers(_results(CELLS))
    assert numbers["CrossdomainGoemotionsToIsearContextless"] == "0.450"
    assert numbers["CrossDomainConclusion"] == (
        "An Emo Pillars initialisation scores above the base encoder out of domain on 1 of the 2 source-target "
        "pairs, 1 of them better by the paired bootstrap test (p < 0.05) and 1 with non-overlapping 95% intervals, "
        "so the claim that the Emo Pillars models adapt across domains holds on 1 of the 2 pairs only.")
    text = render_numbers(numbers)
    assert re.search(r"\\newcommand\{\\CrossDomainConclusion\}\{An Emo Pillars [^}]*\}", text)


@pytest.mark.parametrize("ours, expected", [
    ([[s(0.6, 0.56, 0.64)], [s(0.7, 0.6, 0.8)]],
     "An Emo Pillars initialisation scores above the base encoder out of domain on all 2 source-target pairs, each "
     "with non-overlapping 95% intervals, which supports the claim"),
    ([[s(0.4, 0.3, 0.44)], [s(0.45, 0.4, 0.5)]],
     "No Emo Pillars initialisation scores above the base encoder out of domain on any of the 2 source-target "
     "pairs; the base encoder is ahead with non-overlapping 95% intervals on 1 of the 2 pairs, so this run does not "
     "support the claim"),
    ([[s(0.52, 0.4, 0.6)], [s(0.51, 0.4, 0.6), s(0.2, 0.1, 0.3)]],
     "An Emo Pillars initialisation scores above the base encoder out of domain on all 2 source-target pairs, none "
     "of them with non-overlapping 95% intervals, so the intervals do not separate the initialisations"),
    ([[s(0.7, 0.6, 0.8)], [s(0.2, 0.1, 0.3)]],
     "An Emo Pillars initialisation scores above the base encoder out of domain on 1 of the 2 source-target pairs, "
     "1 of them with non-overlapping 95% intervals; the base encoder is ahead with non-overlapping intervals on 1 of "
     "the 2 pairs, so the evidence for the claim that the Emo Pillars models adapt across domains is mixed."),
    ([[s(0.52, 0.4, 0.6)], [s(0.2, 0.1, 0.3)]],
     "An Emo Pillars initialisation scores above the base encoder out of domain on 1 of the 2 source-target pairs, "
     "none of them with non-overlapping 95% intervals; the base encoder is ahead with non-overlapping intervals on 1 "
     "of the 2 pairs, which goes against the claim"),
])
def test_the_crossdomain_conclusion_follows_the_comparison(ours, expected):
    assert crossdomain_conclusion([(BASE, o) for o in ours]).startswith(expected)


def test_the_crossdomain_conclusion_counts_the_paired_test_beside_the_intervals():
    # the default run's shape: ahead on most pairs, the paired test significant on some, no interval apart,
    # and one pair where the base encoder is clearly ahead: mixed, not "against the claim"
    pairs = [(BASE, [s(0.53, 0.48, 0.58)], [0.01]), (BASE, [s(0.52, 0.47, 0.57)], [0.30]),
             (BASE, [s(0.30, 0.25, 0.35)], [0.99])]
    assert crossdomain_conclusion(pairs) == (
        "An Emo Pillars initialisation scores above the base encoder out of domain on 2 of the 3 source-target "
        "pairs, 1 of them better by the paired bootstrap test (p < 0.05) and none with non-overlapping 95% "
        "intervals; the base encoder is ahead with non-overlapping intervals on 1 of the 3 pairs, so the evidence "
        "for the claim that the Emo Pillars models adapt across domains is mixed.")
    # significant on every pair, none behind: supported; a p-value of a lower score does not count
    assert crossdomain_conclusion([(BASE, [s(0.53, 0.48, 0.58)], [0.01])] * 2).endswith(
        "which supports the claim that the Emo Pillars models adapt across domains.")
    assert "none of them better by the paired bootstrap test" in crossdomain_conclusion(
        [(BASE, [s(0.51, 0.46, 0.56), s(0.40, 0.35, 0.45)], [0.40, 0.01])])


def test_the_dvc_metrics_summary_has_each_pair_and_init(fixture_results):
    from emopillars.report.results import summarise

    summary = summarise(fixture_results)["crossdomain"]
    assert set(summary) == {f"{s}_to_{t}" for s in ("goemotions", "isear", "meld")
                            for t in ("goemotions", "isear", "meld") if s != t}
    cell = summary["isear_to_meld"]["contextless"]
    record = fixture_results["crossdomain"]["isear"]["contextless__to__meld"]
    assert cell["macro_f1"] == record["metrics"]["macro_f1"]["value"]
    assert cell["n_excluded"] == record["n_excluded"] and "p_value_vs_base" in cell
    assert "p_value_vs_base" not in summary["isear_to_meld"]["base"]
