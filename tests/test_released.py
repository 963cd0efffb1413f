"""The released Emo Pillars data: both layouts, the word mapping and its counts, every error, folder and hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emopillars.data.released import (ReleasedDataError, check_prepared, export_release, read_variant,
                                      resolve_source, split_files, word_scores)
from emopillars.synth.lexicon import TaxonomyMapper
from emopillars.taxonomy import EMOTIONS
from emopillars.train.data import synthetic_examples

from tests.helpers.released_run import RELEASE, released_params, released_stage, train_stage

ROOT = Path(__file__).resolve().parents[1]
PLANTED_OUT_OF_TAXONOMY = {"reality", "relish", "caregiver", "wanderlust", "duty"}


@pytest.fixture(scope="module")
def mapper():
    return TaxonomyMapper()  # the lexicon layers: the fixture's words need no embedding neighbour


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _release(tmp_path: Path, rows: list, split: str = "train", variant_folder: str = "context-less") -> Path:
    """A release folder whose ``split`` file of one variant holds ``rows``; the other splits hold one good line."""
    good = {"utterance": "I am so glad you came.", "all_emotions": [["joy", 0.8]]}
    folder = tmp_path / "release" / variant_folder
    folder.mkdir(parents=True)
    for s in ("train", "dev", "test"):
        body = rows if s == split else [good]
        (folder / f"{s}.jsonl").write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in body))
    return tmp_path / "release"


# --------------------------------------------------------------------------- the release's layout
def test_release_pairs_are_read_and_mapped_onto_the_taxonomy(mapper):
    for variant, folder in (("contextless", "context-less"), ("contextual", "context-full")):
        data = read_variant(RELEASE, variant, mapper, threshold=0.3)
        assert data.folder == RELEASE / folder
        raw = {s: _lines(p) for s, p in data.files.items()}
        assert {s: len(r) for s, r in data.splits.items()} == {s: len(r) for s, r in raw.items()}
        for split, rows in data.splits.items():
            for row, line in zip(rows, raw[split]):
                assert row["utterance"] == line["utterance"] and row["id"] == line["id"]
                assert row["all_emotions"] == {w: s for w, s in line["all_emotions"]}
                assert set(row["labels"]) <= set(EMOTIONS) and row["primary_emotion"] == row["labels"][0]
                assert set(row["all_emotions_mapped"]) <= set(EMOTIONS)
                # the strongest word of every fixture line is an emotion of the taxonomy: it is the label
                assert max(row["all_emotions_mapped"].values()) == max(s for _, s in line["all_emotions"])
                assert set(row["unmapped_emotions"]) == {w for w, _ in line["all_emotions"]} & PLANTED_OUT_OF_TAXONOMY
                if variant == "contextual":
                    assert row["context"] == line["context"] and row["character"] == line["character"]
                    assert row["character_description"] == line["description"]
                else:
                    assert "context" not in row


def test_out_of_taxonomy_words_are_counted_and_never_labels(mapper):
    data = read_variant(RELEASE, "contextless", mapper, threshold=0.3)
    total = data.total().summary()
    planted = sum(1 for p in data.files.values() for line in _lines(p) for w, _ in line["all_emotions"]
                  if w in PLANTED_OUT_OF_TAXONOMY)
    assert planted > 0
    assert total["out_of_taxonomy_words"] == planted
    assert set(total["most_frequent_out_of_taxonomy"]) == PLANTED_OUT_OF_TAXONOMY
    assert total["out_of_taxonomy_share"] == round(planted / total["emotion_words"], 4)
    assert total["dropped_no_taxonomy_emotion"] == 0 and total["kept"] == total["lines"]
    for rows in data.splits.values():
        for row in rows:
            assert not set(row["labels"]) & PLANTED_OUT_OF_TAXONOMY


def test_mapping_counts_per_word_and_lines_without_a_class(tmp_path, mapper):
    rows = [{"utterance": "What a day!", "all_emotions": [["happiness", 0.8], ["reality", 0.4]]},
            {"utterance": "Stay with me.", "all_emotions": [["terror", 0.6], ["reality", 0.2], ["caregiver", 0.3]]},
            {"utterance": "It is what it is.", "all_emotions": [["reality", 0.9]]},
            {"utterance": "Fine.", "all_emotions": [["joy", 0.1], ["neutral", 0.2]]}]
    data = read_variant(_release(tmp_path, rows), "contextless", mapper, threshold=0.3)
    c = data.counts["train"].summary()
    assert c["most_frequent_out_of_taxonomy"] == {"reality": 3, "caregiver": 1}
    assert c["lines"] == 4 and c["kept"] == 3 and c["dropped_no_taxonomy_emotion"] == 1
    assert c["emotion_words"] == 8 and c["out_of_taxonomy_words"] == 4
    train = data.splits["train"]
    assert [r["labels"] for r in train] == [["joy"], ["fear"], ["neutral"]]
    assert train[0]["all_emotions_mapped"] == {"joy": 0.8}
    # below the threshold the strongest class is the label, as in synthesis
    assert train[2]["all_emotions_mapped"] == {"neutral": 0.2, "joy": 0.1}


def test_this_projects_export_layout_is_read_as_it_is(tmp_path, mapper):
    rows = [{"id": "a1", "utterance": "I can't believe it!", "labels": ["surprise"], "primary_emotion": "surprise",
             "all_emotions": {"astonishment": 0.7, "homesickness": 0.2},
             "all_emotions_mapped": {"surprise": 0.7, "sadness": 0.2},
             "unmapped_emotions": {"wanderlust": 0.1}}]
    data = read_variant(_release(tmp_path, rows, variant_folder="contextless"), "contextless", mapper, 0.3)
    row = data.splits["train"][0]
    assert row["labels"] == ["surprise"] and row["all_emotions_mapped"] == {"surprise": 0.7, "sadness": 0.2}
    assert row["all_emotions"] == {"astonishment": 0.7, "homesickness": 0.2}
    assert data.counts["train"].summary()["most_frequent_out_of_taxonomy"] == {"wanderlust": 1}


def test_word_scores_take_pairs_and_dicts_and_keep_a_repeated_words_maximum():
    assert word_scores([["joy", 0.2], ["joy", 0.7], ["fear", 1]], "f:1") == {"joy": 0.7, "fear": 1.0}
    assert word_scores({"joy": 0.5}, "f:1") == {"joy": 0.5}


@pytest.mark.parametrize("line, field, expected", [
    ({"all_emotions": [["joy", 0.8]]}, "'utterance'", "missing"),
    ({"utterance": "  ", "all_emotions": [["joy", 0.8]]}, "'utterance'", "non-empty string"),
    ({"utterance": "Hi.", "all_emotions": [["joy", "high"]]}, "'all_emotions'", "number in [0, 1]"),
    ({"utterance": "Hi.", "all_emotions": [[0.8, "joy"]]}, "'all_emotions' item 0", "[word, score]"),
    ({"utterance": "Hi.", "all_emotions": [["joy"]]}, "'all_emotions' item 0", "[word, score]"),
    ({"utterance": "Hi.", "all_emotions": [["joy", 1.5]]}, "'all_emotions'", "number in [0, 1], got 1.5"),
    ({"utterance": "Hi.", "all_emotions": [["joy", True]]}, "'all_emotions'", "number in [0, 1], got True"),
    ({"utterance": "Hi.", "all_emotions": "joy"}, "'all_emotions'", "list of [word, score] pairs"),
    ({"utterance": "Hi."}, "'all_emotions'", "missing"),
    ({"utterance": "Hi.", "all_emotions": [["joy", 0.8]], "labels": ["happiness"]}, "'labels'",
     "'happiness' is not one of the 28 classes"),
    ({"utterance": "Hi.", "all_emotions_mapped": {"bliss": 0.8}}, "'all_emotions_mapped'",
     "'bliss' is not one of the 28 classes"),
])
def test_every_bad_line_names_file_line_and_field(tmp_path, mapper, line, field, expected):
    rows = [{"utterance": "Fine.", "all_emotions": [["joy", 0.9]]}, line]
    root = _release(tmp_path, rows, split="dev")
    with pytest.raises(ReleasedDataError) as e:
        read_variant(root, "contextless", mapper, 0.3)
    msg = str(e.value)
    assert msg.startswith(f"{root / 'context-less' / 'dev.jsonl'}:2: field {field}"), msg
    assert expected in msg and "\n" not in msg


def test_broken_json_and_missing_splits_are_one_clear_line(tmp_path, mapper):
    root = _release(tmp_path, ['{"utterance": "Hi.", "all_emotions": [["joy", 0.8]]', ])
    with pytest.raises(ReleasedDataError, match=r"train\.jsonl:1: expected one JSON object per line"):
        read_variant(root, "contextless", mapper, 0.3)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "train.jsonl").write_text("")
    (tmp_path / "other" / "eval.jsonl").write_text("")
    with pytest.raises(ReleasedDataError) as e:
        split_files(tmp_path / "other")
    assert "no file for split(s) dev, test" in str(e.value) and "found: eval.jsonl, train.jsonl" in str(e.value)


def test_json_array_files_and_validation_split_name(tmp_path, mapper):
    folder = tmp_path / "contextless"
    folder.mkdir()
    rows = [{"utterance": "Thank you!", "all_emotions": [["thankfulness", 0.9]]}]
    for name in ("train.json", "validation.json", "test.json"):
        (folder / name).write_text(json.dumps(rows))
    data = read_variant(tmp_path, "contextless", mapper, 0.3)
    assert data.files["dev"].name == "validation.json"
    assert data.splits["dev"][0]["labels"] == ["gratitude"]


# --------------------------------------------------------------------------- export, training targets
def test_export_writes_both_variants_and_a_record_that_training_reads(tmp_path, mapper):
    out = tmp_path / "released"
    record = export_release(resolve_source(str(RELEASE)), out, mapper, 0.3)
    assert record["source"]["kind"] == "folder" and record["source"]["resolved_commit"] is None
    assert check_prepared(out / "contextless")["variants"].keys() == {"contextless", "contextual"}
    for variant in ("contextless", "contextual"):
        v = record["variants"][variant]
        assert v["sizes"] == {s: len(_lines(out / variant / f"{s}.jsonl")) for s in ("train", "dev", "test")}
        assert all(len(f["sha256"]) == 64 for f in v["files"].values())
        soft = synthetic_examples(out / variant / "train.jsonl", variant, "soft")
        hard = synthetic_examples(out / variant / "train.jsonl", variant, "hard")
        assert len(soft) == len(hard) == v["sizes"]["train"]
        assert all(set(h.target.tolist()) <= {0.0, 1.0} for h in hard)
        assert any(0.0 < x < 1.0 for s in soft for x in s.target)  # secondary words stay soft
        if variant == "contextual":
            assert all(e.text_pair for e in soft)


def test_training_refuses_data_the_released_stage_did_not_write(tmp_path):
    with pytest.raises(ReleasedDataError, match="not a folder written by the released stage"):
        check_prepared(ROOT / "tests" / "fixtures" / "released")


# --------------------------------------------------------------------------- folder, hub, offline
def _offline_env(tmp_path: Path) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub-cache"),
            "HF_HOME": str(tmp_path / "hf-home")}


def _released_stage(params: Path, out: Path, env=None):
    return released_stage(params, "models/embedder", out, env=env)


def test_hub_id_offline_is_one_line_and_exit_2(tmp_path):
    params = released_params(tmp_path)  # the profile's hub id, no local copy
    proc = _released_stage(params, tmp_path / "data" / "released", env=_offline_env(tmp_path))
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "alex-shvets/EmoPillars" in err[0] and "point train.released_dir at" in err[0]
    assert not (tmp_path / "data" / "released").exists()
    cli = subprocess.run([sys.executable, "-m", "emopillars.cli", "train", "--released", "--data",
                          "alex-shvets/EmoPillars", "--out", str(tmp_path / "m"), "--params", str(params)],
                         capture_output=True, text=True, cwd=ROOT, env=_offline_env(tmp_path))
    assert cli.returncode == 2 and "point train.released_dir at" in cli.stderr.strip().splitlines()[-1]


def test_hub_snapshot_in_the_local_cache_records_its_commit(tmp_path, monkeypatch):
    """Offline, a hub id whose revision is in the hub cache is read from there, and its commit recorded."""
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub-cache" / "datasets--alex-shvets--EmoPillars"
    shutil.copytree(RELEASE, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    source = resolve_source("alex-shvets/EmoPillars", None)
    assert source.kind == "hub" and source.resolved_commit == commit
    assert split_files(source.folder / "context-less")["train"].is_file()


def test_not_a_folder_nor_a_hub_id(tmp_path):
    with pytest.raises(ReleasedDataError, match="neither a folder nor a hub dataset id"):
        resolve_source(str(tmp_path / "no" / "such" / "folder"))


def test_released_stage_on_a_folder_and_on_bad_data(tmp_path):
    params = released_params(tmp_path, released_dir=str(RELEASE))
    out = tmp_path / "ok" / "released"
    proc = _released_stage(params, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((out.parent / "released.json").read_text())
    assert record == json.loads((out / "RELEASE.json").read_text())
    assert "out of the taxonomy" in proc.stdout
    assert record["variants"]["contextual"]["mapping_total"]["out_of_taxonomy_words"] > 0
    bad = _release(tmp_path, [{"utterance": "Hi.", "all_emotions": [["joy", 2]]}])
    proc = _released_stage(released_params(tmp_path, released_dir=str(bad)), tmp_path / "bad" / "released")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"released: error: {bad / 'context-less' / 'train.jsonl'}:1: field 'all_emotions': score of 'joy' must be a "
        "number in [0, 1], got 2"]


def test_synthetic_source_reads_nothing_and_training_says_so(tmp_path):
    params = released_params(tmp_path, source="synthetic", released_dir=None)
    out = tmp_path / "data" / "released"
    assert _released_stage(params, out).returncode == 0
    assert json.loads((out / "RELEASE.json").read_text())["used"] is False
    with pytest.raises(ReleasedDataError, match="the released stage read no data"):
        check_prepared(out / "contextless")


# --------------------------------------------------------------------------- profile and graph
def test_released_profile_trains_on_the_released_stage_output_not_on_synthesis():
    from emopillars.config import defaults
    from emopillars.profiles import composed

    params = defaults("released")
    assert params.train.source == "released" and params.train.data_dir == "data/released"
    assert params.train.released_dir == "alex-shvets/EmoPillars" and params.train.max_train_examples
    assert params.models.encoder == defaults().models.encoder
    raw = composed("released", ROOT / "conf")
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name in ("train", "targets"):
        spec = stages[name].get("do", stages[name])
        deps = [d.replace("${train.data_dir}", raw["train"]["data_dir"]) for d in spec["deps"]]
        assert not [d for d in deps if d.startswith("data/emopillars")], name
        assert any(d.startswith("data/released/") for d in deps), name
    assert "data/released" in stages["released"]["outs"]


def test_released_switch_needs_a_location():
    from emopillars.config import ParamsError, parse_params
    from emopillars.profiles import composed

    raw = composed("released", ROOT / "conf")
    raw["train"]["released_dir"] = None
    with pytest.raises(ParamsError, match="released_dir is not set"):
        parse_params(raw, "params.yaml")


def test_released_profile_trains_a_tiny_encoder_end_to_end_with_a_sample(tmp_path, embedder_dir):
    """The released profile's params, the released and train stages, a tiny random RoBERTa, the sample knob."""
    from emopillars.train.encoder import tiny_encoder

    texts = [line["utterance"] for p in (RELEASE / "context-less").glob("*.jsonl") for line in _lines(p)]
    encoder = tiny_encoder(tmp_path / "encoder", "roberta", corpus=texts)
    params = released_params(tmp_path, bootstrap_samples=50, released_dir=str(RELEASE), epochs=1, max_length=48,
                             max_train_examples=24)
    data = tmp_path / "data" / "released"
    proc = released_stage(params, embedder_dir, data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out, metrics = tmp_path / "model", tmp_path / "train.json"
    proc = train_stage(params, "contextless", data / "contextless", encoder, out, metrics, tmp_path / "plots")
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(metrics.read_text())
    assert record["source"] == "released" and record["profile"] == "released"
    assert record["data"] == f"{RELEASE}/contextless"
    assert record["n_train"] == 24 and record["n_test"] == len(_lines(RELEASE / "context-less" / "test.jsonl"))
    assert "released train split" in record["protocol"]
    assert "Emo Pillars released contextless data" in (out / "README.md").read_text()
    # the stage refuses a folder that the released stage did not write, in one line
    proc = train_stage(params, "contextless", ROOT / "tests" / "fixtures" / "released", encoder, tmp_path / "m2",
                       tmp_path / "t2.json", tmp_path / "p2")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("train: error: ") and "train.data_dir" in proc.stderr
