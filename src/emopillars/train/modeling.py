"""The classifier: an encoder of any supported family, mean or [CLS] pooling, and a small head.

Two poolings (``train.pooling``):

``cls``
    The family's own ``AutoModelForSequenceClassification`` (first token +
    its head), trained as it is; BERT's pretrained pooler is re-initialised.
    The export is that model.

``mean``
    Masked mean over tokens -> LayerNorm -> dense -> the family's head
    activation -> dropout -> linear (:class:`MeanPoolClassifier`). all-MiniLM-L6-v2
    was trained for mean-pooled sentence embeddings; from [CLS] it barely
    learns GoEmotions (macro-F1 0.13 against 0.47 with mean pooling, see NOTES).

Why a mean-pooling model still exports as the family's plain
``XForSequenceClassification``: mean pooling can be written as one extra
transformer layer. In that layer the query and key weights are zero, so every
position attends uniformly to the non-padding tokens and the attention output
is the (masked) mean of the values. The residual stream must not reach the
LayerNorm that follows, so it is drowned: the last encoder layer's output
LayerNorm is scaled down by :data:`RESIDUAL_SCALE`, and the value projection
and attention output dense are the identity times :data:`VALUE_SCALE` and
:data:`OUTPUT_SCALE`, so the mean arrives ``VALUE_SCALE * OUTPUT_SCALE`` (1e7)
times larger than the residual while every weight and activation stays inside
fp16's range. The first LayerNorm then returns the standardised mean; the
feed-forward block is zero, so the second LayerNorm applies the head's
LayerNorm. Position 0 of that layer is what the training head computes before
its dense + activation, which is what the family's sequence-classification
head reads. The exported folder loads with ``AutoModelForSequenceClassification``
and ``pipeline(...)`` without custom code or ``trust_remote_code`` and runs in
fp32, bf16 or fp16; :func:`load_classifier` turns it back into the training
form (for transfer) by removing the extra layer and undoing the scaling.

The trick needs attention scores that are exactly zero when queries and keys
are: true for BERT, RoBERTa, XLM-RoBERTa, ELECTRA and DeBERTa-v2/v3 (whose
relative-position terms are products with the zero queries and keys), not for
MPNet, which adds a learned relative-position bias to every score. Families
outside :data:`FOLDABLE` train with ``cls`` pooling only (:func:`check_pooling`).

Every export is checked: the training form and the exported model run on a
probe batch (fp32, eval) and an export whose logits differ by more than
:data:`EXPORT_TOLERANCE` is refused; the measured difference is kept in the
config under ``emopillars.export_check``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
from torch import nn

# In the folded layer the residual is 1/(VALUE_SCALE * OUTPUT_SCALE) of the mean, at fp32 resolution of the
# LayerNorm input; weights (<= 1e4) and activations (hidden states * 1e-4, the mean * 1e3) stay in fp16 range.
RESIDUAL_SCALE = 1e-4
VALUE_SCALE = 1e4
OUTPUT_SCALE = 1e3
# The head's LayerNorm: an epsilon far below the variance of a pooled vector, which the folded layer reproduces
# (its first LayerNorm sees the mean scaled up, which makes its own epsilon vanish).
HEAD_NORM_EPS = 1e-12
EXPORT_TOLERANCE = 1e-4
PROBE_LENGTHS = (3, 6, 11, 17)
CONFIG_KEY = "emopillars"
POOLINGS = ("mean", "cls")


@dataclass(frozen=True)
class Family:
    """Where a family's ``XForSequenceClassification`` keeps the head that the folded mean pooling feeds."""

    head_dense: str  # state-dict prefix of the dense layer applied to position 0
    classifier: str  # state-dict prefix of the final linear layer
    activation: str  # ACT2FN name, or "config:<attribute>" to read it from the config

    def activation_name(self, config) -> str:
        if self.activation.startswith("config:"):
            return getattr(config, self.activation.split(":", 1)[1])
        return self.activation


_ROBERTA_HEAD = Family("classifier.dense", "classifier.out_proj", "tanh")
FOLDABLE: dict[str, Family] = {
    "bert": Family("bert.pooler.dense", "classifier", "tanh"),
    "roberta": _ROBERTA_HEAD,
    "xlm-roberta": _ROBERTA_HEAD,
    "deberta-v2": Family("pooler.dense", "classifier", "config:pooler_hidden_act"),
    "electra": Family("classifier.dense", "classifier.out_proj", "gelu"),
}
# The final linear layer of the [CLS] heads of families that cannot fold mean pooling.
CLS_CLASSIFIER = {"mpnet": "classifier.out_proj"}
NOT_FOLDABLE_WHY = {
    "mpnet": ("MPNet adds a relative-position bias, shared by all layers, to every attention score, so no extra "
              "layer can attend uniformly and mean pooling cannot be exported exactly"),
}


# --------------------------------------------------------------------------- which pooling a family supports
def pooling_problem(config, pooling: str) -> Optional[str]:
    """Why ``pooling`` cannot be trained and exported for this encoder config (None when it can)."""
    if pooling not in POOLINGS:
        return f"pooling must be one of {', '.join(map(repr, POOLINGS))}, got {pooling!r}"
    family = config.model_type
    if pooling == "mean" and family not in FOLDABLE:
        why = NOT_FOLDABLE_WHY.get(family, f"mean pooling is exported by folding it into an extra layer, which is "
                                           f"implemented for {', '.join(sorted(FOLDABLE))} only")
        return f"encoder family {family!r} cannot use train.pooling: mean ({why}); use train.pooling: cls"
    return None


def check_pooling(encoder_dir: str | Path, pooling: str) -> str:
    """Raise ``ValueError`` when ``pooling`` cannot be used with the encoder in ``encoder_dir``; returns its family.

    Reads only ``config.json`` (no weights), so a stage can refuse before it loads or trains anything.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(encoder_dir))
    problem = pooling_problem(config, pooling)
    if problem:
        raise ValueError(f"{encoder_dir}: {problem}")
    return config.model_type


def _family(config) -> Family:
    problem = pooling_problem(config, "mean")
    if problem:
        raise ValueError(problem)
    return FOLDABLE[config.model_type]


# --------------------------------------------------------------------------- small helpers
def _base_model_class(config):
    from transformers import MODEL_MAPPING

    return MODEL_MAPPING[type(config)]


def _without_pooler(config) -> dict:
    """Keyword arguments that build the family's base model without its pooler (where it has one)."""
    params = inspect.signature(_base_model_class(config).__init__).parameters
    return {"add_pooling_layer": False} if "add_pooling_layer" in params else {}


def _takes_token_types(module) -> bool:
    return "token_type_ids" in inspect.signature(module.forward).parameters


def _head_dropout(config) -> float:
    for name in ("classifier_dropout", "cls_dropout"):
        value = getattr(config, name, None)
        if value is not None:
            return float(value)
    return float(config.hidden_dropout_prob)


def _set_labels(config, labels: Sequence[str], multi_label: bool) -> None:
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.problem_type = "multi_label_classification" if multi_label else "single_label_classification"


def _meta(config) -> dict:
    return dict(getattr(config, CONFIG_KEY, None) or {})


def _cpu_state(module) -> dict:
    return {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).clone()
            for k, v in module.state_dict().items()}


def _load_exact(module, state: dict, what: str) -> None:
    """``load_state_dict`` that accepts nothing missing, nothing extra and no shape change."""
    target = module.state_dict()
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    reshaped = sorted(k for k in set(target) & set(state) if tuple(target[k].shape) != tuple(state[k].shape))
    if missing or unexpected or reshaped:
        raise RuntimeError(f"{what}: state dict mismatch (missing {missing}, unexpected {unexpected}, "
                           f"shape changed {reshaped})")
    module.load_state_dict(state, strict=True)


# --------------------------------------------------------------------------- the two training forms
class MeanPoolClassifier(nn.Module):
    """Encoder + masked mean pooling + LayerNorm + dense/activation + dropout + linear classifier.

    ``forward`` returns logits ``[batch, num_labels]``. The head mirrors the
    family's sequence-classification head so it folds into a standard checkpoint.
    """

    def __init__(self, encoder, num_labels: int, dropout: float = 0.1, activation: str = "tanh"):
        from transformers.activations import ACT2FN

        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.head_norm = nn.LayerNorm(hidden, eps=HEAD_NORM_EPS)
        self.head_dense = nn.Linear(hidden, hidden)
        self.activation_name = activation
        self.activation = ACT2FN[activation]
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_labels)
        nn.init.normal_(self.head_dense.weight, std=encoder.config.initializer_range)
        nn.init.zeros_(self.head_dense.bias)
        nn.init.normal_(self.classifier.weight, std=encoder.config.initializer_range)
        nn.init.zeros_(self.classifier.bias)
        self.pooling = "mean"
        self._token_types = _takes_token_types(encoder)

    @property
    def config(self):
        return self.encoder.config

    def head_parameters(self):
        return [*self.head_norm.parameters(), *self.head_dense.parameters(), *self.classifier.parameters()]

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = {"token_type_ids": token_type_ids} if self._token_types and token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = self.activation(self.head_dense(self.head_norm(pooled)))
        return self.classifier(self.dropout(pooled))


class ClsClassifier(nn.Module):
    """The family's ``XForSequenceClassification`` as it is (first token + its head).

    With ``reinit_pooler`` a pretrained pooler inside the base model (BERT's,
    trained for next-sentence prediction) starts from random weights like the rest of the head.
    """

    def __init__(self, model, reinit_pooler: bool = True):
        super().__init__()
        self.model = model
        self.pooling = "cls"
        self._token_types = _takes_token_types(model)
        pooler = getattr(model.base_model, "pooler", None)
        if reinit_pooler and pooler is not None and isinstance(getattr(pooler, "dense", None), nn.Linear):
            nn.init.normal_(pooler.dense.weight, std=model.config.initializer_range)
            nn.init.zeros_(pooler.dense.bias)

    @property
    def config(self):
        return self.model.config

    def head_parameters(self):
        prefix = self.model.base_model_prefix + "."
        return [p for name, p in self.model.named_parameters()
                if not name.startswith(prefix) or name.startswith(prefix + "pooler.")]

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = {"token_type_ids": token_type_ids} if self._token_types and token_type_ids is not None else {}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).logits


def build_classifier(
    encoder_dir: str | Path,
    labels: list[str],
    pooling: Literal["mean", "cls"] = "mean",
    multi_label: bool = True,
):
    """A fresh classifier on top of the encoder weights in ``encoder_dir`` (any family :func:`check_pooling` allows)."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(str(encoder_dir))
    problem = pooling_problem(config, pooling)
    if problem:
        raise ValueError(f"{encoder_dir}: {problem}")
    _set_labels(config, labels, multi_label)
    if pooling == "mean":
        family = FOLDABLE[config.model_type]
        encoder = AutoModel.from_pretrained(str(encoder_dir), config=config, dtype=torch.float32, use_safetensors=True,
                                            **_without_pooler(config))
        model = MeanPoolClassifier(encoder, len(labels), dropout=_head_dropout(config),
                                   activation=family.activation_name(config))
    else:
        hf = AutoModelForSequenceClassification.from_pretrained(str(encoder_dir), config=config, dtype=torch.float32,
                                                                use_safetensors=True)
        model = ClsClassifier(hf)
    model.labels = list(labels)
    model.multi_label = multi_label
    return model


# --------------------------------------------------------------------------- probe batch and logit comparison
def _special_id(names: Sequence[str], *sources) -> Optional[int]:
    for source in sources:
        if source is None:
            continue
        for name in names:
            value = getattr(source, name, None)
            if isinstance(value, int) and value >= 0:
                return value
    return None


def probe_batch(config, tokenizer=None, lengths: Sequence[int] = PROBE_LENGTHS, seed: int = 0) -> dict:
    """Random token ids framed by the model's special tokens, right-padded to the longest row.

    Rows have different lengths (so padding is exercised); with two or more token types the
    longest row's second half is segment 1, like a text pair.
    """
    first = _special_id(("cls_token_id", "bos_token_id"), tokenizer, config)
    last = _special_id(("sep_token_id", "eos_token_id"), tokenizer, config)
    pad = _special_id(("pad_token_id",), tokenizer, config)
    pad = 0 if pad is None else pad
    specials = {x for x in (first, last, pad) if x is not None}
    specials |= {int(x) for x in (getattr(tokenizer, "all_special_ids", None) or [])}
    pool = torch.tensor([i for i in range(config.vocab_size) if i not in specials])
    # RoBERTa-style positions start after the padding index: keep clear of the last position embeddings.
    limit = max(3, config.max_position_embeddings - pad - 2)
    lengths = [min(n, limit) for n in lengths]
    width = max(lengths)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.full((len(lengths), width), pad, dtype=torch.long)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    types = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, n in enumerate(lengths):
        tokens = pool[torch.randint(len(pool), (n,), generator=gen)]
        if first is not None:
            tokens[0] = first
        if last is not None:
            tokens[n - 1] = last
        ids[row, :n] = tokens
        mask[row, :n] = 1
    if (getattr(config, "type_vocab_size", 0) or 0) >= 2:
        row = lengths.index(width)
        types[row, width // 2:width] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


@contextlib.contextmanager
def _fp32_eval_on_cpu(module):
    """``module`` in eval mode, fp32, on the CPU for the duration (then put back as it was)."""
    param = next(module.parameters())
    device, dtype, training = param.device, param.dtype, module.training
    module.to("cpu", torch.float32).eval()
    try:
        yield module
    finally:
        module.to(device, dtype).train(training)


def _hf_logits(hf, batch: dict) -> torch.Tensor:
    kwargs = {k: v for k, v in batch.items() if k != "token_type_ids" or _takes_token_types(hf)}
    return hf(**kwargs).logits


@torch.no_grad()
def max_logit_diff(model, hf, batch: dict) -> float:
    """Largest absolute difference between the training form's and the exported model's logits on ``batch``."""
    with _fp32_eval_on_cpu(model), _fp32_eval_on_cpu(hf):
        ours = model(**batch)
        theirs = _hf_logits(hf, batch)
    return float((ours - theirs).abs().max())


def _checked(model, hf, tokenizer, what: str) -> float:
    diff = max_logit_diff(model, hf, probe_batch(hf.config, tokenizer))
    if not math.isfinite(diff) or diff > EXPORT_TOLERANCE:
        raise RuntimeError(f"{what}: the {type(hf).__name__} computes other logits than the trained model "
                           f"(max abs difference {diff:.3g} > {EXPORT_TOLERANCE:g} on a probe batch); not saved")
    return diff


# --------------------------------------------------------------------------- folding mean pooling into a layer
def _extra_layer_state(layer_state: dict, head_norm: nn.LayerNorm, eps: float, family: str) -> dict:
    """Parameters of the uniform-attention layer, set by name: everything zero but four roles.

    ``layer_state`` maps names inside the layer (``attention.self.value.weight``, ...) to tensors of the right shapes.
    """
    roles = {
        "value": re.compile(r"^attention\.self\.value(_proj)?\.weight$"),
        "attention_out": re.compile(r"^attention\.output\.dense\.weight$"),
        "attention_norm": re.compile(r"^attention\.output\.LayerNorm\.weight$"),
        "norm_weight": re.compile(r"^output\.LayerNorm\.weight$"),
        "norm_bias": re.compile(r"^output\.LayerNorm\.bias$"),
    }
    found = {role: [k for k in layer_state if rx.match(k)] for role, rx in roles.items()}
    bad = {role: keys for role, keys in found.items() if len(keys) != 1}
    if bad:
        raise RuntimeError(f"cannot fold mean pooling into a {family} layer: expected one parameter per role, "
                           f"got {bad} among {sorted(layer_state)}")
    out = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in layer_state.items()}
    (value,), (att_out,), (att_norm,) = found["value"], found["attention_out"], found["attention_norm"]
    hidden = out[value].shape[1]
    if out[value].shape != (hidden, hidden) or out[att_out].shape != (hidden, hidden):
        raise RuntimeError(f"cannot fold mean pooling into a {family} layer: value projection "
                           f"{tuple(out[value].shape)} and attention output {tuple(out[att_out].shape)} "
                           "must be square")
    eye = torch.eye(hidden)
    out[value] = eye * VALUE_SCALE
    out[att_out] = eye * OUTPUT_SCALE
    out[att_norm] = torch.ones(hidden)
    # The second LayerNorm sees an already standardised vector (variance 1): its epsilon would shrink the
    # result by sqrt(1 + eps), which the weight undoes.
    out[found["norm_weight"][0]] = head_norm.weight.detach().to("cpu", torch.float32) * math.sqrt(1.0 + eps)
    out[found["norm_bias"][0]] = head_norm.bias.detach().to("cpu", torch.float32).clone()
    return out


def fold_mean_pooling(model: MeanPoolClassifier):
    """The family's ``XForSequenceClassification`` computing the same logits as ``model`` (one extra layer)."""
    from transformers import AutoModelForSequenceClassification

    enc = model.encoder
    family = _family(enc.config)
    config = copy.deepcopy(enc.config)
    n_enc = config.num_hidden_layers
    if n_enc < 1:
        raise ValueError("cannot fold mean pooling into an encoder without layers")
    config.num_hidden_layers = n_enc + 1
    meta = _meta(config)
    meta.update({"pooling": "mean", "folded_pooling_layer": n_enc,
                 "fold": {"residual_scale": RESIDUAL_SCALE, "value_scale": VALUE_SCALE, "output_scale": OUTPUT_SCALE}})
    setattr(config, CONFIG_KEY, meta)
    hf = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    config = hf.config
    config.architectures = [type(hf).__name__]
    prefix = hf.base_model_prefix
    target = hf.state_dict()
    state = {f"{prefix}.{k}": v for k, v in _cpu_state(enc).items()}
    last_norm = [f"{prefix}.encoder.layer.{n_enc - 1}.output.LayerNorm.{p}" for p in ("weight", "bias")]
    for key in last_norm:
        if key not in state:
            raise RuntimeError(f"cannot fold mean pooling into {type(hf).__name__}: no {key}")
        state[key] = state[key] * RESIDUAL_SCALE
    layer_prefix = f"{prefix}.encoder.layer.{n_enc}."
    layer = {k[len(layer_prefix):]: v for k, v in target.items() if k.startswith(layer_prefix)}
    if not layer:
        raise RuntimeError(f"cannot fold mean pooling into {type(hf).__name__}: no parameters under {layer_prefix}")
    state.update({layer_prefix + k: v for k, v in
                  _extra_layer_state(layer, model.head_norm, config.layer_norm_eps, config.model_type).items()})
    head = {family.head_dense: model.head_dense, family.classifier: model.classifier}
    for name, linear in head.items():
        state[f"{name}.weight"] = linear.weight.detach().to("cpu", torch.float32).clone()
        state[f"{name}.bias"] = linear.bias.detach().to("cpu", torch.float32).clone()
    _load_exact(hf, state, f"folding mean pooling into {type(hf).__name__}")
    hf.eval()
    return hf


def unfold_mean_pooling(hf, dropout: Optional[float] = None) -> MeanPoolClassifier:
    """Inverse of :func:`fold_mean_pooling`: the training form of an exported mean-pooling model."""
    config = copy.deepcopy(hf.config)
    family = _family(config)
    meta = _meta(config)
    n_enc = meta.get("folded_pooling_layer")
    if n_enc is None:
        raise ValueError("this model has no folded mean-pooling layer")
    # Folders exported before the residual was scaled down have no "fold" entry (scale 1).
    residual_scale = float((meta.get("fold") or {}).get("residual_scale", 1.0))
    for key in ("folded_pooling_layer", "fold", "export_check"):
        meta.pop(key, None)
    setattr(config, CONFIG_KEY, meta)
    config.num_hidden_layers = n_enc
    config.architectures = None
    encoder = _base_model_class(config)(config, **_without_pooler(config)).float()
    sd = hf.state_dict()
    prefix = hf.base_model_prefix + "."
    head_keys = {f"{name}.{p}" for name in (family.head_dense, family.classifier) for p in ("weight", "bias")}
    enc_state = {k[len(prefix):]: v for k, v in sd.items()
                 if k.startswith(prefix) and k not in head_keys and not k.startswith(f"{prefix}encoder.layer.{n_enc}.")}
    for p in ("weight", "bias"):
        key = f"encoder.layer.{n_enc - 1}.output.LayerNorm.{p}"
        enc_state[key] = enc_state[key] / residual_scale
    _load_exact(encoder, enc_state, f"unfolding {type(hf).__name__}")
    dropout = _head_dropout(config) if dropout is None else dropout
    model = MeanPoolClassifier(encoder, config.num_labels, dropout=dropout, activation=family.activation_name(config))
    norm = f"{prefix}encoder.layer.{n_enc}.output.LayerNorm."
    with torch.no_grad():
        model.head_norm.weight.copy_(sd[norm + "weight"] / math.sqrt(1.0 + config.layer_norm_eps))
        model.head_norm.bias.copy_(sd[norm + "bias"])
        for linear, name in ((model.head_dense, family.head_dense), (model.classifier, family.classifier)):
            linear.weight.copy_(sd[f"{name}.weight"])
            linear.bias.copy_(sd[f"{name}.bias"])
    return model


# --------------------------------------------------------------------------- export and load
def export_model(model, labels: list[str], tokenizer=None):
    """The standard ``XForSequenceClassification`` to save for ``model`` (either pooling), checked on a probe batch.

    Raises ``RuntimeError`` when its logits differ from the training form's by more than
    :data:`EXPORT_TOLERANCE`; the measured difference is in ``config.emopillars["export_check"]``.
    """
    from transformers import AutoModelForSequenceClassification

    if isinstance(model, MeanPoolClassifier):
        hf = fold_mean_pooling(model)
    else:
        config = copy.deepcopy(model.model.config)
        meta = _meta(config)
        meta["pooling"] = "cls"
        setattr(config, CONFIG_KEY, meta)
        hf = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
        hf.config.architectures = [type(hf).__name__]
        _load_exact(hf, _cpu_state(model.model), f"exporting {type(hf).__name__}")
        hf.eval()
    hf.config.id2label = dict(enumerate(labels))
    hf.config.label2id = {label: i for i, label in enumerate(labels)}
    diff = _checked(model, hf, tokenizer, "export")
    meta = _meta(hf.config)
    meta["export_check"] = {"max_abs_logit_diff": diff, "tolerance": EXPORT_TOLERANCE,
                            "probe_lengths": list(PROBE_LENGTHS), "precision": "fp32"}
    setattr(hf.config, CONFIG_KEY, meta)
    return hf


def verify_export(model, model_dir: str | Path, tokenizer=None) -> float:
    """Reload ``model_dir`` as a plain ``AutoModelForSequenceClassification`` and compare it with ``model``.

    Returns the max abs logit difference on the probe batch; raises ``RuntimeError`` above the tolerance.
    """
    from transformers import AutoModelForSequenceClassification

    hf = AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32, use_safetensors=True)
    return _checked(model, hf, tokenizer, "export (reloaded)")


def load_classifier(model_dir: str | Path):
    """Load an exported classifier folder (any family, either pooling) in its training form (for fine-tuning)."""
    from transformers import AutoModelForSequenceClassification

    hf = AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32, use_safetensors=True)
    if _meta(hf.config).get("folded_pooling_layer") is not None:
        model = unfold_mean_pooling(hf)
    else:
        model = ClsClassifier(hf, reinit_pooler=False)
    model.labels = [hf.config.id2label[i] for i in range(hf.config.num_labels)]
    model.multi_label = hf.config.problem_type != "single_label_classification"
    if isinstance(model, MeanPoolClassifier):
        _checked(model, hf, None, f"{model_dir}: unfolding")
    model.train()
    return model


# --------------------------------------------------------------------------- heads
def _cls_classifier_path(hf) -> str:
    family = hf.config.model_type
    if family in FOLDABLE:
        return FOLDABLE[family].classifier
    if family in CLS_CLASSIFIER:
        return CLS_CLASSIFIER[family]
    prefix = hf.base_model_prefix + "."
    linears = [name for name, m in hf.named_modules() if isinstance(m, nn.Linear)
               and m.out_features == hf.config.num_labels and not name.startswith(prefix)]
    if not linears:
        raise ValueError(f"{type(hf).__name__}: cannot find its final classification layer")
    return linears[-1]


def classifier_layer(model) -> nn.Linear:
    """The final linear layer (one output per label) of either training form."""
    if isinstance(model, MeanPoolClassifier):
        return model.classifier
    return model.model.get_submodule(_cls_classifier_path(model.model))


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
    layer = classifier_layer(model)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor(bias, dtype=layer.bias.dtype))


def replace_head(model, labels: list[str], multi_label: bool):
    """Give ``model`` a new, randomly initialised classifier for ``labels`` (the encoder is kept)."""
    old = classifier_layer(model)
    new = nn.Linear(old.in_features, len(labels)).to(old.weight.device)
    nn.init.normal_(new.weight, std=model.config.initializer_range)
    nn.init.zeros_(new.bias)
    if isinstance(model, MeanPoolClassifier):
        model.classifier = new
    else:
        path = _cls_classifier_path(model.model)
        parent, _, name = path.rpartition(".")
        setattr(model.model.get_submodule(parent) if parent else model.model, name, new)
        model.model.num_labels = len(labels)
    _set_labels(model.config, labels, multi_label)
    model.labels = list(labels)
    model.multi_label = multi_label
    return model
