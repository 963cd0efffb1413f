"""The generator as a zero-shot classifier: one structured-output request per test example.

``format_request`` and ``parse_answer`` are the two pure halves (tested without
a model); the stage sends the requests through the generation engine and
:func:`evaluate_answers` scores what came back. The answer schema restricts
emotions to the benchmark's labels, so every valid answer is in the label set;
how many labels the model picks per example is reported next to the scores
(the paper notes that LLMs over-predict). A rejected answer (one that failed
validation) counts as no label on a multi-label benchmark and as a wrong label
on a single-label one (:func:`score_answers`).
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

import numpy as np
from pydantic import BaseModel, Field, create_model

from emopillars import benchmarks
from emopillars.contracts.evaluation import EvaluationRecord, RunIdentity
from emopillars.eval.evaluate import (evaluate_scores, evaluation_record, gold_labels, prediction_rows, seeded_subset,
                                      transfer_test_set)
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


def protocol(benchmark: str, test_set: str) -> str:
    """The protocol text of an LLM-baseline record."""
    return ("zero-shot LLM classification with a JSON schema restricted to the benchmark's labels (temperature 0); "
            "rejected answers count as no label (multi-label) or wrong (single-label); "
            f"test examples: {test_set}; " + benchmarks.get(benchmark).protocol)


def baseline_sample(test_split: list, max_eval_examples: Optional[int], n: Optional[int], seed: int) -> tuple[list, str]:
    """The test examples the generator classifies, and which they are in words (the record's ``test_set``).

    The transfer test set (the full split, or a seeded sample of ``max_eval_examples``), then a seeded
    sample of ``n`` of it (all of it when ``n`` is None), both drawn with ``seed``.
    """
    transfer, whole = transfer_test_set(test_split, max_eval_examples, seed)
    chosen = seeded_subset(transfer, n, seed)
    if len(chosen) == len(transfer):
        return chosen, whole
    return chosen, f"a seeded sample of {len(chosen)} examples (seed {seed}) of {whole}"


def benchmark_requests(benchmark: str, test_records, seed: int) -> list[GenerationRequest]:
    """One request per test record, tagged with the benchmark (context given where the benchmark uses it)."""
    b = benchmarks.get(benchmark)
    requests = [format_request(r, b.labels, b.multi_label, seed, use_context=b.context) for r in test_records]
    for q in requests:
        q.meta["benchmark"] = benchmark
    return requests


def score_answers(answers: np.ndarray, gold: np.ndarray, multi_label: bool) -> tuple[dict, np.ndarray]:
    """The decision rule and the scores that make the answers (indicator rows) the predictions.

    Multi-label: the indicator rows themselves (a rejected answer is no label).
    Single-label: one-hot rows; a rejected answer (no label) is scored as a
    wrong label, never as a lucky arg-max of zeros.
    """
    if multi_label:
        return {"kind": "global", "global": 0.5}, answers.astype(float)
    n_labels = answers.shape[1]
    ids = np.where(answers.any(1), answers.argmax(1), (gold + 1) % n_labels)
    return {"kind": "argmax"}, np.eye(n_labels)[ids]


def evaluate_answers(benchmark: str, test_records, results, ep, system: str,
                     test_set: str) -> tuple[EvaluationRecord, list[dict]]:
    """The evaluation record and prediction rows of the engine's ``results`` (one per test record, in order).

    ``test_set`` says which test examples ``test_records`` are (:func:`baseline_sample`).
    """
    b = benchmarks.get(benchmark)
    labels = list(b.labels)
    answers = np.stack([parse_answer(r.parsed if r.ok else None, labels, b.multi_label) for r in results])
    g = gold_labels(test_records, labels, b.multi_label)
    rule, scores = score_answers(answers, g, b.multi_label)
    rec = evaluate_scores(scores, g, labels, b.multi_label, rule, b.primary_metric, ep.bootstrap_samples,
                          ep.confidence, ep.seed)
    rec["labels_per_example"] = float(answers.sum(1).mean())
    run = RunIdentity(kind="llm_baseline", benchmark=benchmark, init="llm", fraction=0.0, head="structured_output")
    record = evaluation_record(run, system, protocol(benchmark, test_set), rec, 0,
                               rejected_answers=sum(not r.ok for r in results), test_set=test_set)
    return record, prediction_rows(test_records, labels, answers, raw=[r.raw for r in results])
