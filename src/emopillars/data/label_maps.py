"""Benchmark labels read in the 28 GoEmotions classes, and 28-way scores read as benchmark labels.

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

    score(benchmark label) = max(score(c) for c in benchmarks.get(benchmark).to_taxonomy[label])

Within one benchmark the tuples are disjoint, so a one-hot 28-way vector of any
mapped class projects back to exactly one benchmark label (the round trip the
tests check).

The second projection, ``method="ekman"``, widens each label to the Ekman group
of its primary class (GoEmotions' own grouping, :data:`emopillars.taxonomy.EKMAN`)
and takes the maximum over the group. It is only defined where the benchmark's
labels fall into distinct Ekman groups (MELD, EmoContext, IEMOCAP 4-class);
ISEAR (sadness, shame and guilt all fall under Ekman *sadness*) and IEMOCAP
6-class (hap/exc, ang/fru) raise an error instead of silently merging labels.

A third reading, for scoring a model of one benchmark on another, goes
through the **Ekman groups** both label sets share (:func:`ekman_groups`):
each benchmark label falls in the Ekman group of its primary class (anger,
disgust, fear, joy, sadness, surprise, and neutral where the benchmark has it),
except the labels listed in :data:`EKMAN_LEFT_OUT`, which have no group of their
own. :func:`group_scores` reads a model's label scores as group scores (max over
each group's labels).

The mapping tables and the reasons for the choices that are not obvious are
part of each benchmark's definition (:mod:`emopillars.benchmarks`).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from emopillars import benchmarks
from emopillars.taxonomy import EKMAN, EMOTION_INDEX, EMOTION_TO_EKMAN, EMOTIONS


def primary_class(benchmark: str, label: str) -> str:
    """The single taxonomy class a benchmark label stands for."""
    return _mapped(benchmark, label)[0]


def _mapped(benchmark: str, label: str) -> tuple[str, ...]:
    mapping = benchmarks.get(benchmark).to_taxonomy
    try:
        return mapping[label]
    except KeyError:
        raise KeyError(f"{benchmark}: unknown label {label!r}; expected one of {', '.join(mapping)}") from None


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
    mapping = benchmarks.get(benchmark).to_taxonomy
    if method == "max":
        return dict(mapping)
    if method == "ekman":
        groups = {lab: EMOTION_TO_EKMAN[classes[0]] for lab, classes in mapping.items()}
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
    the benchmark's labels (``emopillars.benchmarks.get(benchmark).labels``).
    """
    import numpy as np

    arr = np.asarray(scores, dtype=float)
    if arr.shape[-1] != len(EMOTIONS):
        raise ValueError(f"expected scores with a last axis of {len(EMOTIONS)} (the taxonomy), got shape {arr.shape}")
    sets = projection_sets(benchmark, method)
    cols = [arr[..., [EMOTION_INDEX[c] for c in sets[lab]]].max(axis=-1) for lab in benchmarks.get(benchmark).labels]
    return np.stack(cols, axis=-1)


def project_label(scores: Sequence[float], benchmark: str, method: str = "max") -> str:
    """The benchmark label with the highest projected score (single-label benchmarks)."""
    projected = project_scores(scores, benchmark, method)
    return benchmarks.get(benchmark).labels[int(projected.argmax(axis=-1))]


def describe(benchmark: str) -> Mapping[str, str]:
    """Human-readable mapping lines, e.g. for a model card or a report table."""
    return {lab: " | ".join(classes) for lab, classes in benchmarks.get(benchmark).to_taxonomy.items()}


# --------------------------------------------------------------------------- Ekman groups
# The Ekman grouping of the 28 classes is the GoEmotions authors' published one (Demszky et al. 2020,
# "GoEmotions: A Dataset of Fine-Grained Emotions", ACL; the file data/ekman_mapping.json of the
# google-research/goemotions repository), held in emopillars.taxonomy.EKMAN with neutral as its own group.
# A benchmark label takes the group of its primary class, except these labels: their primary class falls
# in a group that another label of the same benchmark stands for, or they mean "none of the others", so
# reading them as that group would merge distinct labels (the reason is given for each).
EKMAN_LEFT_OUT: Mapping[str, Mapping[str, str]] = {
    "isear": {"shame": "a self-conscious emotion; its class (embarrassment) is Ekman sadness, which ISEAR's own "
                       "sadness label stands for",
              "guilt": "a self-conscious emotion; its class (remorse) is Ekman sadness, which ISEAR's own sadness "
                       "label stands for"},
    "iemocap6": {"fru": "frustration lies between anger (annoyance) and sadness (disappointment)"},
    "emocontext": {"others": "'none of happy, sad, angry': it holds other emotions as well as neutral text"},
}


def ekman_left_out(benchmark: str) -> tuple[str, ...]:
    """The labels of ``benchmark`` that have no Ekman group (in the benchmark's label order)."""
    left = EKMAN_LEFT_OUT.get(benchmark, {})
    return tuple(lab for lab in benchmarks.get(benchmark).labels if lab in left)


def ekman_groups(benchmark: str) -> dict[str, str]:
    """``{label: Ekman group}`` for every label of ``benchmark`` that has one (see :data:`EKMAN_LEFT_OUT`)."""
    left = set(ekman_left_out(benchmark))
    return {lab: EMOTION_TO_EKMAN[classes[0]] for lab, classes in benchmarks.get(benchmark).to_taxonomy.items()
            if lab not in left}


def groups_of(benchmark: str) -> tuple[str, ...]:
    """The Ekman groups that ``benchmark``'s labels cover, in the order of :data:`emopillars.taxonomy.EKMAN`."""
    present = set(ekman_groups(benchmark).values())
    return tuple(g for g in EKMAN if g in present)


def shared_groups(source: str, target: str) -> tuple[str, ...]:
    """The Ekman groups both benchmarks cover (canonical order): where a model of one is scored on the other."""
    theirs = set(groups_of(target))
    return tuple(g for g in groups_of(source) if g in theirs)


def group_scores(scores, benchmark: str, groups: Sequence[str]):
    """Scores over ``benchmark``'s labels (last axis, in its label order) read as scores of ``groups``.

    A group's score is the highest score of the benchmark's labels in it; every group must have one.
    """
    import numpy as np

    arr = np.asarray(scores, dtype=float)
    labels = benchmarks.get(benchmark).labels
    if arr.shape[-1] != len(labels):
        raise ValueError(f"expected scores with a last axis of {len(labels)} ({benchmark}'s labels), "
                         f"got shape {arr.shape}")
    members = ekman_groups(benchmark)
    cols = []
    for g in groups:
        idx = [i for i, lab in enumerate(labels) if members.get(lab) == g]
        if not idx:
            raise ValueError(f"{benchmark}: no label in the Ekman group {g!r} (its groups: "
                             f"{', '.join(groups_of(benchmark))})")
        cols.append(arr[..., idx].max(axis=-1))
    return np.stack(cols, axis=-1)


def gold_groups(benchmark: str, labels: Iterable[str], groups: Sequence[str]) -> tuple[str, ...]:
    """The groups among ``groups`` that a record's gold ``labels`` fall in (empty: none of them)."""
    members = ekman_groups(benchmark)
    mine = {members[lab] for lab in labels if lab in members}
    return tuple(g for g in groups if g in mine)
