"""The 28-class GoEmotions taxonomy (27 emotions + neutral) and its Ekman grouping.

The order is canonical: it is the order of ``emotions.txt`` in the GoEmotions
release, so label id ``i`` in GoEmotions files is ``EMOTIONS[i]`` and every
28-way model head uses the same order.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)
EMOTION_INDEX: dict[str, int] = {e: i for i, e in enumerate(EMOTIONS)}
NUM_EMOTIONS = len(EMOTIONS)

# Ekman's six basic emotions plus neutral, as grouped by the GoEmotions authors.
EKMAN: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}
EMOTION_TO_EKMAN: dict[str, str] = {e: group for group, members in EKMAN.items() for e in members}


def check_emotion(name: str, where: str = "") -> str:
    """Return ``name`` if it is one of the 28 classes, else raise a ValueError naming ``where``."""
    if name not in EMOTION_INDEX:
        loc = f"{where}: " if where else ""
        raise ValueError(f"{loc}unknown emotion {name!r}; expected one of the 28 GoEmotions classes: {', '.join(EMOTIONS)}")
    return name
