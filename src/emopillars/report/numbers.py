"""LaTeX macros for every number the paper's text quotes (``reports/numbers.tex``).

Macro names are built from what the number is (``\\GoemotionsContextlessFull``,
``\\OotRateContextless``). A fixed set of names that ``paper/main.tex`` uses is
always defined, as ``--`` when the pipeline has not produced the number, so the
paper builds from partial results.
"""

from __future__ import annotations

from typing import Optional

from emopillars.report.latex import escape_latex, macro_name
from emopillars.report.results import (benchmarks_in, dataset_summaries, full_data_fraction, llm_runs,
                                       synthesis_steps, transfer_runs, zeroshot_runs)
from emopillars.report.tables import diversity_summary, oot_rate

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
)


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

    he = results.get("humaneval") or {}
    if he.get("n_annotators"):
        out["HumanevalAnnotators"] = str(he["n_annotators"])
    for q, d in (he.get("questions") or {}).items():
        if isinstance(d, dict):
            out[macro_name("humaneval", q)] = _pct(d.get("positive_rate"))
            if isinstance(d.get("alpha_ordinal"), (int, float)):
                out[macro_name("humaneval", q, "alpha")] = _fmt(d["alpha_ordinal"], 2)
    return out


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
