"""Free-form emotion words -> the 28 classes: synonyms, non-emotions, embedding neighbours, out-of-taxonomy."""

import pytest

from emopillars.synth.lexicon import SYNONYMS, TaxonomyMapper
from emopillars.taxonomy import EMOTIONS


@pytest.fixture(scope="module")
def mapper():
    from emopillars.synth.embed import MeanPoolEncoder

    return TaxonomyMapper(MeanPoolEncoder("models/encoder"), similarity_threshold=0.75)


def resolve(mapper, words, names=()):
    return {m.word: (m.emotion, m.how) for m in mapper.map_words(words, names)}


def test_lexicon_covers_every_class_and_only_the_classes():
    assert set(SYNONYMS) == set(EMOTIONS)
    assert all(len(v) >= 5 for v in SYNONYMS.values())


@pytest.mark.parametrize("word,emotion", [
    ("angry", "anger"), ("Furious", "anger"), ("scared", "fear"), ("grateful", "gratitude"), ("thankful", "gratitude"),
    ("happiness", "joy"), ("worried", "nervousness"), ("heartbroken", "grief"), ("ashamed", "embarrassment"),
    ("a sense of relief", "relief"), ("deep sorrow", "grief"), ("curious", "curiosity"), ("calm", "neutral"),
    ("disappointed.", "disappointment"), ("Admiring", "admiration"), ("regretful", "remorse"),
])
def test_synonyms_and_inflections_map_without_the_encoder(word, emotion):
    m = TaxonomyMapper(embed=None)
    assert m.map_words([word])[0].emotion == emotion


def test_names_adverbs_and_junk_are_not_emotions():
    m = TaxonomyMapper(embed=None)
    got = resolve(m, ["Gretel", "the witch", "quietly", "0.8", "she", "<emotion word>"], names=["Gretel", "The Witch"])
    assert got["Gretel"] == (None, "non-emotion:character name")
    assert got["the witch"] == (None, "non-emotion:character name")
    assert got["quietly"] == (None, "non-emotion:adverb")
    assert got["0.8"][1] == "non-emotion:junk token"
    assert got["she"][1] == "non-emotion:stop word"
    assert got["<emotion word>"][0] is None


def test_embedding_neighbours_map_unseen_forms_and_leave_unrelated_words_out(mapper):
    got = resolve(mapper, ["frightfulness", "terrorized", "table", "stubbornness", "freedom"])
    assert got["frightfulness"] == ("fear", "embedding")
    assert got["terrorized"][0] == "fear"
    for w in ("table", "stubbornness", "freedom"):
        assert got[w] == (None, "out-of-taxonomy")


def test_compound_answers_are_split_and_each_part_resolved():
    m = TaxonomyMapper(embed=None)
    parts = [x.emotion for x in m.map_words(["fear/anger", "joy and relief"])]
    assert parts == ["fear", "anger", "joy", "relief"]
