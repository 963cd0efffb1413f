"""Curation: duplicates, filters, story-level splits and the exported datasets."""

import json
import random

import numpy as np
import pytest

from emopillars.synth.curate import (CONTEXTLESS_FIELDS, assign_splits, export_dataset, filter_examples,
                                     sanity_problem)
from emopillars.synth.dedup import find_duplicates, minhash_signatures


def test_exact_and_near_duplicates_are_found_and_first_kept():
    texts = ["I will never forgive the wolf for what he did to my grandmother!",
             "I will never forgive the wolf for what he did to my grandmother!!",
             "i will never forgive the wolf for what he did to my grandmother, never",
             "The forest is quiet tonight and the moon is full.",
             "Bring me the golden apple before sunrise."]
    r = find_duplicates(texts, threshold=0.7, num_perm=64)
    assert r.keep.tolist() == [True, False, False, True, True]
    assert r.reason[1] == "exact duplicate" and r.reason[2] == "near duplicate"
    assert r.duplicate_of[2] == 0


def test_minhash_agreement_estimates_jaccard():
    a = "the quick brown fox jumps over the lazy dog again and again"
    sig = minhash_signatures([a, a.replace("lazy", "sleepy"), "completely unrelated words here"], num_perm=128)
    agree = (sig[0] == sig[1]).mean(), (sig[0] == sig[2]).mean()
    assert 0.4 < agree[0] < 0.9 and agree[1] < 0.1


def test_dedup_recall_on_planted_near_duplicates():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(3000)]
    base = [" ".join(rng.choice(vocab) for _ in range(14)) for _ in range(2000)]
    variants = [t.replace(t.split()[5], "changed", 1) for t in base[:500]]
    # one word in 14 changed: character 5-gram Jaccard about 0.77
    r = find_duplicates(base + variants, threshold=0.6, num_perm=64)
    assert (~r.keep[2000:]).mean() > 0.95         # planted duplicates found
    assert r.keep[:2000].mean() > 0.99             # originals kept


@pytest.mark.parametrize("text,problem", [
    ("Hi.", "too short"), ("I am here now.", None), ("word " * 80, "too long"),
    ("As an AI language model I cannot say that.", "model talk, not speech"),
    ("no no no no no please stop", "repetition"), ("1234 5678 ... 999 !!!", "mostly non-letters"),
])
def test_sanity_filters(text, problem):
    assert sanity_problem(text, 3, 60) == problem


def test_splits_never_share_a_story():
    sizes = {f"story{i}": random.Random(i).randint(1, 30) for i in range(40)}
    split = assign_splits(sizes, 0.1, 0.1, seed=5)
    assert set(split) == set(sizes) and set(split.values()) == {"train", "dev", "test"}
    total = sum(sizes.values())
    test_share = sum(v for k, v in sizes.items() if split[k] == "test") / total
    assert 0.05 < test_share < 0.25
    assert assign_splits(sizes, 0.1, 0.1, seed=5) == split


def test_filter_then_export_writes_jsonl_hf_and_parquet(tmp_path):
    from datasets import load_from_disk
    import pandas as pd

    rows = []
    rng = random.Random(1)
    nouns = ["dragon", "castle", "river", "witch", "apple", "forest", "wolf", "crown", "mirror", "giant", "goose",
             "stone", "needle", "bridge", "ship", "mountain"]
    for i in range(30):
        rows.append({"id": f"s{i % 6}__p000__c0__r0_{i}", "plot_id": f"s{i % 6}__p000", "story_id": f"s{i % 6}",
                     "utterance": " ".join(rng.sample(nouns, 8)).capitalize() + "!",
                     "labels": ["surprise"], "primary_emotion": "surprise", "all_emotions": {"shocked": 0.9},
                     "all_emotions_mapped": {"surprise": 0.9}, "raw_emotion_explication": "Shock.",
                     "expressiveness": "explicit", "emotions_used_to_generate_context": ["surprise"],
                     "unmapped_emotions": {}, "prompt_hashes": {"labels": "abc"}, "raw_answers": {"labels": "{}"}})
    rows.append(dict(rows[0]))
    kept, dropped = filter_examples(rows, "utterance", 3, 60, 0.8, 64, 1)
    assert len(kept) == 30 and dropped == {"exact duplicate": 1}
    split = assign_splits({f"s{i}": 5 for i in range(6)}, 0.2, 0.2, 1)
    splits = {s: [{f: r.get(f) for f in CONTEXTLESS_FIELDS} for r in kept if split[r["story_id"]] == s]
              for s in ("train", "dev", "test")}
    export_dataset(tmp_path / "contextless", splits, contextual=False)
    ds = load_from_disk(str(tmp_path / "contextless" / "hf"))
    assert {k: len(v) for k, v in ds.items()} == {s: len(v) for s, v in splits.items()}
    assert ds["train"][0]["all_emotions"] == [{"emotion": "shocked", "score": pytest.approx(0.9)}]
    plots = {s: set(ds[s]["plot_id"]) for s in ds}
    assert not (plots["train"] & plots["dev"]) and not (plots["train"] & plots["test"]) and not (plots["dev"] & plots["test"])
    # a split left empty by a small run still exports and loads back (with the same features)
    export_dataset(tmp_path / "small", {**splits, "dev": []}, contextual=False)
    small = load_from_disk(str(tmp_path / "small" / "hf"))
    assert len(small["dev"]) == 0 and small["dev"].features == small["train"].features
    pq = pd.read_parquet(tmp_path / "contextless" / "parquet" / "train.parquet")
    assert len(pq) == len(splits["train"]) and "labels" in pq.columns
    line = json.loads((tmp_path / "contextless" / "train.jsonl").read_text().splitlines()[0])
    assert line["all_emotions"] == {"shocked": 0.9}
