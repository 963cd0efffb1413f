"""Human evaluation kit: blind stratified export, offline page, answer import and Krippendorff's alpha."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from emopillars.report.agreement import krippendorff_alpha
from emopillars.report.humaneval import SheetMismatch, build_sheet, export_sheet, import_answers

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
SECRET_TOKENS = ("plot-zz91", "rec-qq77", "sha256:feedc0de", "SmolLM2-135M", "explication-xx", "grief", "remorse",
                 "subtle", "primary_emotion", "emotions_used_to_generate_context")


def _records():
    emotions = ["joy", "anger", "fear", "sadness"]
    cl = [{"id": f"rec-qq77-{i}", "plot_id": "plot-zz91", "utterance": f"Line number {i} about the bridge.",
           "labels": sorted({emotions[i % 4], emotions[(i + 1) % 4]}), "primary_emotion": emotions[i % 4],
           "emotions_used_to_generate_context": ["grief", "remorse"], "expressiveness": "subtle",
           "raw_emotion_explication": "explication-xx", "prompt_hash": "sha256:feedc0de",
           "generator": "SmolLM2-135M"} for i in range(16)]
    cx = [{**r, "id": f"rec-qq77-c{i}", "context": f"Situation {i} by the river.", "character": "Greta",
           "character_description": "an old weaver"} for i, r in enumerate(cl[:8])]
    return {"contextless": cl, "contextual": cx}


def test_export_is_blind_and_keeps_the_key_apart(tmp_path):
    n, sheet_id = export_sheet(_records(), tmp_path / "sheet", tmp_path / "key.json", TEMPLATE, 2, 13)
    assert sorted(p.name for p in (tmp_path / "sheet").iterdir()) == ["items.json", "sheet.csv", "sheet.html"]
    for name in ("items.json", "sheet.csv", "sheet.html"):
        text = (tmp_path / "sheet" / name).read_text()
        for token in SECRET_TOKENS:
            assert token not in text, f"{name} reveals {token!r}"
    key = json.loads((tmp_path / "key.json").read_text())
    assert len(key["items"]) == n and key["sheet_id"] == sheet_id
    some = next(iter(key["items"].values()))
    assert some["emotions_used_to_generate_context"] == ["grief", "remorse"] and some["plot_id"] == "plot-zz91"
    rows = list(csv.DictReader(open(tmp_path / "sheet" / "sheet.csv")))
    assert len(rows) == n and all(r["sheet"] == sheet_id for r in rows)
    # labels under judgement are shown; contextual items show their context, others mark the question n/a
    assert all(r["labels"] for r in rows)
    assert all((r["context_personalises"] == "n/a") == (r["context"] == "") for r in rows)


def test_export_is_stratified_by_dataset_and_primary_emotion():
    items, key = build_sheet(_records(), 2, 13)
    strata = {}
    for meta in key["items"].values():
        strata.setdefault((meta["dataset"], meta["primary_emotion"]), 0)
        strata[(meta["dataset"], meta["primary_emotion"])] += 1
    assert strata == {(d, e): 2 for d in ("contextless", "contextual") for e in ("joy", "anger", "fear", "sadness")}
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
def _sheet_with_answers(tmp_path):
    recs = {"contextless": [{"id": f"r{i}", "utterance": f"u{i}", "labels": ["joy"], "primary_emotion": e}
                            for i, e in enumerate(["joy", "anger", "fear", "sadness"])]}
    export_sheet(recs, tmp_path / "sheet", tmp_path / "key.json", TEMPLATE, 1, 13)
    sheet = json.loads((tmp_path / "sheet" / "items.json").read_text())
    ids = [it["item"] for it in sheet["items"]]
    return sheet["sheet_id"], ids


def test_import_computes_rates_and_alpha_on_a_hand_checked_example(tmp_path):
    sheet_id, ids = _sheet_with_answers(tmp_path)
    # labels_correct as in test_alpha_nominal_hand_checked (a=yes, b=no): alpha nominal 16/30.
    # naturalness as in test_alpha_ordinal_hand_checked on ranks 1..3 of the 1-5 scale: ordinal alpha 0.7083.
    a1 = {ids[0]: ("yes", "1"), ids[1]: ("yes", "1"), ids[2]: ("no", "2"), ids[3]: ("no", "3")}
    a2 = {ids[0]: ("yes", "1"), ids[1]: ("no", "2"), ids[2]: ("no", "3"), ids[3]: ("no", "3")}
    (tmp_path / "ann1.json").write_text(json.dumps({"sheet": sheet_id, "annotator": "ann1", "answers": {
        i: {"labels_correct": lc, "naturalness": nat} for i, (lc, nat) in a1.items()}}))
    with open(tmp_path / "ann2.csv", "w", newline="") as f:  # the CSV route, annotator from the file name
        w = csv.writer(f)
        w.writerow(["sheet", "item", "labels_correct", "naturalness", "context_personalises"])
        for i, (lc, nat) in a2.items():
            w.writerow([sheet_id, i, lc, nat, "n/a"])
    res = import_answers([tmp_path / "ann1.json", tmp_path / "ann2.csv"], tmp_path / "sheet" / "items.json",
                         tmp_path / "key.json")
    assert res["n_annotators"] == 2
    lc = res["questions"]["labels_correct"]
    assert lc["n_items"] == 4 and lc["n_ratings"] == 8
    assert lc["positive_rate"] == pytest.approx(3 / 8)
    assert lc["alpha_nominal"] == pytest.approx(16 / 30)
    nat = res["questions"]["naturalness"]
    assert nat["mean"] == pytest.approx((1 + 1 + 2 + 3 + 1 + 2 + 3 + 3) / 8)
    assert nat["alpha_ordinal"] == pytest.approx(1 - 175 / 600)
    assert nat["alpha_nominal"] == pytest.approx(1 / 3)
    assert nat["positive_rate"] == 0.0  # no rating of 4 or 5
    assert "context_personalises" not in res["questions"]  # no contextual items rated


def test_import_rejects_bad_answers_and_other_sheets(tmp_path):
    sheet_id, ids = _sheet_with_answers(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sheet": sheet_id, "annotator": "x", "answers": {ids[0]: {"naturalness": "7"}}}))
    with pytest.raises(ValueError, match=rf"{ids[0]}.*naturalness.*'7'"):
        import_answers([bad], tmp_path / "sheet" / "items.json", tmp_path / "key.json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"sheet": "000000000000", "annotator": "x", "answers": {}}))
    with pytest.raises(SheetMismatch):
        import_answers([other], tmp_path / "sheet" / "items.json", tmp_path / "key.json")


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
    answers = {it["item"]: {"labels_correct": "yes", "naturalness": "4"} for it in sheet["items"]}
    for who in ("a", "b"):
        (tmp_path / f"{who}.json").write_text(json.dumps({"sheet": sheet["sheet_id"], "annotator": who,
                                                          "answers": answers}))
    assert main(["annotate", "import", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--sheet-dir",
                 str(tmp_path / "sheet"), "--key", str(tmp_path / "key.json"), "--out", str(tmp_path / "he.json")]) == 0
    out = capsys.readouterr().out
    assert "2 annotators" in out and "positive 100.0%" in out
    assert json.loads((tmp_path / "he.json").read_text())["questions"]["labels_correct"]["alpha_nominal"] is None
