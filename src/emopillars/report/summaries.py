"""The DVC metrics of the pipeline: one small file of numbers per system and benchmark.

``dvc metrics show`` prints one row per file and one column per key, so every
file here has the same few keys: the benchmark's primary metric with its
interval (``macro_f1``, ``macro_f1_ci_low``, ``macro_f1_ci_high``, or
``weighted_f1...``), the number of test examples, and where it applies the
training size, the paired test against the base encoder and the spread across
training seeds. Files are grouped by benchmark, so the rows of one benchmark
share their metric column:

    metrics/goemotions/transfer-base.json          fine-tuned from the base encoder (largest fraction)
    metrics/goemotions/transfer-contextless.json   fine-tuned from an Emo Pillars model
    metrics/goemotions/zeroshot-contextless.json   an Emo Pillars model without training on the benchmark
    metrics/goemotions/llm.json                    the generator prompted as a classifier
    metrics/goemotions/peer-<name>.json            a published classifier (its own decision rule)
    metrics/goemotions/crossdomain-<init>-from-isear.json   a model fine-tuned on ISEAR, read in shared Ekman groups
    metrics/synthetic/test-<variant>.json          an Emo Pillars model on its own synthetic test split
    metrics/synthetic/data-<dataset>.json          size, labels per example and diversity of a dataset
    metrics/synthetic/humaneval-<question>.json    human evaluation: rate and Krippendorff's alpha

Everything else (per-class scores, predictions, decision rules, smaller
training fractions) stays in the records under ``outputs/metrics/`` and in
``reports/results_full.json``.
"""

from __future__ import annotations

from typing import Any, Optional

from emopillars.benchmarks import get as get_benchmark
from emopillars.contracts.evaluation import Evaluation, Interval, TrainRecord
from emopillars.report.results import (PEER_OWN_RULES, Run, crossdomain_runs, dataset_summaries,
                                       full_data_fraction, llm_runs, peer_records, seed_spread, transfer_runs,
                                       zeroshot_runs)

Summary = dict[str, float | int]
SYNTHETIC = "synthetic"


def _score(metric: str, m: Interval) -> Summary:
    return {metric: m.value, f"{metric}_ci_low": m.ci_low, f"{metric}_ci_high": m.ci_high}


def _evaluation(ev: Evaluation, metric: Optional[str] = None) -> Summary:
    metric = metric or ev.primary_metric
    return {**_score(metric, ev.metrics[metric]), "n_test": ev.n_test}


def _run(run: Run) -> Summary:
    out = _evaluation(run.record)
    if run.kind == "transfer":
        out["n_train"] = run.record.n_train
    pt = run.paired_test
    if pt is not None:
        out.update(delta_vs_base=pt.delta, p_value=pt.p_value)
    return out


def _humaneval(results: dict) -> dict[str, Summary]:
    he = results.get("humaneval") or {}
    out = {}
    for q, v in (he.get("questions") or {}).items():
        if not isinstance(v, dict):
            continue
        row = {k: v[k] for k in ("n_items", "positive_rate", "alpha_nominal") if v.get(k) is not None}
        row["n_annotators"] = he.get("n_annotators")
        out[f"{SYNTHETIC}/humaneval-{q}.json"] = row
    return out


def metric_summaries(results: dict) -> dict[str, Summary]:
    """``{path relative to the metrics folder: numbers}`` of the results mapping of :func:`aggregate`."""
    out: dict[str, Summary] = {}
    transfer = transfer_runs(results)
    spread = seed_spread(results)
    for bench in sorted({r.benchmark for r in transfer}):
        mine = [r for r in transfer if r.benchmark == bench]
        largest = full_data_fraction(mine)
        for r in mine:
            if r.fraction != largest:
                continue
            row = _run(r)
            s = spread.get((r.benchmark, r.init, r.fraction))
            if s is not None:
                row.update(seeds=s.n, seed_sd=s.sd)
            out[f"{bench}/transfer-{r.init}.json"] = row
    for r in zeroshot_runs(results):
        out[f"{r.benchmark}/zeroshot-{r.init}.json"] = _run(r)
    for r in llm_runs(results):
        out[f"{r.benchmark}/llm.json"] = _run(r)
    for _, rec in peer_records(results):
        own = next((res for res in rec.results if res.rule in PEER_OWN_RULES), None)
        metric = get_benchmark(rec.benchmark).primary_metric
        if rec.available and own is not None and metric in own.metrics:
            out[f"{rec.benchmark}/peer-{rec.name}.json"] = _evaluation(own, metric)
    for c in crossdomain_runs(results):
        row = _evaluation(c.record)
        if c.record.paired_test is not None:
            row.update(delta_vs_base=c.record.paired_test.delta, p_value=c.record.paired_test.p_value)
        out[f"{c.record.target}/crossdomain-{c.record.init}-from-{c.record.source}.json"] = row
    for name, data in sorted((results.get("train") or {}).items()):
        rec = TrainRecord.parse(data, f"outputs/metrics/train/{name}.json")
        out[f"{SYNTHETIC}/test-{name}.json"] = {**_evaluation(rec), "n_train": rec.n_train}
    for name, st in dataset_summaries(results).items():
        row: dict[str, Any] = {"examples": st.examples, "labels_per_example": st.labels_per_example}
        if st.diversity.macro is not None:
            row.update(distinct_2=st.diversity.macro.distinct_2, self_bleu=st.diversity.macro.self_bleu)
        out[f"{SYNTHETIC}/data-{name}.json"] = row
    out.update(_humaneval(results))
    return dict(sorted(out.items()))
