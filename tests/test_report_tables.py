"""Aggregate, tables and numbers from the results fixture (tests/fixtures/results, the pipeline's layout)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from emopillars.config import defaults
from emopillars.contracts import RecordError
from emopillars.report.numbers import REQUIRED, compute_numbers, render_numbers
from emopillars.report.published import read_published
from emopillars.report.results import aggregate, read_synthetic, transfer_runs
from emopillars.report.table import render
from emopillars.report import tables as T
from emopillars.taxonomy import EMOTIONS
from tests.helpers.humaneval_answers import metrics_with_humaneval
from tests.helpers.stages import load_stage as _stage

FIX = Path(__file__).parent / "fixtures" / "results"
TEMPLATES = Path(__file__).resolve().parents[1] / "reports" / "templates"
PUBLISHED = Path(__file__).resolve().parents[1] / "reports" / "published.yaml"


@pytest.fixture(scope="module")
def results():
    return aggregate(FIX / "outputs" / "metrics")


def _fixture_json(rel):
    return json.loads((FIX / "outputs" / "metrics" / rel).read_text())


def _run_file(bench: str, system: str, fraction: float) -> tuple[str, dict]:
    """``(file stem, record)`` of the fixture's transfer run of ``system`` (``<init>`` or ``<init>-ownhead``) at
    ``fraction``, its first training seed (the run the tables show)."""
    found = []
    for path in (FIX / "outputs" / "metrics" / "transfer" / bench).glob("*__frac*.json"):
        data = json.loads(path.read_text())
        run = data["run"]
        key = run["init"] + ("-ownhead" if run["head_init"] == "emopillars" else "")
        if key == system and run["fraction"] == fraction:
            found.append((run["seed"], path.stem, data))
    assert found, f"no fixture run {system} at {fraction} on {bench}"
    _, stem, data = min(found)
    return stem, data


SYSTEMS = {"base": "Base encoder", "contextless": "Emo Pillars (context-less)",
           "contextual": "Emo Pillars (contextual)",
           "contextless-ownhead": "Emo Pillars (context-less), own 28-way head",
           "contextual-ownhead": "Emo Pillars (contextual), own 28-way head"}


def test_aggregate_mirrors_the_metrics_folders(results):
    files = sorted((FIX / "outputs" / "metrics").rglob("*.json"))
    assert len(results["sources"]) == len(files)
    stem, data = _run_file("goemotions", "base", 1.0)
    assert results["transfer"]["goemotions"][stem] == data
    assert results["dataset_stats"] == _fixture_json("dataset_stats.json")
    assert set(results["transfer"]) == {p.name for p in (FIX / "outputs" / "metrics" / "transfer").iterdir()}
    assert results["peers"]["own-contextless"]["isear"] == _fixture_json("peers/own-contextless/isear.json")


def test_aggregate_tolerates_missing_parts_and_names_broken_files(tmp_path):
    assert aggregate(tmp_path / "nothing") == {"sources": []}
    (tmp_path / "p" / "zeroshot" / "isear").mkdir(parents=True)
    (tmp_path / "p" / "zeroshot" / "isear" / "contextless.json").write_text('{"metrics": {}, "predictions": [[0, 1]]}')
    assert aggregate(tmp_path / "p")["zeroshot"]["isear"]["contextless"] == {"metrics": {}}
    (tmp_path / "m" / "synth").mkdir(parents=True)
    (tmp_path / "m" / "synth" / "labels.json").write_text('{"in": 3,')
    with pytest.raises(ValueError, match="labels.json"):
        aggregate(tmp_path / "m")


def test_aggregate_stage_writes_full_results_and_compact_dvc_metrics(tmp_path):
    stage = _stage("aggregate")

    metrics = metrics_with_humaneval(tmp_path)
    out, full = tmp_path / "reports" / "results.json", tmp_path / "reports" / "results_full.json"
    assert stage.main(["--metrics-dir", str(metrics), "--out", str(out), "--full", str(full)]) == 0
    assert json.loads(full.read_text())["zeroshot"]["isear"]["contextless"]["labels_per_example"] == \
        _fixture_json("zeroshot/isear/contextless.json")["labels_per_example"]
    headline = json.loads(out.read_text())
    run = headline["transfer"]["goemotions"]["contextless_pct100"]
    _, src = _run_file("goemotions", "contextless", 1.0)
    assert run["macro_f1"] == src["metrics"]["macro_f1"]["value"]
    assert run["macro_f1_ci_low"] == src["metrics"]["macro_f1"]["ci_low"]
    assert run["delta_vs_base"] == src["paired_test"]["delta"] and run["p_value_vs_base"] == src["paired_test"]["p_value"]
    assert set(headline["transfer"]) == {"goemotions", "isear", "meld"}
    stats = _fixture_json("dataset_stats.json")
    assert headline["datasets"]["contextless"]["examples"] == stats["datasets"]["contextless"]["examples"]
    assert headline["datasets"]["goemotions"]["self_bleu"] == \
        stats["datasets"]["contextless"]["diversity"]["goemotions_same_sizes"]["macro"]["self_bleu"]
    assert headline["humaneval"]["n_annotators"] == 3
    # compact: no per-class tables, and no key DVC would split (it flattens on ".")
    text = out.read_text()
    assert "per_class" not in text and len(text) < len(full.read_text()) / 5

    def keys(d):
        for k, v in d.items():
            yield k
            if isinstance(v, dict):
                yield from keys(v)
    assert not [k for k in keys(headline) if "." in k]


def test_main_table_marks_the_best_initialisation_per_benchmark(results):
    t = T.main_table(results)
    headers = [c.header for c in t.columns]
    assert headers == ["GoEmotions macro-F1", "ISEAR macro-F1", "MELD weighted-F1"]
    systems = [k for k in SYSTEMS if list((FIX / "outputs" / "metrics" / "transfer" / "isear").glob(f"{k}__frac*"))]
    assert "base" in systems and len(systems) >= 3
    # the teacher (the LLM baseline) is a reference row after the initialisations, never compared
    assert [r.header for r in t.rows] == [SYSTEMS[k] for k in systems] + [T.TEACHER_ROW]
    assert not t.rows[-1].compare and not any(c.best for c in t.rows[-1].cells)
    t.rows = t.rows[:-1]
    for j, bench in enumerate(["goemotions", "isear", "meld"]):
        values = {i: _run_file(bench, i, 1.0) for i in systems}
        primary = {i: v["metrics"][v["primary_metric"]]["value"] for i, (_, v) in values.items()}
        # every initialisation that reaches the best value is marked (ties: all of them)
        marked = [r.header for r in t.rows if r.cells[j].best]
        assert marked == [SYSTEMS[i] for i in systems if primary[i] == max(primary.values())]
        assert [r.cells[j].value for r in t.rows] == [primary[i] for i in systems]
        stem, base = values["base"]
        base_cell = t.rows[0].cells[j]
        assert base_cell.ci == (base["metrics"][base["primary_metric"]]["ci_low"],
                                base["metrics"][base["primary_metric"]]["ci_high"])
        assert base_cell.source == f"outputs/metrics/transfer/{bench}/{stem}.json"
    assert "Cells in this run: GoEmotions 10%, 100%; ISEAR 10%, 100%; MELD 10%, 100%." in t.caption


def test_interval_level_is_read_from_the_runs(results):
    import copy

    assert "95% bootstrap" in T.main_table(results).notes[1]
    other = copy.deepcopy(results)
    for runs in other["transfer"].values():
        for run in runs.values():
            if "bootstrap" in run:  # skip lists have none
                run["bootstrap"]["confidence"] = 0.9
    assert "90% bootstrap" in T.main_table(other).notes[1]


def test_lower_is_better_columns_mark_the_minimum():
    from emopillars.report.table import Cell, Column, Table

    t = Table("x", "c", "r", [Column("loss", lower_is_better=True), Column("f1")])
    t.add_row("a", [Cell(0.2, "0.2"), Cell(0.5, "0.5")])
    t.add_row("b", [Cell(0.1, "0.1"), Cell(0.4, "0.4")])
    t.mark_best()
    assert [r.cells[0].best for r in t.rows] == [False, True]
    assert [r.cells[1].best for r in t.rows] == [True, False]


def test_low_resource_table_has_every_run_and_a_missing_one_is_an_error(results, tmp_path):
    t = T.lowres_table(results)
    fractions = sorted({json.loads(p.read_text())["run"]["fraction"]
                        for p in (FIX / "outputs" / "metrics" / "transfer" / "meld").glob("*.json")})
    assert len(fractions) >= 2  # the fixture run has a low-resource fraction beside the full one
    assert [c.header for c in t.columns] == [f"{100 * f:g}%" for f in fractions]
    meld = [r for r in t.rows if r.group.startswith("MELD")]
    contextual = next(r for r in meld if r.header == "Emo Pillars (contextual)")
    low = fractions[0]
    stem, src = _run_file("meld", "contextual", low)
    assert contextual.cells[0].value == src["metrics"]["weighted_f1"]["value"]
    assert all(c.display not in ("--", "not run") for r in t.rows for c in r.cells)
    shutil.copytree(FIX / "outputs" / "metrics", tmp_path / "metrics")
    (tmp_path / "metrics" / "transfer" / "meld" / f"{stem}.json").unlink()
    with pytest.raises(RecordError, match=rf"outputs/metrics/transfer/meld/{re.escape(stem)}"
                                          r"\.json: evaluation record not found .*rerun transfer@meld"):
        T.lowres_table(aggregate(tmp_path / "metrics"))
    # best is marked within each benchmark, not across benchmarks
    for group in {r.group for r in t.rows}:
        rows = [r for r in t.rows if r.group == group]
        for j in range(len(fractions)):
            assert sum(r.cells[j].best for r in rows) >= 1


def test_every_table_renders_latex_and_markdown_twins(tmp_path):
    results = aggregate(metrics_with_humaneval(tmp_path))
    datasets = read_synthetic(FIX / "data" / "emopillars")
    tables = T.all_tables(results, datasets, 3, 13, defaults().report.paper_scale, read_published(PUBLISHED))
    assert {t.name for t in tables} == {"main", "lowres", "crossdomain", "synth_counts", "dataset_stats", "diversity",
                                        "zeroshot", "humaneval", "examples", "targets", "generation_cost", "published"}
    for t in tables:
        assert not t.is_empty, t.name
        tex, md = render(t, TEMPLATES)
        assert "\\toprule" in tex and "\\bottomrule" in tex and f"\\label{{{t.latex_label}}}" in tex
        assert tex.count("\\begin{tabular}") == 1 and tex.count("\\end{tabular}") == 1
        n_md_rows = sum(1 for line in md.splitlines() if line.startswith("| ") and not line.startswith("| *"))
        assert n_md_rows == len(t.rows) + 1, t.name  # header + one line per row
        for row in t.rows:
            for cell in row.cells:
                if cell.best:
                    assert f"**{cell.display}**" in md


def test_synth_counts_come_from_the_step_records(results):
    counts = T.synth_counts_table(results)
    rows = {r.header: r for r in counts.rows}
    assert list(rows) == ["narratives", "characters", "utterances", "labels", "contexts", "curate (context-less)",
                          "curate (contextual)"]
    curate = _fixture_json("synth/curate.json")["contextless"]
    cells = rows["curate (context-less)"].cells
    assert [c.value for c in cells[:3]] == [curate["inputs"], curate["outputs"], sum(curate["dropped"].values())]
    for reason, n in curate["dropped"].items():
        assert f"{reason}: {n:,}" in cells[3].display
    for stage in ("narratives", "characters", "utterances", "labels", "contexts"):
        d = _fixture_json(f"synth/{stage}.json")
        cells = rows[stage].cells
        assert cells[0].display == f"{d['inputs']:,} {d['unit_in']}" and cells[1].value == d["outputs"], stage
        assert cells[0].source == f"outputs/metrics/synth/{stage}.json"
        drops = d["dropped"] if stage == "narratives" else d["reject_reasons"]
        assert cells[2].value == sum(drops.values()), stage
        assert "--" not in [c.display for c in cells], stage
    # characters: the passages without any name count among the drops
    characters = _fixture_json("synth/characters.json")
    assert characters["inputs"] == characters["requests"] + characters["passages_without_names"]


def test_dataset_stats_table_reads_the_record(results):
    stats = T.dataset_stats_table(results)
    by = {r.header: r for r in stats.rows}
    d = _fixture_json("dataset_stats.json")
    cl, cx = d["datasets"]["contextless"], d["datasets"]["contextual"]
    assert [c.header for c in stats.columns] == ["Emo Pillars (context-less)", "Emo Pillars (contextual)", "GoEmotions"]
    assert [c.value for c in by["Examples"].cells] == [cl["examples"], cx["examples"], d["goemotions"]["examples"]]
    assert by["Labels per example"].cells[2].value == d["goemotions"]["labels_per_example"]["mean"]
    assert by["Out-of-taxonomy emotion words"].cells[0].value == cl["out_of_taxonomy"]["out_of_taxonomy_rate"]
    assert by["Labels outside the taxonomy"].cells[0].value == cl["out_of_taxonomy"]["label_leakage_rate"]
    # GoEmotions' labels are human: no labelling report behind them
    assert by["Out-of-taxonomy emotion words"].cells[2].display == "--"
    # GoEmotions diversity measured beside the context-less set on samples of the same sizes
    ge = cl["diversity"]["goemotions_same_sizes"]["macro"]
    assert by["self-BLEU"].cells[0].value == cl["diversity"]["ours"]["macro"]["self_bleu"]
    assert by["self-BLEU"].cells[2].value == pytest.approx(ge["self_bleu"])
    assert by["emb. sim."].cells[2].value == pytest.approx(ge["embedding_similarity"])


def test_a_step_that_ran_without_its_file_is_an_error_naming_it(results):
    import copy

    broken = copy.deepcopy(results)
    del broken["synth"]["labels"]
    with pytest.raises(ValueError, match=r"outputs/metrics/synth/labels\.json: LabelsMetrics file not found"):
        T.synth_counts_table(broken)
    renamed = copy.deepcopy(results)
    renamed["synth"]["utterances"]["utterances_out"] = renamed["synth"]["utterances"].pop("outputs")
    with pytest.raises(ValueError, match=r"synth/utterances\.json: .*field 'outputs' is missing"):
        T.synth_counts_table(renamed)
    no_stats = copy.deepcopy(results)
    del no_stats["generation"]["contexts"]
    with pytest.raises(ValueError, match=r"outputs/metrics/generation/contexts\.json: GenerationStats file not found"):
        T.generation_cost_table(no_stats, defaults().report.paper_scale)


def test_diversity_table_pairs_each_class_with_goemotions(results):
    t = T.diversity_table(results)
    stats = _fixture_json("dataset_stats.json")["datasets"]["contextless"]["diversity"]
    ours, ge = stats["ours"]["per_class"], stats["goemotions_same_sizes"]["per_class"]
    assert [r.header for r in t.rows] == [e for e in EMOTIONS if e in ours or e in ge] and len(t.columns) == 8
    emotion = next(iter(ours))
    row = next(r for r in t.rows if r.header == emotion)
    assert [row.cells[2].value, row.cells[3].value] == [ours[emotion]["distinct_2"], ge[emotion]["distinct_2"]]
    # higher distinct-2 is more diverse, lower self-BLEU is more diverse
    if ours[emotion]["distinct_2"] != ge[emotion]["distinct_2"]:
        assert row.cells[2].best == (ours[emotion]["distinct_2"] > ge[emotion]["distinct_2"])
    if ours[emotion]["self_bleu"] != ge[emotion]["self_bleu"]:
        assert row.cells[4].best == (ours[emotion]["self_bleu"] < ge[emotion]["self_bleu"])


def test_zeroshot_table_reports_labels_per_example_of_each_system(results, tmp_path):
    from emopillars.contracts.evaluation import SkippedBenchmarks, SkipRecord

    t = T.zeroshot_table(results)
    llm = next(r for r in t.rows if r.header.startswith("LLM"))
    goemotions_lpe = llm.cells[1]
    assert goemotions_lpe.value == _fixture_json("llm_baseline/goemotions.json")["labels_per_example"]
    assert llm.cells[4].value == _fixture_json("llm_baseline/meld.json")["metrics"]["weighted_f1"]["value"]
    contextless = next(r for r in t.rows if r.header == "Emo Pillars (context-less)")
    assert contextless.cells[2].value == _fixture_json("zeroshot/isear/contextless.json")["metrics"]["macro_f1"]["value"]
    # a benchmark that the stage skipped is named with the reason, as the skip record gives it
    shutil.copytree(FIX / "outputs" / "metrics", tmp_path / "metrics")
    SkippedBenchmarks(skipped=[SkipRecord(kind="zeroshot", benchmark="emocontext",
                                          reason="emocontext: no folder configured")]).write(
        tmp_path / "metrics" / "zeroshot" / "emocontext" / "skipped.json")
    skipped = T.zeroshot_table(aggregate(tmp_path / "metrics"))
    assert "EmoContext: not evaluated (emocontext: no folder configured)." in skipped.notes


def test_examples_table_escapes_generated_utterances(results):
    datasets = read_synthetic(FIX / "data" / "emopillars")
    rows = [{"utterance": r"Leak \input{secret} & 100% $x$", "labels": ["anger"], "primary_emotion": "anger"}]
    t = T.examples_table({**datasets, "contextless": rows}, 1, 13)
    tex, _ = render(t, TEMPLATES)
    assert r"\textbackslash{}input\{secret\} \& 100\% \$x\$" in tex
    assert "\\input{secret}" not in tex


def test_partial_results_render_without_crashing(tmp_path):
    part = tmp_path / "metrics"
    shutil.copytree(FIX / "outputs" / "metrics" / "transfer" / "goemotions", part / "transfer" / "goemotions")
    results = aggregate(part)
    tables = T.all_tables(results, {}, 3, 13, defaults().report.paper_scale, read_published(PUBLISHED))
    by_name = {t.name: t for t in tables}
    assert [c.header for c in by_name["main"].columns] == ["GoEmotions macro-F1"]
    assert by_name["synth_counts"].is_empty and by_name["humaneval"].is_empty
    tex, md = render(by_name["humaneval"], TEMPLATES)
    assert "no results yet" in tex.lower() and "no results yet" in md
    # the paper refers to every table, so an empty one still carries its caption and label
    assert "\\label{tab:humaneval}" in tex and "\\caption{Human evaluation" in tex
    numbers = compute_numbers(results)
    base = _run_file("goemotions", "base", 1.0)[1]["metrics"]["macro_f1"]["value"]
    assert numbers["NExamplesContextless"] == "--" and numbers["GoemotionsBaseFull"] == f"{base:.3f}"


def test_numbers_file_defines_valid_macros(tmp_path):
    numbers = compute_numbers(aggregate(metrics_with_humaneval(tmp_path)))
    assert set(REQUIRED) <= set(numbers)
    text = render_numbers(numbers)
    names = re.findall(r"\\newcommand\{\\([^}]*)\}", text)
    assert len(names) == len(set(names)) == len(numbers)
    assert all(re.fullmatch(r"[A-Za-z]+", n) for n in names)
    stats = _fixture_json("dataset_stats.json")["datasets"]
    assert numbers["OotRateContextless"] == f"{100 * stats['contextless']['out_of_taxonomy']['out_of_taxonomy_rate']:.1f}\\%"
    assert numbers["SynthLabelsOut"] == f"{_fixture_json('synth/labels.json')['outputs']:,}".replace(",", "{,}")
    delta = _run_file("goemotions", "contextless", 1.0)[1]["paired_test"]["delta"]
    assert numbers["GoemotionsContextlessDeltaFull"] == f"{delta:+.3f}"
    assert numbers["NExamplesGoemotions"] == "43{,}410"
    assert numbers["NExamplesContextual"] == f"{stats['contextual']['examples']:,}".replace(",", "{,}")
    assert numbers["HumanevalAnnotators"] == "3"


def test_tables_stage_writes_tables_and_numbers(tmp_path):
    agg_stage, tables_stage = _stage("aggregate"), _stage("tables")

    res = tmp_path / "results_full.json"
    agg_stage.main(["--metrics-dir", str(FIX / "outputs" / "metrics"), "--out", str(tmp_path / "results.json"),
                    "--full", str(res)])
    rc = tables_stage.main(["--params", str(Path(__file__).resolve().parents[1] / "params.yaml"), "--results", str(res),
                            "--templates", str(TEMPLATES), "--data-dir", str(FIX / "data" / "emopillars"),
                            "--published", str(PUBLISHED), "--out-dir", str(tmp_path / "tables"), "--numbers", str(tmp_path / "numbers.tex")])
    assert rc == 0
    written = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert "main.md" in written and "main.tex" in written and len(written) == 24
    assert "Emo Pillars (context-less)" in (tmp_path / "tables" / "main.md").read_text()


def test_generation_cost_scales_tokens_per_kept_example_to_the_paper_sizes(results):
    scale = defaults().report.paper_scale.replace(contextless=3600, contextual=1800, output_tokens_per_s=100.0,
                                                  paper_gpu_hours=450, prefill_tokens_per_s=60.0, gpu_counts=[1, 8])
    t = T.generation_cost_table(results, scale)
    rows = {r.header: [c.value for c in r.cells] for r in t.rows}
    curate = _fixture_json("synth/curate.json")

    def tokens(stages, kind):  # every answer's tokens, the ones replayed from the cache included
        return sum(_fixture_json(f"generation/{s}.json")[kind] + _fixture_json(f"generation/{s}.json")[f"cached_{kind}"]
                   for s in stages)

    for name, stages, dataset, size in (("Context-less", ("characters", "utterances", "labels"), "contextless", 3600),
                                        ("Contextual (context step)", ("contexts",), "contextual", 1800)):
        kept = curate[dataset]["outputs"]
        prompt, generated = tokens(stages, "prompt_tokens") / kept, tokens(stages, "generated_tokens") / kept
        decode_h, prefill_h = size * generated / 100 / 3600, size * prompt / 60 / 3600
        assert rows[name] == pytest.approx([kept, prompt, generated, size, decode_h, prefill_h,
                                            decode_h + prefill_h, (decode_h + prefill_h) / 8]), name
        assert generated > 0
    assert rows["Total"][-4:] == pytest.approx([rows["Context-less"][4] + rows["Contextual (context step)"][4],
                                                rows["Context-less"][5] + rows["Contextual (context step)"][5],
                                                rows["Context-less"][6] + rows["Contextual (context step)"][6],
                                                rows["Context-less"][7] + rows["Contextual (context step)"][7]])
    assert "450 GPU-hours" in t.notes[0]
    # a stats file without token counts is an error naming the file and the field, not a cell printing '--'
    import copy

    broken = copy.deepcopy(results)
    del broken["generation"]["labels"]["prompt_tokens"]
    with pytest.raises(ValueError, match=r"generation/labels\.json: .*field 'prompt_tokens' is missing"):
        T.generation_cost_table(broken, scale)
    # a run without synthesis gives an empty table, not a crash
    assert T.generation_cost_table({}, scale).is_empty


def test_targets_table_compares_soft_and_hard_targets(results):
    from emopillars.report.tables import targets_table

    t = targets_table(results)
    d = _fixture_json("ablation/targets.json")
    assert [r.header for r in t.rows] == ["Soft (all_emotions_mapped scores) (main model)", "Hard (labels)"]
    soft, hard = (d["arms"][a] for a in ("soft", "hard"))
    assert t.rows[0].cells[0].value == pytest.approx(soft["synthetic_test"]["macro_f1"]["value"])
    assert t.rows[1].cells[1].value == pytest.approx(hard["goemotions_zero_shot"]["macro_f1"]["value"])
    best = max((soft, hard), key=lambda a: a["goemotions_zero_shot"]["macro_f1"]["value"])
    assert [r.cells[1].best for r in t.rows] == [best is soft, best is hard]
    # without the stage's metrics the table is still written (the paper inputs it), with no rows
    assert targets_table({}).rows == []


def test_p_value_below_the_bootstrap_resolution_is_written_as_a_bound():
    from emopillars.report.numbers import _p_relation

    assert _p_relation(0.0, 1000) == "< 0.001" and _p_relation(0.0, 200) == "< 0.005"
    assert _p_relation(0.0234, 1000) == "= 0.023" and _p_relation(None, 1000) == "--"


def test_the_readme_quotes_the_committed_main_table_as_the_tables_stage_wrote_it():
    # the README's "Current results" must not drift from the run that is committed beside it
    root = Path(__file__).resolve().parents[1]
    table = [line for line in (root / "reports" / "tables" / "main.md").read_text().splitlines()
             if line.startswith("|")]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Current results", 1)[1].split("\n## ", 1)[0]
    quoted = [line for line in section.splitlines() if line.startswith("|")]
    assert table and quoted == table, ("README's 'Current results' table differs from reports/tables/main.md: "
                                       "paste the table's rows from that file")
