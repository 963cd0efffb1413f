"""The generator as a zero-shot classifier: one structured-output request per test example.

``format_request`` and ``parse_answer`` are the two pure halves (tested without
a model); the stage sends the requests through the generation engine. The
answer schema restricts emotions to the benchmark's labels, so every valid
answer is in the label set; how many labels the model picks per example is
reported next to the scores (the paper notes that LLMs over-predict).
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
from pydantic import BaseModel, Field, create_model

from emopillars.llm.types import GenerationRequest, SamplingParams
from emopillars.synth.prompts import load_template

TEMPLATE = "llm_baseline"


# At most this many labels per multi-label answer. Greedy decoding of a small model
# otherwise repeats one label until max_tokens (every GoEmotions answer was cut off
# when the list could hold all 28); GoEmotions' raters gave at most 5, mostly 1 or 2.
MAX_LABELS = 3


def answer_schema(labels: Sequence[str], multi_label: bool) -> type[BaseModel]:
    """``{"emotions": [label, ...]}`` with labels restricted to ``labels``."""
    label_type = Literal[tuple(labels)]  # type: ignore[valid-type]
    return create_model("EmotionAnswer", emotions=(list[label_type], Field(min_length=1,
                        max_length=min(MAX_LABELS, len(labels)) if multi_label else 1)))


def format_request(record, labels: Sequence[str], multi_label: bool, seed: int, max_tokens: int = 60,
                   use_context: bool = False) -> GenerationRequest:
    template = load_template(TEMPLATE)
    prompt = template.render(text=record.text, context=(record.context if use_context else None) or "",
                             labels=list(labels), multi_label=multi_label)
    return GenerationRequest(
        messages=[{"role": "user", "content": prompt}],
        sampling=SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens),
        seed=seed, schema=answer_schema(labels, multi_label), tag=str(record.id),
        meta={"prompt_hash": template.hash})


def parse_answer(parsed: dict | None, labels: Sequence[str], multi_label: bool) -> np.ndarray:
    """Indicator row over ``labels`` (all zeros for a rejected answer; first label only when single-label)."""
    row = np.zeros(len(labels), dtype=bool)
    if not parsed:
        return row
    chosen = [e for e in parsed.get("emotions", []) if e in labels]
    if not multi_label:
        chosen = chosen[:1]
    for e in chosen:
        row[list(labels).index(e)] = True
    return row
