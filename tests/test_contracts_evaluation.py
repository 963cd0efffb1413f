"""Evaluation records: what a writer builds reads back the same; a missing or renamed field fails on read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emopillars.contracts import RecordError
from emopillars.contracts.evaluation import CrossDomainRecord, EvaluationRecord, RunIdentity
from emopillars.data.records import EmotionRecord
from emopillars.eval.evaluate import decide, evaluate_scores, evaluation_record, prediction_rows
from emopillars.report.results import aggregate, transfer_runs
from tests.helpers.stages import load_stage

LABELS = ["joy", "anger", "fear"]


def _multi_label_record() -> EvaluationRecord:
    rng = np.random.default_rng(3)
    gold = rng.random((30, 3)) > 0.6
    probs = np.clip(gold * 0.6 + rng.random((30, 3)) * 0.5, 0, 1)
    rule = decide(probs, gold, True, "global")
    rec = evaluate_scores(probs, gold, LABELS, True, rule, "macro_f1", 50, 0.9, 5,
                          baseline_pred=rng.random((30, 3)) > 0.5)
    run = RunIdentity(kind="transfer", benchmark="goemotions", init="contextual", fraction=0.1, head="benchmark",
                      head_init="fresh", seed=7)
    return evaluation_record(run, "emopillars-contextual", "test protocol", rec, 12, n_dev=8)


def test_a_written_record_reads_back_equal_with_the_rule_and_test_it_was_built_with(tmp_path):
    record = _multi_label_record()
    path = tmp_path / f"{record.run.run_name}.json"
    record.write(path)
    assert path.name == "contextual__frac0.1__seed7.json"
    back = EvaluationRecord.read(path)
    assert back == record
    raw = json.loads(path.read_text())
    # the threshold is written under the key the decision rule uses, and both rules are reported
    assert raw["thresholds"]["kind"] == "global" and raw["thresholds"]["global"] == back.thresholds.global_threshold
    assert back.alternative_rule_macro_f1 is not None and back.paired_test.metric == "macro_f1"
    assert back.primary == back.metrics["macro_f1"] and back.bootstrap.confidence == 0.9


def test_run_names_are_the_file_stems_of_each_kind():
    def name(kind, head="benchmark", fraction=1.0, **transfer):
        return RunIdentity(kind=kind, benchmark="isear", init="base", fraction=fraction, head=head,
                           **transfer).run_name

    assert name("transfer", fraction=0.01, head_init="fresh", seed=3) == "base__frac0.01__seed3"
    assert name("transfer", "taxonomy28", 0.1, head_init="emopillars", seed=3) == "base-ownhead__frac0.1__seed3"
    assert name("zeroshot", "taxonomy28", 0.0) == "base"
    assert name("llm_baseline", "structured_output", 0.0) == "isear"


def test_a_transfer_run_without_its_seed_or_head_start_is_refused():
    with pytest.raises(ValueError, match="a transfer run has a head_init and a seed"):
        RunIdentity(kind="transfer", benchmark="isear", init="base", fraction=1.0, head="benchmark")
    with pytest.raises(ValueError, match="other kinds have neither"):
        RunIdentity(kind="zeroshot", benchmark="isear", init="base", fraction=0.0, head="taxonomy28", seed=1)


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d.pop("n_test"), "field 'n_test' is missing"),
    (lambda d: d.__setitem__("model", d.pop("system")), "field 'model' is not part of EvaluationRecord"),
    (lambda d: d["run"].pop("fraction"), "field 'run.fraction' is missing"),
    (lambda d: d["metrics"]["macro_f1"].pop("ci_low"), "field 'metrics.macro_f1.ci_low' is missing"),
])
def test_a_missing_or_renamed_field_fails_naming_the_file_and_the_field(tmp_path, edit, expected):
    path = tmp_path / "run.json"
    data = _multi_label_record().model_dump(mode="json")
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError) as e:
        EvaluationRecord.read(path)
    assert str(e.value).startswith(f"{path}: not a valid EvaluationRecord") and expected in str(e.value)


def test_the_report_fails_on_a_broken_record_naming_its_source(tmp_path):
    folder = tmp_path / "metrics" / "transfer" / "goemotions"
    folder.mkdir(parents=True)
    data = _multi_label_record().model_dump(mode="json")
    (folder / "contextual__frac0.1__seed7.json").write_text(json.dumps(data))
    assert [r.fraction for r in transfer_runs(aggregate(tmp_path / "metrics"))] == [0.1]
    del data["primary_metric"]
    (folder / "contextual__frac0.1__seed7.json").write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"outputs/metrics/transfer/goemotions/contextual__frac0\.1__seed7\.json: .*"
                                          r"'primary_metric' is missing"):
        transfer_runs(aggregate(tmp_path / "metrics"))


def test_prediction_rows_from_class_ids_and_from_indicator_rows():
    recs = [EmotionRecord(id=f"r{i}", text="t", labels=[lab], split="test", dataset="x")
            for i, lab in enumerate(("joy", "fear"))]
    ids = prediction_rows(recs, LABELS, np.array([1, 2]), scores=np.array([[0.1, 0.8, 0.1], [0, 0, 1.0]]))
    assert ids[0] == {"id": "r0", "gold": ["joy"], "pred": ["anger"], "scores": [0.1, 0.8, 0.1]}
    rows = prediction_rows(recs, LABELS, np.array([[True, False, True], [False] * 3]), raw=["a", "b"])
    assert [r["pred"] for r in rows] == [["joy", "fear"], []] and [r["raw"] for r in rows] == ["a", "b"]


def test_the_aggregate_stage_stops_on_a_broken_record_with_one_line(tmp_path, capsys):
    folder = tmp_path / "metrics" / "zeroshot" / "isear"
    folder.mkdir(parents=True)
    data = _multi_label_record().model_dump(mode="json")
    data["run"].update(kind="zeroshot", head="taxonomy28", fraction=0.0)
    data["model"] = data.pop("system")
    (folder / "contextual.json").write_text(json.dumps(data))
    stage = load_stage("aggregate")
    out = tmp_path / "results.json"
    assert stage.main(["--metrics-dir", str(tmp_path / "metrics"), "--out", str(out),
                       "--full", str(tmp_path / "full.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outputs/metrics/zeroshot/isear/contextual.json" in err[0] and "'system'" in err[0]
    assert not out.exists()


def _crossdomain_record(**change):
    from emopillars.config import defaults
    from emopillars.eval.crossdomain import score_crossdomain

    records = [EmotionRecord(id=f"m{i}", text="t", labels=[lab], split="test", dataset="meld")
               for i, lab in enumerate(["joy", "anger", "neutral", "sadness", "joy", "surprise", "fear", "disgust"])]
    # over ISEAR's labels (joy fear anger sadness disgust shame guilt); the fear example is answered anger
    scores = np.eye(7)[[0, 2, 5, 3, 0, 6, 2, 4]]
    record, _ = score_crossdomain("isear", "meld", "base", "base encoder", "models/transfer/isear/base", scores,
                                  records, defaults().evaluate, "the full test split (8 examples)")
    return record.model_copy(update=change) if change else record


def test_a_crossdomain_record_reads_back_equal_and_counts_its_exclusions(tmp_path):
    record = _crossdomain_record()
    assert (record.n_test, record.n_excluded, record.excluded_labels) == (6, 2, {"neutral": 1, "surprise": 1})
    assert record.per_class["joy"].f1 == 1.0 and record.per_class["fear"].recall == 0.0
    assert record.per_class["anger"].precision == 0.5 and record.shared_groups == ["anger", "disgust", "fear", "joy",
                                                                                  "sadness"]
    path = tmp_path / f"{record.run_name}.json"
    record.write(path)
    assert path.name == "base__to__meld.json"
    assert CrossDomainRecord.read(path) == record


def test_a_crossdomain_record_whose_exclusions_do_not_add_up_is_refused(tmp_path):
    raw = _crossdomain_record().model_dump(mode="json")
    raw["n_excluded"] = 3
    (tmp_path / "r.json").write_text(json.dumps(raw))
    with pytest.raises(RecordError, match="n_excluded"):
        CrossDomainRecord.read(tmp_path / "r.json")
    raw["n_excluded"], raw["target"] = 2, "isear"
    (tmp_path / "r.json").write_text(json.dumps(raw))
    with pytest.raises(RecordError, match="another benchmark than its own"):
        CrossDomainRecord.read(tmp_path / "r.json")
