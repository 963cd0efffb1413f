"""Human evaluation kit: blind stratified export, offline page, answer import and Krippendorff's alpha."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emopillars.report.agreement import krippendorff_alpha
from emopillars.report.humaneval import SheetMismatch, build_sheet, export_sheet, import_answers, label_correctness
from emopillars.taxonomy import EMOTIONS

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "reports" / "templates" / "annotate.html"


# --------------------------------------------------------------------------- alpha
def test_alpha_nominal_hand_checked():
    # Two coders, four units: (a,a) (a,b) (b,b) (b,b).
    # Coincidences: o_aa = 2, o_ab = o_ba = 1, o_bb = 4; n_a = 3, n_b = 5, n = 8.
    # alpha = 1 - (n-1) * (o_ab + o_ba) / (2 n_a n_b) = 1 - 7 * 2 / 30 = 16/30.
    units = {1: ["a", "a"], 2: ["a", "b"], 3: ["b", "b"], 4: ["b", "b"]}
    assert krippendorff_alpha(units, "nominal") == pytest.approx(16 / 30)


def test_alpha_ordinal_hand_checked():
    # Units (1,1) (1,2) (2,3) (3,3): n_1 = 3, n_2 = 2, n_3 = 3, n = 8.
    # Ordinal d2: d(1,2) = (3+2 - (3+2)/2)^2 = 6.25, d(2,3) = 6.25, d(1,3) = (8 - (3+3)/2)^2 = 25.
    # Observed sum o*d2 = 2*6.25 + 2*6.25 = 25; expected sum n_c n_k d2 = 2*(6*6.25 + 6*6.25 + 9*25) = 600.
    # alpha = 1 - 7 * 25 / 600 = 0.708333...; nominal on the same data: 1 - 7 * 4 / 42 = 1/3.
    units = {1: [1, 1], 2: [1, 2], 3: [2, 3], 4: [3, 3]}
    assert krippendorff_alpha(units, "ordinal", order=[1, 2, 3]) == pytest.approx(1 - 175 / 600)
    assert krippendorff_alpha(units, "nominal") == pytest.approx(1 / 3)


def test_alpha_matches_krippendorffs_published_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units, missing values.
    N = None
    obs = [[1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
           [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]]
    units = {u: [o[u] for o in obs] for u in range(12)}
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_alpha_edge_cases():
    assert krippendorff_alpha({1: ["a", "a"], 2: ["a", "a"]}) is None  # no variation: undefined
    assert krippendorff_alpha({1: ["a"], 2: ["b"]}) is None  # nothing pairable
    assert krippendorff_alpha({1: ["a", "a"], 2: ["b", "b"]}) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not in the order"):
        krippendorff_alpha({1: ["x", "y"]}, "ordinal", order=["x"])


# --------------------------------------------------------------------------- export
# None of these may appear anywhere in the annotators' files (the fixture's utterances and contexts contain no
# class name, so any emotion name in items.json or sheet.csv comes from labels, seeds or the primary emotion).
SECRET_TOKENS = ("plot-zz91", "rec-qq77", "sha256:feedc0de", "SmolLM2-135M", "explication-xx", "subtle",
                 "primary_emotion", "emotions_used_to_generate_context", "expressiveness", "labels")
LABELS = ("joy", "anger", "fear", "sadness")
SEEDS = ("grief", "remorse")


def _records():
    cl = [{"id": f"rec-qq77-{i}", "plot_id": "plot-zz91", "utterance": f"Line number {i} about the bridge.",
           "labels": sorted({LABELS[i % 4], LABELS[(i + 1) % 4]}), "primary_emotion": LABELS[i % 4],
           "emotions_used_to_generate_context": list(SEEDS), "expressiveness": "subtle",
           "raw_emotion_explication": "explication-xx", "prompt_hash": "sha256:feedc0de",
           "generator": "SmolLM2-135M"} for i in range(16)]
    cx = [{**r, "id": f"rec-qq77-c{i}", "context": f"Situation {i} by the river.", "character": "Greta",
           "character_description": "an old weaver"} for i, r in enumerate(cl[:8])]
    return {"contextless": cl, "contextual": cx}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_export_is_blind_and_keeps_the_key_apart(tmp_path):
    n, sheet_id = export_sheet(_records(), tmp_path / "sheet", tmp_path / "key.json", TEMPLATE, 2, 13)
    assert sorted(p.name for p in (tmp_path / "sheet").iterdir()) == ["instructions.txt", "items.json", "sheet.csv",
                                                                       "sheet.html"]
    sheet_dir = tmp_path / "sheet"
    for name in ("items.json", "sheet.csv", "sheet.html", "instructions.txt"):
        text = (sheet_dir / name).read_text()
        for token in SECRET_TOKENS:
            assert token not in text, f"{name} reveals {token!r}"
    # items.json and sheet.csv name no emotion at all: no label, no primary emotion, no seed
    for name in ("items.json", "sheet.csv"):
        leaked = _words((sheet_dir / name).read_text()) & set(EMOTIONS)
        assert not leaked, f"{name} reveals {sorted(leaked)}"
    items = json.loads((sheet_dir / "items.json").read_text())["items"]
    assert all(set(it) == {"item", "utterance", "context", "character", "character_description"} for it in items)
    # the page: the items it embeds are items.json; emotion names occur only as the 28 choices of question 1,
    # the same list in the taxonomy's order for every item (so the list itself says nothing about an item)
    page = (sheet_dir / "sheet.html").read_text()
    embedded = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(embedded) == items
    qblock = re.search(r'<script type="application/json" id="questions-data">(.*?)</script>', page, re.S)
    questions = json.loads(qblock.group(1))
    assert [q["key"] for q in questions] == ["emotions", "naturalness", "context_personalises"]
    assert [o[0] for o in questions[0]["options"]] == list(EMOTIONS) and questions[0]["max_choices"] == 3
    rest = page[:qblock.start()] + page[qblock.end():]
    leaked = _words(rest) & set(EMOTIONS)
    assert not leaked, f"sheet.html reveals {sorted(leaked)} outside the list of choices"
    # the CSV instructions are the same whatever the data
    other = tmp_path / "other"
    export_sheet({"contextless": _records()["contextless"][:3]}, other, tmp_path / "key2.json", TEMPLATE, 1, 5)
    assert (other / "instructions.txt").read_text() == (sheet_dir / "instructions.txt").read_text()
    # the key has what the sheet hides
    key = json.loads((tmp_path / "key.json").read_text())
    assert len(key["items"]) == n and key["sheet_id"] == sheet_id
    recs = {r["id"]: r for rs in _records().values() for r in rs}
    for meta in key["items"].values():
        rec = recs[meta["id"]]
        assert meta["labels"] == rec["labels"] and meta["primary_emotion"] == rec["primary_emotion"]
        assert meta["emotions_used_to_generate_context"] == list(SEEDS) and meta["plot_id"] == "plot-zz91"
        assert meta["expressiveness"] == "subtle"
    rows = list(csv.DictReader(open(sheet_dir / "sheet.csv")))
    assert len(rows) == n and all(r["sheet"] == sheet_id for r in rows)
    assert list(rows[0]) == ["sheet", "item", "utterance", "context", "character", "character_description",
                             "annotator", "emotions", "naturalness", "context_personalises"]
    assert all(r["emotions"] == "" and r["naturalness"] == "" for r in rows)
    # contextual items show their context, others mark the question n/a
    assert all((r["context_personalises"] == "n/a") == (r["context"] == "") for r in rows)


def test_export_is_stratified_by_dataset_and_primary_emotion():
    items, key = build_sheet(_records(), 2, 13)
    strata = {}
    for meta in key["items"].values():
        strata.setdefault((meta["dataset"], meta["primary_emotion"]), 0)
        strata[(meta["dataset"], meta["primary_emotion"])] += 1
    assert strata == {(d, e): 2 for d in ("contextless", "contextual") for e in LABELS}
    # shuffled across strata: not all contextless first
    datasets = [key["items"][it["item"]]["dataset"] for it in items]
    assert datasets != sorted(datasets)
    assert build_sheet(_records(), 2, 13) == (items, key)  # reproducible


def test_html_page_is_offline_and_embeds_items_safely(tmp_path):
    recs = _records()
    recs["contextless"][0]["utterance"] = "</script><script>alert(1)</script> & more"
    export_sheet(recs, tmp_path / "sheet", tmp_path / "key.json", TEMPLATE, 4, 13)
    page = (tmp_path / "sheet" / "sheet.html").read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # nothing fetched from a network
    assert page.count("</script>") == 3  # the two JSON blocks and the code, none from data
    data = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', page, re.S).group(1)
    items = json.loads(data)
    assert items == json.loads((tmp_path / "sheet" / "items.json").read_text())["items"]
    assert any(it["utterance"].startswith("</script>") for it in items)
    assert "Blob" in page and "download" in page  # answers are saved to a file by the page itself
    assert '"checkbox"' in page and "max_choices" in page  # question 1: tick at most three classes


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_html_page_script_is_valid_javascript(tmp_path):
    export_sheet(_records(), tmp_path / "sheet", tmp_path / "key.json", TEMPLATE, 1, 13)
    page = (tmp_path / "sheet" / "sheet.html").read_text()
    code = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(code) == 1
    (tmp_path / "page.js").write_text(code[0])
    proc = subprocess.run(["node", "--check", str(tmp_path / "page.js")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- import
IMPORT_RECORDS = {"contextless": [
    {"id": "r0", "utterance": "u0", "labels": ["joy", "relief"], "primary_emotion": "joy"},
    {"id": "r1", "utterance": "u1", "labels": ["anger", "annoyance"], "primary_emotion": "anger"},
    {"id": "r2", "utterance": "u2", "labels": ["fear", "nervousness"], "primary_emotion": "fear"},
    {"id": "r3", "utterance": "u3", "labels": ["grief", "sadness"], "primary_emotion": "sadness"},
]}


def _sheet_with_answers(tmp_path):
    """The sheet of IMPORT_RECORDS: ``(sheet id, item ids, {record id: item id})``."""
    export_sheet(IMPORT_RECORDS, tmp_path / "sheet", tmp_path / "key.json", TEMPLATE, 1, 13)
    sheet = json.loads((tmp_path / "sheet" / "items.json").read_text())
    key = json.loads((tmp_path / "key.json").read_text())
    ids = [it["item"] for it in sheet["items"]]
    return sheet["sheet_id"], ids, {meta["id"]: item for item, meta in key["items"].items()}


def test_label_correctness_rule():
    labels = ["fear", "nervousness"]
    assert label_correctness(["fear"], labels, "fear") == "yes"
    assert label_correctness(["surprise", "fear", "nervousness"], labels, "fear") == "yes"
    assert label_correctness(["nervousness", "surprise"], labels, "fear") == "partly"
    assert label_correctness(["surprise"], labels, "fear") == "no"
    assert label_correctness(["neutral"], labels, "fear") == "no"


def test_import_derives_label_correctness_and_alpha_on_a_hand_checked_example(tmp_path):
    sheet_id, ids, item_of = _sheet_with_answers(tmp_path)
    # Chosen emotions and the derived label correctness (key: r0 joy*/relief, r1 anger*/annoyance,
    # r2 fear*/nervousness, r3 sadness*/grief; * = primary):
    #   r0: ann1 {joy} -> yes                ann2 {joy, excitement} -> yes
    #   r1: ann1 {anger, disgust} -> yes     ann2 {anger} -> yes
    #   r2: ann1 {nervousness} -> partly     ann2 {nervousness, surprise} -> partly
    #   r3: ann1 {neutral} -> no             ann2 {grief} -> partly
    # labels_correct: values yes 4, partly 3, no 1 (n = 8); only r3 disagrees: o_np = o_pn = 1.
    #   positive rate 4/8.
    #   nominal: expected = 2 (n_y n_p + n_y n_n + n_p n_n) = 2 (12 + 4 + 3) = 38; alpha = 1 - 7 * 2 / 38 = 12/19.
    #   ordinal (no < partly < yes): d2(no, partly) = (1 + 3 - (1 + 3)/2)^2 = 4, d2(partly, yes) = (3 + 4 - 3.5)^2
    #   = 12.25, d2(no, yes) = (8 - 2.5)^2 = 30.25; observed = 2 * 4 = 8, expected = 2 (1*3*4 + 3*4*12.25 +
    #   1*4*30.25) = 560; alpha = 1 - 7 * 8 / 560 = 0.9.
    # Emotion sets, binary choice per class pooled: 4 items x 28 classes = 112 units of two values, n = 224.
    #   Chosen (1s): ann1 1+2+1+1 = 5, ann2 2+1+2+1 = 6 -> n_1 = 11, n_0 = 213. Units where the two differ:
    #   r0 excitement, r1 disgust, r2 surprise, r3 neutral and grief = 5 -> o_01 = o_10 = 5.
    #   alpha = 1 - (n - 1) (o_01 + o_10) / (2 n_0 n_1) = 1 - 223 * 10 / (2 * 213 * 11) = 1 - 1115/2343.
    # Emotions chosen per answer 11/8; labels in the data 2 per item.
    # Naturalness as in test_alpha_ordinal_hand_checked on ranks 1..3 of the 1-5 scale: ordinal alpha 0.7083.
    a1 = {"r0": (["joy"], "1"), "r1": (["anger", "disgust"], "1"), "r2": (["nervousness"], "2"),
          "r3": (["neutral"], "3")}
    a2 = {"r0": ("joy; excitement", "1"), "r1": ("anger", "2"), "r2": ("Surprise ;nervousness", "3"),
          "r3": ("grief", "3")}
    (tmp_path / "ann1.json").write_text(json.dumps({"sheet": sheet_id, "annotator": "ann1", "answers": {
        item_of[r]: {"emotions": em, "naturalness": nat} for r, (em, nat) in a1.items()}}))
    with open(tmp_path / "ann2.csv", "w", newline="") as f:  # the CSV route, annotator from the file name
        w = csv.writer(f)
        w.writerow(["sheet", "item", "emotions", "naturalness", "context_personalises"])
        for r, (em, nat) in a2.items():
            w.writerow([sheet_id, item_of[r], em, nat, "n/a"])
    res = import_answers([tmp_path / "ann1.json", tmp_path / "ann2.csv"], tmp_path / "sheet" / "items.json",
                         tmp_path / "key.json")
    assert res["n_annotators"] == 2
    assert list(res["questions"]) == ["labels_correct", "naturalness"]  # no contextual items rated
    lc = res["questions"]["labels_correct"]
    assert lc["derived_from"] == "emotions"
    assert lc["n_items"] == 4 and lc["n_ratings"] == 8 and lc["n_items_multiply_rated"] == 4
    assert lc["distribution"] == {"no": 1, "partly": 3, "yes": 4}
    assert lc["positive_rate"] == pytest.approx(4 / 8)
    assert lc["alpha_nominal"] == pytest.approx(12 / 19)
    assert lc["alpha_ordinal"] == pytest.approx(0.9)
    assert lc["emotion_sets_alpha_binary_pooled"] == pytest.approx(1 - 1115 / 2343)
    assert lc["mean_emotions_chosen"] == pytest.approx(11 / 8) and lc["mean_labels_in_data"] == pytest.approx(2.0)
    assert lc["per_dataset"] == {"contextless": {"n_ratings": 8, "positive_rate": 0.5}}
    nat = res["questions"]["naturalness"]
    assert nat["mean"] == pytest.approx((1 + 1 + 2 + 3 + 1 + 2 + 3 + 3) / 8)
    assert nat["alpha_ordinal"] == pytest.approx(1 - 175 / 600)
    assert nat["alpha_nominal"] == pytest.approx(1 / 3)
    assert nat["positive_rate"] == 0.0  # no rating of 4 or 5


def test_humaneval_table_notes_the_derived_label_question(tmp_path):
    from emopillars.report.table import render
    from emopillars.report.tables import humaneval_table

    sheet_id, ids, item_of = _sheet_with_answers(tmp_path)
    answers = {item_of["r0"]: {"emotions": ["joy"], "naturalness": "5"},
               item_of["r1"]: {"emotions": ["annoyance", "anger"], "naturalness": "4"}}
    (tmp_path / "a.json").write_text(json.dumps({"sheet": sheet_id, "annotator": "a", "answers": answers}))
    res = import_answers([tmp_path / "a.json"], tmp_path / "sheet" / "items.json", tmp_path / "key.json")
    t = humaneval_table({"humaneval": res})
    assert [r.header for r in t.rows] == ["Labels correct", "Naturalness"]
    assert any("without seeing the labels" in str(n) for n in t.notes)
    assert any("Emotions chosen per answer: 1.50; labels in the data: 2.00." == str(n) for n in t.notes)
    tex, md = render(t, ROOT / "reports" / "templates")
    assert "without seeing the labels" in tex and "1.50" in md


def test_import_rejects_bad_answers_and_other_sheets(tmp_path):
    sheet_id, ids, _ = _sheet_with_answers(tmp_path)
    items_json, key_json = tmp_path / "sheet" / "items.json", tmp_path / "key.json"

    def answers(path, item_answers):
        path.write_text(json.dumps({"sheet": sheet_id, "annotator": "x", "answers": {ids[0]: item_answers}}))
        return path

    bad = answers(tmp_path / "bad.json", {"naturalness": "7"})
    with pytest.raises(ValueError, match=rf"{ids[0]}.*naturalness.*'7'"):
        import_answers([bad], items_json, key_json)
    # emotions: unknown class, more than three, a label judgement instead of a choice
    unknown = answers(tmp_path / "unknown.json", {"emotions": ["joy", "happiness"]})
    with pytest.raises(ValueError, match=rf"unknown\.json: item {ids[0]}, question emotions: unknown emotion "
                                         r"'happiness'.*expected one to 3 of the 28 GoEmotions classes.*admiration"):
        import_answers([unknown], items_json, key_json)
    many = answers(tmp_path / "many.json", {"emotions": ["joy", "relief", "love", "pride"]})
    with pytest.raises(ValueError, match=rf"many\.json: item {ids[0]}, question emotions: 4 emotions chosen "
                                         r"\(joy, relief, love, pride\); expected one to 3"):
        import_answers([many], items_json, key_json)
    old = answers(tmp_path / "old.json", {"labels_correct": "yes"})
    with pytest.raises(ValueError, match=r"old\.json: unknown question 'labels_correct' \(labels_correct is derived"):
        import_answers([old], items_json, key_json)
    with open(tmp_path / "many.csv", "w", newline="") as f:
        csv.writer(f).writerows([["sheet", "item", "emotions"], [sheet_id, ids[1], "joy; joy"],
                                 [sheet_id, ids[2], "joy; relief; love; pride"]])
    with pytest.raises(ValueError, match=rf"many\.csv:3: item {ids[2]}, question emotions: 4 emotions"):
        import_answers([tmp_path / "many.csv"], items_json, key_json)
    with open(tmp_path / "typo.csv", "w", newline="") as f:  # a comma instead of ';'
        csv.writer(f).writerows([["sheet", "item", "emotions"], [sheet_id, ids[1], "joy, relief"]])
    with pytest.raises(ValueError, match=rf"typo\.csv:2: item {ids[1]}, question emotions: unknown emotion "
                                         r"'joy, relief'.*separated by ';'"):
        import_answers([tmp_path / "typo.csv"], items_json, key_json)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"sheet": "000000000000", "annotator": "x", "answers": {}}))
    with pytest.raises(SheetMismatch):
        import_answers([other], items_json, key_json)


def test_import_needs_labels_in_the_key(tmp_path):
    sheet_id, ids, _ = _sheet_with_answers(tmp_path)
    key = json.loads((tmp_path / "key.json").read_text())
    for meta in key["items"].values():
        del meta["labels"]  # a key written before the blind design
    (tmp_path / "key.json").write_text(json.dumps(key))
    (tmp_path / "a.json").write_text(json.dumps({"sheet": sheet_id, "annotator": "a",
                                                 "answers": {ids[0]: {"naturalness": "4"}}}))
    assert "labels_correct" not in import_answers([tmp_path / "a.json"], tmp_path / "sheet" / "items.json",
                                                  tmp_path / "key.json")["questions"]
    (tmp_path / "a.json").write_text(json.dumps({"sheet": sheet_id, "annotator": "a",
                                                 "answers": {ids[0]: {"emotions": ["joy"]}}}))
    with pytest.raises(ValueError, match=rf"item {ids[0]} has no 'labels'.*re-export the sheet"):
        import_answers([tmp_path / "a.json"], tmp_path / "sheet" / "items.json", tmp_path / "key.json")


def test_cli_export_and_import(tmp_path, capsys):
    from emopillars.cli import main

    data = tmp_path / "data"
    for name, rows in _records().items():
        (data / name).mkdir(parents=True)
        (data / name / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["annotate", "export", "--data-dir", str(data), "--out-dir", str(tmp_path / "sheet"),
                 "--key", str(tmp_path / "key.json"), "--per-stratum", "1", "--seed", "3",
                 "--template", str(TEMPLATE)]) == 0
    sheet = json.loads((tmp_path / "sheet" / "items.json").read_text())
    key = json.loads((tmp_path / "key.json").read_text())
    # each annotator chooses exactly the item's primary emotion: every derived answer is "yes"
    answers = {it["item"]: {"emotions": [key["items"][it["item"]]["primary_emotion"]], "naturalness": "4"}
               for it in sheet["items"]}
    for who in ("a", "b"):
        if who == "b":  # two people: the same emotions, another naturalness on one item
            answers[sheet["items"][0]["item"]] = {**answers[sheet["items"][0]["item"]], "naturalness": "5"}
        (tmp_path / f"{who}.json").write_text(json.dumps({"sheet": sheet["sheet_id"], "annotator": who,
                                                          "answers": answers}))
    assert main(["annotate", "import", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--sheet-dir",
                 str(tmp_path / "sheet"), "--key", str(tmp_path / "key.json"), "--out", str(tmp_path / "he.json")]) == 0
    out = capsys.readouterr().out
    assert "2 annotators" in out and "positive 100.0%" in out
    res = json.loads((tmp_path / "he.json").read_text())["questions"]["labels_correct"]
    assert res["alpha_nominal"] is None  # a single value throughout: undefined
    assert res["emotion_sets_alpha_binary_pooled"] == pytest.approx(1.0)  # identical sets, several classes used


def test_import_stage_refuses_one_annotators_answers_under_two_names(tmp_path):
    sheet_id, ids, _ = _sheet_with_answers(tmp_path)
    answers_dir = tmp_path / "answers"
    answers_dir.mkdir()
    answers = {item: {"emotions": ["joy"], "naturalness": "4"} for item in ids}
    for who in ("alice", "bob"):
        (answers_dir / f"answers-{who}.json").write_text(json.dumps({"sheet": sheet_id, "annotator": who,
                                                                     "answers": answers}))
    stage = [sys.executable, str(ROOT / "stages" / "humaneval_import.py"),
             "--sheet", str(tmp_path / "sheet" / "items.json"), "--key", str(tmp_path / "key.json"),
             "--answers-dir", str(answers_dir), "--out", str(tmp_path / "he.json")]
    proc = subprocess.run(stage, capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "he.json").exists()
    assert proc.stderr.splitlines() == [
        f"humaneval_import: error: {answers_dir / 'answers-alice.json'} and {answers_dir / 'answers-bob.json'}: the "
        f"answers of 'alice' and 'bob' are identical item for item ({2 * len(ids)} answers), so they are one "
        "annotator's answers under two names, not two annotators; keep one of the files"]
    # one answer apart: two annotators, imported
    answers[ids[0]] = {"emotions": ["joy", "relief"], "naturalness": "4"}
    (answers_dir / "answers-bob.json").write_text(json.dumps({"sheet": sheet_id, "annotator": "bob",
                                                              "answers": answers}))
    proc = subprocess.run(stage, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "he.json").read_text())["n_annotators"] == 2


def test_sheet_id_depends_on_the_items_shown_only(tmp_path):
    from emopillars.report.humaneval import items_sheet_id

    recs = _records()
    items, key = build_sheet(recs, 2, 13)
    assert key["sheet_id"] == items_sheet_id(items)
    # a rerun that writes the same records in another order, with other run-time fields, draws the same sheet
    rerun = {name: [{**r, "prompt_hash": "sha256:0ther", "raw_emotion_explication": "another run"}
                    for r in reversed(rows)] for name, rows in reversed(list(recs.items()))}
    again, again_key = build_sheet(rerun, 2, 13)
    assert again == items and again_key["sheet_id"] == key["sheet_id"]
    # the committed sheet's id is its items' hash, so anyone can check it against items.json
    committed = json.loads((ROOT / "reports" / "humaneval" / "sheet" / "items.json").read_text())
    assert items_sheet_id(committed["items"]) == committed["sheet_id"]
    # another text in a drawn item is another sheet
    meta = key["items"][items[0]["item"]]
    drawn = next(r for r in recs[meta["dataset"]] if r["id"] == meta["id"])
    drawn["utterance"] += " Really."
    assert build_sheet(recs, 2, 13)[1]["sheet_id"] != key["sheet_id"]


# --------------------------------------------------------------------------- the page in a real browser
def _answer_in_page(page, item_of: dict, answers: dict) -> None:
    """Tick and click as an annotator would: for each record, its item's emotions and naturalness."""
    for rec, (emotions, naturalness) in answers.items():
        for value in [*emotions, naturalness]:
            question = "naturalness" if value == naturalness else "emotions"
            page.js(f"document.querySelector('input[name=\"{item_of[rec]}/{question}\"][value=\"{value}\"]').click()")


def _ticked(page) -> list[str]:
    return page.js("Array.from(document.querySelectorAll('#items input:checked')).map(i => i.name + '=' + i.value)")


def test_two_annotators_in_one_chromium_profile_download_their_own_answers_and_import(tmp_path):
    """Alice answers and downloads; a new tab shows her session, "New annotator" clears it; Bob answers and
    downloads. The import stage reads the two files with the hand-checked figures of
    test_import_derives_label_correctness_and_alpha_on_a_hand_checked_example."""
    from tests.helpers.cdp import Chromium, chromium_binary

    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: sudo apt-get install -y chromium)")
    sheet_id, ids, item_of = _sheet_with_answers(tmp_path)
    url = (tmp_path / "sheet" / "sheet.html").as_uri()
    alice = {"r0": (["joy"], "1"), "r1": (["anger", "disgust"], "1"), "r2": (["nervousness"], "2"),
             "r3": (["neutral"], "3")}
    bob = {"r0": (["joy", "excitement"], "1"), "r1": (["anger"], "2"), "r2": (["surprise", "nervousness"], "3"),
           "r3": (["grief"], "3")}
    browser = Chromium(tmp_path / "chromium", binary)
    try:
        page = browser.new_tab(url)
        assert page.js("document.getElementById('items').hidden") is True  # nothing to answer before a name
        page.js("document.getElementById('annotator').value = 'alice'; "
                "document.getElementById('start-session').click()")
        _answer_in_page(page, item_of, alice)
        assert page.js("document.getElementById('progress').textContent") == f"{len(ids)} of {len(ids)} items answered"
        page.js("document.getElementById('save-json').click()")
        alice_file = browser.download(f"answers-alice-{sheet_id}.json")

        # a new tab in the same browser: alice's saved session, under her name, and a way to hand over
        tab = browser.new_tab(url)
        assert tab.js("document.getElementById('who').textContent") == "alice"
        assert len(_ticked(tab)) == 2 * len(ids) + 1  # her 5 emotions and 4 naturalness ratings
        assert tab.js("document.getElementById('new-annotator').hidden || "
                      "document.getElementById('session').hidden") is False
        tab.js("document.getElementById('new-annotator').click()")  # downloaded: no question asked
        assert _ticked(tab) == [] and tab.js("document.getElementById('items').hidden") is True
        assert tab.js("document.getElementById('annotator').value") == ""
        assert tab.js("Object.keys(localStorage).filter(k => k.indexOf('alice') >= 0)") == []
        tab.js("document.getElementById('annotator').value = 'bob'; "
               "document.getElementById('start-session').click()")
        assert _ticked(tab) == [] and tab.js("document.getElementById('who').textContent") == "bob"
        # alice's first tab, still open, follows the hand-over instead of writing her answers into bob's session
        assert page.js_until("document.getElementById('who').textContent + ' ' + "
                             "document.querySelectorAll('#items input:checked').length", "bob 0", timeout=15) == "bob 0"
        _answer_in_page(tab, item_of, bob)
        tab.js("document.getElementById('save-json').click()")
        bob_file = browser.download(f"answers-bob-{sheet_id}.json")

        # bob changes an answer after downloading: "New annotator" asks first, and cancelling keeps his session
        tab.js(f"document.querySelector('input[name=\"{item_of['r3']}/naturalness\"][value=\"2\"]').click()")
        tab.send("Page.enable")
        tab.js("setTimeout(() => document.getElementById('new-annotator').click(), 0)")
        dialog = tab.wait_event("Page.javascriptDialogOpening")
        assert dialog["type"] == "confirm" and dialog["message"].startswith("bob's answers have changed")
        tab.send("Page.handleJavaScriptDialog", accept=False)
        assert tab.js("document.getElementById('who').textContent") == "bob" and len(_ticked(tab)) == 2 * len(ids) + 2
    finally:
        browser.close()

    saved = {f: json.loads(f.read_text()) for f in (alice_file, bob_file)}
    assert [d["annotator"] for d in saved.values()] == ["alice", "bob"]
    assert {d["sheet"] for d in saved.values()} == {sheet_id}
    assert saved[alice_file]["answers"][item_of["r1"]] == {"emotions": ["anger", "disgust"], "naturalness": "1"}
    assert saved[bob_file]["answers"][item_of["r2"]] == {"emotions": ["nervousness", "surprise"], "naturalness": "3"}

    answers_dir = tmp_path / "answers"
    answers_dir.mkdir()
    for f in saved:
        shutil.copy(f, answers_dir / f.name)
    out = tmp_path / "humaneval.json"
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "humaneval_import.py"),
                           "--sheet", str(tmp_path / "sheet" / "items.json"), "--key", str(tmp_path / "key.json"),
                           "--answers-dir", str(answers_dir), "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout.strip())
    res = json.loads(out.read_text())
    assert res["n_annotators"] == 2 and res["answer_files"] == [alice_file.name, bob_file.name]
    lc, nat = res["questions"]["labels_correct"], res["questions"]["naturalness"]
    assert lc["distribution"] == {"no": 1, "partly": 3, "yes": 4}
    assert lc["alpha_nominal"] == pytest.approx(12 / 19) and lc["alpha_ordinal"] == pytest.approx(0.9)
    assert lc["emotion_sets_alpha_binary_pooled"] == pytest.approx(1 - 1115 / 2343)
    assert nat["alpha_ordinal"] == pytest.approx(1 - 175 / 600) and nat["alpha_nominal"] == pytest.approx(1 / 3)
