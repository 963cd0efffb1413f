"""Builders of the paper's tables, from the aggregated results to :class:`Table` data.

Each builder returns a table with whatever the results hold: a benchmark that
was not run has no column, an initialisation that was not trained has no row.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Iterable, Optional

from emopillars.report.results import (
    INITS,
    PEER_OWN_RULES,
    DatasetSummary,
    Run,
    benchmark_name,
    benchmarks_in,
    crossdomain_runs,
    init_name,
    dataset_summaries,
    generation_stats,
    inits_in,
    llm_runs,
    interval_score as _interval_score,
    metric_name,
    peer_records,
    skipped_benchmarks,
    synthesis_steps,
    seed_spread,
    transfer_runs,
    zeroshot_runs,
)
from emopillars.contracts.evaluation import TargetsAblation
from emopillars.contracts.synthesis import DATASET_STATS_PATH, step_metrics_path
from emopillars.report.latex import escape_latex, escape_markdown
from emopillars.report.table import Cell, Column, Markup, Table, number_cell, score_cell, text_cell
from emopillars.benchmarks import METRIC_NAMES, get as get_benchmark
from emopillars.taxonomy import EMOTIONS

if TYPE_CHECKING:
    from emopillars.config import PaperScaleParams
    from emopillars.report.published import PublishedFigures

SIGNIFICANCE = 0.05
DATASET_NAMES = {
    "contextless": "Emo Pillars (context-less)",
    "contextual": "Emo Pillars (contextual)",
    "goemotions": "GoEmotions",
}
DIVERSITY_MEASURES = (
    ("distinct_1", "dist-1", False),
    ("distinct_2", "dist-2", False),
    ("self_bleu", "self-BLEU", True),
    ("embedding_similarity", "emb. sim.", True),
)


def fraction_label(f: float) -> str:
    pct = 100 * f
    return f"{pct:.0f}%" if pct >= 1 and float(pct).is_integer() else f"{pct:g}%"


def _marker(run: Run) -> str:
    pt = run.paired_test
    if pt and pt.p_value < SIGNIFICANCE and pt.delta > 0:
        return "dagger"
    return ""


def _dagger_note(t: Table) -> list:
    if not any(c.marker == "dagger" for r in t.rows for c in r.cells):
        return []
    return [Markup(f"$\\dagger$: better than the base encoder, paired bootstrap $p < {SIGNIFICANCE}$.",
                   f"†: better than the base encoder, paired bootstrap p < {SIGNIFICANCE}.")]


def _primary_metric(runs: list[Run], benchmark: str) -> Optional[str]:
    return next((r.primary_metric for r in runs if r.benchmark == benchmark), None)


def _interval_note(runs: list[Run]) -> str:
    levels = {r.record.bootstrap.confidence for r in runs}
    level = f"{100 * levels.pop():.0f}%" if len(levels) == 1 else "95%"
    return f"Brackets: {level} bootstrap confidence interval."


def _skipped_notes(results: dict, *kinds: str) -> list[str]:
    """One note per benchmark a stage skipped (a user-supplied benchmark that is not configured)."""
    seen: dict[str, str] = {}
    for kind in kinds:
        for s in skipped_benchmarks(results, kind):
            seen.setdefault(s.benchmark, s.reason)
    return [f"{benchmark_name(b)}: not evaluated ({reason.split('. ')[0]})." for b, reason in seen.items()]


# --------------------------------------------------------------------------- (a) main results
def _transfer_cell(r: Optional[Run], spread: dict) -> Cell:
    """A transfer run's score (the first seed's, with its interval), with ``±sd`` when the cell has several seeds."""
    if r is None:
        return Cell(display="not run")
    cell = score_cell(r.primary, r.source, marker=_marker(r))
    s = spread.get((r.benchmark, r.init, r.fraction))
    if s is not None:
        cell.display += f" ±{s.sd:.3f}"
    return cell


def _seed_note(runs: list[Run], spread: dict) -> list[str]:
    keys = {(r.benchmark, r.init, r.fraction) for r in runs}
    counts = sorted({s.n for k, s in spread.items() if k in keys})
    if not counts:
        return []
    return [f"±: standard deviation of the score over {'/'.join(map(str, counts))} training seeds; the number and "
            "its interval are the first seed's run, and paired tests compare runs of the same seed."]


def ran_cells_note(runs: list[Run]) -> str:
    """Which benchmark x fraction cells the run holds (profiles run different ones)."""
    parts = []
    for b in benchmarks_in(runs):
        fractions = sorted({r.fraction for r in runs if r.benchmark == b})
        parts.append(f"{benchmark_name(b)} {', '.join(fraction_label(f) for f in fractions)}")
    return ("Cells in this run: " + "; ".join(parts) + ". The full profile (make repro PROFILE=full) runs every "
            "fraction of every benchmark.")


def largest_fraction_runs(runs: list[Run]) -> list[Run]:
    """The runs at each benchmark's largest training fraction (the main table's cells)."""
    largest: dict[str, float] = {}
    for r in runs:
        largest[r.benchmark] = max(largest.get(r.benchmark, r.fraction), r.fraction)
    return [r for r in runs if r.fraction == largest[r.benchmark]]


def main_table(results: dict) -> Table:
    """Benchmark (columns) x initialisation (rows), each benchmark at its largest training fraction in the run."""
    all_runs = transfer_runs(results)
    spread = seed_spread(results)
    benches = benchmarks_in(all_runs)
    runs = largest_fraction_runs(all_runs)
    largest = {r.benchmark: r.fraction for r in runs}

    def header(b: str) -> str:
        pct = f" ({fraction_label(largest[b])})" if largest[b] < 1 else ""
        return f"{benchmark_name(b)} {metric_name(_primary_metric(runs, b))}".strip() + pct

    t = Table("main", "Fine-tuning results on the benchmarks' test splits, by initialisation of the encoder (each "
              "benchmark at the largest share of its training split in this run). " + ran_cells_note(all_runs),
              "Initialisation", [Column(header(b)) for b in benches], wide=len(benches) > 3)
    by_key = {(r.benchmark, r.init): r for r in runs}
    for init in inits_in(runs):
        t.add_row(init_name(init), [_transfer_cell(by_key.get((b, init)), spread) for b in benches])
    teacher = _teacher_row(t, results, benches, {b: _primary_metric(runs, b) for b in benches})
    t.notes = (["Best per column in bold.", _interval_note(runs)] + teacher + _seed_note(runs, spread)
               + _dagger_note(t) + _skipped_notes(results, "transfer"))
    return t.mark_best()


TEACHER_ROW = "Teacher (generator zero-shot)"


def teacher_runs(results: dict) -> dict[str, Run]:
    """The LLM-baseline run of each benchmark: the generator, the teacher of the Emo Pillars models, zero-shot."""
    return {r.benchmark: r for r in llm_runs(results)}


def _teacher_row(t: Table, results: dict, benches: list[str], metrics: dict[str, Optional[str]]) -> list[str]:
    """The teacher's scores as a reference row of ``t`` (never marked best), and the note that says on what."""
    teacher = teacher_runs(results)
    shown = [b for b in benches if b in teacher]
    if not shown:
        return []
    cells = []
    for b in benches:
        r = teacher.get(b)
        cells.append(score_cell(r.metric(metrics[b]) if r else None, r.source if r else None))
    t.add_row(TEACHER_ROW, cells, compare=False)
    systems = {teacher[b].record.system for b in shown}
    who = f"the {systems.pop()}" if len(systems) == 1 else "the generator"
    where = "; ".join(f"{benchmark_name(b)} n = {teacher[b].record.n_test:,}"
                      + (f", {teacher[b].record.test_set}" if teacher[b].record.test_set else "") for b in shown)
    return [f"Teacher: {who} classifying the test examples zero-shot (structured output), on a sample of each "
            f"test set ({where}); a reference, not marked as best."]


# --------------------------------------------------------------------------- (b) low resource
def lowres_table(results: dict) -> Table:
    runs = transfer_runs(results)
    spread = seed_spread(results)
    fractions = sorted({r.fraction for r in runs if r.fraction is not None})
    t = Table("lowres", "Low-resource fine-tuning: share of each benchmark's training split used (tested on the "
              "full test split). " + ran_cells_note(runs), "Initialisation",
              [Column(fraction_label(f)) for f in fractions])
    by_key = {(r.benchmark, r.init, r.fraction): r for r in runs}
    for b in benchmarks_in(runs):
        group = f"{benchmark_name(b)} ({metric_name(_primary_metric(runs, b))})"
        for init in inits_in([r for r in runs if r.benchmark == b]):
            t.add_row(init_name(init), [_transfer_cell(by_key.get((b, init, f)), spread) for f in fractions],
                      group=group)
    t.notes = (["Best per benchmark and column in bold.", _interval_note(runs)] + _seed_note(runs, spread)
               + _dagger_note(t))
    return t.mark_best()


# --------------------------------------------------------------------------- out of domain
def pair_header(source: str, target: str) -> Markup:
    s, t = benchmark_name(source), benchmark_name(target)
    return Markup(f"{escape_latex(s)} $\\rightarrow$ {escape_latex(t)}", f"{escape_markdown(s)} → {escape_markdown(t)}")


def pair_text(source: str, target: str) -> str:
    return f"{benchmark_name(source)} to {benchmark_name(target)}"


def _excluded_text(counts: dict[str, int], shown: int = 4) -> str:
    """The most frequent excluded gold labels with their counts, the rest summed."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{lab.replace('+', ' + ')} {n:,}" for lab, n in items[:shown])
    rest = sum(n for _, n in items[shown:])
    return text + (f", other labels {rest:,}" if rest else "")


def crossdomain_table(results: dict) -> Table:
    """Initialisation (rows) x source -> target pair (columns): each benchmark's exported model on the others."""
    runs = crossdomain_runs(results)
    pairs = list(dict.fromkeys(r.pair for r in runs))
    t = Table("crossdomain", "Out of domain: the model fine-tuned on one benchmark (the largest training share of "
              "the run) scored on another benchmark's test set, in the Ekman groups that the two label sets share: "
              "macro-F1 over those groups, the model's answer being the arg-max over them. Rows: where the encoder "
              "started.", "Initialisation", [Column(pair_header(*p)) for p in pairs], wide=len(pairs) > 3,
              font_size="footnotesize" if len(pairs) > 4 else "small", col_sep="3pt" if len(pairs) > 4 else "4pt")
    if not runs:
        return t
    by_key = {(r.pair, r.init): r for r in runs}
    present = {r.init for r in runs}
    for init in [i for i in INITS if i in present] + sorted(present - set(INITS)):
        cells = []
        for p in pairs:
            r = by_key.get((p, init))
            cells.append(score_cell(r.primary, r.source_file, marker=_marker(r)) if r else Cell(display="not run"))
        t.add_row(init_name(init), cells)
    first = {p: next(r for r in runs if r.pair == p) for p in pairs}
    t.add_row("Scored / excluded", [text_cell(f"{first[p].record.n_test:,} / {first[p].record.n_excluded:,}")
                                    for p in pairs], compare=False)
    by_groups: dict[tuple[str, ...], list[str]] = {}
    for p in pairs:
        by_groups.setdefault(tuple(first[p].record.shared_groups), []).append(pair_text(*p))
    groups = "; ".join(f"{', '.join(g)} ({', '.join(ps)})" for g, ps in by_groups.items())
    excluded = "; ".join(f"{pair_text(*p)}: {_excluded_text(first[p].record.excluded_labels)}"
                         for p in pairs if first[p].record.n_excluded)
    t.notes = (["Best per column in bold.", _interval_note(runs), f"Shared Ekman groups: {groups}.",
                "Scored / excluded: test examples scored, and those whose gold labels fall in no shared group"
                + (f" ({excluded})." if excluded else ".")] + _dagger_note(t)
               + _skipped_notes(results, "crossdomain"))
    return t.mark_best()


# --------------------------------------------------------------------------- (c) dataset statistics
def _count_cell(value: int, unit: str, source: str) -> Cell:
    c = number_cell(value, 0, source)
    if unit:
        c.display = f"{c.display} {unit}"
    return c


def synth_counts_table(results: dict) -> Table:
    """Counts in and out of every synthesis step with the reasons for each drop."""
    t = Table("synth_counts", "Synthesis pipeline: records in and out of each step, and why records were dropped "
              "or rejected.", "Step", [Column("In", compare=False), Column("Out", compare=False),
                                       Column("Dropped", compare=False),
                                       Column("Reasons", align="p{5.4cm}", compare=False)], wide=True)
    for stage, record in synthesis_steps(results).items():
        src = step_metrics_path(stage)
        for row in record.count_rows():
            reasons = "; ".join(f"{r.replace('_', ' ')}: {n:,}" for r, n in
                                sorted(row.drops.items(), key=lambda x: -x[1]) if n)
            t.add_row(row.name, [_count_cell(row.inputs, row.unit_in, src), _count_cell(row.outputs, row.unit_out, src),
                                 number_cell(row.dropped, 0, src), text_cell(reasons or "none")])
    return t


def diversity_summary(stats: DatasetSummary, measure: str) -> Optional[float]:
    """The mean over classes of a diversity measure (``None`` when no class had two texts to compare)."""
    macro = stats.diversity.macro
    return None if macro is None else getattr(macro, measure)


def oot_rate(stats: DatasetSummary, key: str = "out_of_taxonomy_rate") -> Optional[float]:
    """A rate of the labelling report behind the dataset's labels (``None`` where there is none)."""
    return None if stats.out_of_taxonomy is None else getattr(stats.out_of_taxonomy, key)


def dataset_stats_table(results: dict) -> Table:
    """The synthetic datasets beside GoEmotions: size, labels per example, OOT rate, diversity."""
    datasets = dataset_summaries(results)
    t = Table("dataset_stats", "The synthetic datasets (all splits) beside GoEmotions (training split). "
              "Out-of-taxonomy emotion "
              "words: share of the free-form emotion words of the labelling answers that map to no class; labels "
              "outside the taxonomy: share of final labels that are not one of the 28 classes, and the same had the "
              "words been matched naively. Diversity: means over classes (GoEmotions sampled to the synthetic set's "
              "per-class sizes where the statistics say so); lower self-BLEU and embedding similarity mean more "
              "diverse text.",
              "", [Column(DATASET_NAMES[n], compare=False) for n in datasets])
    src = DATASET_STATS_PATH
    rows = [("Examples", lambda s: number_cell(s.examples, 0, src)),
            ("Labels per example", lambda s: number_cell(s.labels_per_example, 2, src)),
            ("Out-of-taxonomy emotion words", lambda s: number_cell(oot_rate(s), 3, src, percent=True)),
            ("Labels outside the taxonomy", lambda s: number_cell(oot_rate(s, "label_leakage_rate"), 3, src,
                                                                  percent=True)),
            ("... with naive word matching", lambda s: number_cell(oot_rate(s, "naive_label_leakage_rate"), 3, src,
                                                                   percent=True))]
    rows += [(label, (lambda m: lambda s: number_cell(diversity_summary(s, m), 3, src))(key))
             for key, label, _ in DIVERSITY_MEASURES]
    for label, make in rows:
        cells = [make(d) for d in datasets.values()]
        if any(c.value is not None for c in cells):
            t.add_row(label, cells)
    unlabelled = [DATASET_NAMES[n] for n, d in datasets.items() if d.out_of_taxonomy is None]
    if unlabelled:
        t.notes = [f"No labelling answers lie behind the labels of {' and '.join(unlabelled)} (human labels, or "
                   "the utterances' own labels kept for the contextual examples), so no out-of-taxonomy rates."]
    return t


# --------------------------------------------------------------------------- (d) diversity per class
def diversity_table(results: dict, synthetic: str = "contextless", reference: str = "goemotions") -> Table:
    datasets = dataset_summaries(results)
    short = {synthetic: "EP", reference: "GE"}
    cols = [Column(f"{label} {short[d]}", lower_is_better=low) for k, label, low in DIVERSITY_MEASURES
            for d in (synthetic, reference)]
    t = Table("diversity", f"Diversity per class: EP = {DATASET_NAMES[synthetic]}, "
              f"GE = {DATASET_NAMES[reference]}. The more diverse of the two is in bold.",
              "Emotion", cols, wide=True, font_size="footnotesize", col_sep="3pt")
    if not datasets:
        return t
    syn, ref = datasets[synthetic].diversity.per_class, datasets[reference].diversity.per_class
    src = DATASET_STATS_PATH
    for emotion in EMOTIONS:
        if emotion not in syn and emotion not in ref:
            continue
        cells = []
        for k, _, low in DIVERSITY_MEASURES:
            pair = [number_cell(getattr(d[emotion], k) if emotion in d else None, 2, src, lower_is_better=low)
                    for d in (syn, ref)]
            values = [c.value for c in pair]
            if None not in values and values[0] != values[1]:
                best = min(values) if low else max(values)
                for c in pair:
                    c.best = c.value == best
            cells += pair
        t.add_row(emotion, cells)
    return t


# --------------------------------------------------------------------------- (e) zero-shot and LLM baseline
def zeroshot_table(results: dict) -> Table:
    zs, llm = zeroshot_runs(results), llm_runs(results)
    runs = zs + llm
    benches = benchmarks_in(runs)
    cols = []
    for b in benches:
        cols.append(Column(f"{benchmark_name(b)} {metric_name(_primary_metric(runs, b))}"))
        cols.append(Column("lab./ex.", compare=False))
    t = Table("zeroshot", "Zero-shot transfer of the Emo Pillars models through the label mapping (no benchmark "
              "training), and the generator LLM as a classifier (structured output). lab./ex.: labels predicted per "
              "example.",
              "System", cols, wide=len(benches) > 2, font_size="footnotesize", col_sep="2.5pt")
    by_key = {(r.kind, r.benchmark, r.init): r for r in runs}
    systems = [("zeroshot", i, f"{init_name(i)}") for i in inits_in(zs)]
    if llm:
        names = {r.record.system for r in llm}
        systems.append(("llm_baseline", "llm", f"LLM {names.pop()}" if len(names) == 1 else "LLM (generator)"))
    for kind, init, label in systems:
        cells = []
        for b in benches:
            r = by_key.get((kind, b, init))
            if r is None:
                cells += [Cell(display="--"), Cell(display="--")]
                continue
            cells += [score_cell(r.primary, r.source), number_cell(r.labels_per_example, 2, r.source)]
        t.add_row(label, cells)
    gold = []
    for b in benches:
        g = next((r.record.gold_labels_per_example for r in runs if r.benchmark == b), None)
        gold += [Cell(display=""), number_cell(g, 2)]
    if any(c.value is not None for c in gold):
        t.add_row("Gold labels", gold)
    t.notes = ["Best per column in bold.", _interval_note(runs)] + _skipped_notes(results, "zeroshot", "llm_baseline")
    return t.mark_best()


# --------------------------------------------------------------------------- examples
def examples_table(datasets: dict[str, list[dict]], per_dataset: int, seed: int = 13) -> Table:
    """A few synthetic examples per dataset, chosen with ``seed`` across different primary emotions."""
    t = Table("examples", "Examples of synthetic utterances with their labels (chosen at random, one per emotion).",
              "Labels", [Column("Example", align="p{12cm}", compare=False)], wide=True, font_size="footnotesize")
    for name, rows in datasets.items():
        chosen = choose_examples(rows, per_dataset, seed)
        for rec in chosen:
            text = f"\u201c{rec.get('utterance', '')}\u201d"
            if rec.get("context"):
                who = rec.get("character") or "the speaker"
                text = f"Context: {rec['context']} Speaker: {who}. Utterance: {text}"
            t.add_row(", ".join(rec.get("labels") or []), [text_cell(text)], group=DATASET_NAMES.get(name, name))
    return t


def choose_examples(rows: list[dict], n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    pool = [r for r in rows if r.get("utterance")]
    rng.shuffle(pool)
    chosen, seen = [], set()
    for r in pool:
        if r.get("primary_emotion") not in seen:
            chosen.append(r)
            seen.add(r.get("primary_emotion"))
        if len(chosen) == n:
            break
    return chosen


# --------------------------------------------------------------------------- human evaluation
def humaneval_table(results: dict) -> Table:
    he = results.get("humaneval") or {}
    questions = he.get("questions") or {}
    t = Table("humaneval", "Human evaluation of a blind, stratified sample of synthetic examples: share of positive "
              "answers, mean rating, and agreement between annotators (Krippendorff's alpha).",
              "Question", [Column("Items", compare=False), Column("Ratings", compare=False),
                           Column("Positive", compare=False), Column("Mean", compare=False),
                           Column(Markup("$\\alpha$ nominal", "α nominal"), compare=False),
                           Column(Markup("$\\alpha$ ordinal", "α ordinal"), compare=False)])
    src = "outputs/metrics/humaneval.json"
    for q, d in questions.items():
        if not isinstance(d, dict):
            continue
        t.add_row(d.get("title", q), [number_cell(d.get("n_items"), 0, src), number_cell(d.get("n_ratings"), 0, src),
                                      number_cell(d.get("positive_rate"), 3, src, percent=True),
                                      number_cell(d.get("mean"), 2, src),
                                      number_cell(d.get("alpha_nominal"), 3, src),
                                      number_cell(d.get("alpha_ordinal"), 3, src)])
    if he.get("n_annotators"):
        t.notes = [f"{he['n_annotators']} annotators."]
    lc = questions.get("labels_correct")
    if isinstance(lc, dict) and lc.get("derived_from"):
        # blind sheet: annotators choose 1-3 emotions; label correctness is derived from them and the key
        t.notes.append("Labels correct is derived from the one to three emotions each annotator chose without seeing "
                       "the labels: positive when the item's primary emotion is among them.")
        alpha = lc.get("emotion_sets_alpha_binary_pooled")
        if isinstance(alpha, (int, float)):
            head = "Agreement on the chosen emotions (binary choice per class, pooled): "
            t.notes.append(Markup(f"{head}$\\alpha = {alpha:.3f}$.", f"{head}α = {alpha:.3f}."))
        chosen, labels = lc.get("mean_emotions_chosen"), lc.get("mean_labels_in_data")
        if isinstance(chosen, (int, float)) and isinstance(labels, (int, float)):
            t.notes.append(f"Emotions chosen per answer: {chosen:.2f}; labels in the data: {labels:.2f}.")
    return t


# --------------------------------------------------------------------------- soft vs hard targets
def targets_table(results: dict) -> Table:
    """The context-less model trained with soft and with hard targets (stage ``targets``)."""
    src = "outputs/metrics/ablation/targets.json"
    t = Table("targets", "Soft targets (the mapped emotion scores) against hard targets (the labels) for the "
              "context-less Emo Pillars model: same data, seed and recipe.",
              "Targets", [Column("Synthetic test macro-F1"), Column("GoEmotions zero-shot macro-F1"),
                          Column("lab./ex.", compare=False)])
    raw = (results.get("ablation") or {}).get("targets")
    if raw is None:
        return t
    d = TargetsAblation.parse(raw, src)
    names = {"soft": "Soft (all_emotions_mapped scores)", "hard": "Hard (labels)"}
    for arm in ("soft", "hard"):
        a = d.arms.get(arm)
        if a is None:
            continue
        t.add_row(names[arm] + (" (main model)" if d.main_targets == arm else ""),
                  [score_cell(_interval_score(a.synthetic_test["macro_f1"]), src),
                   score_cell(_interval_score(a.goemotions_zero_shot["macro_f1"]), src),
                   number_cell(a.goemotions_labels_per_example, 2, src)])
    t.notes = ["Best per column in bold. lab./ex.: labels predicted per GoEmotions test example.",
               "Intervals: 95% percentile bootstrap over test examples."]
    return t.mark_best()


# The generation steps behind each dataset. A contextual example also needed its line and its labels; those
# tokens are counted once, with the context-less examples, so the contextual row is the context step's cost.
COST_CHAINS = (("Context-less", ("characters", "utterances", "labels"), "contextless"),
               ("Contextual (context step)", ("contexts",), "contextual"))


def generation_cost_table(results: dict, scale) -> Table:
    """Tokens per kept example in this run, and the GPU hours the paper's sizes would take at published rates.

    Generated tokens count at the decoding rate and prompt tokens at the prefill rate; the wall time on
    ``n`` GPUs divides the GPU hours by ``n`` (one engine per GPU, requests shared out evenly).
    """
    steps = synthesis_steps(results)
    gen = generation_stats(results)
    curate = steps.get("curate")
    rate = float(scale.output_tokens_per_s)
    prefill = float(scale.prefill_tokens_per_s)
    counts = list(scale.gpu_counts)
    t = Table("generation_cost", f"Generation cost: tokens per example kept after curation in this run, and the GPU "
              f"hours the paper's sizes would take at {rate:,.0f} generated and {prefill:,.0f} prompt tokens/s "
              f"per GPU ({scale.gpu}, vLLM).",
              "Dataset", [Column("Kept", compare=False), Column("Prompt tok./ex.", compare=False),
                          Column("Generated tok./ex.", compare=False), Column("Paper size", compare=False),
                          Column("GPU-h decode", compare=False), Column("GPU-h prefill", compare=False),
                          *[Column(f"Hours on {n} GPU{'s' if n > 1 else ''}", compare=False) for n in counts]])
    totals = [0.0, 0.0]
    for name, stages, dataset in COST_CHAINS:
        kept = getattr(curate, dataset).outputs if curate is not None else 0
        if not kept:
            continue
        stats = [gen[s] for s in stages]
        src = "outputs/metrics/generation/" + ", ".join(f"{s}.json" for s in stages)
        prompt_per = sum(s.answer_prompt_tokens for s in stats) / kept
        generated_per = sum(s.answer_generated_tokens for s in stats) / kept
        size = getattr(scale, dataset)
        decode_h = size * generated_per / rate / 3600
        prefill_h = size * prompt_per / prefill / 3600
        totals[0] += decode_h
        totals[1] += prefill_h
        t.add_row(name, [number_cell(kept, 0, step_metrics_path("curate")), number_cell(prompt_per, 0, src),
                         number_cell(generated_per, 0, src), number_cell(size, 0), number_cell(decode_h, 1),
                         number_cell(prefill_h, 1), *[number_cell((decode_h + prefill_h) / n, 1) for n in counts]])
    if t.rows:
        t.add_row("Total", [text_cell("--"), text_cell("--"), text_cell("--"),
                            number_cell(scale.contextless + scale.contextual, 0), number_cell(totals[0], 1),
                            number_cell(totals[1], 1), *[number_cell(sum(totals) / n, 1) for n in counts]])
    t.notes = [f"Tokens per example: every token of the steps, rejected answers included, over the examples kept "
               f"after curation (the generator's tokenizer). Decoding at the published rate ({scale.rate_source}); "
               f"prefill at {prefill:,.0f} prompt tokens/s ({scale.prefill_rate_source}). Wall time on n GPUs: one "
               f"vLLM engine per GPU (llm.data_parallel_size). The larger generator writes longer answers, so this is "
               f"a lower bound. The paper reports {scale.paper_gpu_hours:,.0f} GPU-hours."]
    return t


# --------------------------------------------------------------------------- published against measured
def published_table(results: dict, published: "PublishedFigures") -> Table:
    """Published figures (``reports/published.yaml``) beside what this pipeline measured under its protocol.

    Rows: each published figure, joined with the peer records of the same model and benchmark; every other peer
    record; then this pipeline's own models (transfer at the largest fraction, zero-shot). A figure that could
    not be found reads "not found"; a model that could not be evaluated reads "unavailable" and a note says why.
    """
    peers = peer_records(results)
    cols = [Column("Benchmark", "l", compare=False), Column("Metric", "l", compare=False),
            Column("Published", compare=False), Column("Src.", "c", compare=False),
            Column("Measured, own rule", compare=False), Column("Measured, dev-tuned", compare=False),
            Column("Test n", compare=False)]
    t = Table("published", "Published figures beside the same systems measured here, under this project's protocol "
              "(full test split, 95% bootstrap intervals). Own rule: the threshold that the model's card or folder "
              "gives (arg-max on single-label benchmarks); dev-tuned: thresholds tuned on the benchmark's dev split.",
              "System", cols, wide=True, font_size="footnotesize", col_sep="3pt")
    sources: list[str] = []
    reasons: dict[str, str] = {}

    def ref(figure) -> Cell:
        if figure.source not in sources:
            sources.append(figure.source)
        return text_cell(f"[{sources.index(figure.source) + 1}]")

    def measured(rec, metric: str, source: str) -> list[Cell]:
        if rec is None:
            return [text_cell("not run"), text_cell("not run"), Cell(display="")]
        if not rec.available:
            reasons[f"{rec.name} on {benchmark_name(rec.benchmark)}"] = rec.reason
            return [text_cell(rec.status.replace("_", " ")), text_cell(rec.status.replace("_", " ")), Cell(display="")]
        own = next((r for r in rec.results if r.rule in PEER_OWN_RULES), None)
        dev = next((r for r in rec.results if r.rule == "dev_tuned"), None)
        cells = [score_cell(_interval_score(r.metrics[metric]), source) if r is not None and metric in r.metrics
                 else Cell(display="--") for r in (own, dev)]
        return cells + [number_cell(rec.n_test, 0, source)]

    by_model = {(rec.model.reference, rec.benchmark): (src, rec) for src, rec in peers}
    joined = set()
    for f in published.figures:
        src, rec = by_model.get((f.system, f.benchmark), (None, None))
        joined.add((f.system, f.benchmark))
        value = number_cell(f.value, 3) if f.value is not None else text_cell("not found")
        metric = METRIC_NAMES[f.metric] + ("*" if f.published_metric else "")
        t.add_row(f.system, [text_cell(benchmark_name(f.benchmark)), text_cell(metric), value, ref(f)]
                  + measured(rec, f.metric, src), group="published")
    for src, rec in peers:
        if (rec.model.reference, rec.benchmark) in joined:
            continue
        metric = get_benchmark(rec.benchmark).primary_metric
        t.add_row(rec.model.reference, [text_cell(benchmark_name(rec.benchmark)), text_cell(METRIC_NAMES[metric]),
                                        Cell(display="--"), Cell(display="")] + measured(rec, metric, src),
                  group="peers")
    transfer = transfer_runs(results)
    for r in [r for r in transfer if r.fraction == max(x.fraction for x in transfer if x.benchmark == r.benchmark)] \
            + zeroshot_runs(results):
        what = "zero-shot" if r.kind == "zeroshot" else f"fine-tuned on {fraction_label(r.fraction)}"
        cell = score_cell(r.primary, r.source)
        own, dev = (cell, Cell(display="--")) if r.kind == "zeroshot" else (Cell(display="--"), cell)
        t.add_row(f"{init_name(r.init)}, {what}", [text_cell(benchmark_name(r.benchmark)),
                                                   text_cell(metric_name(r.record.primary_metric)),
                                                   text_cell("this pipeline"), Cell(display=""), own, dev,
                                                   number_cell(r.record.n_test, 0, r.source)], group="pipeline")
    notes = [f"[{i + 1}] {s}: " + "; ".join(sorted({f.where for f in published.figures if f.source == s}))
             for i, s in enumerate(sources)]
    notes += [f"* {f.system}: {f.published_metric}" for f in published.figures if f.published_metric]
    notes += [f"{k}: {v}" for k, v in reasons.items()]
    if any(c.display == "not run" for r in t.rows for c in r.cells):
        notes.append("not run: the model is not among this profile's peers (peers.run).")
    notes += _skipped_notes(results, "transfer", "zeroshot")
    t.notes = notes
    return t


def all_tables(results: dict, datasets: dict[str, list[dict]], examples_per_dataset: int, seed: int,
               scale: "PaperScaleParams", published: "PublishedFigures") -> list[Table]:
    return [main_table(results), lowres_table(results), crossdomain_table(results), synth_counts_table(results),
            dataset_stats_table(results),
            diversity_table(results), zeroshot_table(results), targets_table(results), humaneval_table(results),
            examples_table(datasets, examples_per_dataset, seed),
            generation_cost_table(results, scale), published_table(results, published)]


__all__ = ["all_tables", "main_table", "lowres_table", "crossdomain_table", "synth_counts_table", "dataset_stats_table",
           "diversity_table", "zeroshot_table", "examples_table", "humaneval_table", "targets_table",
           "generation_cost_table", "published_table", "score"]
