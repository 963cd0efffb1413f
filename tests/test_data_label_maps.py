"""Benchmark label maps: total, inside the 28 classes, and reversible."""

from __future__ import annotations

import numpy as np
import pytest

from emopillars import benchmarks
from emopillars.data.label_maps import (
    primary_class,
    project_label,
    project_scores,
    projection_sets,
    to_taxonomy,
)
from emopillars.data.readers import IEMOCAP_PROTOCOLS
from emopillars.taxonomy import EKMAN, EMOTION_INDEX, EMOTIONS, EMOTION_TO_EKMAN

BENCHMARKS = benchmarks.names()


def labels(name):
    return benchmarks.get(name).labels


def test_iemocap_protocols_keep_exactly_their_label_sets():
    # the raw IEMOCAP labels each protocol keeps are exactly that protocol's label set
    assert set(IEMOCAP_PROTOCOLS[4].values()) == set(labels("iemocap"))
    assert set(IEMOCAP_PROTOCOLS[6].values()) == set(labels("iemocap6"))


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_mapping_is_total_and_lands_in_the_taxonomy(benchmark):
    mapping = benchmarks.get(benchmark).to_taxonomy
    for label, classes in mapping.items():
        assert classes, f"{benchmark}:{label} maps to nothing"
        assert all(c in EMOTION_INDEX for c in classes), f"{benchmark}:{label} -> {classes}"


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_mapped_sets_are_disjoint_so_projection_round_trips(benchmark):
    seen = {}
    for label, classes in benchmarks.get(benchmark).to_taxonomy.items():
        for c in classes:
            assert c not in seen, f"{benchmark}: {c} mapped from both {seen[c]} and {label}"
            seen[c] = label
    # every mapped class, as a one-hot 28-way score, reads back as its own benchmark label
    for c, label in seen.items():
        onehot = np.zeros(len(EMOTIONS))
        onehot[EMOTION_INDEX[c]] = 1.0
        assert project_label(onehot, benchmark) == label
    # and a label's primary class goes forward and back to the label
    for label in labels(benchmark):
        assert to_taxonomy(benchmark, [label]) == [primary_class(benchmark, label)]


def test_documented_choices():
    assert primary_class("isear", "shame") == "embarrassment"
    assert primary_class("isear", "guilt") == "remorse"
    assert primary_class("iemocap6", "fru") == "annoyance"
    assert primary_class("iemocap6", "exc") == "excitement"
    assert primary_class("emocontext", "others") == "neutral"
    assert primary_class("meld", "surprise") == "surprise"
    assert to_taxonomy("iemocap", ["hap"], primary_only=False) == ["amusement", "excitement", "joy"]


def test_project_scores_is_max_over_mapped_classes():
    rng = np.random.default_rng(0)
    scores = rng.random((5, 28))
    projected = project_scores(scores, "meld")
    assert projected.shape == (5, 7)
    joy = labels("meld").index("joy")
    cols = [EMOTION_INDEX[c] for c in ("joy", "amusement", "excitement")]
    np.testing.assert_allclose(projected[:, joy], scores[:, cols].max(axis=1))
    with pytest.raises(ValueError, match="last axis of 28"):
        project_scores(np.zeros((2, 7)), "meld")


def test_ekman_projection_only_where_labels_stay_distinct():
    sets = projection_sets("meld", "ekman")
    assert set(sets["joy"]) == {e for e in EMOTIONS if EMOTION_TO_EKMAN[e] == "joy"}
    onehot = np.zeros(28)
    onehot[EMOTION_INDEX["gratitude"]] = 1  # not mapped by 'max', but in Ekman joy
    assert project_label(onehot, "emocontext", method="ekman") == "happy"
    for benchmark in ("isear", "iemocap6"):
        with pytest.raises(ValueError, match="Ekman group"):
            projection_sets(benchmark, "ekman")


def test_unknown_labels_and_benchmarks_are_named():
    with pytest.raises(KeyError, match="isear: unknown label 'boredom'"):
        to_taxonomy("isear", ["boredom"])
    with pytest.raises(KeyError, match="unknown benchmark 'semeval'"):
        project_scores(np.zeros(28), "semeval")


# --------------------------------------------------------------------------- Ekman groups (cross-domain scoring)
def test_goemotions_classes_fall_in_the_published_ekman_groups():
    from emopillars.data.label_maps import ekman_groups, ekman_left_out

    groups = ekman_groups("goemotions")
    # data/ekman_mapping.json of google-research/goemotions (Demszky et al. 2020), neutral its own group
    assert groups["disapproval"] == "anger" and groups["nervousness"] == "fear"
    assert groups["admiration"] == groups["caring"] == groups["pride"] == "joy"
    assert groups["embarrassment"] == groups["remorse"] == "sadness"
    assert groups["realization"] == groups["curiosity"] == "surprise" and groups["neutral"] == "neutral"
    assert len(groups) == 28 and ekman_left_out("goemotions") == ()


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_every_label_has_a_group_or_is_listed_as_left_out(benchmark):
    from emopillars.data.label_maps import ekman_groups, ekman_left_out

    groups, left = ekman_groups(benchmark), ekman_left_out(benchmark)
    assert set(groups) | set(left) == set(labels(benchmark)) and not set(groups) & set(left)
    assert set(groups.values()) <= set(EKMAN)


def test_left_out_labels_are_the_ones_without_a_group_of_their_own():
    from emopillars.data.label_maps import ekman_groups, ekman_left_out, groups_of

    assert ekman_left_out("isear") == ("shame", "guilt")
    assert ekman_left_out("emocontext") == ("others",)
    assert ekman_left_out("iemocap6") == ("fru",)
    assert ekman_groups("isear") == {l: l for l in ("joy", "fear", "anger", "sadness", "disgust")}
    assert groups_of("meld") == tuple(EKMAN)  # all six and neutral
    assert groups_of("emocontext") == ("anger", "joy", "sadness")
    assert ekman_groups("iemocap6")["exc"] == ekman_groups("iemocap6")["hap"] == "joy"


def test_shared_groups_of_the_mirrored_benchmarks():
    from emopillars.data.label_maps import shared_groups

    five = ("anger", "disgust", "fear", "joy", "sadness")
    assert shared_groups("goemotions", "isear") == shared_groups("isear", "meld") == five
    assert shared_groups("meld", "goemotions") == tuple(EKMAN)
    assert shared_groups("goemotions", "emocontext") == ("anger", "joy", "sadness")


def test_group_scores_take_the_highest_label_of_each_group():
    from emopillars.data.label_maps import group_scores

    # iemocap6: hap and exc are both joy
    order = labels("iemocap6")
    row = np.zeros(len(order))
    row[order.index("exc")], row[order.index("hap")], row[order.index("sad")] = 0.7, 0.2, 0.1
    got = group_scores(row[None], "iemocap6", ("joy", "sadness"))
    assert got.tolist() == [[0.7, 0.1]]
    with pytest.raises(ValueError, match="no label in the Ekman group 'surprise'"):
        group_scores(row[None], "iemocap6", ("surprise",))
    with pytest.raises(ValueError, match="last axis of 6"):
        group_scores(np.zeros((1, 7)), "iemocap6", ("joy",))


def test_gold_groups_keep_only_the_shared_groups():
    from emopillars.data.label_maps import gold_groups

    five = ("anger", "disgust", "fear", "joy", "sadness")
    assert gold_groups("goemotions", ["gratitude", "surprise"], five) == ("joy",)
    assert gold_groups("goemotions", ["neutral"], five) == ()
    assert gold_groups("isear", ["shame"], five) == ()
    assert gold_groups("meld", ["anger"], five) == ("anger",)
