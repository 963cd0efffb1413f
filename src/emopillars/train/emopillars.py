"""Train an Emo Pillars model on a synthetic (or released) dataset and export it.

``train_emopillars`` reads ``train/dev/test.jsonl`` of one variant, fine-tunes
the encoder over the 28 classes, tunes thresholds on dev, scores test with
bootstrap intervals and writes the exported model folder. It returns the
metrics record and the training history (for the curves).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from emopillars.contracts.evaluation import TrainRecord
from emopillars.eval.evaluate import apply_rule, decide, evaluate_scores, evaluation_fields
from emopillars.eval.thresholds import loose_rule_warning
from emopillars.taxonomy import EMOTIONS
from emopillars.train.data import Encoded, synthetic_examples
from emopillars.train.distributed import is_main_process
from emopillars.train.export import model_card, save_classifier
from emopillars.train.modeling import build_classifier
from emopillars.train.trainer import TrainConfig, predict_probs, set_seed, train_classifier

INPUT_FORMATS = {
    "contextless": {"text": "utterance", "text_pair": None},
    "contextual": {"text": "utterance",
                   "text_pair": "'<character>: <character description> | <context>' (second segment, truncated first)"},
}


# Below this many training utterances the card says the model only shows that the pipeline runs.
FEW_TRAINING_EXAMPLES = 1000


def rule_threshold(rule: dict) -> float:
    """The threshold a multi-label rule mostly applies: its global one, or the median of its per-class ones."""
    if rule.get("kind") == "per_class" and rule.get("per_class"):
        return float(np.median(rule["per_class"]))
    return float(rule["global"])


def split_files(data_dir: str | Path) -> dict[str, Path]:
    """``{split: path}`` of a dataset folder; a missing split raises naming the folder."""
    data_dir = Path(data_dir)
    files = {s: data_dir / f"{s}.jsonl" for s in ("train", "dev", "test")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{data_dir}: missing {', '.join(missing)}; expected train.jsonl, dev.jsonl and "
                                "test.jsonl (the curate stage's output, or the released Emo Pillars data)")
    return files


def train_emopillars(variant: Literal["contextless", "contextual"], data_dir: str | Path, encoder_dir: str | Path,
                     train_params, eval_params, out_dir: str | Path, progress: bool = True,
                     data_label: Optional[str] = None) -> tuple[TrainRecord, list[dict]]:
    """Fine-tune, evaluate and export one Emo Pillars model; returns ``(metrics record, history)``.

    Under data-parallel training every process trains and scores; only the main one exports.
    """
    from transformers import AutoTokenizer

    files = split_files(data_dir)
    splits = {s: synthetic_examples(f, variant, train_params.targets) for s, f in files.items()}
    train = splits["train"]
    if train_params.max_train_examples and len(train) > train_params.max_train_examples:
        rng = np.random.default_rng(train_params.seed)
        train = [train[i] for i in sorted(rng.choice(len(train), train_params.max_train_examples, replace=False))]
    if not train or not splits["dev"] or not splits["test"]:
        raise ValueError(f"{data_dir}: every split needs examples (train {len(train)}, dev {len(splits['dev'])}, "
                         f"test {len(splits['test'])})")
    labels = list(EMOTIONS)
    origin = "released" if getattr(train_params, "source", "synthetic") == "released" else "synthetic"
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    set_seed(train_params.seed)  # the new head's initial weights are drawn here: the same on every run
    model = build_classifier(encoder_dir, labels, train_params.pooling, multi_label=True)
    cfg = TrainConfig.from_params(train_params, progress=progress)
    result = train_classifier(model, tokenizer, train, splits["dev"], cfg)

    dev_gold = np.stack([e.target for e in splits["dev"]]) >= 0.5
    test_gold = np.stack([e.target for e in splits["test"]]) >= 0.5
    dev_probs = result.best_dev_probs
    test_probs = predict_probs(model, Encoded(tokenizer, splits["test"], cfg.max_length),
                               mixed_precision=cfg.mixed_precision)
    rule = decide(dev_probs, dev_gold, True, eval_params.threshold_mode)
    dev_pred = apply_rule(dev_probs, rule)
    warning = loose_rule_warning(rule_threshold(rule), dev_pred, dev_gold)
    record = evaluate_scores(test_probs, test_gold, labels, True, rule, "macro_f1", eval_params.bootstrap_samples,
                             eval_params.confidence, eval_params.seed)
    record = TrainRecord(
        model=f"emopillars-{variant}",
        variant=variant,
        data=str(data_label or data_dir),
        targets=train_params.targets,
        protocol=(f"fine-tuned on the {origin} train split (targets: "
                  f"{'soft all_emotions_mapped scores' if train_params.targets == 'soft' else 'hard labels'}); "
                  "checkpoint chosen on dev macro-F1; thresholds tuned on dev only; test labels are the hard "
                  "labels; 95% percentile bootstrap over test examples"),
        n_train=len(train), n_dev=len(splits["dev"]),
        input=INPUT_FORMATS[variant],
        best_dev=result.best_dev,
        train_seconds=round(result.seconds, 2),
        train_samples_per_s=round(result.train_samples_per_s, 2),
        steps=result.steps,
        dev_labels_per_example=round(float(dev_pred.sum(1).mean()), 4),
        dev_gold_labels_per_example=round(float(dev_gold.sum(1).mean()), 4),
        decision_warning=warning,
        **evaluation_fields(record),
    )
    if warning and is_main_process():
        print(f"train {variant}: warning: {warning}", file=sys.stderr, flush=True)
    small = len(train) < FEW_TRAINING_EXAMPLES
    good_for = (f"Trained on only {len(train)} utterances, this model shows that the pipeline runs end to end; it is "
                "not a usable emotion classifier. Trained on a full dataset, it is for: " if small else "") + (
        "scoring English utterances" + (" in their narrative context (speaker and preceding text)"
                                        if variant == "contextual" else "") +
        " for the 28 GoEmotions emotions, and initialising a classifier fine-tuned on an emotion benchmark (the "
        "transfer results). The scores rank the emotions of a text; which labels are predicted depends on the "
        "decision threshold below.")
    good_for = good_for[0].upper() + good_for[1:]
    card = model_card(
        f"emopillars-{variant}", str(encoder_dir),
        f"Emo Pillars {origin} {variant} data ({len(train)} training utterances from `{data_label or data_dir}`), "
        "generated by an LLM from narrative passages, characters and target emotions, and labelled over the 28 "
        f"GoEmotions classes ({'soft scores' if train_params.targets == 'soft' else 'hard labels'} as targets).",
        "The utterance as the first segment" + ("" if variant == "contextless" else
            "; the character and its description, then the context, as the second segment (truncated first)") + ".",
        labels, {k: v.model_dump() for k, v in record.metrics.items()}, rule,
        {"epochs": cfg.epochs, "learning_rate": cfg.learning_rate, "head_lr_multiplier": cfg.head_lr_multiplier,
         "batch_size": cfg.batch_size, "max_length": cfg.max_length, "pooling": train_params.pooling,
         "seed": cfg.seed, "n_train": len(train), "steps": result.steps},
        limits=[("Trained on the released Emo Pillars data (Mistral-7B-Instruct-v0.2 generations): expect its style "
                 "and its errors." if origin == "released" else
                 "Trained on synthetic text from a small generator: expect its style and its errors."),
                f"Metrics are on the {origin} test split; real-data figures are in the transfer results.",
                "English only."],
        good_for=good_for, warning=warning, labels_per_example=(record.labels_per_example,
                                                                record.gold_labels_per_example))
    if is_main_process():
        save_classifier(model, tokenizer, out_dir, labels, rule, {"variant": variant, **INPUT_FORMATS[variant]}, card,
                        extra={"metrics": {k: v.value for k, v in record.metrics.items()},
                               "decision_warning": warning})
    return record, result.history
