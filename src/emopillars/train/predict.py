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
    """Inputs from a CSV or TSV (header row) or JSONL file; column/key ``text_column`` (or ``utterance``) is the text.

    Optional columns: ``id``, ``context``, ``character``, ``character_description``.
    A TSV is split on tabs, one row per line (quotes are text); a CSV follows
    CSV quoting. An empty file, a header without rows, a row with more or fewer
    fields than the header, an empty text or bytes that are not UTF-8 stop with
    the file and line. A UTF-8 byte-order mark is accepted.
    """
    from emopillars.io import open_text, read_jsonl

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = [(i, r) for i, r in enumerate(read_jsonl(path), 1)]
    elif suffix in (".csv", ".tsv"):
        rows = _table_rows(path, open_text(path, newline=""), "\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"{path}: expected a .csv, .tsv or .jsonl file")
    if not rows:
        raise ValueError(f"{path}: no inputs; expected " + ("one JSON object per line" if suffix == ".jsonl" else
                                                            "a header row and at least one row under it"))
    out = []
    for line, row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{line}: expected an object with a '{text_column}' field")
        text = row.get(text_column, row.get("utterance"))
        if text is None:
            raise ValueError(f"{path}:{line}: no '{text_column}' column (columns: {', '.join(row)}); "
                             "choose the text column with --text-column")
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{path}:{line}: empty text; expected a non-empty string in '{text_column}', got {text!r}")
        out.append(Input(text, row.get("context") or None, row.get("character") or None,
                         row.get("character_description") or None, str(row.get("id") or line)))
    return out


def _table_rows(path: Path, f, delimiter: str) -> list[tuple[int, dict]]:
    """``(line, row)`` of a CSV/TSV with a header; a row whose field count differs from the header's stops."""
    tsv = delimiter == "\t"
    reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
    header = next(reader, None)
    if header is None:
        return []
    rows, end = [], reader.line_num
    for fields in reader:
        line, end = end + 1, reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            kind = "tab" if tsv else "comma"
            more = len(fields) > len(header)
            raise ValueError(f"{path}:{line}: expected {len(header)} {kind}-separated field"
                             f"{'s' if len(header) > 1 else ''} as in the header ({', '.join(header)}), found "
                             f"{len(fields)}" + ("" if not more else " (a text cannot hold a tab)" if tsv else
                                                 ' (a text that holds a comma must be in double quotes: "a, b")'))
        rows.append((line, dict(zip(header, fields))))
    return rows


DEFAULT_MAX_LENGTH = 128


def check_threshold(threshold: Optional[float]) -> None:
    """A global decision threshold must be a finite number in [0, 1] (``nan`` would select no label at all)."""
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"--threshold {threshold}: expected a number from 0 to 1")


def check_positive(flag: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{flag} {value}: expected a whole number of at least 1")


def max_positions(model_dir: str | Path) -> Optional[int]:
    """How many tokens the model folder reads: its position table (RoBERTa-type models keep two for padding
    offsets), within its tokenizer's limit. Read from the folder's JSON files, before any weights load."""
    limits = []
    config = _json_file(Path(model_dir) / "config.json")
    n = config.get("max_position_embeddings")
    if isinstance(n, int) and not isinstance(n, bool):
        limits.append(n - 2 if config.get("model_type") in ("roberta", "xlm-roberta", "camembert", "mpnet") else n)
    n = _json_file(Path(model_dir) / "tokenizer_config.json").get("model_max_length")
    if isinstance(n, int) and not isinstance(n, bool) and 0 < n < 1_000_000:  # "no limit" is stored as a huge number
        limits.append(n)
    return min(limits) if limits else None


def _json_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Predictor:
    """An exported model plus its decision rule."""

    def __init__(self, model_dir: str | Path, threshold: Optional[float] = None, device: str = "cpu",
                 max_length: Optional[int] = None):
        """``max_length`` (tokens per input) defaults to 128, or fewer when the model has fewer positions."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from emopillars.train.export import load_thresholds

        from emopillars.models import require_safetensors

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").exists():
            raise FileNotFoundError(f"{model_dir}: not a model folder (no config.json)")
        check_threshold(threshold)
        if max_length is not None:
            check_positive("--max-length", max_length)
        require_safetensors(model_dir)
        self.rule = {"kind": "global", "global": float(threshold)} if threshold is not None else load_thresholds(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), use_safetensors=True)
        self.model = self.model.to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        config = self.model.config
        positions = max_positions(model_dir)
        if max_length is None:
            max_length = min(DEFAULT_MAX_LENGTH, positions or DEFAULT_MAX_LENGTH)
        elif positions is not None and max_length > positions:
            raise ValueError(f"--max-length {max_length}: expected at most {positions}, the positions of the model in "
                             f"{model_dir}")
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.multi_label = config.problem_type != "single_label_classification"
        meta = getattr(config, "emopillars", None) or {}
        self.contextual = (meta.get("input") or {}).get("variant") == "contextual"
        # Why the model's own tuned rule is too loose to trust (set at training; not when --threshold replaces it).
        self.rule_warning = meta.get("decision_warning") if threshold is None else None
        self.device = device
        self.max_length = max_length
        self.max_positions = positions
        self._torch = torch

    def scores(self, inputs: Sequence[Input], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        from emopillars.train.data import Encoded
        from emopillars.train.trainer import predict_probs

        check_positive("--batch-size", batch_size)
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
