"""The LLM baseline: how answers are scored (rejected ones included), its record, and the stage end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from emopillars import benchmarks
from emopillars.contracts.evaluation import EvaluationRecord, SkippedBenchmarks
from emopillars.data.records import EmotionRecord
from emopillars.eval.llm_baseline import baseline_sample, evaluate_answers, score_answers
from emopillars.llm.backends import Backend, Completion
from tests.helpers.stages import load_stage

ROOT = Path(__file__).resolve().parents[1]
EP = SimpleNamespace(bootstrap_samples=50, confidence=0.95, seed=5)


def test_a_rejected_single_label_answer_is_scored_as_a_wrong_label():
    answers = np.array([[False, True, False], [False, False, False], [False, False, False]])
    gold = np.array([1, 0, 2])
    rule, scores = score_answers(answers, gold, multi_label=False)
    assert rule == {"kind": "argmax"}
    pred = scores.argmax(1)
    assert pred[0] == 1 and pred[1] != 0 and pred[2] != 2  # the two rejected answers are wrong, never lucky
    assert (scores.sum(1) == 1).all()


def test_a_rejected_multi_label_answer_is_no_label():
    answers = np.array([[True, False, True], [False, False, False]])
    rule, scores = score_answers(answers, np.zeros((2, 3), dtype=bool), multi_label=True)
    assert rule["kind"] == "global" and rule["global"] == 0.5
    assert (scores >= rule["global"]).tolist() == answers.tolist()


def _result(parsed, raw="{}"):
    return SimpleNamespace(ok=parsed is not None, parsed=parsed, raw=raw)


def test_the_record_counts_rejected_answers_and_scores_them_by_the_policy():
    labels = benchmarks.get("isear").labels
    gold = ["joy", "fear", "anger", "guilt"]
    test = [EmotionRecord(id=f"i{i}", text=f"t{i}", labels=[g], split="test", dataset="isear")
            for i, g in enumerate(gold)]
    results = [_result({"emotions": ["joy"]}, "a"), _result(None, "cut"), _result({"emotions": ["anger"]}, "c"),
               _result({"emotions": ["shame"]}, "d")]
    record, rows = evaluate_answers("isear", test, results, EP, "generator (tiny)", "the full test split (4 examples)")
    assert record.run.kind == "llm_baseline" and record.run.run_name == "isear" and record.system == "generator (tiny)"
    assert record.rejected_answers == 1 and record.n_test == 4 and record.n_train == 0
    assert record.metrics["accuracy"].value == pytest.approx(0.5)  # joy and anger right; the rejected one wrong
    assert record.labels_per_example == pytest.approx(0.75)  # labels the model chose, the rejected one chose none
    assert record.test_set == "the full test split (4 examples)" and record.test_set in record.protocol
    assert benchmarks.get("isear").protocol in record.protocol
    assert [r["pred"] for r in rows] == [["joy"], [], ["anger"], ["shame"]] and rows[1]["raw"] == "cut"
    assert set(record.per_class) == set(labels)


class _Answers(Backend):
    """Answers each prompt with the answer of the test text it contains."""

    name = "scripted"
    supports_structured_output = True

    def __init__(self, answers: dict[str, dict]):
        self.answers = answers

    def complete(self, calls):
        out = []
        for call in calls:
            prompt = call.messages[-1]["content"]
            answer = next(a for text, a in self.answers.items() if f'"{text}"' in prompt)
            out.append(Completion(text=json.dumps(answer), finish_reason="stop", prompt_tokens=3, completion_tokens=5))
        return out


def test_the_stage_classifies_each_benchmark_and_records_the_unconfigured_one(tmp_path, mirror_dir, monkeypatch):
    from emopillars.llm.engine import Engine
    from emopillars.profiles import compose
    from emopillars.config import load_params
    from emopillars.eval.evaluate import seeded_subset

    params_path = compose("smoke", tmp_path / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(params_path.read_text())
    raw["transfer"].update(benchmarks=["isear", "goemotions", "emocontext"], max_eval_examples=40)
    raw["evaluate"].update(llm_baseline_examples=6, bootstrap_samples=50)
    raw["data"]["split_seed"] = 11
    params_path.write_text(yaml.safe_dump(raw))

    tests = {}
    for bench in ("isear", "goemotions"):
        b = benchmarks.get(bench)
        splits = b.read(mirror_dir / bench, **({"seed": 11} if b.split_seed_param else {}))
        transfer = seeded_subset(splits["test"], 40, load_params(params_path).transfer.seed)
        tests[bench] = seeded_subset(transfer, 6, load_params(params_path).transfer.seed)
    answers = {}
    # ISEAR: two rejected answers (a label outside the set), two right, two wrong
    for i, r in enumerate(tests["isear"]):
        wrong = "guilt" if r.labels[0] != "guilt" else "joy"
        answers[r.text] = {"emotions": ["happiness"]} if i < 2 else {"emotions": [r.labels[0] if i < 4 else wrong]}
    # GoEmotions: the first answer rejected, the others the gold labels
    for i, r in enumerate(tests["goemotions"]):
        answers[r.text] = {"emotions": []} if i == 0 else {"emotions": list(r.labels)[:3]}

    def engine(llm_params, model_dir, stats_path=None, **_):
        return Engine(_Answers(answers), tmp_path / "cache.sqlite", max_retries=1, backend_name="scripted",
                      model_id="scripted", stats_path=stats_path, progress=False)

    monkeypatch.setattr(Engine, "from_params", staticmethod(engine))
    stage = load_stage("llm_baseline")
    metrics, preds = tmp_path / "m", tmp_path / "p"
    assert stage.main(["--params", str(params_path), "--raw-dir", str(mirror_dir), "--model-dir", str(tmp_path),
                       "--metrics-dir", str(metrics), "--predictions-dir", str(preds),
                       "--stats", str(tmp_path / "stats.json")]) == 0

    isear = EvaluationRecord.read(metrics / "isear.json")
    assert isear.rejected_answers == 2 and isear.n_test == 6
    seed = load_params(params_path).transfer.seed
    assert isear.test_set == (f"a seeded sample of 6 examples (seed {seed}) of the transfer test sample (40 of the "
                              f"750 test examples, seed {seed})")
    assert isear.metrics["accuracy"].value == pytest.approx(2 / 6)
    assert isear.system == f"generator ({raw['models']['generator']['hf_id']})"
    go = EvaluationRecord.read(metrics / "goemotions.json")
    assert go.rejected_answers == 1 and go.thresholds.kind == "global"
    kept = [len(r.labels[:3]) for r in tests["goemotions"][1:]]
    assert go.labels_per_example == pytest.approx(sum(kept) / 6)
    rows = [json.loads(line) for line in (preds / "isear.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in tests["isear"]] and rows[0]["pred"] == []
    skipped = SkippedBenchmarks.read(metrics / "skipped.json").skipped
    assert [(s.benchmark, s.kind) for s in skipped] == [("emocontext", "llm_baseline")]
    assert "data.emocontext_dir" in skipped[0].reason


def test_the_sample_is_seeded_spread_over_the_test_set_and_null_takes_all_of_it():
    test = [EmotionRecord(id=f"r{i}", text=f"t{i}", labels=["joy"], split="test", dataset="isear") for i in range(50)]
    chosen, text = baseline_sample(test, None, 10, 3)
    assert len(chosen) == 10 and text == "a seeded sample of 10 examples (seed 3) of the full test split (50 examples)"
    assert [r.id for r in chosen] != [f"r{i}" for i in range(10)]  # not the first ten of the file
    assert [r.id for r in baseline_sample(test, None, 10, 3)[0]] == [r.id for r in chosen]
    assert baseline_sample(test, None, None, 3) == (test, "the full test split (50 examples)")
    assert baseline_sample(test, 20, None, 3)[1] == "the transfer test sample (20 of the 50 test examples, seed 3)"


def test_llm_baseline_examples_may_be_null_and_not_zero():
    from pydantic import ValidationError

    from emopillars.config import defaults

    ep = defaults().evaluate
    assert type(ep).model_validate({**ep.model_dump(), "llm_baseline_examples": None}).llm_baseline_examples is None
    with pytest.raises(ValidationError, match="llm_baseline_examples"):
        type(ep).model_validate({**ep.model_dump(), "llm_baseline_examples": 0})
