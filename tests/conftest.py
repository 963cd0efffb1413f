"""Session fixtures shared by the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- models (materialised once per session)
def _materialised(name: str, tmp_path_factory) -> Path:
    """``models/<name>`` when the models stage made it from the current params, else a fresh copy."""
    from emopillars.config import load_params
    from emopillars.models import materialise, read_provenance

    spec = getattr(load_params(ROOT / "params.yaml").models, name)
    if spec.source != "pypi":
        pytest.skip(f"params.yaml's {name} is not materialisable offline (source {spec.source})")
    existing = ROOT / "models" / name
    prov = read_provenance(existing)
    if prov.get("package") == spec.package and prov.get("package_version") == spec.package_version:
        return existing
    out = tmp_path_factory.mktemp("models") / name
    materialise(spec, out, name)
    return out


@pytest.fixture(scope="session")
def generator_dir(tmp_path_factory) -> Path:
    """A safetensors folder of the default generator (SmolLM2-135M-Instruct)."""
    return _materialised("generator", tmp_path_factory)


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory) -> Path:
    """A safetensors folder of the default encoder (all-MiniLM-L6-v2)."""
    return _materialised("encoder", tmp_path_factory)


@pytest.fixture(scope="session")
def embedder_dir(tmp_path_factory) -> Path:
    """A safetensors folder of the default sentence embedder (the one stages labels and dataset_stats read)."""
    return _materialised("embedder", tmp_path_factory)


# --------------------------------------------------------------------------- datasets (the mirror folder)
@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The dataset mirror ($EMOPILLARS_DATA_MIRROR, default ../shared/data); skips when absent."""
    import os

    path = Path(os.environ.get("EMOPILLARS_DATA_MIRROR") or ROOT.parent / "shared" / "data")
    if not (path / "goemotions").is_dir():
        pytest.skip(f"dataset mirror not found at {path} (set EMOPILLARS_DATA_MIRROR to a folder holding "
                    "goemotions/, isear/, meld/, fairytaleqa_stories/)")
    return path


# --------------------------------------------------------------------------- generation engine
@pytest.fixture(scope="session")
def vllm_backend(generator_dir):
    """One vLLM engine on the default generator for the whole session (loading takes ~30 s on CPU)."""
    pytest.importorskip("vllm")
    from emopillars.config import defaults
    from emopillars.llm.backends.vllm_backend import VLLMBackend

    # A small explicit KV cache keeps the test process light (on CPU the default reserves a share of all RAM).
    backend = VLLMBackend(generator_dir, defaults().llm.replace(kv_cache_memory_gib=0.25, max_model_len=1024))
    yield backend
    backend.close()


# --------------------------------------------------------------------------- classifiers
@pytest.fixture(scope="session")
def released_model(tmp_path_factory, encoder_dir, embedder_dir):
    """The released and train stages run with ``train.source: released`` on tests/fixtures/emopillars_release
    (the contextual variant, one short epoch).

    Returns ``(model folder, metrics record, plots folder)``; shared by the training and predict tests.
    """
    import json

    from tests.helpers.released_run import RELEASE, released_params, released_stage, train_stage

    tmp = tmp_path_factory.mktemp("released")
    params = released_params(tmp, bootstrap_samples=50, released_dir=str(RELEASE), epochs=1, max_length=48)
    data = tmp / "data" / "released"
    proc = released_stage(params, embedder_dir, data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out, metrics, plots = tmp / "model", tmp / "metrics.json", tmp / "plots"
    proc = train_stage(params, "contextual", data / "contextual", encoder_dir, out, metrics, plots)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, json.loads(metrics.read_text()), plots


@pytest.fixture(autouse=True)
def _no_debug_flag_leaks_between_tests(monkeypatch):
    """``--debug`` sets EMOPILLARS_DEBUG for child processes; an in-process CLI test must not leave it set."""
    monkeypatch.delenv("EMOPILLARS_DEBUG", raising=False)
