"""Benchmark label sets and their mappings to the 28 GoEmotions classes.

Two directions are needed:

* **forward** (benchmark label -> taxonomy classes), used to turn a benchmark's
  gold labels into 28-way targets (:func:`to_taxonomy`) or to describe a
  benchmark in the project's label space;
* **reverse projection** (28 scores -> benchmark label scores), used to read a
  28-way Emo Pillars model as a benchmark classifier without training a new
  head (zero-shot transfer, :func:`project_scores`).

Each benchmark label maps to a non-empty tuple of taxonomy classes. The first
class is the *primary* one: it is the single target used when one class is
needed (``to_taxonomy(..., primary_only=True)``). The whole tuple is the set a
projection takes the maximum over::

    score(benchmark label) = max(score(c) for c in TO_TAXONOMY[benchmark][label])

Within one benchmark the tuples are disjoint, so a one-hot 28-way vector of any
mapped class projects back to exactly one benchmark label (the round trip the
tests check).

The second projection, ``method="ekman"``, widens each label to the Ekman group
of its primary class (GoEmotions' own grouping, :data:`emopillars.taxonomy.EKMAN`)
and takes the maximum over the group. It is only defined where the benchmark's
labels fall into distinct Ekman groups (MELD, EmoContext, IEMOCAP 4-class);
ISEAR (sadness, shame and guilt all fall under Ekman *sadness*) and IEMOCAP
6-class (hap/exc, ang/fru) raise an error instead of silently merging labels.

Choices that are not obvious (the rest are the same word on both sides):

* ISEAR ``shame`` -> ``embarrassment``: GoEmotions has no shame; embarrassment is
  its only self-conscious emotion about being seen failing a norm.
* ISEAR ``guilt`` -> ``remorse``: remorse is regret for a wrong one has done,
  which is what ISEAR's guilt situations describe.
* ``fear`` also takes ``nervousness`` and ``anger``/``angry``/``ang`` also takes
  ``annoyance`` (the milder intensity of the same emotion), except in IEMOCAP
  6-class where annoyance belongs to ``fru``; ``sadness``/``sad`` also takes
  ``grief``, and EmoContext ``sad`` also ``disappointment``.
* MELD ``joy`` also takes ``amusement`` and ``excitement`` (sitcom dialogue: most
  joy turns are laughing or excited).
* IEMOCAP ``exc`` (excited) -> ``excitement``; 4-class ``hap`` (= hap + exc, the
  usual merge) -> joy, excitement, amusement.
* IEMOCAP ``fru`` (frustrated) -> ``annoyance`` first, then ``disappointment``:
  frustration is anger at a blocked goal; annoyance is the GoEmotions class
  annotators use for it, disappointment covers the resigned cases. In the
  6-class protocol ``ang`` therefore maps to ``anger`` alone (the tuples must
  stay disjoint).
* EmoContext ``happy`` -> joy, amusement, excitement, love (chat messages where
  the speaker is happy are often laughing or affectionate); ``others`` ->
  ``neutral``. ``others`` in EmoContext means "none of happy/sad/angry", which
  includes other emotions (surprise, fear...), so projecting it from
  ``neutral`` alone under-scores it; this is a known weakness of reading a
  28-way model on EmoContext, and trained heads do not have it.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from emopillars.taxonomy import EKMAN, EMOTION_INDEX, EMOTION_TO_EKMAN, EMOTIONS

# Benchmark label sets, in a fixed order (the order of a benchmark head's outputs).
BENCHMARK_LABELS: dict[str, tuple[str, ...]] = {
    "goemotions": EMOTIONS,
    "isear": ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"),
    "meld": ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"),
    # IEMOCAP 4-class protocol: hap is the union of hap and exc.
    "iemocap": ("ang", "hap", "neu", "sad"),
    "iemocap6": ("ang", "hap", "exc", "neu", "sad", "fru"),
    "emocontext": ("happy", "sad", "angry", "others"),
}

# Multi-label benchmarks (several gold labels per example); the others are single-label.
MULTI_LABEL: frozenset[str] = frozenset({"goemotions"})

TO_TAXONOMY: dict[str, dict[str, tuple[str, ...]]] = {
    "goemotions": {e: (e,) for e in EMOTIONS},
    "isear": {
        "joy": ("joy",),
        "fear": ("fear", "nervousness"),
        "anger": ("anger", "annoyance"),
        "sadness": ("sadness", "grief"),
        "disgust": ("disgust",),
        "shame": ("embarrassment",),
        "guilt": ("remorse",),
    },
    "meld": {
        "anger": ("anger", "annoyance"),
        "disgust": ("disgust",),
        "fear": ("fear", "nervousness"),
        "joy": ("joy", "amusement", "excitement"),
        "neutral": ("neutral",),
        "sadness": ("sadness", "grief"),
        "surprise": ("surprise",),
    },
    "iemocap": {
        "ang": ("anger", "annoyance"),
        "hap": ("joy", "excitement", "amusement"),
        "neu": ("neutral",),
        "sad": ("sadness", "grief"),
    },
    "iemocap6": {
        "ang": ("anger",),
        "hap": ("joy", "amusement"),
        "exc": ("excitement",),
        "neu": ("neutral",),
        "sad": ("sadness", "grief"),
        "fru": ("annoyance", "disappointment"),
    },
    "emocontext": {
        "happy": ("joy", "amusement", "excitement", "love"),
        "sad": ("sadness", "grief", "disappointment"),
        "angry": ("anger", "annoyance"),
        "others": ("neutral",),
    },
}


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in TO_TAXONOMY:
        raise KeyError(f"unknown benchmark {benchmark!r}; known: {', '.join(TO_TAXONOMY)}")


def primary_class(benchmark: str, label: str) -> str:
    """The single taxonomy class a benchmark label stands for."""
    return _mapped(benchmark, label)[0]


def _mapped(benchmark: str, label: str) -> tuple[str, ...]:
    _check_benchmark(benchmark)
    try:
        return TO_TAXONOMY[benchmark][label]
    except KeyError:
        raise KeyError(
            f"{benchmark}: unknown label {label!r}; expected one of {', '.join(BENCHMARK_LABELS[benchmark])}"
        ) from None


def to_taxonomy(benchmark: str, labels: Iterable[str], primary_only: bool = True) -> list[str]:
    """Map gold labels of ``benchmark`` to taxonomy classes (canonical order, no duplicates).

    With ``primary_only`` (the default) each label contributes its primary
    class; otherwise every class of its tuple.
    """
    out: set[str] = set()
    for label in labels:
        classes = _mapped(benchmark, label)
        out.update(classes[:1] if primary_only else classes)
    return sorted(out, key=EMOTION_INDEX.__getitem__)


def projection_sets(benchmark: str, method: str = "max") -> dict[str, tuple[str, ...]]:
    """For each benchmark label, the taxonomy classes its projected score is the max over."""
    _check_benchmark(benchmark)
    if method == "max":
        return dict(TO_TAXONOMY[benchmark])
    if method == "ekman":
        groups = {lab: EMOTION_TO_EKMAN[classes[0]] for lab, classes in TO_TAXONOMY[benchmark].items()}
        seen: dict[str, str] = {}
        for lab, group in groups.items():
            if group in seen:
                raise ValueError(
                    f"{benchmark}: the Ekman projection is not defined: labels {seen[group]!r} and {lab!r} "
                    f"both fall in the Ekman group {group!r}; use method='max'"
                )
            seen[group] = lab
        return {lab: EKMAN[group] for lab, group in groups.items()}
    raise ValueError(f"unknown projection method {method!r}; expected 'max' or 'ekman'")


def project_scores(scores: Sequence[Sequence[float]] | Sequence[float], benchmark: str, method: str = "max"):
    """Read 28-way scores (canonical order) as scores of ``benchmark``'s labels.

    ``scores`` is one vector of 28 or a batch (anything ``numpy.asarray`` takes
    with a last axis of 28). Returns a numpy array whose last axis follows
    ``BENCHMARK_LABELS[benchmark]``.
    """
    import numpy as np

    arr = np.asarray(scores, dtype=float)
    if arr.shape[-1] != len(EMOTIONS):
        raise ValueError(f"expected scores with a last axis of {len(EMOTIONS)} (the taxonomy), got shape {arr.shape}")
    sets = projection_sets(benchmark, method)
    cols = [arr[..., [EMOTION_INDEX[c] for c in sets[lab]]].max(axis=-1) for lab in BENCHMARK_LABELS[benchmark]]
    return np.stack(cols, axis=-1)


def project_label(scores: Sequence[float], benchmark: str, method: str = "max") -> str:
    """The benchmark label with the highest projected score (single-label benchmarks)."""
    projected = project_scores(scores, benchmark, method)
    return BENCHMARK_LABELS[benchmark][int(projected.argmax(axis=-1))]


def describe(benchmark: str) -> Mapping[str, str]:
    """Human-readable mapping lines, e.g. for a model card or a report table."""
    return {lab: " | ".join(classes) for lab, classes in TO_TAXONOMY[benchmark].items()}
