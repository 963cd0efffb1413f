"""The classifier: a BERT encoder, mean pooling over tokens and a small head.

Why not ``BertForSequenceClassification`` as it is: its head reads the [CLS]
token through the pretrained pooler, and all-MiniLM-L6-v2 was trained for
mean-pooled sentence embeddings; from [CLS] it barely learns GoEmotions
(macro-F1 0.13 against 0.47 with mean pooling, see NOTES).

Why the exported model still is a plain ``BertForSequenceClassification``:
mean pooling can be written as one extra transformer layer. In that layer the
query weights are zero, so every position attends uniformly to the non-padding
tokens and the attention output is the (masked) mean of the values; the value
projection is the identity scaled by a large factor, so the residual stream is
drowned and the first LayerNorm returns the standardised mean; the feed-forward
block is zero, so the second LayerNorm applies the head's LayerNorm. Position 0
of that layer is then exactly what the training head computes before its dense
+ tanh, which is what BERT's pooler is. The exported folder therefore loads with
``AutoModelForSequenceClassification`` and ``pipeline(...)`` without custom
code or ``trust_remote_code``, and :func:`load_classifier` turns it back into
the training form (for transfer) by removing the extra layer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal, Optional

import torch
from torch import nn

# The residual stream is 1/FOLD_SCALE of the attention output in the folded layer:
# 1e5 keeps its influence below fp32 resolution of the LayerNorm input.
FOLD_SCALE = 1e5
CONFIG_KEY = "emopillars"


class MeanPoolClassifier(nn.Module):
    """Encoder + masked mean pooling + LayerNorm + dense/tanh + linear classifier.

    ``forward`` returns logits ``[batch, num_labels]``. The head mirrors BERT's
    pooler + classifier so it can be folded into a standard BERT checkpoint.
    """

    def __init__(self, encoder, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.head_norm = nn.LayerNorm(hidden, eps=encoder.config.layer_norm_eps)
        self.head_dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_labels)
        nn.init.normal_(self.head_dense.weight, std=encoder.config.initializer_range)
        nn.init.zeros_(self.head_dense.bias)
        nn.init.normal_(self.classifier.weight, std=encoder.config.initializer_range)
        nn.init.zeros_(self.classifier.bias)
        self.pooling = "mean"

    @property
    def config(self):
        return self.encoder.config

    def head_parameters(self):
        return [*self.head_norm.parameters(), *self.head_dense.parameters(), *self.classifier.parameters()]

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        hidden = out.last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = torch.tanh(self.head_dense(self.head_norm(pooled)))
        return self.classifier(self.dropout(pooled))


class ClsClassifier(nn.Module):
    """``BertForSequenceClassification`` as it is ([CLS] + pooler), with a re-initialised pooler."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.pooling = "cls"
        pooler = model.bert.pooler.dense
        nn.init.normal_(pooler.weight, std=model.config.initializer_range)
        nn.init.zeros_(pooler.bias)

    @property
    def config(self):
        return self.model.config

    def head_parameters(self):
        return [*self.model.bert.pooler.parameters(), *self.model.classifier.parameters()]

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def _bert_config(encoder_dir: str | Path):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(encoder_dir))
    if config.model_type != "bert":
        raise ValueError(f"{encoder_dir}: expected a BERT-family encoder (model_type 'bert'), got {config.model_type!r}")
    return config


def build_classifier(
    encoder_dir: str | Path,
    labels: list[str],
    pooling: Literal["mean", "cls"] = "mean",
    multi_label: bool = True,
):
    """A fresh classifier on top of the encoder weights in ``encoder_dir`` (a BERT folder)."""
    from transformers import BertForSequenceClassification, BertModel

    config = _bert_config(encoder_dir)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.problem_type = "multi_label_classification" if multi_label else "single_label_classification"
    if pooling == "mean":
        encoder = BertModel.from_pretrained(str(encoder_dir), config=config, add_pooling_layer=False)
        model = MeanPoolClassifier(encoder, len(labels), dropout=config.hidden_dropout_prob)
    elif pooling == "cls":
        model = ClsClassifier(BertForSequenceClassification.from_pretrained(str(encoder_dir), config=config))
    else:
        raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
    model.labels = list(labels)
    model.multi_label = multi_label
    return model


def fold_to_bert(model: MeanPoolClassifier):
    """A ``BertForSequenceClassification`` computing the same logits as ``model`` (one extra layer)."""
    from transformers import BertForSequenceClassification

    enc = model.encoder
    config = copy.deepcopy(enc.config)
    n_enc = config.num_hidden_layers
    config.num_hidden_layers = n_enc + 1
    config.architectures = ["BertForSequenceClassification"]
    extra = dict(getattr(config, CONFIG_KEY, None) or {})
    extra.update({"pooling": "mean", "folded_pooling_layer": n_enc})
    setattr(config, CONFIG_KEY, extra)
    bert = BertForSequenceClassification(config)
    state = {f"bert.{k}": v for k, v in enc.state_dict().items()}
    hidden = config.hidden_size
    p = f"bert.encoder.layer.{n_enc}."
    eye = torch.eye(hidden)
    zeros_h = torch.zeros(hidden)
    state.update({
        p + "attention.self.query.weight": torch.zeros(hidden, hidden),
        p + "attention.self.query.bias": zeros_h.clone(),
        p + "attention.self.key.weight": torch.zeros(hidden, hidden),
        p + "attention.self.key.bias": zeros_h.clone(),
        p + "attention.self.value.weight": eye * FOLD_SCALE,
        p + "attention.self.value.bias": zeros_h.clone(),
        p + "attention.output.dense.weight": eye.clone(),
        p + "attention.output.dense.bias": zeros_h.clone(),
        p + "attention.output.LayerNorm.weight": torch.ones(hidden),
        p + "attention.output.LayerNorm.bias": zeros_h.clone(),
        p + "intermediate.dense.weight": torch.zeros(config.intermediate_size, hidden),
        p + "intermediate.dense.bias": torch.zeros(config.intermediate_size),
        p + "output.dense.weight": torch.zeros(hidden, config.intermediate_size),
        p + "output.dense.bias": zeros_h.clone(),
        p + "output.LayerNorm.weight": model.head_norm.weight.detach().clone(),
        p + "output.LayerNorm.bias": model.head_norm.bias.detach().clone(),
        "bert.pooler.dense.weight": model.head_dense.weight.detach().clone(),
        "bert.pooler.dense.bias": model.head_dense.bias.detach().clone(),
        "classifier.weight": model.classifier.weight.detach().clone(),
        "classifier.bias": model.classifier.bias.detach().clone(),
    })
    missing, unexpected = bert.load_state_dict(state, strict=False)
    # Only buffers (position ids) may be left to their defaults.
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise RuntimeError(f"folding the head into BERT failed: missing {missing}, unexpected {unexpected}")
    bert.eval()
    return bert


def unfold_from_bert(bert, dropout: Optional[float] = None) -> MeanPoolClassifier:
    """Inverse of :func:`fold_to_bert`: the training form of an exported mean-pooling model."""
    from transformers import BertModel

    config = copy.deepcopy(bert.config)
    extra = getattr(config, CONFIG_KEY, None) or {}
    n_enc = extra.get("folded_pooling_layer")
    if n_enc is None:
        raise ValueError("this model has no folded mean-pooling layer")
    config.num_hidden_layers = n_enc
    encoder = BertModel(config, add_pooling_layer=False)
    sd = bert.state_dict()
    enc_state = {}
    for k, v in sd.items():
        if not k.startswith("bert.") or k.startswith("bert.pooler."):
            continue
        name = k[len("bert."):]
        if name.startswith(f"encoder.layer.{n_enc}."):
            continue
        enc_state[name] = v
    encoder.load_state_dict(enc_state, strict=False)
    model = MeanPoolClassifier(encoder, config.num_labels, dropout=config.hidden_dropout_prob if dropout is None else dropout)
    p = f"bert.encoder.layer.{n_enc}.output.LayerNorm."
    with torch.no_grad():
        model.head_norm.weight.copy_(sd[p + "weight"])
        model.head_norm.bias.copy_(sd[p + "bias"])
        model.head_dense.weight.copy_(sd["bert.pooler.dense.weight"])
        model.head_dense.bias.copy_(sd["bert.pooler.dense.bias"])
        model.classifier.weight.copy_(sd["classifier.weight"])
        model.classifier.bias.copy_(sd["classifier.bias"])
    return model


def export_model(model, labels: list[str]):
    """The standard ``BertForSequenceClassification`` to save for ``model`` (either pooling)."""
    if isinstance(model, MeanPoolClassifier):
        bert = fold_to_bert(model)
    else:
        bert = copy.deepcopy(model.model)
        extra = dict(getattr(bert.config, CONFIG_KEY, None) or {})
        extra["pooling"] = "cls"
        setattr(bert.config, CONFIG_KEY, extra)
    bert.config.id2label = dict(enumerate(labels))
    bert.config.label2id = {label: i for i, label in enumerate(labels)}
    return bert


def load_classifier(model_dir: str | Path):
    """Load an exported classifier folder in its training form (for further fine-tuning)."""
    from transformers import BertForSequenceClassification

    bert = BertForSequenceClassification.from_pretrained(str(model_dir))
    extra = getattr(bert.config, CONFIG_KEY, None) or {}
    if extra.get("folded_pooling_layer") is not None:
        model = unfold_from_bert(bert)
    else:
        model = ClsClassifier.__new__(ClsClassifier)
        nn.Module.__init__(model)
        model.model = bert
        model.pooling = "cls"
    model.labels = [bert.config.id2label[i] for i in range(bert.config.num_labels)]
    model.multi_label = bert.config.problem_type != "single_label_classification"
    return model


def classifier_layer(model) -> nn.Linear:
    return model.classifier if isinstance(model, MeanPoolClassifier) else model.model.classifier


def init_bias_from_prior(model, targets) -> None:
    """Start each output at its training prevalence (log-odds; log-prior for softmax).

    With rare classes and a zero bias, the first hundreds of steps go into
    pushing every logit down, and with a small learning rate the cheapest way
    there is to make the encoder output constant: the model collapses to the
    base rate and does not recover. Starting at the prior avoids that.
    """
    import numpy as np

    prevalence = np.clip(np.asarray(targets, dtype=np.float64).mean(0), 1e-4, 1 - 1e-4)
    if model.multi_label:
        bias = np.log(prevalence / (1 - prevalence))
    else:
        bias = np.log(prevalence / prevalence.sum())
    with torch.no_grad():
        classifier_layer(model).bias.copy_(torch.tensor(bias, dtype=torch.float32))


def replace_head(model, labels: list[str], multi_label: bool):
    """Give ``model`` a new, randomly initialised classifier for ``labels`` (the encoder is kept)."""
    hidden = model.config.hidden_size
    new = nn.Linear(hidden, len(labels))
    nn.init.normal_(new.weight, std=model.config.initializer_range)
    nn.init.zeros_(new.bias)
    if isinstance(model, MeanPoolClassifier):
        model.classifier = new
        config = model.encoder.config
    else:
        model.model.classifier = new
        model.model.num_labels = len(labels)
        config = model.model.config
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.problem_type = "multi_label_classification" if multi_label else "single_label_classification"
    model.labels = list(labels)
    model.multi_label = multi_label
    return model
