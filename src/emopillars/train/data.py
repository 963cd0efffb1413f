"""Training examples: what the encoder reads and the target vector it learns.

An :class:`Example` is one input (``text`` plus an optional ``text_pair`` that
carries context and is truncated first) and one target vector over the model's
labels. Targets are soft scores in [0, 1] (``all_emotions_mapped``) or hard 0/1
(``labels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Optional, Sequence

import numpy as np

from emopillars.io import read_jsonl
from emopillars.taxonomy import EMOTIONS


@dataclass
class Example:
    text: str
    target: np.ndarray
    text_pair: Optional[str] = None
    id: str = ""
    meta: dict = field(default_factory=dict)


def contextual_pair(context: Optional[str], character: Optional[str], description: Optional[str]) -> Optional[str]:
    """The second segment of a contextual model's input: who speaks and what happened before.

    The utterance is the first segment, so when the input is too long the
    context is truncated, never the utterance.
    """
    parts = []
    if character or description:
        who = (character or "").strip()
        desc = (description or "").strip()
        parts.append(f"{who}: {desc}" if who and desc else who or desc)
    if context and context.strip():
        parts.append(context.strip())
    return " | ".join(parts) if parts else None


def _check_text(text, where: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: empty or missing text (expected a non-empty string)")
    return text


def synthetic_examples(
    path: str | Path,
    variant: Literal["contextless", "contextual"],
    targets: Literal["soft", "hard"],
    labels: Sequence[str] = EMOTIONS,
) -> list[Example]:
    """Read an Emo Pillars JSONL split (synthetic or released) into examples.

    Each line needs ``utterance`` and ``labels`` (list of class names); soft
    targets read ``all_emotions_mapped`` ({class: score}). Contextual examples
    also read ``context``, ``character`` and ``character_description``. A
    label outside ``labels`` stops with the file, line and label.
    """
    path = Path(path)
    index = {label: i for i, label in enumerate(labels)}
    rows = read_jsonl(path)
    out = []
    for lineno, row in enumerate(rows, 1):
        where = f"{path}:{lineno}"
        if "utterance" not in row:
            raise ValueError(f"{where}: missing key 'utterance'")
        text = _check_text(row["utterance"], where)
        hard = row.get("labels")
        if not isinstance(hard, list):
            raise ValueError(f"{where}: key 'labels' must be a list of emotion names, got {hard!r}")
        target = np.zeros(len(labels), dtype=np.float32)
        for label in hard:
            if label not in index:
                raise ValueError(f"{where}: unknown label {label!r} in 'labels'; expected one of: {', '.join(labels)}")
            target[index[label]] = 1.0
        if targets == "soft":
            scores = row.get("all_emotions_mapped")
            if not isinstance(scores, dict):
                raise ValueError(f"{where}: soft targets need 'all_emotions_mapped' ({{emotion: score}}); "
                                 "set train.targets: hard to train on 'labels' only")
            soft = np.zeros(len(labels), dtype=np.float32)
            for label, score in scores.items():
                if label not in index:
                    raise ValueError(f"{where}: unknown label {label!r} in 'all_emotions_mapped'; expected one of: {', '.join(labels)}")
                if not isinstance(score, (int, float)) or not 0.0 <= float(score) <= 1.0:
                    raise ValueError(f"{where}: score of {label!r} must be a number in [0, 1], got {score!r}")
                soft[index[label]] = float(score)
            # The hard labels are the record's decision: they keep at least their own mass.
            target = np.maximum(soft, target)
        pair = None
        if variant == "contextual":
            pair = contextual_pair(row.get("context"), row.get("character"), row.get("character_description"))
        out.append(Example(text=text, text_pair=pair, target=target, id=str(row.get("id", lineno))))
    return out


def record_examples(records: Iterable, labels: Sequence[str], label_of=None, use_context: bool = False,
                    where: str = "") -> list[Example]:
    """Benchmark records (``EmotionRecord``) as examples over ``labels``.

    ``label_of`` maps a record's own label to one or more of ``labels``
    (default: identity); a label that maps to nothing raises.
    """
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for rec in records:
        target = np.zeros(len(labels), dtype=np.float32)
        for label in rec.labels:
            mapped = label_of(label) if label_of else [label]
            if isinstance(mapped, str):
                mapped = [mapped]
            for m in mapped:
                if m not in index:
                    raise ValueError(f"{where or rec.dataset}: record {rec.id}: label {label!r} maps to {m!r}, "
                                     f"which is not one of: {', '.join(labels)}")
                target[index[m]] = 1.0
        text = _check_text(rec.text, f"{where or rec.dataset}: record {rec.id}")
        out.append(Example(text=text, target=target, text_pair=(rec.context or None) if use_context else None,
                           id=str(rec.id), meta={"labels": list(rec.labels)}))
    return out


def targets_matrix(examples: Sequence[Example]) -> np.ndarray:
    return np.stack([e.target for e in examples]) if examples else np.zeros((0, 0), dtype=np.float32)


class Encoded:
    """Token ids of every example, tokenised once; batches are padded to their longest row."""

    def __init__(self, tokenizer, examples: Sequence[Example], max_length: int):
        texts = [e.text for e in examples]
        pairs = [e.text_pair for e in examples]
        self.input_ids: list[list[int]] = []
        self.token_type_ids: list[list[int]] = []
        has_pair = [p is not None for p in pairs]
        if any(has_pair):
            # Context is cut from its start: the turns nearest the text are the ones kept.
            side = tokenizer.truncation_side
            tokenizer.truncation_side = "left"
            try:
                for t, p in zip(texts, pairs):
                    try:
                        enc = tokenizer(t, p, truncation="only_second" if p else True, max_length=max_length)
                    except Exception:  # the text alone is longer than max_length
                        enc = tokenizer(t, p, truncation="longest_first", max_length=max_length)
                    self.input_ids.append(enc["input_ids"])
                    self.token_type_ids.append(enc.get("token_type_ids") or [0] * len(enc["input_ids"]))
            finally:
                tokenizer.truncation_side = side
        else:
            enc = tokenizer(texts, truncation=True, max_length=max_length)
            self.input_ids = enc["input_ids"]
            self.token_type_ids = enc.get("token_type_ids") or [[0] * len(x) for x in self.input_ids]
        self.targets = targets_matrix(examples)
        self.pad_id = tokenizer.pad_token_id or 0

    def __len__(self) -> int:
        return len(self.input_ids)

    def batch(self, indices: Sequence[int]):
        import torch

        rows = [self.input_ids[i] for i in indices]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, i in enumerate(indices):
            n = len(self.input_ids[i])
            ids[j, :n] = torch.tensor(self.input_ids[i])
            types[j, :n] = torch.tensor(self.token_type_ids[i])
            mask[j, :n] = 1
        target = torch.from_numpy(self.targets[list(indices)]) if self.targets.size else None
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}, target
