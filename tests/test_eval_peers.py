"""Published classifiers on the benchmarks: label reading, both threshold rules, the unavailable path,
``emopillars evaluate`` and the ``peers`` stage, on tiny random models in each peer's format (offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from emopillars import benchmarks
from emopillars.config import defaults
from emopillars.contracts import RecordError
from emopillars.contracts.evaluation import PeerEvaluationRecord
from emopillars.eval.peers import LoadedPeer, PeerSpec, evaluate_on, evaluate_peer, read_labels, resolve_model
from emopillars.taxonomy import EMOTIONS

ROOT = Path(__file__).resolve().parents[1]
ISEAR = list(benchmarks.get("isear").labels)
MELD = list(benchmarks.get("meld").labels)
# An order of the 28 names unlike the canonical one (the released EmoContext model lists anger 13th, not 3rd).
SHUFFLED = [EMOTIONS[i] for i in np.random.default_rng(7).permutation(len(EMOTIONS))]
OFFLINE = {"HF_HUB_OFFLINE": "1"}
TINY_LENGTH = 48  # the tiny encoders have 64 positions


def tiny_classifier(folder: Path, labels, single_label: bool = False, seed: int = 0, meta: dict | None = None):
    """A random RoBERTa sequence classifier with ``labels`` as its id2label names, saved like a hub checkpoint."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from emopillars.train.encoder import tiny_encoder

    encoder = tiny_encoder(folder.parent / f"{folder.name}-encoder", "roberta", seed=seed)
    config = AutoConfig.from_pretrained(encoder, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                        label2id={l: i for i, l in enumerate(labels)},
                                        problem_type="single_label_classification" if single_label
                                        else "multi_label_classification")
    if meta:
        config.emopillars = meta
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(encoder, config=config, use_safetensors=True)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(encoder).save_pretrained(folder)
    return folder


def reordered(source: Path, folder: Path, labels) -> Path:
    """The same model with its outputs (head rows and id2label) in the order of ``labels``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True)
    old = [model.config.id2label[i] for i in range(model.config.num_labels)]
    order = [old.index(l) for l in labels]
    head = model.classifier.out_proj
    with torch.no_grad():
        head.weight.copy_(head.weight[order].clone())
        head.bias.copy_(head.bias[order].clone())
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {l: i for i, l in enumerate(labels)}
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("peers")
    canonical = tiny_classifier(tmp / "goemotions28", EMOTIONS)
    return {
        "goemotions28": canonical,
        "shuffled28": reordered(canonical, tmp / "shuffled28", SHUFFLED),
        "isear7": tiny_classifier(tmp / "isear7", ["Guilt", "joy", "SHAME", "fear", "anger", "sadness", "disgust"],
                                  single_label=True, seed=1),
        "contextual28": tiny_classifier(tmp / "contextual28", EMOTIONS, seed=2,
                                        meta={"input": {"variant": "contextual"}}),
    }


@pytest.fixture()
def tinymulti():
    from helpers.peerbench import FOLDER, TINY_MULTI

    with benchmarks.registered(TINY_MULTI):
        yield TINY_MULTI.read(FOLDER)


def _ep():
    return defaults().evaluate.replace(bootstrap_samples=50)


# --------------------------------------------------------------------------- label mapping
MODEL_FORMATS = {
    "goemotions28": list(EMOTIONS),
    "shuffled28, odd case and spacing": [l.upper() if i % 2 else f" {l.title()} " for i, l in enumerate(SHUFFLED)],
    "isear7": ["Guilt", "joy", "SHAME", "fear", "anger", "sadness", "disgust"],
    "meld7": list(reversed(MELD)),
    "six emotions (dair-ai style)": ["sadness", "joy", "love", "anger", "fear", "surprise"],
    "unnamed outputs": [f"LABEL_{i}" for i in range(28)],
}
# model format -> the benchmarks its labels can be read on, and how
APPLIES = {"goemotions28": "taxonomy28", "shuffled28, odd case and spacing": "taxonomy28",
           "isear7": {"isear": "benchmark"}, "meld7": {"meld": "benchmark"}}


@pytest.mark.parametrize("fmt", list(MODEL_FORMATS))
@pytest.mark.parametrize("benchmark", list(benchmarks.names()))
def test_every_model_format_is_read_on_every_benchmark_or_said_not_to_apply(fmt, benchmark):
    labels = MODEL_FORMATS[fmt]
    reading = read_labels(labels, benchmark)
    expected = APPLIES.get(fmt)
    head = expected if isinstance(expected, str) else (expected or {}).get(benchmark)
    assert reading.head == head, reading.reason
    bench = benchmarks.get(benchmark)
    if head is None:
        assert not reading.applies
        assert any(why in reading.reason for why in (f"nor {bench.display_name}'s labels", "no label names",
                                                     "are not the 28 GoEmotions classes"))
        with pytest.raises(ValueError, match="not applicable"):
            reading.scores(np.zeros((1, len(labels))))
        return
    names = reading.names()
    assert list(names) == list(bench.labels)
    for label, read_from in names.items():
        if head == "taxonomy28":  # the label maps' classes, found by name in the model's own order
            assert [x.strip().lower() for x in read_from] == list(bench.to_taxonomy[label])
        else:
            assert [x.lower() for x in read_from] == [label]


def test_label_reading_examples():
    assert read_labels(EMOTIONS, "isear").names()["shame"] == ["embarrassment"]
    assert read_labels(EMOTIONS, "meld").names()["joy"] == ["joy", "amusement", "excitement"]
    unnamed = read_labels([f"LABEL_{i}" for i in range(7)], "isear")
    assert "no label names" in unnamed.reason
    six = read_labels(MODEL_FORMATS["six emotions (dair-ai style)"], "meld")
    assert "neither the 28 GoEmotions classes nor MELD's labels" in six.reason
    assert "love" in six.reason


# --------------------------------------------------------------------------- scores and rules
def test_the_order_of_a_models_labels_does_not_change_its_scores_per_label(models, tinymulti):
    test = tinymulti["test"]
    canonical = LoadedPeer(PeerSpec("a", str(models["goemotions28"])), resolve_model(str(models["goemotions28"])))
    shuffled = LoadedPeer(PeerSpec("b", str(models["shuffled28"])), resolve_model(str(models["shuffled28"])))
    assert shuffled.labels == SHUFFLED != canonical.labels
    raw_a, raw_b = canonical.scores(test, 8, False), shuffled.scores(test, 8, False)
    assert not np.allclose(raw_a, raw_b)  # the raw outputs are in another order...
    by_name_a = dict(zip(canonical.labels, raw_a.T))
    by_name_b = dict(zip(shuffled.labels, raw_b.T))
    for label in EMOTIONS:  # ...but each label's score is the same
        np.testing.assert_allclose(by_name_a[label], by_name_b[label], atol=1e-5)
    rec_a, rows_a = evaluate_on(canonical, "tinymulti", tinymulti, _ep(), None, 13, progress=False)
    rec_b, rows_b = evaluate_on(shuffled, "tinymulti", tinymulti, _ep(), None, 13, progress=False)
    for rule in ("model_threshold", "dev_tuned"):
        assert rec_a.result(rule).metrics == rec_b.result(rule).metrics
        assert [r["pred"] for r in rows_a[rule]] == [r["pred"] for r in rows_b[rule]]


def test_both_threshold_rules_on_a_multi_label_benchmark(models, tinymulti):
    folder = models["goemotions28"]
    peer = LoadedPeer(PeerSpec("own", str(folder), threshold=0.36), resolve_model(str(folder)))
    record, rows = evaluate_on(peer, "tinymulti", tinymulti, _ep(), None, 13, progress=False)
    assert record.status == "evaluated" and record.head == "taxonomy28" and record.n_dev == 8 and record.n_test == 8
    assert [r.rule for r in record.results] == ["model_threshold", "dev_tuned"]
    own, tuned = record.result("model_threshold"), record.result("dev_tuned")
    assert own.thresholds.global_threshold == 0.36 and "card" in own.threshold_source
    assert tuned.thresholds.tuned_on == "dev" and "the TinyMulti dev split" in tuned.threshold_source
    # the model's rule is its threshold on the benchmark's scores (anger: the max of anger and annoyance)
    for row in rows["model_threshold"]:
        assert row["pred"] == [l for l, s in zip(["joy", "anger", "sadness"], row["scores"]) if s >= 0.36]
    # the same scores, thresholds tuned on dev: the rule's own global threshold
    g = tuned.thresholds.global_threshold
    for row in rows["dev_tuned"]:
        assert row["pred"] == [l for l, s in zip(["joy", "anger", "sadness"], row["scores"]) if s >= g]
    assert own.primary.ci_low <= own.primary.value <= own.primary.ci_high


def test_the_models_own_threshold_comes_from_its_exported_thresholds_else_half(models, tinymulti, tmp_path):
    import shutil

    folder = shutil.copytree(models["shuffled28"], tmp_path / "exported")
    per_class = {l: round(0.1 + 0.01 * i, 2) for i, l in enumerate(EMOTIONS)}
    # thresholds listed in another order than the model's outputs: read by name
    (folder / "thresholds.json").write_text(json.dumps(
        {"labels": list(reversed(EMOTIONS)), "kind": "per_class", "global": 0.3,
         "per_class": [per_class[l] for l in reversed(EMOTIONS)], "tuned_on": "its synthetic dev split"}))
    peer = LoadedPeer(PeerSpec("x", str(folder)), resolve_model(str(folder)))
    record, _ = evaluate_on(peer, "tinymulti", tinymulti, _ep(), None, 13, progress=False)
    own = record.result("model_threshold")
    assert "exported thresholds" in own.threshold_source
    # joy and sadness are read from one class each: their own thresholds; anger from two: the global one
    assert own.thresholds.kind == "global" and own.thresholds.global_threshold == 0.3
    assert peer.own_rule["per_class"] == [per_class[l] for l in SHUFFLED]
    (folder / "thresholds.json").unlink()
    bare = LoadedPeer(PeerSpec("y", str(folder)), resolve_model(str(folder)))
    assert bare.own_rule == {"kind": "global", "global": 0.5} and "none exported" in bare.threshold_source


def test_contextual_models_get_the_context(models, tinymulti):
    folder = str(models["contextual28"])
    from_config = LoadedPeer(PeerSpec("c", folder), resolve_model(folder))
    assert from_config.contextual and "emopillars.input.variant" in from_config.contextual_from
    forced_off = LoadedPeer(PeerSpec("c", folder, contextual=False), resolve_model(folder))
    assert not forced_off.contextual and forced_off.contextual_from == "peers param"
    test = tinymulti["test"]
    with_context, without = from_config.scores(test, 8, False), forced_off.scores(test, 8, False)
    assert not np.allclose(with_context, without)
    no_context = [type(r)(**{**r.__dict__, "context": None}) for r in test]
    np.testing.assert_allclose(from_config.scores(no_context, 8, False), without, atol=1e-6)


def test_a_seven_label_model_is_read_on_isear_and_not_on_goemotions(models, mirror_dir):
    params = defaults()
    ep = _ep()
    spec = PeerSpec("isear7", str(models["isear7"]))
    read = lambda b: benchmarks.read_splits(b, params, mirror_dir)  # noqa: E731
    [(isear, rows), (goemotions, _)] = evaluate_peer(spec, ["isear", "goemotions"], read, ep, 40, 13,
                                                 max_length=TINY_LENGTH, progress=False)
    assert isear.status == "evaluated" and isear.head == "benchmark" and isear.n_test == 40 and isear.n_dev is None
    assert [r.rule for r in isear.results] == ["argmax"] and set(isear.result("argmax").per_class) == set(ISEAR)
    assert isear.label_reading["shame"] == ["SHAME"] and isear.label_reading["guilt"] == ["Guilt"]
    # each benchmark label's score is the model's output of the same name
    peer = LoadedPeer(spec, resolve_model(spec.model), max_length=TINY_LENGTH)
    test = benchmarks.read_splits("isear", params, mirror_dir)[0]["test"]
    by_id = {r.id: r for r in test}
    raw = peer.scores([by_id[row["id"]] for row in rows["argmax"]], 16, False)
    for row, out in zip(rows["argmax"], raw):
        scores = dict(zip(ISEAR, row["scores"]))
        assert all(abs(scores[l.lower()] - s) < 1e-4 for l, s in zip(peer.labels, out))
        assert row["pred"] == [max(scores, key=scores.get)]
    assert goemotions.status == "not_applicable" and "are not the 28 GoEmotions classes" in goemotions.reason


# --------------------------------------------------------------------------- unavailable
def test_a_hub_model_that_cannot_be_had_gives_unavailable_records_per_benchmark(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    spec = PeerSpec("nobody", "nobody-here/no-such-emotion-model", revision="0" * 40)
    never_read = lambda b: pytest.fail("the benchmark is read although the model is unavailable")  # noqa: E731
    runs = evaluate_peer(spec, ["goemotions", "isear"], never_read, _ep(), None, 13)
    assert [r.benchmark for r, _ in runs] == ["goemotions", "isear"]
    for record, rows in runs:
        assert record.status == "unavailable" and rows == {} and not record.results
        assert "nobody-here/no-such-emotion-model@" + "0" * 40 in record.reason and "cannot be reached" in record.reason
        assert record.model.source == "hub" and record.model.resolved_revision is None
        again = PeerEvaluationRecord.parse(record.model_dump(mode="json"))
        assert again == record


def test_the_record_refuses_an_inconsistent_status():
    base = dict(name="x", benchmark="isear", system="x", protocol="p",
                model={"name": "x", "reference": "x/y", "source": "hub"})
    with pytest.raises(RecordError, match="has a reason and no results"):
        PeerEvaluationRecord.parse({**base, "status": "unavailable", "reason": None})
    with pytest.raises(RecordError, match="has results and no reason"):
        PeerEvaluationRecord.parse({**base, "status": "evaluated", "reason": None})


# --------------------------------------------------------------------------- command line
def _evaluate(*args, env=None):
    return subprocess.run([sys.executable, "-m", "emopillars.cli", "evaluate", "--quiet", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})})


def test_evaluate_prints_both_rules_and_writes_the_record(models, mirror_dir, tmp_path):
    out = tmp_path / "record.json"
    proc = _evaluate("--model", models["shuffled28"], "--benchmark", "goemotions", "--raw-dir", mirror_dir,
                     "--max-examples", 60, "--threshold", 0.4, "--max-length", TINY_LENGTH, "--out", out)
    assert proc.returncode == 0, proc.stderr
    record = PeerEvaluationRecord.read(out)
    assert record.n_test == 60 and record.n_dev == 60 and record.model.source == "folder"
    assert record.model.labels == SHUFFLED and record.head == "taxonomy28"
    own, tuned = record.result("model_threshold"), record.result("dev_tuned")
    assert own.thresholds.global_threshold == 0.4 and own.threshold_source == "0.4: --threshold"
    text = proc.stdout
    assert "read as the 28 GoEmotions classes" in text and "test: 60 examples; dev: 60" in text
    for r, name in ((own, "model's threshold"), (tuned, "tuned on dev")):
        m = r.metrics["macro_f1"]
        assert f"{name} ({r.threshold_source}): macro-F1 {m.value:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]" in text
        assert f"labels/example {r.labels_per_example:.2f}" in text


@pytest.mark.parametrize("case", ["unknown benchmark", "no config.json", "labels do not map", "hub id offline"])
def test_evaluate_bad_input_is_one_line_and_exit_2(case, models, tmp_path):
    model, benchmark, expected = str(models["goemotions28"]), "goemotions", ""
    if case == "unknown benchmark":
        benchmark, expected = "goemotion", "unknown benchmark 'goemotion'"
    elif case == "no config.json":
        (tmp_path / "empty").mkdir()
        model, expected = str(tmp_path / "empty"), "not a model folder (no config.json)"
    elif case == "labels do not map":
        model, expected = str(models["isear7"]), "not applicable: its 7 labels"
    else:
        model, expected = "nobody-here/no-such-emotion-model", "model unavailable: nobody-here/no-such-emotion-model@main"
    proc = _evaluate("--model", model, "--benchmark", benchmark, env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr, proc.stderr
    assert proc.stdout == ""


# --------------------------------------------------------------------------- the stage
def _params(tmp_path: Path, entries: dict, benchmarks_list: list[str]) -> Path:
    from emopillars.profiles import compose

    path = compose("smoke", tmp_path / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(path.read_text())
    raw["peers"].update(run=list(entries), models=entries)
    raw["transfer"]["benchmarks"] = benchmarks_list
    raw["evaluate"]["bootstrap_samples"] = 50
    path.write_text(yaml.safe_dump(raw))
    return path


def _entry(model: str, **kw) -> dict:
    return {"model": model, "revision": None, "threshold": None, "contextual": None, "benchmarks": "all", **kw}


def test_the_stage_evaluates_a_local_folder_on_a_toy_benchmark_and_records_a_missing_hub_model(models, tmp_path,
                                                                                              monkeypatch):
    from huggingface_hub import constants

    sys.path.insert(0, str(ROOT / "stages"))
    import peers as stage
    from helpers.toybench import FOLDER, TOY

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with benchmarks.registered(TOY):
        params = _params(tmp_path, {"own": _entry(str(models["goemotions28"])),
                                    "gone": _entry("nobody-here/no-such-emotion-model", threshold=0.5)},
                         ["toybench"])
        for name in ("own", "gone"):
            rc = stage.main(["--params", str(params), "--peer", name, "--raw-dir", str(FOLDER.parent),
                             "--metrics-dir", str(tmp_path / "metrics" / name),
                             "--predictions-dir", str(tmp_path / "predictions" / name)])
            assert rc == 0
    own = PeerEvaluationRecord.read(tmp_path / "metrics" / "own" / "toybench.json")
    assert own.status == "evaluated" and own.n_test == 3 and [r.rule for r in own.results] == ["argmax"]
    assert own.label_reading == {"up": ["joy", "excitement"], "down": ["sadness"], "calm": ["neutral"]}
    rows = [json.loads(l) for l in (tmp_path / "predictions" / "own" / "toybench__argmax.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["pred"]) == 1 for r in rows)
    gone = PeerEvaluationRecord.read(tmp_path / "metrics" / "gone" / "toybench.json")
    assert gone.status == "unavailable" and "cannot be reached" in gone.reason
    assert list((tmp_path / "predictions" / "gone").iterdir()) == []


def test_the_stage_offline_records_every_default_hub_model_as_unavailable_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, "stages/peers.py", "--params", "params.yaml", "--peer",
                           "samlowe-roberta-base-go-emotions", "--raw-dir", str(tmp_path / "no-data"),
                           "--metrics-dir", str(tmp_path / "m"), "--predictions-dir", str(tmp_path / "p")],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **OFFLINE, "HF_HOME": str(tmp_path / "hf"),
                               "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert written == sorted(f"{b}.json" for b in defaults().transfer.benchmarks)
    for path in (tmp_path / "m").iterdir():
        record = PeerEvaluationRecord.read(path)
        assert record.status == "unavailable"
        assert record.model.revision == "58b6c5b44a7a12093f782442969019c7e2982299"
        assert record.reason.startswith("model unavailable: SamLowe/roberta-base-go_emotions@58b6c5b4")
    assert "0 of 3 benchmarks evaluated" in proc.stdout
