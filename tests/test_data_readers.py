"""Readers on the real mirror files (counts from each PROVENANCE.md) and on the fixtures."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from emopillars.config import defaults
from emopillars import benchmarks
from emopillars.data.readers import (
    DataError,
    DatasetNotSupplied,
    MalformedRow,
    load_benchmark,
    read_benchmark,
    read_fairytaleqa,
    read_isear,
    read_wikiplots,
    read_wikiplots_with_counts,
)
from emopillars.taxonomy import EMOTIONS

FIXTURES = Path(__file__).parent / "fixtures"


# --------------------------------------------------------------------------- real files
@pytest.fixture(scope="module")
def goemotions(mirror_dir):
    return read_benchmark("goemotions", mirror_dir / "goemotions")


@pytest.fixture(scope="module")
def meld(mirror_dir):
    return read_benchmark("meld", mirror_dir / "meld")


def test_goemotions_counts_match_provenance(goemotions):
    assert goemotions.counts() == {"train": 43_410, "dev": 5_426, "test": 5_427}
    multi = {s: sum(len(r.labels) > 1 for r in recs) for s, recs in goemotions.items()}
    assert multi == {"train": 7_102, "dev": 878, "test": 837}
    assert {lab for recs in goemotions.values() for r in recs for lab in r.labels} == set(EMOTIONS)
    assert all(len({r.id for r in recs}) == len(recs) for recs in goemotions.values())


def test_goemotions_quoted_text_is_unquoted(goemotions):
    # Rows wrapped in CSV quotes come back without the quotes and with inner "" undoubled.
    texts = [r.text for r in goemotions["train"]]
    assert not any(t.startswith('"') and t.endswith('"') and '""' in t for t in texts)
    assert any('"' in t for t in texts)


def test_isear_raw_counts_match_provenance(mirror_dir):
    raw = read_isear(mirror_dir / "isear", drop_non_answers=False)
    rows = [r for recs in raw.values() for r in recs]
    assert len(rows) == 7_666 and len({r.id for r in rows}) == 7_666
    assert Counter(r.labels[0] for r in rows) == {
        "joy": 1_094, "fear": 1_095, "anger": 1_096, "sadness": 1_096, "disgust": 1_096, "shame": 1_096, "guilt": 1_093}
    # cleaning: no soft line-break marker, no escaped quotes, no pipes left in any text
    assert not any("á" in r.text or '\\"' in r.text or "|" in r.text for r in rows)


def test_isear_drops_non_answers_and_splits_stratified(mirror_dir):
    isear = read_isear(mirror_dir / "isear")
    assert isear.skipped == {"no_response": 92, "no_situation": 57, "cross_reference": 9}
    kept = [r for recs in isear.values() for r in recs]
    assert len(kept) == 7_666 - 158
    assert not any("no response" in r.text.lower() for r in kept)
    assert isear.counts() == {"train": 6_008, "dev": 750, "test": 750}
    # stratified: every emotion has ~10% of its rows in dev and in test
    per_label = Counter(r.labels[0] for r in kept)
    for split in ("dev", "test"):
        c = Counter(r.labels[0] for r in isear[split])
        assert all(abs(c[lab] - per_label[lab] / 10) <= 1 for lab in per_label)
    # the split is a function of the seed it is given (seeds other than the default, so that one left unpassed shows)
    first, again = read_isear(mirror_dir / "isear", seed=29), read_isear(mirror_dir / "isear", seed=29)
    other = read_isear(mirror_dir / "isear", seed=30)
    test_ids = [r.id for r in first["test"]]
    assert [r.id for r in again["test"]] == test_ids
    assert [r.id for r in other["test"]] != test_ids and [r.id for r in isear["test"]] != test_ids


def test_meld_counts_and_context(meld):
    assert meld.counts() == {"train": 9_989, "dev": 1_109, "test": 2_610}
    assert meld.label_counts()["train"] == {
        "neutral": 4_710, "joy": 1_743, "surprise": 1_205, "anger": 1_109, "sadness": 683, "disgust": 271, "fear": 268}
    assert meld.label_counts()["dev"]["fear"] == 40 and meld.label_counts()["test"]["disgust"] == 68
    assert len({r.meta["dialogue_id"] for r in meld["train"]}) == 1_038
    first, fourth = meld["train"][0], meld["train"][3]
    assert first.context is None and first.speaker == "Chandler"
    # context: the earlier utterances of the same dialogue, one "Speaker: text" line each
    assert fourth.context.splitlines() == [f"{r.speaker}: {r.text}" for r in meld["train"][:3]]
    assert all(r.meta["dialogue_id"] == 0 for r in meld["train"][:4])


def test_meld_context_window(mirror_dir):
    meld = read_benchmark("meld", mirror_dir / "meld", context_turns=1)
    assert meld["train"][3].context == f"{meld['train'][2].speaker}: {meld['train'][2].text}"


def test_fairytaleqa_counts(mirror_dir):
    stories = read_fairytaleqa(mirror_dir / "fairytaleqa_stories")
    assert len(stories) == 278
    assert sum(len(s.meta["sections"]) for s in stories) == 4_095
    assert Counter(s.split for s in stories) == {"train": 232, "dev": 23, "test": 23}
    assert sum(len(s.text.split()) for s in stories) == 601_118


# --------------------------------------------------------------------------- fixtures: IEMOCAP, EmoContext, WikiPlots
def test_iemocap_protocols_and_split():
    four = read_benchmark("iemocap", FIXTURES / "iemocap")
    six = read_benchmark("iemocap6", FIXTURES / "iemocap")
    # session 5 is the test set, dev is whole dialogues of sessions 1-4
    assert {r.meta["session"] for r in four["test"]} == {5}
    assert all(r.meta["session"] < 5 for s in ("train", "dev") for r in four[s])
    dev_dialogs = {r.meta["dialog"] for r in six["dev"]}
    assert dev_dialogs and not dev_dialogs & {r.meta["dialog"] for r in six["train"]}
    # 4-class: exc folds into hap; fru, sur, xxx and unlabelled turns are excluded and counted
    labels4 = {lab for recs in four.values() for r in recs for lab in r.labels}
    assert labels4 <= set(benchmarks.get("iemocap").labels) and "hap" in labels4
    assert all(r.labels == ["hap"] for recs in four.values() for r in recs if r.meta["raw_label"] == "exc")
    assert four.excluded == {"label_fru": 2, "label_xxx": 1, "label_sur": 1, "turn_without_label": 1}
    assert sum(four.counts().values()) == 16 and sum(six.counts().values()) == 18
    assert {lab for recs in six.values() for r in recs for lab in r.labels} == set(benchmarks.get("iemocap6").labels)
    assert four.skipped == {"untimed_transcript_line": 1}


def test_iemocap_context_includes_excluded_and_unlabelled_turns():
    six = read_benchmark("iemocap6", FIXTURES / "iemocap")
    recs = {r.id: r for split in six.values() for r in split}
    assert "Ses01F_impro01_M001" not in recs  # labelled xxx: no record ...
    last = recs["Ses01F_impro01_F002"]
    assert last.speaker == "F"
    # ... but it, and the never-labelled MXX0 turn, are context of the turn after them
    assert last.context.splitlines() == [
        "F: Hi, is this the line for the new passports?",
        "M: I have been standing here for two hours and nobody tells me anything.",
        "F: Oh, they just opened a second window, look!",
        "M: [LAUGHTER] Finally.",
        "M: Well, I guess we wait some more.",
    ]
    limited = read_benchmark("iemocap6", FIXTURES / "iemocap", context_turns=2)
    assert {r.id: r for s in limited.values() for r in s}["Ses01F_impro01_F002"].context.count("\n") == 1


def test_emocontext_fixture():
    ec = read_benchmark("emocontext", FIXTURES / "emocontext")
    assert ec.counts() == {"train": 6, "dev": 2, "test": 3}
    r = ec["train"][3]
    assert r.text == 'ok "internet" is a funny place'  # bare quotes kept
    assert r.context == "A: where are you from\nB: I am from the internet"
    assert r.labels == ["others"]


def test_wikiplots_fixture():
    plots, counts = read_wikiplots_with_counts(FIXTURES / "wikiplots")
    assert len(plots) == 30 and counts == {"empty_plot": 1}
    assert [p.title for p in plots[:3]] == ["The Keeper of Gull Rock", "Rising Dough", "The Quiet Ear"]
    assert plots[0].text.startswith("A lighthouse keeper") and len(plots[0].meta["sections"]) == 6
    assert plots[2].id == "wikiplots-000003"  # ids keep the position in the download
    assert plots[-1].title == "Harvest Moon" and plots[-1].text.startswith("The wheat crop of a farming cooperative")


def test_wikiplots_fixture_is_in_the_release_format():
    # One sentence per line, a line <EOS> after every plot, one title per line ('\n'-separated).
    plots = (FIXTURES / "wikiplots" / "plots").read_bytes().decode("utf-8")
    titles = (FIXTURES / "wikiplots" / "titles").read_bytes().decode("utf-8")
    assert plots.endswith("<EOS>\n") and titles.endswith("\n")
    lines = plots.split("\n")[:-1]
    assert lines.count("<EOS>") == len(titles.split("\n")[:-1]) == 31
    assert all(line == line.strip() and (line == "<EOS>" or line[-1] in ".!?") for line in lines if line)


def test_wikiplots_titles_split_on_newline_only():
    # U+2028 and a bare \r inside a title are not line ends: every plot keeps its own title.
    raw = (FIXTURES / "wikiplots" / "titles").read_bytes().decode("utf-8")
    assert "Salt\rand Stone\n" in raw and "The Lantern\u2028Part One\n" in raw
    plots, _ = read_wikiplots_with_counts(FIXTURES / "wikiplots")
    salt = next(p for p in plots if p.title == "Salt and Stone")
    assert salt.text.startswith("A quarry worker named Ilse")
    lantern = next(p for p in plots if p.title == "The Lantern Part One")
    assert lantern.text.startswith("In a city without electricity")
    assert plots[plots.index(lantern) + 1].title == "Letters to Orla"


def test_wikiplots_count_mismatch_names_both_files_and_counts(tmp_path):
    root = _copy(FIXTURES / "wikiplots", tmp_path)
    lines = (root / "titles").read_bytes().split(b"\n")
    (root / "titles").write_bytes(b"\n".join(lines[:10] + lines[11:]))
    with pytest.raises(DataError, match=rf"{root / 'plots'}: 31 plots \(ended by <EOS>\) but {root / 'titles'} has "
                                        r"30 titles; expected one title per plot"):
        read_wikiplots(root)


# --------------------------------------------------------------------------- malformed rows and missing datasets
def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def test_malformed_emocontext_row_names_file_and_line(tmp_path):
    root = _copy(FIXTURES / "emocontext", tmp_path)
    path = root / "dev.txt"
    path.write_text(path.read_text() + "12\tonly\tthree fields\n")
    with pytest.raises(MalformedRow, match=r"dev\.txt:4: expected 5 tab-separated fields"):
        read_benchmark("emocontext", root)


def test_unknown_emocontext_label(tmp_path):
    root = _copy(FIXTURES / "emocontext", tmp_path)
    path = root / "test.txt"
    path.write_text(path.read_text().replace("\tangry\n", "\tfurious\n"))
    with pytest.raises(MalformedRow, match=r"test\.txt:4: expected label to be one of happy, sad, angry, others"):
        read_benchmark("emocontext", root)


def test_malformed_iemocap_line(tmp_path):
    root = _copy(FIXTURES / "iemocap", tmp_path)
    path = root / "Session3/dialog/transcriptions/Ses03M_impro03.txt"
    lines = path.read_text().splitlines()
    lines.insert(1, "Ses03M_impro03_F009 missing the time: hello")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedRow, match=r"Ses03M_impro03\.txt:2: expected a turn line"):
        read_benchmark("iemocap", root)


def test_malformed_wikiplots(tmp_path):
    root = _copy(FIXTURES / "wikiplots", tmp_path)
    n_lines = (root / "plots").read_bytes().count(b"\n")
    with open(root / "plots", "a", encoding="utf-8") as f:
        f.write("A plot with no end marker.\n")
    with pytest.raises(MalformedRow, match=rf"plots:{n_lines + 1}: expected every plot to end with a line '<EOS>'"):
        read_wikiplots(root)


def test_malformed_meld_row(mirror_dir, tmp_path):
    root = tmp_path / "meld"
    root.mkdir()
    for name in ("train_sent_emo.csv", "dev_sent_emo.csv", "test_sent_emo.csv"):
        shutil.copy(mirror_dir / "meld" / name, root / name)
    with open(root / "dev_sent_emo.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[5][3] = "calm"  # Emotion of the data row on line 6
    with open(root / "dev_sent_emo.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)
    with pytest.raises(MalformedRow, match=r"dev_sent_emo\.csv:6: expected Emotion to be one of anger"):
        read_benchmark("meld", root)


def test_malformed_goemotions_and_isear_rows(mirror_dir, tmp_path):
    go = tmp_path / "goemotions"
    go.mkdir()
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        shutil.copy(mirror_dir / "goemotions" / name, go / name)
    with open(go / "dev.tsv", "a", encoding="utf-8") as f:
        f.write("a comment\t3,31\tabc123\n")
    with pytest.raises(MalformedRow, match=r"dev\.tsv:5427: expected comma-separated label ids in 0-27"):
        read_benchmark("goemotions", go)

    isear = tmp_path / "isear"
    isear.mkdir()
    lines = (mirror_dir / "isear" / "isear.csv").read_text(encoding="utf-8").split("\n")
    lines[10] = lines[10].replace("|anger|", "|joy|", 1)  # EMOT code 3 with name joy
    (isear / "isear.csv").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(MalformedRow, match=r"isear\.csv:11: expected EMOT 1-7 agreeing with the emotion name"):
        read_isear(isear)


@pytest.mark.parametrize("name,key", [("iemocap", "iemocap_dir"), ("emocontext", "emocontext_dir")])
def test_user_supplied_benchmark_not_configured(name, key):
    with pytest.raises(DatasetNotSupplied, match=rf"set data\.{key}"):
        load_benchmark(name, defaults().data)
    with pytest.raises(DatasetNotSupplied, match=rf"/nowhere/{name}: folder not found.*data\.{key}"):
        read_benchmark(name, f"/nowhere/{name}")


def test_load_benchmark_uses_params(tmp_path):
    params = defaults().data.replace(emocontext_dir=str(FIXTURES / "emocontext"), iemocap_dir=str(FIXTURES / "iemocap"))
    assert load_benchmark("emocontext", params).counts()["test"] == 3
    assert load_benchmark("iemocap", params).counts() == read_benchmark("iemocap", FIXTURES / "iemocap").counts()
    with pytest.raises(DatasetNotSupplied, match="run the data stage"):
        load_benchmark("meld", defaults().data.replace(out_dir=str(tmp_path / "raw")))


def test_cli_datasets_summarises_a_user_copy(capsys):
    from emopillars.cli import main

    assert main(["datasets", "emocontext", str(FIXTURES / "emocontext"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["splits"] == {"train": 6, "dev": 2, "test": 3} and out["labels"]["test"]["happy"] == 1
    assert main(["datasets", "iemocap", "/nowhere/IEMOCAP"]) == 2
    assert "set data.iemocap_dir" in capsys.readouterr().err
