"""LaTeX macros for every number the paper's text quotes (``reports/numbers.tex``).

Macro names are built from what the number is (``\\GoemotionsContextlessFull``,
``\\OotRateContextless``). A fixed set of names that ``paper/main.tex`` uses is
always defined, as ``--`` when the pipeline has not produced the number, so the
paper builds from partial results.
"""

from __future__ import annotations

from typing import Optional

from emopillars.report.latex import escape_latex, macro_name
from emopillars.report.results import (Score, benchmark_name, benchmarks_in, crossdomain_runs, dataset_summaries,
                                       full_data_fraction, llm_runs, synthesis_steps, transfer_runs, zeroshot_runs)
from emopillars.report.tables import diversity_summary, largest_fraction_runs, oot_rate, teacher_runs

MISSING = "--"
FRACTION_WORDS = {0.01: "OnePct", 0.1: "TenPct", 1.0: "Full"}
# Always defined: the macros paper/main.tex quotes.
REQUIRED = (
    "NExamplesContextless", "NExamplesContextual", "NExamplesGoemotions",
    "LabelsPerExampleContextless", "LabelsPerExampleGoemotions", "OotRateContextless",
    "SelfBleuContextless", "SelfBleuGoemotions",
    "GoemotionsBaseFull", "GoemotionsContextlessFull", "GoemotionsContextlessDeltaFull",
    "GoemotionsContextlessPValueFull", "GoemotionsContextlessPValueRelFull", "GoemotionsBaseOnePct",
    "GoemotionsContextlessOnePct",
    "LlmLabelsPerExampleGoemotions", "ZeroshotContextlessGoemotions", "ZeroshotContextlessLabelsPerExampleGoemotions",
    "HumanevalLabelsCorrect", "HumanevalNaturalness", "HumanevalAnnotators",
    "TeacherConclusion", "CrossDomainConclusion",
)
EMOPILLARS_INITS = ("contextless", "contextual")


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _p_relation(p: Optional[float], samples: Optional[int]) -> str:
    """'= 0.023', or '< 0.001' when no bootstrap resample reversed the difference (p below the test's resolution)."""
    if p is None:
        return MISSING
    floor = 1.0 / samples if isinstance(samples, int) and samples > 0 else 0.001
    return f"< {floor:.3g}" if p < floor else f"= {p:.3f}"


def _int(value: Optional[float]) -> str:
    return MISSING if value is None else f"{int(round(value)):,}".replace(",", "{,}")


def _pct(value: Optional[float], digits: int = 1) -> str:
    return MISSING if value is None else f"{100 * value:.{digits}f}\\%"


def fraction_word(f: float) -> str:
    return FRACTION_WORDS.get(f) or macro_name("frac", repr(f))


def compute_numbers(results: dict) -> dict[str, str]:
    """``{macro name: LaTeX text}`` for every number worth quoting in the results."""
    out: dict[str, str] = {name: MISSING for name in REQUIRED}

    # diversity measures by the names the paper's macros use
    measures = {"distinct_1": "distinct_1", "distinct_2": "distinct_2", "self_bleu": "self_bleu",
                "mean_pairwise_similarity": "embedding_similarity"}
    for name, stats in dataset_summaries(results).items():
        key = macro_name(name)
        out[f"NExamples{key}"] = _int(stats.examples)
        out[f"LabelsPerExample{key}"] = _fmt(stats.labels_per_example, 2)
        if oot_rate(stats) is not None:
            out[f"OotRate{key}"] = _pct(oot_rate(stats))
        for macro, measure in measures.items():
            v = diversity_summary(stats, measure)
            if v is not None:
                out[macro_name(macro, key)] = _fmt(v, 2)

    for record in synthesis_steps(results).values():
        for row in record.count_rows():
            out[macro_name("synth", row.name, "in")] = _int(row.inputs)
            out[macro_name("synth", row.name, "out")] = _int(row.outputs)

    runs = transfer_runs(results)
    for r in runs:
        base = macro_name(r.benchmark, r.init) + fraction_word(r.fraction)
        out[base] = _fmt(r.primary.value)
        out[macro_name(r.benchmark, r.init, "ci low") + fraction_word(r.fraction)] = _fmt(r.primary.ci_low)
        out[macro_name(r.benchmark, r.init, "ci high") + fraction_word(r.fraction)] = _fmt(r.primary.ci_high)
        pt = r.paired_test
        if pt:
            stem = macro_name(r.benchmark, r.init)
            out[f"{stem}Delta{fraction_word(r.fraction)}"] = f"{pt.delta:+.3f}"
            out[f"{stem}PValue{fraction_word(r.fraction)}"] = _fmt(pt.p_value)
            out[f"{stem}PValueRel{fraction_word(r.fraction)}"] = _p_relation(pt.p_value, pt.samples)
    if full_data_fraction(runs) is not None:
        out["NBenchmarks"] = str(len(benchmarks_in(runs)))

    for r in zeroshot_runs(results):
        stem = macro_name("zeroshot", r.init)
        out[stem + macro_name(r.benchmark)] = _fmt(r.primary.value)
        out[stem + "LabelsPerExample" + macro_name(r.benchmark)] = _fmt(r.labels_per_example, 2)
    for r in llm_runs(results):
        out["Llm" + macro_name(r.benchmark)] = _fmt(r.primary.value)
        out["LlmLabelsPerExample" + macro_name(r.benchmark)] = _fmt(r.labels_per_example, 2)

    base = {r.benchmark: r for r in largest_fraction_runs(runs) if r.init == "base"}
    teacher = teacher_runs(results)
    compared = [(benchmark_name(b), teacher[b].metric(base[b].primary_metric), base[b].primary)
                for b in benchmarks_in(list(base.values())) if b in teacher]
    if compared:
        level = next(iter(teacher.values())).record.bootstrap.confidence
        out["TeacherConclusion"] = teacher_conclusion([c for c in compared if c[1] is not None], level)

    cross = crossdomain_runs(results)
    for r in cross:
        rec = r.record
        out[macro_name("crossdomain", rec.source, "to", rec.target, rec.init)] = _fmt(rec.primary.value)
    pairs: dict[tuple[str, str], dict[str, tuple[Score, Optional[float]]]] = {}
    for r in cross:
        test = r.paired_test
        pairs.setdefault(r.pair, {})[r.init] = (r.primary, test.p_value if test else None)
    comparable = [(scores["base"][0], [scores[i][0] for i in EMOPILLARS_INITS if i in scores],
                   [scores[i][1] for i in EMOPILLARS_INITS if i in scores])
                  for scores in pairs.values() if "base" in scores and any(i in scores for i in EMOPILLARS_INITS)]
    if comparable:
        out["CrossDomainConclusion"] = crossdomain_conclusion(comparable, cross[0].record.bootstrap.confidence)

    he = results.get("humaneval") or {}
    if he.get("n_annotators"):
        out["HumanevalAnnotators"] = str(he["n_annotators"])
    for q, d in (he.get("questions") or {}).items():
        if isinstance(d, dict):
            out[macro_name("humaneval", q)] = _pct(d.get("positive_rate"))
            if isinstance(d.get("alpha_ordinal"), (int, float)):
                out[macro_name("humaneval", q, "alpha")] = _fmt(d["alpha_ordinal"], 2)
    return out


def _apart(low: Score, high: Score) -> bool:
    """Whether ``high``'s interval lies wholly above ``low``'s."""
    return high.ci_low is not None and low.ci_high is not None and high.ci_low > low.ci_high


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _share(k: int, n: int, noun: str) -> str:
    """'2 of the 3 benchmarks', 'all 3 benchmarks', 'the one benchmark'."""
    if n == 1:
        return f"the one {noun.removesuffix('s')}"
    return f"all {n} {noun}" if k == n else f"{k} of the {n} {noun}"


def teacher_conclusion(compared: list[tuple[str, Score, Score]], confidence: float = 0.95) -> str:
    """What the teacher's zero-shot scores say about distillation, from ``(benchmark, teacher, base encoder)``.

    A benchmark counts as below or above only when the two intervals do not overlap.
    """
    n = len(compared)
    if not n:
        return MISSING
    level = f"{100 * confidence:.0f}% intervals"
    below = [b for b, t, s in compared if _apart(t, s)]
    above = [b for b, t, s in compared if _apart(s, t)]
    tied = [b for b, t, s in compared if b not in below and b not in above]
    if len(below) == n:
        return (f"The teacher scores below the student's base encoder on {_share(n, n, 'benchmarks')} "
                f"({_names(below)}; non-overlapping {level}), so distillation from it cannot be expected to help "
                "the student there.")
    if len(above) == n:
        return (f"The teacher scores above the student's base encoder on {_share(n, n, 'benchmarks')} "
                f"({_names(above)}; non-overlapping {level}), so it knows something the student's base encoder "
                "does not, and distillation can pass it on.")
    if len(tied) == n:
        return (f"The teacher's scores cannot be told apart from the student's base encoder's on "
                f"{'the one benchmark' if n == 1 else f'any of the {n} benchmarks'} ({_names(tied)}; overlapping "
                f"{level}), so these numbers do not show whether distillation can help the student.")
    parts = []
    if below:
        parts.append(f"The teacher scores below the student's base encoder on {_share(len(below), n, 'benchmarks')} "
                     f"({_names(below)}; non-overlapping {level}), so distillation cannot be expected to help the "
                     "student there")
    if above:
        lead = "it scores above it" if below else "The teacher scores above the student's base encoder"
        parts.append(f"{lead} on {_share(len(above), n, 'benchmarks')} ({_names(above)}"
                     + ("" if below else f"; non-overlapping {level}") + "), where it has something to pass on")
    if tied:
        parts.append(f"the intervals overlap on {_share(len(tied), n, 'benchmarks')} ({_names(tied)})")
    return "; ".join(parts) + "."


def crossdomain_conclusion(pairs: list[tuple], confidence: float = 0.95, alpha: float = 0.05) -> str:
    """Whether the Emo Pillars initialisations beat the base encoder out of domain, from ``(base, [theirs])`` or
    ``(base, [theirs], [their paired-test p-values])`` per source-target pair: on how many pairs one scores
    higher, on how many the paired bootstrap test says so (p < ``alpha``) and with non-overlapping intervals.

    Both models of a pair are scored on the same test examples, so the paired test is the sharper one; the
    intervals are shown as the stricter reading. The base encoder counts as ahead on a pair only where every
    Emo Pillars initialisation lies below it with non-overlapping intervals.
    """
    n = len(pairs)
    if not n:
        return MISSING
    level = f"{100 * confidence:.0f}% intervals"
    rows = [(entry[0], entry[1], entry[2] if len(entry) > 2 else [None] * len(entry[1])) for entry in pairs]
    tested = any(p is not None for _, _, ps in rows for p in ps)
    above = sum(max(s.value for s in ours) > base.value for base, ours, _ in rows)
    clear = sum(any(_apart(base, s) for s in ours) for base, ours, _ in rows)
    paired = sum(any(p is not None and p < alpha and s.value > base.value for s, p in zip(ours, ps))
                 for base, ours, ps in rows)
    behind = sum(all(_apart(s, base) for s in ours) for base, ours, _ in rows)
    evidence = max(clear, paired)
    claim = "the claim that the Emo Pillars models adapt across domains"
    if clear == n:
        return (f"An Emo Pillars initialisation scores above the base encoder out of domain on "
                f"{_share(n, n, 'source-target pairs')}, each with non-overlapping {level}, which supports {claim}.")
    if above == 0:
        text = (f"No Emo Pillars initialisation scores above the base encoder out of domain on "
                f"{'the one source-target pair' if n == 1 else f'any of the {n} source-target pairs'}")
        if behind:
            text += f"; the base encoder is ahead with non-overlapping {level} on {_share(behind, n, 'pairs')}"
        return text + f", so this run does not support {claim}."
    test = (f"{paired or 'none'} of them better by the paired bootstrap test (p < {alpha:g}) and " if tested
            else "")
    text = (f"An Emo Pillars initialisation scores above the base encoder out of domain on "
            f"{_share(above, n, 'source-target pairs')}, {test}{clear or 'none'}"
            f"{'' if tested else ' of them'} with non-overlapping {level}")
    if behind:
        text += f"; the base encoder is ahead with non-overlapping intervals on {_share(behind, n, 'pairs')}"
    if evidence and not behind:
        verdict = (f"which supports {claim}" if evidence == n else
                   f"so {claim} holds on {evidence} of the {n} pairs only")
    elif evidence:
        verdict = f"so the evidence for {claim} is mixed"
    elif behind:
        verdict = f"which goes against {claim}"
    else:
        verdict = "so the intervals do not separate the initialisations out of domain"
    return f"{text}, {verdict}."


def render_numbers(numbers: dict[str, str]) -> str:
    lines = ["% Numbers quoted in the paper, generated from reports/results_full.json by stages/tables.py; do not edit.",
             "% '--' marks a number the pipeline has not produced yet."]
    for name in sorted(numbers):
        value = numbers[name]
        # Values are produced by the formatters above (digits, signs, '\%', '{,}');
        # anything else would be data and is escaped.
        if not all(ch.isdigit() or ch in "+-.{},%\\" for ch in value):
            value = escape_latex(value)
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")
    return "\n".join(lines) + "\n"
