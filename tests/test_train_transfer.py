"""Transfer, zero-shot and LLM-baseline stages on tiny settings (real data from the mirror)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from emopillars import benchmarks
from emopillars.contracts.evaluation import EvaluationRecord, SkippedBenchmarks
from emopillars.data.records import EmotionRecord
from emopillars.eval.llm_baseline import answer_schema, format_request, parse_answer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory, released_model, mirror_dir):
    """Params for a minimal transfer run and a models folder holding both Emo Pillars variants."""
    from emopillars.profiles import compose

    tmp = tmp_path_factory.mktemp("transfer")
    models = tmp / "models"
    shutil.copytree(released_model[0], models / "contextual")
    (models / "contextless").symlink_to(models / "contextual")
    params = compose("smoke", tmp / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(params.read_text())
    raw["transfer"].update(benchmarks=["isear", "goemotions"], inits=["base", "contextual"], fractions=[1.0],
                           max_train_examples=16, max_eval_examples=24, min_steps=1, epochs=1, batch_size=16,
                           max_length=32, n_seeds=1, keep_emopillars_head=False, mixed_precision="no")
    raw["evaluate"]["bootstrap_samples"] = 50
    params.write_text(yaml.safe_dump(raw))
    return tmp, params, models, mirror_dir


def _stage(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_transfer_writes_metrics_with_intervals_and_paired_test_and_exports_models(tiny_setup, encoder_dir):
    from emopillars.config import load_params
    from emopillars.train.predict import Input, Predictor

    tmp, params, models, mirror = tiny_setup
    seed = load_params(params).transfer.seed
    metrics, preds, export = tmp / "m" / "isear", tmp / "p" / "isear", tmp / "x" / "isear"
    proc = _stage("transfer", "--params", params, "--benchmark", "isear", "--raw-dir", mirror, "--encoder",
                  encoder_dir, "--models-dir", models, "--metrics-dir", metrics, "--predictions-dir", preds,
                  "--export-dir", export)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in metrics.iterdir()) == [f"base__frac1.0__seed{seed}.json",
                                                         f"contextual__frac1.0__seed{seed}.json"]
    rec = EvaluationRecord.read(metrics / f"contextual__frac1.0__seed{seed}.json")
    assert (rec.run.benchmark, rec.run.init, rec.run.fraction, rec.run.kind) == ("isear", "contextual", 1.0, "transfer")
    assert (rec.run.head_init, rec.run.seed) == ("fresh", seed) and "fresh head" in rec.protocol
    assert rec.n_train == 16 and rec.system == "emopillars-contextual"
    assert rec.primary_metric == "macro_f1" and "stratified" in rec.protocol
    for m in ("macro_f1", "accuracy", "weighted_f1"):
        assert rec.metrics[m].ci_low <= rec.metrics[m].value <= rec.metrics[m].ci_high
    assert set(rec.per_class) == set(benchmarks.get("isear").labels)
    assert rec.labels_per_example == 1.0 and rec.thresholds.kind == "argmax"
    assert 0.0 <= rec.paired_test.p_value <= 1.0
    assert EvaluationRecord.read(metrics / f"base__frac1.0__seed{seed}.json").paired_test is None
    rows = [json.loads(l) for l in (preds / f"contextual__frac1.0__seed{seed}.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and all(len(r["pred"]) == 1 for r in rows)
    acc = np.mean([r["pred"] == r["gold"] for r in rows])
    assert acc == pytest.approx(rec.metrics["accuracy"].value)
    # Each init's model is exported; predict loads it and gives the run's own test predictions.
    index = json.loads((export / "index.json").read_text())
    assert sorted(index["models"]) == ["base", "contextual"]
    assert index["models"]["contextual"]["run"] == rec.run.run_name
    card = (export / "contextual" / "README.md").read_text()
    assert "Single-label emotion classifier over the 7 ISEAR labels" in card and "macro_f1" in card
    predictor = Predictor(export / "contextual", max_length=32)
    assert predictor.labels == list(benchmarks.get("isear").labels) and not predictor.multi_label
    splits, _ = benchmarks.read_splits("isear", load_params(params), mirror)
    from emopillars.eval.evaluate import seeded_subset
    test = seeded_subset(splits["test"], 24, seed)
    got = predictor.predict([Input(id=r.id, text=r.text) for r in test[:8]], progress=False)
    assert [g["labels"] for g in got] == [r["pred"] for r in rows[:8]]


def test_seeds_and_own_head_runs_are_their_own_records_and_rows(tiny_setup, encoder_dir, tmp_path):
    from emopillars.config import load_params
    from emopillars.report import tables as T
    from emopillars.report.results import aggregate, seed_spread
    from emopillars.train.transfer import run_benchmark

    _, params_path, models, mirror = tiny_setup
    params = load_params(params_path)
    tp = params.transfer.model_copy(update={"n_seeds": 2, "keep_emopillars_head": True})
    splits, _ = benchmarks.read_splits("isear", params, mirror)
    runs = run_benchmark("isear", splits, {"base": None, "contextual": models / "contextual"}, encoder_dir, tp,
                         params.evaluate, progress=False, log=lambda *_: None)
    s0, s1 = tp.seed, tp.seed + 1
    assert [r.run.run_name for r, _ in runs] == [
        f"base__frac1.0__seed{s0}", f"contextual__frac1.0__seed{s0}", f"contextual-ownhead__frac1.0__seed{s0}",
        f"base__frac1.0__seed{s1}", f"contextual__frac1.0__seed{s1}", f"contextual-ownhead__frac1.0__seed{s1}"]
    own = runs[2][0]
    assert (own.run.head, own.run.head_init) == ("taxonomy28", "emopillars") and "own 28-way head" in own.protocol
    assert all(r.paired_test is not None for r, _ in runs if r.run.init != "base")
    metrics = tmp_path / "metrics"
    for record, _ in runs:
        record.write(metrics / "transfer" / "isear" / f"{record.run.run_name}.json")
    results = aggregate(metrics)
    spread = seed_spread(results)
    values = [r.primary.value for r, _ in runs if r.run.system_key == "contextual"]
    assert spread[("isear", "contextual", 1.0)].mean == pytest.approx(np.mean(values))
    main = T.main_table(results)
    rows = {r.header: r.cells[0] for r in main.rows}
    assert set(rows) == {"Base encoder", "Emo Pillars (contextual)", "Emo Pillars (contextual), own 28-way head"}
    assert rows["Emo Pillars (contextual)"].value == runs[1][0].primary.value
    assert f"±{spread[('isear', 'contextual', 1.0)].sd:.3f}" in rows["Emo Pillars (contextual)"].display
    assert any("over 2 training seeds" in n for n in main.notes)
    # A seed's missing record is an error that names it, not a silently thinner mean.
    (metrics / "transfer" / "isear" / f"base__frac1.0__seed{s1}.json").unlink()
    from emopillars.contracts import RecordError
    with pytest.raises(RecordError, match=f"base__frac1.0__seed{s1}.json: evaluation record not found"):
        T.main_table(aggregate(metrics))


def test_zeroshot_reads_the_28_way_model_through_the_mapping(tiny_setup):
    tmp, params, models, mirror = tiny_setup
    metrics = tmp / "zs" / "goemotions"
    proc = _stage("zeroshot", "--params", params, "--benchmark", "goemotions", "--raw-dir", mirror, "--models-dir",
                  models, "--metrics-dir", metrics, "--predictions-dir", tmp / "zsp")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = EvaluationRecord.read(metrics / "contextual.json")
    own = json.loads((models / "contextual" / "thresholds.json").read_text())
    assert rec.run.kind == "zeroshot" and rec.run.head == "taxonomy28" and rec.n_train == 0
    assert rec.thresholds.global_threshold == own["global"] and "synthetic dev" in rec.thresholds.tuned_on


def test_unconfigured_user_benchmark_is_skipped_with_a_message(tiny_setup, encoder_dir):
    tmp, params, models, mirror = tiny_setup
    raw = yaml.safe_load(params.read_text())
    raw["transfer"]["benchmarks"] = ["emocontext"]
    p2 = tmp / "p2.yaml"
    p2.write_text(yaml.safe_dump(raw))
    metrics = tmp / "m" / "emocontext"
    proc = _stage("transfer", "--params", p2, "--benchmark", "emocontext", "--raw-dir", mirror, "--encoder",
                  encoder_dir, "--models-dir", models, "--metrics-dir", metrics, "--predictions-dir", tmp / "pe",
                  "--export-dir", tmp / "xe")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skipped" in proc.stdout and "emocontext_dir" in proc.stdout
    (skip,) = SkippedBenchmarks.read(metrics / "skipped.json").skipped
    assert (skip.kind, skip.benchmark) == ("transfer", "emocontext") and "data.emocontext_dir" in skip.reason
    assert sorted(p.name for p in metrics.iterdir()) == ["skipped.json"]


def test_a_benchmark_outside_transfer_benchmarks_is_an_error(tiny_setup, encoder_dir):
    tmp, params, models, mirror = tiny_setup
    proc = _stage("transfer", "--params", params, "--benchmark", "meld", "--raw-dir", mirror, "--encoder",
                  encoder_dir, "--models-dir", models, "--metrics-dir", tmp / "mm", "--predictions-dir", tmp / "pm",
                  "--export-dir", tmp / "xm")
    assert proc.returncode == 2
    assert "'meld' is not in transfer.benchmarks (isear, goemotions)" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp / "mm").exists()


def test_llm_baseline_request_and_answer_parsing():
    labels = list(benchmarks.get("meld").labels)
    rec = EmotionRecord(id="d1_u3", text="Oh my God, you got the job!", labels=["surprise"], split="test",
                        dataset="meld", context="Rachel: I have news.")
    req = format_request(rec, labels, multi_label=False, seed=13, use_context=True)
    prompt = req.messages[0]["content"]
    assert "Oh my God" in prompt and "Rachel: I have news." in prompt and "exactly one" in prompt
    assert req.sampling.temperature == 0.0 and req.tag == "d1_u3"
    schema = answer_schema(labels, multi_label=False)
    assert schema.model_json_schema()["properties"]["emotions"]["maxItems"] == 1
    with pytest.raises(ValidationError, match="happiness"):
        schema.model_validate({"emotions": ["happiness"]})
    assert parse_answer({"emotions": ["joy", "fear"]}, labels, multi_label=False).tolist() == \
        [l == "joy" for l in labels]
    assert not parse_answer(None, labels, multi_label=True).any()


def test_a_registered_benchmark_runs_through_transfer_zero_shot_and_the_tables(tiny_setup, encoder_dir, tmp_path):
    from types import SimpleNamespace

    from emopillars.config import load_params
    from emopillars.report import tables as T
    from emopillars.report.results import aggregate
    from emopillars.train.transfer import run_benchmark, zero_shot
    from helpers.toybench import FOLDER, TOY

    _, params_path, models, _ = tiny_setup
    params = load_params(params_path)
    with benchmarks.registered(TOY):
        tp = params.transfer.model_copy(update={"benchmarks": ["toybench"], "min_train_examples": 4})
        splits, reason = benchmarks.read_splits(
            "toybench", SimpleNamespace(data=params.data.model_copy(update={"out_dir": str(FOLDER.parent)}),
                                        transfer=tp))
        assert reason is None
        runs = run_benchmark("toybench", splits, {"base": None, "contextual": models / "contextual"}, encoder_dir,
                             tp, params.evaluate, progress=False, log=lambda *_: None)
        zs, zs_rows = zero_shot("toybench", splits, models / "contextual", "contextual", params.evaluate,
                                tp.max_eval_examples, tp.seed, tp.max_length)
        metrics = tmp_path / "metrics"
        for record, _ in runs:
            record.write(metrics / "transfer" / "toybench" / f"{record.run.run_name}.json")
        zs.write(metrics / "zeroshot" / "toybench" / "contextual.json")
        results = aggregate(metrics)
        main, zeroshot = T.main_table(results), T.zeroshot_table(results)
    assert [r.run.run_name for r, _ in runs] == [f"base__frac1.0__seed{tp.seed}", f"contextual__frac1.0__seed{tp.seed}"]
    assert set(runs[0][0].per_class) == {"up", "down", "calm"} and len(zs_rows) == 3
    assert [c.header for c in main.columns] == ["ToyBench macro-F1"]
    assert {r.header: r.cells[0].value for r in main.rows} == {
        "Base encoder": runs[0][0].primary.value, "Emo Pillars (contextual)": runs[1][0].primary.value}
    assert zeroshot.columns[0].header == "ToyBench macro-F1"
    assert zeroshot.rows[0].cells[0].value == zs.primary.value


def test_a_transfer_run_repeated_on_the_cpu_gives_the_same_record(tiny_setup, encoder_dir):
    """Seeded, deterministic CPU kernels: the fresh head, the batches and the scores come out the same."""
    from emopillars.config import load_params
    from emopillars.train.transfer import run_benchmark

    _, params_path, models, mirror = tiny_setup
    params = load_params(params_path)
    splits, _ = benchmarks.read_splits("isear", params, mirror)

    def once():
        (record, rows), = run_benchmark("isear", splits, {"base": None}, encoder_dir, params.transfer,
                                        params.evaluate, progress=False, log=lambda *_: None)
        data = record.model_dump(mode="json")
        data.pop("train_seconds")
        return data, rows

    assert once() == once()
