"""One record type for every benchmark and corpus the project reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class EmotionRecord:
    """One labelled example of an emotion benchmark.

    ``labels`` are in the dataset's own label set (e.g. ISEAR's ``guilt``);
    map them to the 28 classes with :mod:`emopillars.data.label_maps`.
    ``context`` holds what precedes the text (previous dialogue turns, joined
    one per line, or a situation description); ``None`` when there is none.
    """

    id: str
    text: str
    labels: list[str]
    split: str
    dataset: str
    context: Optional[str] = None
    speaker: Optional[str] = None
    meta: dict = field(default_factory=dict)


@dataclass
class Narrative:
    """One story (or plot) of a narrative corpus, before it is cut into passages."""

    id: str
    title: str
    text: str
    split: Optional[str] = None
    meta: dict = field(default_factory=dict)
