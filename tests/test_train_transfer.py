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

from emopillars.data.label_maps import BENCHMARK_LABELS
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
                           max_length=32)
    raw["evaluate"]["bootstrap_samples"] = 50
    params.write_text(yaml.safe_dump(raw))
    return tmp, params, models, mirror_dir


def _stage(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_transfer_writes_metrics_with_intervals_and_paired_test(tiny_setup, encoder_dir):
    tmp, params, models, mirror = tiny_setup
    metrics, preds = tmp / "m" / "isear", tmp / "p" / "isear"
    proc = _stage("transfer", "--params", params, "--benchmark", "isear", "--raw-dir", mirror, "--encoder",
                  encoder_dir, "--models-dir", models, "--metrics-dir", metrics, "--predictions-dir", preds)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in metrics.iterdir()) == ["base__frac1.0.json", "contextual__frac1.0.json"]
    rec = json.loads((metrics / "contextual__frac1.0.json").read_text())
    assert rec["benchmark"] == "isear" and rec["init"] == "contextual" and rec["n_train"] == 16
    assert rec["primary_metric"] == "macro_f1" and "stratified" in rec["protocol"]
    for m in ("macro_f1", "accuracy", "weighted_f1"):
        assert rec["metrics"][m]["ci_low"] <= rec["metrics"][m]["value"] <= rec["metrics"][m]["ci_high"]
    assert set(rec["per_class"]) == set(BENCHMARK_LABELS["isear"])
    assert rec["labels_per_example"] == 1.0
    assert 0.0 <= rec["paired_test"]["p_value"] <= 1.0
    rows = [json.loads(l) for l in (preds / "contextual__frac1.0.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and all(len(r["pred"]) == 1 for r in rows)
    acc = np.mean([r["pred"] == r["gold"] for r in rows])
    assert acc == pytest.approx(rec["metrics"]["accuracy"]["value"])


def test_zeroshot_reads_the_28_way_model_through_the_mapping(tiny_setup):
    tmp, params, models, mirror = tiny_setup
    metrics = tmp / "zs" / "goemotions"
    proc = _stage("zeroshot", "--params", params, "--benchmark", "goemotions", "--raw-dir", mirror, "--models-dir",
                  models, "--metrics-dir", metrics, "--predictions-dir", tmp / "zsp")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads((metrics / "contextual.json").read_text())
    own = json.loads((models / "contextual" / "thresholds.json").read_text())
    assert rec["n_train"] == 0 and rec["thresholds"]["global"] == own["global"]
    assert "synthetic dev" in rec["thresholds"]["tuned_on"]


def test_unconfigured_user_benchmark_is_skipped_with_a_message(tiny_setup, encoder_dir):
    tmp, params, models, mirror = tiny_setup
    raw = yaml.safe_load(params.read_text())
    raw["transfer"]["benchmarks"] = ["emocontext"]
    p2 = tmp / "p2.yaml"
    p2.write_text(yaml.safe_dump(raw))
    metrics = tmp / "m" / "emocontext"
    proc = _stage("transfer", "--params", p2, "--benchmark", "emocontext", "--raw-dir", mirror, "--encoder",
                  encoder_dir, "--models-dir", models, "--metrics-dir", metrics, "--predictions-dir", tmp / "pe")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skipped" in proc.stdout and "emocontext_dir" in proc.stdout
    assert "emocontext_dir" in (metrics / "SKIPPED.txt").read_text()


def test_llm_baseline_request_and_answer_parsing():
    labels = list(BENCHMARK_LABELS["meld"])
    rec = EmotionRecord(id="d1_u3", text="Oh my God, you got the job!", labels=["surprise"], split="test",
                        dataset="meld", context="Rachel: I have news.")
    req = format_request(rec, labels, multi_label=False, seed=13, use_context=True)
    prompt = req.messages[0]["content"]
    assert "Oh my God" in prompt and "Rachel: I have news." in prompt and "exactly one" in prompt
    assert req.sampling.temperature == 0.0 and req.tag == "d1_u3"
    schema = answer_schema(labels, multi_label=False)
    assert schema.model_json_schema()["properties"]["emotions"]["maxItems"] == 1
    with pytest.raises(ValidationError, match=r"emotions\.0\n  Input should be 'anger'"):
        schema.model_validate({"emotions": ["happiness"]})
    assert parse_answer({"emotions": ["joy", "fear"]}, labels, multi_label=False).tolist() == \
        [l == "joy" for l in labels]
    assert not parse_answer(None, labels, multi_label=True).any()
