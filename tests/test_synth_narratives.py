"""Narrative passages: a WikiPlots plot is one passage (cut at a sentence end), long stories are cut by sections."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import pytest
import yaml

from emopillars.data.readers import read_wikiplots
from emopillars.synth.narratives import CutReport, Story, cut_story, load_stories, select_passages

ROOT = Path(__file__).resolve().parents[1]
WIKIPLOTS = ROOT / "tests" / "fixtures" / "wikiplots"


def _words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def plots():
    return load_stories("wikiplots", WIKIPLOTS)


def test_every_wikiplots_passage_is_one_whole_plot(plots):
    passages, report = select_passages(plots, n_passages=1000, min_words=40, max_words=600, seed=13)
    by_id = {p.id: p for p in read_wikiplots(WIKIPLOTS)}
    long_enough = [p for p in by_id.values() if _words(p.text) >= 40]
    assert len(passages) == len(long_enough) == 28
    assert len({p["story_id"] for p in passages}) == len(passages)  # one passage per plot
    for p in passages:
        assert p["passage"] == by_id[p["story_id"]].text and p["plot_id"] == f"{p['story_id']}__p000"
        assert p["title"] == by_id[p["story_id"]].title
    longest = max(passages, key=lambda p: p["n_words"])
    assert longest["title"] == "The Cartographer's Debt" and longest["n_words"] == 295
    assert report.dropped == {"plot under min_words": 2} and report.truncated == 0  # 19 and 23 words


def test_a_long_plot_is_cut_at_the_last_sentence_end_within_max_words(plots):
    passages, report = select_passages(plots, n_passages=1000, min_words=50, max_words=120, seed=13)
    sentences = {s.id: s.sections for s in plots}
    assert all(p["n_words"] <= 120 for p in passages)
    assert report.dropped == {"plot under min_words": 4}  # 19, 23, 42 and 46 words
    assert report.truncated == 5  # the plots of 121-295 words
    for p in passages:
        plot = sentences[p["story_id"]]
        kept = p["passage"]
        # a prefix of the plot's sentences, and the next sentence would not have fitted
        k = next(i for i in range(len(plot) + 1) if " ".join(plot[:i]) == kept)
        assert k == len(plot) or _words(kept) + _words(plot[k]) > 120
    debt = next(p for p in passages if p["title"] == "The Cartographer's Debt")
    assert debt["passage"].startswith("In the year of the great flood") and debt["passage"].endswith("take the blame alone.")
    assert 100 < debt["n_words"] <= 120


def test_plot_whose_first_sentence_exceeds_max_words_is_dropped_and_counted():
    long_sentence = " ".join(["word"] * 30) + "."
    report = CutReport()
    story = Story(id="wikiplots-000001", sections=[long_sentence, "A short one."], whole=True)
    assert cut_story(story, min_words=5, max_words=20, report=report) == []
    assert report.dropped == {"first sentence over max_words": 1} and report.passages == 0


def test_sectioned_stories_are_still_cut_into_several_passages():
    sections = [" ".join(f"Sentence {i} part {j} goes on here." for j in range(6)) for i in range(10)]  # 42 words each
    report = CutReport()
    passages = cut_story(Story(id="tale", sections=sections), min_words=80, max_words=150, report=report)
    assert [_words(p) for p in passages] == [84] * 5  # two sections per passage, nothing lost
    assert passages[0].split("\n") == sections[:2]


# --------------------------------------------------------------------------- the stages: data -> narratives
def _params(tmp_path: Path) -> Path:
    from emopillars.profiles import compose

    path = compose("default", tmp_path / "params.yaml", ROOT / "conf")
    params = yaml.safe_load(path.read_text())
    params["data"].update(datasets=[], mirror=None, wikiplots_dir=str(WIKIPLOTS))
    params["narratives"].update(corpus="wikiplots", n_passages=10, min_words=50, max_words=120)
    path.write_text(yaml.safe_dump(params))
    return path


def _narratives(params: Path, corpus_dir: Path, tmp_path: Path) -> int:
    stage = runpy.run_path(str(ROOT / "stages" / "narratives.py"))
    return stage["main"](["--params", str(params), "--corpus-dir", str(corpus_dir),
                          "--out", str(tmp_path / "narratives.jsonl"), "--metrics", str(tmp_path / "metrics.json")])


def test_narratives_stage_reads_the_corpus_the_data_stage_made(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    params = _params(tmp_path)
    data = runpy.run_path(str(ROOT / "stages" / "data.py"))
    assert data["main"](["--params", str(params), "--out", str(tmp_path / "raw"),
                         "--metrics", str(tmp_path / "data.json")]) == 0
    assert _narratives(params, tmp_path / "raw" / "wikiplots", tmp_path) == 0
    rows = [json.loads(line) for line in (tmp_path / "narratives.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and all(50 <= r["n_words"] <= 120 for r in rows)
    from emopillars.contracts.synthesis import NarrativesMetrics

    metrics = NarrativesMetrics.read(tmp_path / "metrics.json")
    assert (metrics.inputs, metrics.unit_in, metrics.passages_cut, metrics.outputs) == (30, "stories", 26, 10)
    assert metrics.dropped == {"plot under min_words": 4} and metrics.truncated_at_max_words == 5


def test_narratives_stage_without_the_corpus_folder_says_how_to_make_it(tmp_path, capsys):
    params = _params(tmp_path)
    assert _narratives(params, tmp_path / "raw" / "wikiplots", tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"narratives: error: {tmp_path / 'raw' / 'wikiplots' / 'plots'}")
    assert "dvc repro data" in err[0]
    assert not (tmp_path / "narratives.jsonl").exists()


def test_narratives_stage_reports_a_malformed_plots_file(tmp_path, capsys):
    corpus = tmp_path / "wikiplots"
    shutil.copytree(WIKIPLOTS, corpus)
    with open(corpus / "plots", "a", encoding="utf-8") as f:
        f.write("A sentence after the last end marker.\n")
    assert _narratives(_params(tmp_path), corpus, tmp_path) == 2
    err = capsys.readouterr().err
    assert f"{corpus / 'plots'}:" in err and "expected every plot to end with a line '<EOS>'" in err
