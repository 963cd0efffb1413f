"""Narrative passages: the stories that ground every character and utterance.

Long stories (FairytaleQA) are cut into plot-sized passages at section
(paragraph) boundaries, between ``min_words`` and ``max_words`` words; a
section longer than ``max_words`` is cut at sentence ends. A WikiPlots plot is
one passage, the whole plot: a plot longer than ``max_words`` keeps its
sentences up to the last sentence end at or below ``max_words`` (counted as
``truncated``), a plot under ``min_words`` is dropped and counted. A seeded
round-robin over shuffled stories then picks ``n_passages`` passages, one story
at a time, so a small sample covers as many stories as possible. ``plot_id``
is ``<story id>__p<passage index>``: stable for given cutting params.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


_SENTENCE_END = re.compile(r"(?<=[.!?][\"')\]])\s+|(?<=[.!?])\s+")


@dataclass
class Story:
    id: str
    sections: list[str]
    origin: str = ""
    split: str = ""
    title: str = ""
    # True: the story is one passage and ``sections`` are its sentences (a WikiPlots plot)
    whole: bool = False


@dataclass
class CutReport:
    stories: int = 0
    sections: int = 0
    passages: int = 0
    dropped: Counter = field(default_factory=Counter)
    truncated: int = 0


def load_stories(corpus: str, root: str | Path) -> list[Story]:
    """Stories of ``corpus`` ('fairytaleqa': folder with stories.jsonl; 'wikiplots': folder with plots, titles)."""
    from emopillars.data import readers

    if corpus == "fairytaleqa":
        narratives = readers.read_fairytaleqa(root)
    elif corpus == "wikiplots":
        narratives = readers.read_wikiplots(root)
    else:
        raise ValueError(f"narratives.corpus: unknown corpus {corpus!r}; expected fairytaleqa or wikiplots")
    return [Story(id=n.id, sections=list(n.meta.get("sections") or [n.text]), origin=n.meta.get("origin") or "",
                  split=n.split or "", title=n.title, whole=corpus == "wikiplots") for n in narratives]


def _words(text: str) -> int:
    return len(text.split())


def _split_long(section: str, max_words: int) -> list[str]:
    """Cut a section at sentence ends into pieces of at most ``max_words`` (a longer sentence stays whole)."""
    sentences = [s for s in _SENTENCE_END.split(section) if s and s.strip()]
    pieces, current, n = [], [], 0
    for s in sentences:
        w = _words(s)
        if current and n + w > max_words:
            pieces.append(" ".join(current))
            current, n = [], 0
        current.append(s.strip())
        n += w
    if current:
        pieces.append(" ".join(current))
    return pieces


def whole_plot(sentences: list[str], min_words: int, max_words: int, report: CutReport) -> list[str]:
    """A plot as one passage: its sentences up to ``max_words`` words (cut at a sentence end), or none.

    A plot under ``min_words`` words (after the cut) is dropped, and so is one
    whose first sentence alone is longer than ``max_words``; both are counted.
    """
    kept, n = [], 0
    sentences = [" ".join(s.split()) for s in sentences]
    sentences = [s for s in sentences if s]
    for s in sentences:
        w = _words(s)
        if n + w > max_words:
            break
        kept.append(s)
        n += w
    if not kept and sentences:
        report.dropped["first sentence over max_words"] += 1
        return []
    if n < min_words:
        report.dropped["plot under min_words"] += 1
        return []
    if len(kept) < len(sentences):
        report.truncated += 1
    return [" ".join(kept)]


def cut_story(story: Story, min_words: int, max_words: int, report: CutReport | None = None) -> list[str]:
    """Cut one story into passages of ``min_words``..``max_words`` words at section boundaries.

    A ``whole`` story (a WikiPlots plot) gives one passage, see :func:`whole_plot`.
    """
    report = report if report is not None else CutReport()
    report.stories += 1
    if story.whole:
        report.sections += 1
        passages = whole_plot(story.sections, min_words, max_words, report)
        report.passages += len(passages)
        return passages
    units: list[str] = []
    for section in story.sections:
        report.sections += 1
        text = " ".join(section.split())
        if not text:
            report.dropped["empty section"] += 1
            continue
        units.extend(_split_long(text, max_words) if _words(text) > max_words else [text])
    passages: list[str] = []
    current, n = [], 0
    for unit in units:
        w = _words(unit)
        if current and n + w > max_words:
            passages.append("\n".join(current))
            current, n = [], 0
        current.append(unit)
        n += w
        if n >= min_words:
            passages.append("\n".join(current))
            current, n = [], 0
    if current:
        tail = "\n".join(current)
        if passages and _words(passages[-1]) + n <= max_words:
            passages[-1] = passages[-1] + "\n" + tail
        elif n >= min_words:
            passages.append(tail)
        else:
            report.dropped["too short"] += 1
    report.passages += len(passages)
    return passages


def select_passages(stories: Iterable[Story], n_passages: int, min_words: int, max_words: int,
                    seed: int) -> tuple[list[dict], CutReport]:
    """Cut every story and pick ``n_passages`` passages (seeded round-robin over stories)."""
    report = CutReport()
    rng = random.Random(seed)
    per_story: list[tuple[Story, list[tuple[int, str]]]] = []
    for story in stories:
        passages = cut_story(story, min_words, max_words, report)
        if not passages:
            if not story.whole:  # a dropped plot is already counted with its reason
                report.dropped["story without a passage"] += 1
            continue
        indexed = list(enumerate(passages))
        rng.shuffle(indexed)
        per_story.append((story, indexed))
    per_story.sort(key=lambda x: x[0].id)
    rng.shuffle(per_story)
    chosen: list[dict] = []
    depth = 0
    while len(chosen) < n_passages and any(depth < len(p) for _, p in per_story):
        for story, passages in per_story:
            if depth < len(passages) and len(chosen) < n_passages:
                idx, text = passages[depth]
                chosen.append({
                    "plot_id": f"{story.id}__p{idx:03d}",
                    "story_id": story.id,
                    "passage_index": idx,
                    "title": story.title,
                    "origin": story.origin,
                    "source_split": story.split,
                    "passage": text,
                    "n_words": _words(text),
                })
        depth += 1
    return chosen, report


def iter_passage_words(rows: list[dict]) -> Iterator[int]:
    for r in rows:
        yield r["n_words"]
