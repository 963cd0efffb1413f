"""Write a trained classifier as a self-contained Hugging Face folder.

The folder holds a standard ``BertForSequenceClassification`` (safetensors),
the tokenizer, ``thresholds.json`` (the decision rule tuned on dev; also copied
into ``config.json`` under ``emopillars``) and a model card ``README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from emopillars.io import atomic_path
from emopillars.train.modeling import CONFIG_KEY, export_model

THRESHOLDS_FILE = "thresholds.json"


def save_classifier(model, tokenizer, out_dir: str | Path, labels: Sequence[str], rule: dict,
                    input_format: dict, card: str, extra: Optional[dict] = None) -> Path:
    """Save ``model`` (training form) to ``out_dir`` atomically; returns the folder."""
    bert = export_model(model, list(labels))
    meta = dict(getattr(bert.config, CONFIG_KEY, None) or {})
    meta.update({"thresholds": rule, "input": input_format, **(extra or {})})
    setattr(bert.config, CONFIG_KEY, meta)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        bert.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / THRESHOLDS_FILE).write_text(json.dumps({"labels": list(labels), **rule}, indent=2) + "\n")
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return Path(out_dir)


def load_thresholds(model_dir: str | Path) -> dict:
    """The decision rule of an exported model; a clear error when there is none."""
    model_dir = Path(model_dir)
    path = model_dir / THRESHOLDS_FILE
    if path.exists():
        return json.loads(path.read_text())
    config = model_dir / "config.json"
    if config.exists():
        meta = json.loads(config.read_text()).get(CONFIG_KEY) or {}
        if meta.get("thresholds"):
            return meta["thresholds"]
    raise ValueError(f"{model_dir}: no decision thresholds (expected {THRESHOLDS_FILE} or 'emopillars.thresholds' in "
                     "config.json); this folder was not exported by emopillars. Pass --threshold to choose one.")


def _fmt(m: dict) -> str:
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def model_card(name: str, base_encoder: str, training_data: str, input_desc: str, labels: Sequence[str],
               metrics: dict, rule: dict, train_info: dict, limits: Sequence[str] = ()) -> str:
    """A model card in Markdown: data, metrics with intervals, intended use, limits."""
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags: [emotion, multi-label, emopillars]",
        "---",
        f"# {name}",
        "",
        f"Multi-label emotion classifier over the {len(labels)} GoEmotions classes, fine-tuned from `{base_encoder}`.",
        "",
        "## Training data",
        training_data,
        "",
        "## Input",
        input_desc,
        "",
        "## Use",
        "```python",
        "from transformers import pipeline",
        f"clf = pipeline(\"text-classification\", model=\"PATH/TO/{name}\", top_k=None, function_to_apply=\"sigmoid\")",
        "clf(\"I can't believe you did this for me!\")",
        "```",
        "or `emopillars predict --model PATH --text \"...\"`, which applies the thresholds below.",
        "",
        "The model is a standard `BertForSequenceClassification`; mean pooling over tokens is computed by its last",
        "encoder layer (uniform attention over non-padding tokens), so no custom code is needed to load it.",
        "",
        "## Decision thresholds",
        f"Tuned on the dev split only (rule: `{rule.get('kind')}`, global threshold {rule.get('global')}); "
        "per-class values in `thresholds.json`.",
        "",
        "## Metrics (test split, 95% bootstrap interval)",
        "| metric | value |",
        "|---|---|",
    ]
    for key, m in metrics.items():
        lines.append(f"| {key} | {_fmt(m)} |")
    lines += ["", "## Training", "```json", json.dumps(train_info, indent=2, default=str), "```", "",
              "## Intended use and limits",
              "Research on emotion recognition and as an initialisation for fine-tuning on emotion benchmarks. "
              "Not for decisions about individuals (clinical, hiring, moderation without review)."]
    lines += [f"- {x}" for x in limits]
    return "\n".join(lines) + "\n"
