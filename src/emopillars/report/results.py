"""Gather every metrics JSON under ``outputs/metrics/`` into one results mapping.

The mapping mirrors the folder layout: ``transfer/goemotions/base__frac1.0.json``
becomes ``results["transfer"]["goemotions"]["base__frac1.0"]``. A part of the
pipeline that has not run simply has no key; readers below return empty
collections for it, so every table and figure omits what is missing. What is
there is read as the typed records the stages write
(:mod:`emopillars.contracts.evaluation`): a file that does not match its model
fails naming the file and the field.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from emopillars import benchmarks
from emopillars.contracts.evaluation import (SKIP_FILE, CrossDomainRecord, EvaluationRecord, Interval, PairedTest,
                                             PeerEvaluationRecord, SkippedBenchmarks, SkipRecord, TrainRecord)
from emopillars.contracts import Record, RecordError
from emopillars.contracts.synthesis import (DATASET_STATS_PATH, GENERATION_STEPS, STEP_RECORDS, SYNTHESIS_STEPS,
                                            SYNTHETIC_DATASETS, DatasetStats, Diversity, GenerationStats,
                                            OutOfTaxonomy, generation_stats_path, step_metrics_path)
from emopillars.io import read_json

INITS = ("base", "contextless", "contextual", "contextless-ownhead", "contextual-ownhead")
OWN_HEAD = "-ownhead"
INIT_NAMES = {
    "base": "Base encoder",
    "contextless": "Emo Pillars (context-less)",
    "contextual": "Emo Pillars (contextual)",
    "llm": "LLM (generator)",
}
BULKY_KEYS = frozenset({"predictions", "probabilities", "scores_matrix"})
EVALUATION_KINDS = ("transfer", "zeroshot", "llm_baseline")
PEER_OWN_RULES = ("model_threshold", "argmax")  # a published classifier's own decision rule, before dev tuning


def aggregate(metrics_dir: str | os.PathLike, base: str | os.PathLike | None = None) -> dict:
    """Read every ``*.json`` under ``metrics_dir`` into a nested mapping.

    Returns ``{"sources": [relative paths], <folder>: {... <file stem>: content}}``.
    A missing ``metrics_dir`` gives an empty mapping; a file that is not valid
    JSON raises ``ValueError`` naming it (a broken metrics file is a bug upstream).
    """
    metrics_dir = Path(metrics_dir)
    base = Path(base) if base is not None else metrics_dir.parent.parent
    results: dict[str, Any] = {"sources": []}
    if not metrics_dir.is_dir():
        return results
    for path in sorted(metrics_dir.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(metrics_dir).parts):
            continue  # atomic-write temporaries
        rel = path.relative_to(metrics_dir)
        node = results
        for part in rel.parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path}: folder {part!r} clashes with a metrics file of the same name")
        data = read_json(path)
        if isinstance(data, dict):
            # Predictions belong in outputs/predictions/; a metrics file that carries them would bloat the results.
            data = {k: v for k, v in data.items() if k not in BULKY_KEYS}
        node[path.stem] = data
        try:
            results["sources"].append(str(path.relative_to(base)))
        except ValueError:
            results["sources"].append(str(path))
    return results


def load_results(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: results file not found (run the aggregate stage: dvc repro aggregate)")
    results = read_json(path)
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected a JSON object of results, got {type(results).__name__}")
    return results


# --------------------------------------------------------------------------- readers
@dataclass(frozen=True)
class Score:
    """One metric of one run: value and interval (either bound may be missing)."""

    value: float
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None

    @property
    def ci(self) -> Optional[tuple[float, float]]:
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_low, self.ci_high)


def _num(x: Any) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


@dataclass(frozen=True)
class Run:
    """One evaluation (transfer, zero-shot or LLM baseline): its typed record and the file it came from."""

    record: EvaluationRecord
    source: str

    @property
    def kind(self) -> str:
        return self.record.run.kind

    @property
    def benchmark(self) -> str:
        return self.record.run.benchmark

    @property
    def init(self) -> str:
        """The row the run belongs to: its initialisation (``<init>-ownhead`` when it kept the Emo Pillars head)."""
        return self.record.run.system_key

    @property
    def seed(self) -> Optional[int]:
        return self.record.run.seed

    @property
    def fraction(self) -> float:
        return self.record.run.fraction

    @property
    def primary_metric(self) -> str:
        return self.record.primary_metric

    @property
    def primary(self) -> Score:
        return interval_score(self.record.primary)

    def metric(self, name: str) -> Optional[Score]:
        m = self.record.metrics.get(name)
        return interval_score(m) if m is not None else None

    @property
    def labels_per_example(self) -> float:
        return self.record.labels_per_example

    @property
    def paired_test(self) -> Optional[PairedTest]:
        return self.record.paired_test


def interval_score(m: Interval) -> Score:
    return Score(m.value, m.ci_low, m.ci_high)


def _source(kind: str, benchmark: str, stem: str) -> str:
    """Where a stage of ``kind`` writes the file ``stem`` of ``benchmark`` (the LLM baseline: one folder)."""
    folder = "" if kind == "llm_baseline" else f"{benchmark}/"
    return f"outputs/metrics/{kind}/{folder}{stem}.json"


def _evaluation_files(results: dict, kind: str) -> Iterator[tuple[str, dict]]:
    """``(source, data)`` of the evaluation records of one kind in ``results`` (skip lists left out)."""
    node = results.get(kind) or {}
    folders = {"": node} if kind == "llm_baseline" else node
    skip = SKIP_FILE.removesuffix(".json")
    for bench, files in sorted(folders.items()):
        for stem, data in sorted(files.items()):
            if stem != skip:
                yield _source(kind, bench, stem), data


def runs(results: dict, kind: str) -> list[Run]:
    """The runs of one kind (``transfer``, ``zeroshot`` or ``llm_baseline``) in ``results``."""
    out = []
    for source, data in _evaluation_files(results, kind):
        record = EvaluationRecord.parse(data, source)
        if record.run.kind != kind:
            raise RecordError(f"{source}: a {record.run.kind} record in the {kind} folder")
        out.append(Run(record, source))
    return out


def _missing(kind: str, benchmark: str, stem: str, why: str) -> RecordError:
    return RecordError(f"{_source(kind, benchmark, stem)}: evaluation record not found ({why})")


def transfer_seed_runs(results: dict) -> list[Run]:
    """Every transfer run, every training seed; each benchmark's runs must cover every init x fraction x seed
    that its stage trained."""
    found = runs(results, "transfer")
    for b in benchmarks_in(found):
        mine = [r for r in found if r.benchmark == b]
        have = {(r.init, r.fraction, r.seed) for r in mine}
        by_init = {r.init: r for r in mine}
        for init in inits_in(mine):
            for fraction in sorted({r.fraction for r in mine}):
                for seed in sorted({r.seed for r in mine}):
                    if (init, fraction, seed) not in have:
                        run = by_init[init].record.run.model_copy(update={"fraction": fraction, "seed": seed})
                        raise _missing("transfer", b, run.run_name, "the transfer stage writes every init x "
                                       f"fraction x seed; rerun transfer@{b}")
    return found


def transfer_runs(results: dict) -> list[Run]:
    """One transfer run per benchmark x init x fraction: the first training seed's (the tables add the spread
    across seeds from :func:`seed_spread`)."""
    found = transfer_seed_runs(results)
    first = {}
    for r in found:
        key = (r.benchmark, r.init, r.fraction)
        if key not in first or r.seed < first[key].seed:
            first[key] = r
    return [r for r in found if first[(r.benchmark, r.init, r.fraction)] is r]


@dataclass(frozen=True)
class SeedSpread:
    """A cell's primary metric across its training seeds: mean, sample standard deviation and count."""

    mean: float
    sd: float
    n: int


def seed_spread(results: dict) -> dict[tuple[str, str, float], SeedSpread]:
    """``{(benchmark, init, fraction): spread}`` for the cells trained with more than one seed."""
    groups: dict[tuple[str, str, float], list[float]] = {}
    for r in transfer_seed_runs(results):
        groups.setdefault((r.benchmark, r.init, r.fraction), []).append(r.primary.value)
    out = {}
    for key, values in groups.items():
        if len(values) > 1:
            out[key] = SeedSpread(statistics.mean(values), statistics.stdev(values), len(values))
    return out


def zeroshot_runs(results: dict) -> list[Run]:
    """Every zero-shot run; each benchmark must have a record of every model the stage read."""
    found = runs(results, "zeroshot")
    for b in benchmarks_in(found):
        have = {r.init for r in found if r.benchmark == b}
        for init in inits_in(found):
            if init not in have:
                raise _missing("zeroshot", b, init, f"other benchmarks have one for {init}; rerun zeroshot@{b}")
    return found


def llm_runs(results: dict) -> list[Run]:
    """The LLM-baseline runs; once it ran, every evaluated benchmark has one or is in its skip list."""
    found = runs(results, "llm_baseline")
    if found:
        evaluated = [r for kind in ("transfer", "zeroshot") for r in runs(results, kind)]
        covered = {r.benchmark for r in found} | {s.benchmark for s in skipped_benchmarks(results, "llm_baseline")}
        for b in benchmarks_in(evaluated):
            if b not in covered:
                raise _missing("llm_baseline", b, b, "the LLM baseline classifies every benchmark of "
                               "transfer.benchmarks; rerun llm_baseline")
    return found


@dataclass(frozen=True)
class CrossRun:
    """One exported model of a source benchmark scored on a target benchmark, and the file it came from."""

    record: CrossDomainRecord
    source_file: str

    @property
    def pair(self) -> tuple[str, str]:
        return (self.record.source, self.record.target)

    @property
    def init(self) -> str:
        return self.record.init

    @property
    def primary(self) -> Score:
        return interval_score(self.record.primary)

    @property
    def paired_test(self) -> Optional[PairedTest]:
        return self.record.paired_test


def crossdomain_runs(results: dict) -> list[CrossRun]:
    """Every cross-domain record (``outputs/metrics/crossdomain/<source>/<init>__to__<target>.json``).

    A file must hold the record its path names, and every target of a source must have a record of
    every initialisation that the source's other targets have (the stage scores them all).
    """
    out = []
    skip = SKIP_FILE.removesuffix(".json")
    for source, files in sorted((results.get("crossdomain") or {}).items()):
        mine = []
        for stem, data in sorted(files.items()):
            if stem == skip:
                continue
            path = f"outputs/metrics/crossdomain/{source}/{stem}.json"
            record = CrossDomainRecord.parse(data, path)
            if record.source != source or record.run_name != stem:
                raise RecordError(f"{path}: the record is about {record.source}'s {record.init} model on "
                                  f"{record.target}")
            mine.append(CrossRun(record, path))
        inits = {r.init for r in mine}
        for target in sorted({r.record.target for r in mine}):
            have = {r.init for r in mine if r.record.target == target}
            for init in sorted(inits - have):
                raise RecordError(f"outputs/metrics/crossdomain/{source}/{init}__to__{target}.json: cross-domain "
                                  f"record not found (other targets have one for {init}; rerun crossdomain@{source})")
        out += mine
    order = {b: i for i, b in enumerate(benchmarks.names())}
    return sorted(out, key=lambda r: (order.get(r.record.source, len(order)), order.get(r.record.target, len(order)),
                                      INITS.index(r.init) if r.init in INITS else len(INITS)))


def peer_records(results: dict) -> list[tuple[str, PeerEvaluationRecord]]:
    """``(source, record)`` of every peer evaluation (``outputs/metrics/peers/<name>/<benchmark>.json``)."""
    out = []
    for name, files in sorted((results.get("peers") or {}).items()):
        for bench, data in sorted(files.items()):
            source = f"outputs/metrics/peers/{name}/{bench}.json"
            record = PeerEvaluationRecord.parse(data, source)
            if record.name != name or record.benchmark != bench:
                raise RecordError(f"{source}: the record is about {record.name} on {record.benchmark}")
            out.append((source, record))
    return out


def skipped_benchmarks(results: dict, kind: str) -> list[SkipRecord]:
    """The benchmarks a stage of ``kind`` recorded as skipped (``skipped.json``), in registry order."""
    node = results.get(kind) or {}
    folders = {"": node} if kind == "llm_baseline" else node
    stem = SKIP_FILE.removesuffix(".json")
    found = []
    for bench, files in sorted(folders.items()):
        if stem in files:
            found += SkippedBenchmarks.parse(files[stem], _source(kind, bench, stem)).skipped
    order = {b: i for i, b in enumerate(benchmarks.names())}
    return sorted(found, key=lambda s: (order.get(s.benchmark, len(order)), s.benchmark))


def benchmarks_in(runs: list[Run]) -> list[str]:
    """Benchmarks in the registry's order, then any others."""
    seen = {r.benchmark for r in runs}
    order = [b for b in benchmarks.names() if b in seen]
    return order + sorted(seen - set(order))


def inits_in(runs: list[Run]) -> list[str]:
    seen = {r.init for r in runs}
    return [i for i in INITS if i in seen] + sorted(seen - set(INITS))


def full_data_fraction(runs: list[Run]) -> Optional[float]:
    """The largest training fraction present (1.0 when the full runs exist)."""
    fractions = [r.fraction for r in runs if r.fraction is not None]
    return max(fractions) if fractions else None


# --------------------------------------------------------------------------- synthesis records
def synthesis_steps(results: dict) -> dict[str, Record]:
    """The step records that ran, in pipeline order (``synth.<step>``, typed by :data:`STEP_RECORDS`).

    Steps run in order, so a step whose file is missing while a later step's
    (or the dataset statistics) is there is an error naming the missing file.
    """
    raw = results.get("synth") or {}
    unknown = sorted(set(raw) - set(SYNTHESIS_STEPS))
    if unknown:
        raise RecordError(f"{step_metrics_path(unknown[0])}: not a synthesis step (steps: {', '.join(SYNTHESIS_STEPS)})")
    ran = [i for i, s in enumerate(SYNTHESIS_STEPS) if s in raw]
    if "dataset_stats" in results:
        ran.append(len(SYNTHESIS_STEPS))
    if not ran:
        return {}
    last = max(ran)
    later = SYNTHESIS_STEPS[last] if last < len(SYNTHESIS_STEPS) else "dataset_stats"
    for step in SYNTHESIS_STEPS[:last]:
        if step not in raw:
            raise RecordError(f"{step_metrics_path(step)}: {STEP_RECORDS[step].__name__} file not found, although "
                              f"{later} ran after the {step} step (rerun it: dvc repro {step})")
    return {s: STEP_RECORDS[s].parse(raw[s], step_metrics_path(s)) for s in SYNTHESIS_STEPS if s in raw}


def generation_stats(results: dict) -> dict[str, GenerationStats]:
    """The engine statistics of every generation step that ran; a step that ran without them is an error."""
    steps = synthesis_steps(results)
    raw = results.get("generation") or {}
    out = {}
    for step in GENERATION_STEPS:
        if step not in steps:
            continue
        if step not in raw:
            raise RecordError(f"{generation_stats_path(step)}: GenerationStats file not found, although the {step} "
                              f"step ran ({step_metrics_path(step)}); rerun it: dvc repro {step}")
        out[step] = GenerationStats.parse(raw[step], generation_stats_path(step))
    return out


def dataset_stats(results: dict) -> Optional[DatasetStats]:
    """The ``dataset_stats`` stage's record, or ``None`` when the stage has not run."""
    raw = results.get("dataset_stats")
    return None if raw is None else DatasetStats.parse(raw, DATASET_STATS_PATH)


@dataclass(frozen=True)
class DatasetSummary:
    """One column of the dataset tables: a synthetic dataset, or GoEmotions' training split beside them.

    ``out_of_taxonomy`` is ``None`` where no labelling answer lies behind the labels (GoEmotions' are human;
    contextual examples that kept their utterance's labels); ``diversity`` of GoEmotions is the one measured
    on samples of the context-less set's per-class sizes; ``label_distribution`` is ``None`` for GoEmotions
    (its counts come from its own files).
    """

    examples: int
    labels_per_example: float
    out_of_taxonomy: Optional[OutOfTaxonomy]
    diversity: Diversity
    label_distribution: Optional[dict[str, int]]


def dataset_summaries(results: dict) -> dict[str, DatasetSummary]:
    """``{"contextless", "contextual", "goemotions": summary}``, empty when ``dataset_stats`` has not run."""
    stats = dataset_stats(results)
    if stats is None:
        return {}
    out = {name: DatasetSummary(d.examples, d.labels_per_example.mean, d.out_of_taxonomy, d.diversity.ours,
                                d.label_distribution)
           for name, d in ((n, getattr(stats.datasets, n)) for n in SYNTHETIC_DATASETS)}
    reference = stats.datasets.contextless.diversity.goemotions_same_sizes
    out["goemotions"] = DatasetSummary(stats.goemotions.examples, stats.goemotions.labels_per_example.mean, None,
                                       reference, None)
    return out


def benchmark_name(b: str) -> str:
    return benchmarks.get(b).display_name if b in benchmarks.names() else b


def init_name(i: str) -> str:
    if i.endswith(OWN_HEAD):
        return f"{init_name(i.removesuffix(OWN_HEAD))}, own 28-way head"
    return INIT_NAMES.get(i, i)


def metric_name(m: Optional[str]) -> str:
    return benchmarks.METRIC_NAMES.get(m or "", m or "")


def dumps(results: dict) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False)


def read_synthetic(data_dir: str | os.PathLike, splits: tuple[str, ...] = ("train",)) -> dict[str, list[dict]]:
    """``{dataset: records}`` from ``data_dir/<dataset>/<split>.jsonl``; a missing file is skipped."""
    from emopillars.io import read_jsonl

    out: dict[str, list[dict]] = {}
    for name in SYNTHETIC_DATASETS:
        rows: list[dict] = []
        for split in splits:
            path = Path(data_dir) / name / f"{split}.jsonl"
            if path.exists():
                rows += read_jsonl(path)
        if rows:
            out[name] = rows
    return out


def _pct_key(f: Optional[float]) -> str:
    # DVC flattens metrics keys on ".", so a fraction is spelled as a percentage.
    return "pct" + (f"{100 * f:g}".replace(".", "_") if f is not None else "na")


def _metric_cells(metrics: dict[str, Interval]) -> dict[str, Any]:
    """Each metric's value and interval bounds as flat keys (``macro_f1``, ``macro_f1_ci_low``, ...)."""
    out: dict[str, Any] = {}
    for name, m in metrics.items():
        out[name] = m.value
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = m.ci_low, m.ci_high
    return out


def _run_summary(run: Run) -> dict:
    out = _metric_cells(run.record.metrics)
    out["labels_per_example"] = run.labels_per_example
    pt = run.paired_test
    if pt:
        out["delta_vs_base"] = pt.delta
        out["p_value_vs_base"] = pt.p_value
    out["n_train"] = run.record.n_train
    return out


def summarise(results: dict) -> dict:
    """The headline numbers of ``results`` as a small flat-ish mapping for ``dvc metrics show/diff``.

    Per run: every metric with its interval, labels per example, and the paired
    test against the base encoder; per dataset: size, labels per example,
    out-of-taxonomy rates and mean diversity; per synthesis step: counts; per
    human-evaluation question: rate and alpha.
    """
    out: dict[str, Any] = {}
    spread = seed_spread(results)
    for r in transfer_runs(results):
        summary = _run_summary(r)
        s = spread.get((r.benchmark, r.init, r.fraction))
        if s is not None:
            summary.update(seeds=s.n, seed_mean=s.mean, seed_sd=s.sd)
        out.setdefault("transfer", {}).setdefault(r.benchmark, {})[f"{r.init}_{_pct_key(r.fraction)}"] = summary
    for r in zeroshot_runs(results):
        out.setdefault("zeroshot", {}).setdefault(r.benchmark, {})[r.init] = _run_summary(r)
    for r in llm_runs(results):
        out.setdefault("llm_baseline", {})[r.benchmark] = _run_summary(r)
    for r in crossdomain_runs(results):
        rec = r.record
        summary = {**_metric_cells(rec.metrics), "n_test": rec.n_test, "n_excluded": rec.n_excluded}
        if rec.paired_test:
            summary.update(delta_vs_base=rec.paired_test.delta, p_value_vs_base=rec.paired_test.p_value)
        out.setdefault("crossdomain", {}).setdefault(f"{rec.source}_to_{rec.target}", {})[rec.init] = summary
    for _, rec in peer_records(results):
        entry: dict[str, Any] = {"status": rec.status}
        for res in rec.results:
            entry[res.rule] = {**_metric_cells(res.metrics), "labels_per_example": res.labels_per_example}
        if rec.n_test is not None:
            entry["n_test"] = rec.n_test
        out.setdefault("peers", {}).setdefault(rec.name, {})[rec.benchmark] = entry
    for name, st in dataset_summaries(results).items():
        d: dict[str, Any] = {"examples": st.examples, "labels_per_example": st.labels_per_example}
        if st.out_of_taxonomy is not None:
            d.update(oot_rate=st.out_of_taxonomy.out_of_taxonomy_rate,
                     oot_label_leakage_rate=st.out_of_taxonomy.label_leakage_rate)
            if st.out_of_taxonomy.naive_label_leakage_rate is not None:
                d["oot_naive_label_leakage_rate"] = st.out_of_taxonomy.naive_label_leakage_rate
        if st.diversity.macro is not None:
            m = st.diversity.macro
            d.update(distinct_1=m.distinct_1, distinct_2=m.distinct_2, self_bleu=m.self_bleu,
                     mean_pairwise_similarity=m.embedding_similarity)
        out.setdefault("datasets", {})[name] = d
    he = results.get("humaneval") or {}
    if he.get("questions"):
        out["humaneval"] = {"n_annotators": he.get("n_annotators"), **{
            q: {k: v.get(k) for k in ("n_items", "n_ratings", "positive_rate", "mean", "alpha_nominal", "alpha_ordinal")
                if v.get(k) is not None}
            for q, v in he["questions"].items() if isinstance(v, dict)}}
    for name, data in (results.get("train") or {}).items():
        rec = TrainRecord.parse(data, f"outputs/metrics/train/{name}.json")
        summary = _metric_cells(rec.metrics)
        summary.update(labels_per_example=rec.labels_per_example, n_train=rec.n_train, n_dev=rec.n_dev,
                       n_test=rec.n_test, steps=rec.steps, train_seconds=rec.train_seconds)
        out.setdefault("train", {})[name] = summary
    return out
