"""Scores and labels from an exported classifier folder.

Loads the encoder family's standard ``XForSequenceClassification`` (no project
code needed for the model itself) and applies the thresholds saved next to it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from emopillars.train.data import Example, contextual_pair


@dataclass
class Input:
    text: str
    context: Optional[str] = None
    character: Optional[str] = None
    character_description: Optional[str] = None
    id: str = ""


def read_inputs(path: str | Path, text_column: str = "text") -> list[Input]:
    """Inputs from a CSV (header row) or JSONL file; column/key ``text_column`` (or ``utterance``) is the text.

    Optional columns: ``id``, ``context``, ``character``, ``character_description``.
    An empty text stops with the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file not found")
    if path.suffix.lower() == ".jsonl":
        from emopillars.io import read_jsonl

        rows = [(i, r) for i, r in enumerate(read_jsonl(path), 1)]
    elif path.suffix.lower() in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            rows = [(i, r) for i, r in enumerate(reader, 2)]
    else:
        raise ValueError(f"{path}: expected a .csv, .tsv or .jsonl file")
    out = []
    for line, row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{line}: expected an object with a '{text_column}' field")
        text = row.get(text_column, row.get("utterance"))
        if text is None:
            raise ValueError(f"{path}:{line}: no '{text_column}' column (columns: {', '.join(row)}); "
                             "choose the text column with --text-column")
        if not str(text).strip():
            raise ValueError(f"{path}:{line}: empty text")
        out.append(Input(str(text), row.get("context") or None, row.get("character") or None,
                         row.get("character_description") or None, str(row.get("id") or line)))
    return out


class Predictor:
    """An exported model plus its decision rule."""

    def __init__(self, model_dir: str | Path, threshold: Optional[float] = None, device: str = "cpu",
                 max_length: int = 128):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from emopillars.train.export import load_thresholds

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").exists():
            raise FileNotFoundError(f"{model_dir}: not a model folder (no config.json)")
        self.rule = {"kind": "global", "global": float(threshold)} if threshold is not None else load_thresholds(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.multi_label = config.problem_type != "single_label_classification"
        meta = getattr(config, "emopillars", None) or {}
        self.contextual = (meta.get("input") or {}).get("variant") == "contextual"
        self.device = device
        self.max_length = max_length
        self._torch = torch

    def scores(self, inputs: Sequence[Input], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        from emopillars.train.data import Encoded
        from emopillars.train.trainer import predict_probs

        for i, x in enumerate(inputs):
            if not isinstance(x.text, str) or not x.text.strip():
                raise ValueError(f"input {x.id or i + 1}: empty text")
        examples = [Example(text=x.text, target=np.zeros(0, dtype=np.float32),
                            text_pair=contextual_pair(x.context, x.character, x.character_description)
                            if self.contextual else None) for x in inputs]
        enc = Encoded(self.tokenizer, examples, self.max_length)
        wrapper = _LogitsModel(self.model, self.labels, self.multi_label)
        return predict_probs(wrapper, enc, batch_size, self._torch.device(self.device), progress=progress, desc="predict")

    def decide(self, probs: np.ndarray) -> list[list[str]]:
        from emopillars.eval.evaluate import apply_rule

        if not self.multi_label:
            return [[self.labels[int(i)]] for i in probs.argmax(1)]
        pred = apply_rule(probs, self.rule)
        return [[self.labels[j] for j in np.flatnonzero(row)] for row in pred]

    def predict(self, inputs: Sequence[Input], batch_size: int = 64, progress: bool = True) -> list[dict]:
        probs = self.scores(inputs, batch_size, progress)
        labels = self.decide(probs)
        return [{"id": x.id, "text": x.text, "labels": lab,
                 "scores": {l: round(float(s), 5) for l, s in zip(self.labels, p)}}
                for x, lab, p in zip(inputs, labels, probs)]


class _LogitsModel:
    """Adapter so the trainer's batched scorer runs a plain HF model."""

    def __init__(self, model, labels, multi_label):
        self.model, self.labels, self.multi_label = model, labels, multi_label
        self.training = False

    def parameters(self):
        return self.model.parameters()

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def __call__(self, **inputs):
        return self.model(**inputs).logits


def write_predictions(rows: list[dict], path: Optional[str | Path], fmt: str, labels: Sequence[str]) -> str:
    """Rows as JSON lines or CSV (one score column per label); to ``path`` or returned as text."""
    import io

    if fmt == "json":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["id", "text", "labels", *labels])
        for r in rows:
            w.writerow([r["id"], r["text"], ";".join(r["labels"]), *[r["scores"][l] for l in labels]])
        text = buf.getvalue()
    else:
        raise ValueError(f"unknown output format {fmt!r}; expected json or csv")
    if path:
        from emopillars.io import write_text

        write_text(path, text)
    return text
