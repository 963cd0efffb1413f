"""Cross-domain scoring: exported benchmark models (tiny, random or with a fixed answer) on the other benchmarks'
real test sets, through the Ekman groups they share."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from emopillars import benchmarks
from emopillars.contracts.evaluation import CrossDomainRecord, SkippedBenchmarks
from emopillars.data.label_maps import ekman_groups
from tests.helpers.stages import load_stage

ROOT = Path(__file__).resolve().parents[1]
CAP = 150  # test examples per target (transfer.max_eval_examples), so that the tiny models run in seconds
stage = load_stage("crossdomain")


def exported_model(folder: Path, benchmark: str, encoder: Path, always: str | None = None) -> Path:
    """A tiny model over ``benchmark``'s labels, written by the project's exporter; ``always``: it answers that label."""
    import torch
    from transformers import AutoTokenizer

    from emopillars.train.export import save_classifier
    from emopillars.train.modeling import build_classifier, classifier_layer

    b = benchmarks.get(benchmark)
    labels = list(b.labels)
    model = build_classifier(encoder, labels, "mean", b.multi_label)
    if always is not None:
        head = classifier_layer(model)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.fill_(-4.0)
            head.bias[labels.index(always)] = 4.0
    rule = {"kind": "global", "global": 0.5} if b.multi_label else {"kind": "argmax"}
    return save_classifier(model, AutoTokenizer.from_pretrained(str(encoder)), folder, labels, rule,
                           {"variant": "benchmark", "benchmark": benchmark}, f"# tiny {benchmark} model\n")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, mirror_dir):
    from emopillars.profiles import compose
    from emopillars.train.encoder import tiny_encoder

    tmp = tmp_path_factory.mktemp("crossdomain")
    encoder = tiny_encoder(tmp / "encoder", "bert")
    params = compose("smoke", tmp / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(params.read_text())
    raw["transfer"].update(benchmarks=["goemotions", "isear", "meld", "emocontext"], inits=["base", "contextless"],
                           max_eval_examples=CAP, max_length=32)
    raw["data"]["emocontext_dir"] = None
    raw["evaluate"]["bootstrap_samples"] = 50
    params.write_text(yaml.safe_dump(raw))
    models = {}
    for source, always in (("isear", "joy"), ("goemotions", None)):
        folder = tmp / "models" / source
        exported_model(folder / "base", source, encoder, always=always)
        exported_model(folder / "contextless", source, encoder)
        (folder / "index.json").write_text(json.dumps({"benchmark": source, "skipped": None,
                                                       "models": {"base": {}, "contextless": {}}}))
        models[source] = folder
    return tmp, params, models, mirror_dir


def _run(setup, source: str, out: Path, models: Path | None = None):
    tmp, params, folders, mirror = setup
    return stage.main(["--params", str(params), "--benchmark", source, "--raw-dir", str(mirror),
                       "--models-dir", str(models or folders[source]), "--metrics-dir", str(out)])


def _test_set(setup, target: str):
    from emopillars.config import load_params
    from emopillars.eval.evaluate import seeded_subset

    _, params, _, mirror = setup
    p = load_params(params)
    splits, _ = benchmarks.read_splits(target, p, mirror)
    return seeded_subset(splits["test"], CAP, p.transfer.seed)


def test_a_model_that_always_answers_joy_scores_what_its_answer_earns_on_each_target(setup, tmp_path):
    out = tmp_path / "isear"
    assert _run(setup, "isear", out) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["base__to__goemotions.json", "base__to__meld.json", "contextless__to__goemotions.json",
                     "contextless__to__meld.json", "skipped.json"]
    five = ["anger", "disgust", "fear", "joy", "sadness"]
    for target in ("meld", "goemotions"):
        rec = CrossDomainRecord.read(out / f"base__to__{target}.json")
        assert (rec.source, rec.target, rec.init, rec.system) == ("isear", target, "base", "base encoder")
        assert rec.shared_groups == five and rec.primary_metric == "macro_f1"
        assert rec.n_test + rec.n_excluded == CAP and "the transfer test sample (150 of the" in rec.protocol
        # joy is always the answer: precision = the share of joy gold among the scored examples, recall 1
        groups = ekman_groups(target)
        gold = [{groups[l] for l in r.labels if l in groups} & set(five) for r in _test_set(setup, target)]
        gold = [g for g in gold if g]
        assert len(gold) == rec.n_test
        share = np.mean(["joy" in g for g in gold])
        assert rec.per_class["joy"].recall == 1.0
        assert rec.metrics["macro_f1"].value == pytest.approx(2 * share / (share + 1) / 5)
        assert rec.labels_per_example == 1.0 and rec.paired_test is None
        other = CrossDomainRecord.read(out / f"contextless__to__{target}.json")
        assert other.paired_test is not None and other.paired_test.metric == "macro_f1"
        m = other.primary
        assert m.ci_low <= m.value <= m.ci_high
    # MELD's neutral and surprise examples have no group in ISEAR's labels: excluded and counted
    meld = CrossDomainRecord.read(out / "base__to__meld.json")
    assert set(meld.excluded_labels) <= {"neutral", "surprise"} and meld.excluded_labels.get("neutral", 0) > 0
    counts = Counter(r.labels[0] for r in _test_set(setup, "meld"))
    assert meld.excluded_labels == {k: counts[k] for k in ("neutral", "surprise") if counts[k]}
    # the unconfigured target is listed with the reason
    skipped = SkippedBenchmarks.read(out / "skipped.json").skipped
    assert [(s.kind, s.benchmark) for s in skipped] == [("crossdomain", "emocontext")]
    assert "data.emocontext_dir" in skipped[0].reason


def test_a_goemotions_model_on_isear_leaves_shame_and_guilt_out(setup, tmp_path):
    out = tmp_path / "goemotions"
    assert _run(setup, "goemotions", out) == 0
    rec = CrossDomainRecord.read(out / "contextless__to__isear.json")
    counts = Counter(r.labels[0] for r in _test_set(setup, "isear"))
    assert rec.excluded_labels == {k: counts[k] for k in ("guilt", "shame")}
    assert rec.n_test == CAP - counts["shame"] - counts["guilt"]
    assert set(rec.per_class) == {"anger", "disgust", "fear", "joy", "sadness"}
    meld = CrossDomainRecord.read(out / "contextless__to__meld.json")
    assert meld.shared_groups == ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    assert meld.n_excluded == 0 and meld.n_test == CAP


def test_a_source_that_its_transfer_stage_skipped_is_listed_and_a_missing_model_is_one_line(setup, tmp_path,
                                                                                            capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "index.json").write_text(json.dumps({"benchmark": "emocontext", "models": {},
                                                   "skipped": "emocontext: no folder configured."}))
    assert _run(setup, "emocontext", tmp_path / "out", models=folder) == 0
    (s,) = SkippedBenchmarks.read(tmp_path / "out" / "skipped.json").skipped
    assert (s.kind, s.benchmark) == ("crossdomain", "emocontext") and "transfer@emocontext skipped" in s.reason
    (folder / "index.json").write_text(json.dumps({"benchmark": "isear", "models": {}, "skipped": None}))
    assert _run(setup, "isear", tmp_path / "out2", models=folder) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "base" in err[0] and "rerun transfer@isear" in err[0]
    assert not (tmp_path / "out2").exists()


def test_a_model_of_another_benchmark_is_refused_naming_its_folder(setup, tmp_path):
    from emopillars.eval.crossdomain import model_scores

    _, _, folders, _ = setup
    with pytest.raises(ValueError, match="not meld's"):
        model_scores(folders["isear"] / "base", "meld", _test_set(setup, "isear")[:2], 32, False)


def test_a_28_way_transfer_head_is_read_on_its_benchmark_through_the_label_mapping(setup):
    """transfer.head: taxonomy28 exports 28-way models for every benchmark (the paper and rehearsal profiles)."""
    from emopillars.data.label_maps import project_scores
    from emopillars.eval.crossdomain import model_scores

    _, _, folders, _ = setup
    records = _test_set(setup, "isear")[:4]
    own = model_scores(folders["goemotions"] / "base", "goemotions", records, 32, False)
    read = model_scores(folders["goemotions"] / "base", "isear", records, 32, False)
    assert own.shape == (4, 28) and read.shape == (4, 7)
    assert np.allclose(read, project_scores(own, "isear"))
