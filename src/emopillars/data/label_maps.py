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
