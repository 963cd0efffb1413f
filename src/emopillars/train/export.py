"""Write a trained classifier as a self-contained Hugging Face folder.

The folder holds the encoder family's standard ``XForSequenceClassification``
(``BertForSequenceClassification``, ``RobertaForSequenceClassification``, ...;
safetensors), the tokenizer, ``thresholds.json`` (the decision rule tuned on
dev; also copied into ``config.json`` under ``emopillars``) and a model card
``README.md``. Before the folder is moved into place it is reloaded with
``AutoModelForSequenceClassification`` and compared with the trained model on a
probe batch; a folder whose logits differ is never written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from emopillars.io import atomic_path
from emopillars.train.modeling import CONFIG_KEY, EXPORT_TOLERANCE, export_model, verify_export

THRESHOLDS_FILE = "thresholds.json"
# model_card() leaves this line where save_classifier() writes what the saved model is.
ARCHITECTURE_MARKER = "<!-- emopillars:architecture -->"


def save_classifier(model, tokenizer, out_dir: str | Path, labels: Sequence[str], rule: dict,
                    input_format: dict, card: str, extra: Optional[dict] = None) -> Path:
    """Save ``model`` (training form) to ``out_dir`` atomically; returns the folder.

    Raises ``RuntimeError`` (and leaves ``out_dir`` untouched) when the saved model, reloaded
    with ``AutoModelForSequenceClassification``, gives other logits than ``model``.
    """
    hf = export_model(model, list(labels), tokenizer)
    meta = dict(getattr(hf.config, CONFIG_KEY, None) or {})
    meta.update({"thresholds": rule, "input": input_format, **(extra or {})})
    setattr(hf.config, CONFIG_KEY, meta)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        hf.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / THRESHOLDS_FILE).write_text(json.dumps({"labels": list(labels), **rule}, indent=2) + "\n")
        (tmp / "README.md").write_text(with_architecture(card, hf), encoding="utf-8")
        reloaded = verify_export(model, tmp, tokenizer)
        config_path = tmp / "config.json"
        config = json.loads(config_path.read_text())
        config[CONFIG_KEY]["export_check"]["reloaded_max_abs_logit_diff"] = reloaded
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return Path(out_dir)


def architecture_text(hf) -> str:
    """What the exported model is, in a sentence or two: its class and how it pools."""
    name = type(hf).__name__
    meta = getattr(hf.config, CONFIG_KEY, None) or {}
    check = meta.get("export_check") or {}
    checked = (f" Its logits match the trained model's within {check['max_abs_logit_diff']:.1e} (fp32; "
               f"tolerance {check.get('tolerance', EXPORT_TOLERANCE):g})." if "max_abs_logit_diff" in check else "")
    if meta.get("folded_pooling_layer") is not None:
        return (f"The model is a standard `{name}`; mean pooling over tokens is computed by its last encoder layer "
                f"(uniform attention over non-padding tokens), so no custom code is needed to load it.{checked}")
    return f"The model is a standard `{name}` (first-token pooling through its own head).{checked}"


def with_architecture(card: str, hf) -> str:
    """``card`` with :func:`architecture_text` in place of its marker line (or as a last section)."""
    text = architecture_text(hf)
    if ARCHITECTURE_MARKER in card:
        return card.replace(ARCHITECTURE_MARKER, text)
    return card.rstrip("\n") + "\n\n## Architecture\n" + text + "\n"


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


EXACT_MATCH_NOTE = ("Exact-match accuracy counts a text as right only when its predicted label set equals its gold "
                    "set exactly: one missing or extra label among the {n} makes it wrong, so it is low (often 0) for "
                    "a multi-label model and says little; read the F1 scores.")


def _metric_name(key: str, multi_label: bool) -> str:
    return "exact-match accuracy (see below)" if key == "accuracy" and multi_label else key


def model_card(name: str, base_encoder: str, training_data: str, input_desc: str, labels: Sequence[str],
               metrics: dict, rule: dict, train_info: dict, limits: Sequence[str] = (),
               summary: Optional[str] = None, good_for: Optional[str] = None, warning: Optional[str] = None,
               labels_per_example: Optional[tuple[float, float]] = None) -> str:
    """A model card in Markdown: what the model is good for, data, metrics with intervals, intended use, limits.

    ``base_encoder`` is the base model's name, or its folder (then named by :func:`encoder_id`).
    ``summary`` is the card's first sentence (default: a multi-label classifier over the 28 classes);
    ``good_for`` says in a sentence or two what the model is fit for; ``warning`` (a loose decision rule, see
    :func:`emopillars.eval.thresholds.loose_rule_warning`) is shown under the summary and the thresholds;
    ``labels_per_example`` is ``(predicted, gold)`` per test example.
    """
    from emopillars.train.encoder import encoder_id

    origin = ""
    if Path(base_encoder).is_dir():
        base_encoder, origin = encoder_id(base_encoder)
    multi_label = rule.get("kind") != "argmax"
    warning_lines = (["", f"> **Warning: the decision rule is loose.** {warning[0].upper()}{warning[1:]}."]
                     if warning else [])
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        f"tags: [emotion, {'multi-label' if multi_label else 'single-label'}, emopillars]",
        "---",
        f"# {name}",
        "",
        summary or f"Multi-label emotion classifier over the {len(labels)} GoEmotions classes, fine-tuned from "
        f"`{base_encoder}`.",
        *warning_lines,
        "",
        "## What it is good for",
        good_for or ("Ranking the emotions of an English text by score, and as an initialisation for fine-tuning on "
                     "an emotion benchmark. Which labels it predicts depends on the decision thresholds below."),
        "",
        "## Base model",
        f"`{base_encoder}`" + (f" ({origin})" if origin else ""),
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
        f"clf = pipeline(\"text-classification\", model=\"PATH/TO/{name}\", top_k=None, "
        f"function_to_apply=\"{'sigmoid' if multi_label else 'softmax'}\")",
        "clf(\"I can't believe you did this for me!\")",
        "```",
        "or `emopillars predict --model PATH --text \"...\"`, which applies the thresholds below.",
        "",
        ARCHITECTURE_MARKER,
        "",
        "## Decision thresholds",
        (f"Tuned on the dev split only (rule: `{rule.get('kind')}`, global threshold {rule.get('global')}); "
         "per-class values in `thresholds.json`." + (f" **Warning:** {warning}." if warning else "")
         if multi_label else
         "None: one label per text, the one with the highest score (rule: `argmax`, softmax over the labels)."),
        "",
        "## Metrics (test split, 95% bootstrap interval)",
        "| metric | value |",
        "|---|---|",
    ]
    for key, m in metrics.items():
        lines.append(f"| {_metric_name(key, multi_label)} | {_fmt(m)} |")
    if labels_per_example is not None:
        lines += ["", f"Labels per test example: {labels_per_example[0]:.2f} predicted, {labels_per_example[1]:.2f} "
                      "in the gold labels."]
    if multi_label and "accuracy" in metrics:
        lines += ["", EXACT_MATCH_NOTE.format(n=len(labels))]
    lines += ["", "## Training", "```json", json.dumps(train_info, indent=2, default=str), "```", "",
              "## Intended use and limits",
              "Research on emotion recognition and as an initialisation for fine-tuning on emotion benchmarks. "
              "Not for decisions about individuals (clinical, hiring, moderation without review)."]
    lines += [f"- {x}" for x in limits]
    return "\n".join(lines) + "\n"
