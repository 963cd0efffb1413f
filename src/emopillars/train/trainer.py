"""Fine-tuning loop: AdamW, linear warm-up and decay, best-on-dev selection.

The loop is plain PyTorch (no Trainer) run through ``accelerate.Accelerator``:
in one process it trains on the CPU or one GPU; under a distributed launcher
(see :mod:`emopillars.train.distributed`) it is data-parallel (DDP). Its
overhead over a bare loop is measured in ``bench/train.py``. Inputs are
tokenised once and batches padded to their longest row, which on short texts
(GoEmotions: ~20 tokens) halves the cost of padding every batch to
``max_length``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from emopillars.eval.metrics import classification_report
from emopillars.eval.thresholds import apply_thresholds, predict_single_label, tune_global_threshold
from emopillars.train.data import Encoded, Example

if TYPE_CHECKING:
    from emopillars.config import TrainParams, TransferParams


@dataclass
class TrainConfig:
    epochs: float = 3.0
    batch_size: int = 32
    eval_batch_size: int = 128
    max_length: int = 64
    learning_rate: float = 1e-4
    head_lr_multiplier: float = 1.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    class_weighting: Literal["none", "sqrt_inverse"] = "none"
    evals_per_epoch: int = 1
    patience: Optional[int] = None
    seed: int = 13
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    device: str = "auto"  # "auto" (CUDA when there is one), "cpu" or "cuda"
    threads: Optional[int] = None
    progress: bool = True
    prior_bias_init: bool = True
    max_evals: int = 10  # tiny training sets run many short epochs: evaluate at most this many times
    time_budget_s: Optional[float] = None  # stop (after a last dev evaluation) once training has run this long

    @classmethod
    def from_params(cls, section: "TrainParams | TransferParams", **run: Any) -> "TrainConfig":
        """The config of a ``train`` or ``transfer`` params section; ``run`` sets what one run decides itself.

        Every optimisation setting comes from the section (both sections hold the same
        set, see :data:`FROM_PARAMS`); ``run`` holds the rest (``progress``, ``prior_bias_init``,
        or the ``epochs`` that transfer raises for its smallest fractions).
        """
        values = {name: getattr(section, name) for name in FROM_PARAMS}
        return cls(**{**values, **run})


# The fields of TrainConfig that a params section sets (the others belong to a run, not to params).
FROM_PARAMS = ("epochs", "batch_size", "max_length", "learning_rate", "head_lr_multiplier", "weight_decay",
               "warmup_ratio", "label_smoothing", "class_weighting", "evals_per_epoch", "max_evals", "patience",
               "seed", "mixed_precision")


@dataclass
class TrainResult:
    best_dev: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    train_samples_per_s: float = 0.0
    steps: int = 0
    config: dict = field(default_factory=dict)
    # dev scores of the kept weights, from the evaluation that chose them (no second pass over dev needed)
    best_dev_probs: Optional[np.ndarray] = field(default=None, repr=False)
    num_processes: int = 1  # data-parallel processes that trained it


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def deterministic_kernels(device: torch.device) -> None:
    """On the CPU, PyTorch's deterministic kernels only: two runs with one seed give the same weights, bit for bit.

    On CUDA the default kernels stay (several deterministic ones are much slower, some need a cuBLAS workspace
    setting); a GPU run is reproducible to rounding, not to the bit.
    """
    torch.use_deterministic_algorithms(device.type == "cpu")  # a later CUDA run in this process: back to the default


def autocast_context(device: torch.device, mixed_precision: str):
    """bf16/fp16 autocast on CUDA; bf16 autocast on CPU (fp16 has no fast CPU kernels: fp32 there).

    On a CPU with bf16 instructions (AVX512-BF16 or AMX), bf16 autocast takes a
    MiniLM training step from 0.85 s to 0.52 s and halves inference time.
    """
    if device.type == "cuda" and mixed_precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if mixed_precision == "bf16" else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    if device.type == "cpu" and mixed_precision == "bf16":
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _param_groups(model, cfg: TrainConfig):
    head_ids = {id(p) for p in model.head_parameters()}
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_head = id(p) in head_ids
        no_decay = p.ndim < 2  # biases and LayerNorm weights
        key = (is_head, no_decay)
        groups.setdefault(key, []).append(p)
    out = []
    for (is_head, no_decay), params in groups.items():
        lr = cfg.learning_rate * (cfg.head_lr_multiplier if is_head else 1.0)
        out.append({"params": params, "lr": lr, "weight_decay": 0.0 if no_decay else cfg.weight_decay})
    return out


def make_loss(multi_label: bool, train_targets: np.ndarray, cfg: TrainConfig, device) -> Callable:
    pos_weight = None
    if cfg.class_weighting == "sqrt_inverse" and multi_label:
        # Rare classes weigh more, tempered by a square root so they do not dominate.
        prevalence = np.clip(train_targets.mean(0), 1e-4, None)
        w = np.sqrt((1 - prevalence) / prevalence)
        w = w / np.median(w)
        pos_weight = torch.tensor(np.clip(w, 1.0, 10.0), dtype=torch.float32, device=device)
    smoothing = cfg.label_smoothing

    if multi_label:
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)

        def loss_fn(logits, target):
            if smoothing:
                target = target * (1 - smoothing) + 0.5 * smoothing
            return bce(logits.float(), target)
    else:
        ce = nn.CrossEntropyLoss(label_smoothing=smoothing)

        def loss_fn(logits, target):
            target = target / target.sum(1, keepdim=True).clamp(min=1e-8)
            return ce(logits.float(), target)

    return loss_fn


# predict_probs shows a progress bar by default from this many rows (a few seconds on a CPU).
PROGRESS_MIN_ROWS = 1000


def _predict_rows(model, encoded: Encoded, order: np.ndarray, out: np.ndarray, batch_size: int, device,
                  mixed_precision: str, progress: Optional[bool], desc: str) -> None:
    """Scores of the rows ``order`` (in that order, by batches) into ``out``; ``progress`` None: a bar from
    :data:`PROGRESS_MIN_ROWS` rows."""
    if progress is None:
        progress = len(order) >= PROGRESS_MIN_ROWS
    for start in tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress, leave=False,
                      dynamic_ncols=True):
        idx = order[start:start + batch_size]
        inputs, _ = encoded.batch(idx)
        inputs = {k: v.to(device) for k, v in inputs.items()}
        with autocast_context(device, mixed_precision):
            logits = model(**inputs).float()
        probs = torch.sigmoid(logits) if model.multi_label else torch.softmax(logits, -1)
        out[idx] = probs.cpu().numpy()


def _length_order(encoded: Encoded) -> np.ndarray:
    # Sorting by length keeps padding low; scores are written back in the original order.
    return np.argsort([len(x) for x in encoded.input_ids], kind="stable")


@torch.no_grad()
def predict_probs(model, encoded: Encoded, batch_size: int = 128, device=None, mixed_precision: str = "no",
                  progress: Optional[bool] = None, desc: str = "predict") -> np.ndarray:
    """Sigmoid (multi-label) or softmax (single-label) scores ``[n, num_labels]``; a progress bar when ``progress``
    is true, or (None) when there are :data:`PROGRESS_MIN_ROWS` rows or more."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = np.zeros((len(encoded), len(model.labels)), dtype=np.float32)
    _predict_rows(model, encoded, _length_order(encoded), out, batch_size, device, mixed_precision, progress, desc)
    model.train(was_training)
    return out


@torch.no_grad()
def _predict_across_processes(model, encoded: Encoded, batch_size: int, device, mixed_precision: str,
                              accelerator) -> np.ndarray:
    """:func:`predict_probs` with the rows shared among the processes; every process gets all the scores."""
    if accelerator.num_processes == 1:
        return predict_probs(model, encoded, batch_size, device, mixed_precision)
    from accelerate.utils import gather_object

    was_training = model.training
    model.eval()
    mine = _length_order(encoded)[accelerator.process_index::accelerator.num_processes]
    out = np.zeros((len(encoded), len(model.labels)), dtype=np.float32)
    _predict_rows(model, encoded, mine, out, batch_size, device, mixed_precision, False, "predict")
    model.train(was_training)
    for rows, probs in gather_object([(mine, out[mine])]):
        out[rows] = probs
    return out


def _from_main_process(accelerator, *values):
    """``values`` as the main process has them (the same decision in every process)."""
    if accelerator.num_processes == 1:
        return values
    from accelerate.utils import broadcast_object_list

    return tuple(broadcast_object_list(list(values), from_process=0))


def dev_score(model, probs: np.ndarray, targets: np.ndarray) -> dict:
    """Selection metric on dev: macro-F1 (multi-label: at the best global threshold on dev)."""
    labels = model.labels
    gold = targets >= 0.5
    if model.multi_label:
        t, _ = tune_global_threshold(probs, gold)
        report = classification_report(gold, apply_thresholds(probs, t), labels)
        return {"macro_f1": report["macro_f1"], "micro_f1": report["micro_f1"], "threshold": t}
    report = classification_report(targets.argmax(1), predict_single_label(probs), labels)
    return {"macro_f1": report["macro_f1"], "weighted_f1": report["weighted_f1"], "accuracy": report["accuracy"]}


def make_accelerator(device: str = "auto"):
    """The ``Accelerator`` of a training run: CPU when asked or without CUDA; DDP when launched.

    Mixed precision stays with :func:`autocast_context` (accelerate's own
    would wrap the model's ``forward`` for good, and its setting is fixed per
    process while runs in one process may differ).
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    from emopillars.train.distributed import launched

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r} "
                         "(pick GPUs with CUDA_VISIBLE_DEVICES)")
    cpu = device == "cpu" or not torch.cuda.is_available()
    current = PartialState._shared_state.get("device")
    if current is not None and not launched() and (current.type == "cpu") != cpu:
        # One process, an earlier run on the other device: accelerate keeps one state per process.
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=cpu, mixed_precision="no")


def _shard(indices: np.ndarray, rank: int, world: int) -> tuple[np.ndarray, float]:
    """This process's rows of a batch and the factor that makes averaged gradients the batch mean.

    A process left without rows (a batch smaller than the number of
    processes) runs one row with weight 0, since every process must take part
    in each step.
    """
    mine = indices[rank::world]
    if len(mine) == 0:
        return indices[:1], 0.0
    return mine, len(mine) / len(indices)


def schedule(n_train: int, cfg: TrainConfig) -> tuple[int, int, int]:
    """``(steps per epoch, total steps, steps between dev evaluations)`` of a run on ``n_train`` examples."""
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total_steps = max(1, math.ceil(cfg.epochs * steps_per_epoch))
    eval_every = max(1, steps_per_epoch // max(1, cfg.evals_per_epoch), math.ceil(total_steps / max(1, cfg.max_evals)))
    return steps_per_epoch, total_steps, eval_every


def dev_evaluations(n_train: int, cfg: TrainConfig) -> int:
    """How many times a run on ``n_train`` examples scores the dev set (every ``eval_every`` steps and at the end)."""
    _, total_steps, eval_every = schedule(n_train, cfg)
    return total_steps // eval_every + (total_steps % eval_every != 0)


def train_classifier(model, tokenizer, train: Sequence[Example], dev: Sequence[Example], cfg: TrainConfig,
                     select_metric: str = "macro_f1", log: Optional[Callable[[dict], None]] = None,
                     accelerator=None) -> TrainResult:
    """Fine-tune ``model`` on ``train``; keep the weights that score best on ``dev``.

    ``model`` must expose ``labels``, ``multi_label`` and ``head_parameters()``
    (see :mod:`emopillars.train.modeling`). On return it holds the best dev
    weights, in every process. ``log`` receives every history row as it is
    made (for live logs); under DDP only the main process calls it.

    Under DDP (N processes, see :mod:`emopillars.train.distributed`) every
    process draws the same seeded batch order and trains on every N-th row of
    each batch; gradients are averaged so a step is the step one process would
    make on the whole batch. Dev is scored once on the full set (each process
    scores a share, the scores are gathered), and stopping decisions (patience,
    ``time_budget_s``) are the main process's, sent to all.
    """
    from transformers import get_linear_schedule_with_warmup

    from emopillars.train.distributed import cpu_threads_per_process

    if not train:
        raise ValueError("no training examples")
    if not dev:
        raise ValueError("no dev examples: best-on-dev selection needs a dev split")
    accelerator = accelerator or make_accelerator(cfg.device)
    world, rank, is_main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process
    set_seed(cfg.seed)
    device = accelerator.device
    deterministic_kernels(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    elif world > 1 and device.type == "cpu":
        torch.set_num_threads(cpu_threads_per_process())
    train_enc = Encoded(tokenizer, train, cfg.max_length)
    dev_enc = Encoded(tokenizer, dev, cfg.max_length)
    if cfg.prior_bias_init:
        from emopillars.train.modeling import init_bias_from_prior

        init_bias_from_prior(model, train_enc.targets)
    model.to(device)
    steps_per_epoch, total_steps, eval_every = schedule(len(train_enc), cfg)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" and cfg.mixed_precision == "fp16" else None
    loss_fn = make_loss(model.multi_label, train_enc.targets, cfg, device)
    # DDP copies the main process's weights to the others here.
    trained = accelerator.prepare_model(model)
    rng = np.random.default_rng(cfg.seed)

    history: list[dict] = []

    def record(row):
        history.append(row)
        if log and is_main:
            log(row)

    best = {select_metric: -math.inf}
    best_state = None
    best_probs = None
    bad_evals = 0
    step = 0
    seen = 0
    running, running_n = 0.0, 0
    t0 = time.perf_counter()
    train_time = 0.0
    model.train()
    bar = tqdm(total=total_steps, desc="train", disable=not (cfg.progress and is_main), dynamic_ncols=True)
    stop = False
    epoch = 0
    while step < total_steps and not stop:
        order = rng.permutation(len(train_enc))
        for start in range(0, len(order), cfg.batch_size):
            if step >= total_steps:
                break
            t_step = time.perf_counter()
            batch = order[start:start + cfg.batch_size]
            rows, weight = _shard(batch, rank, world)
            inputs, target = train_enc.batch(rows)
            inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
            target = target.to(device, non_blocking=True)
            with autocast_context(device, cfg.mixed_precision):
                logits = trained(**inputs)
            loss = loss_fn(logits, target)
            # DDP averages over processes: weight * world makes that the mean over the whole batch.
            scaled = loss if weight * world == 1.0 else loss * (weight * world)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                accelerator.backward(scaler.scale(scaled))
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
            else:
                accelerator.backward(scaled)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
            scheduler.step()
            step += 1
            seen += len(batch)
            running += loss.item() * weight
            running_n += 1
            train_time += time.perf_counter() - t_step
            bar.update(1)
            if step % 50 == 0 or step == total_steps:
                if world > 1:
                    total = torch.tensor([running], dtype=torch.float64, device=device)
                    running = float(accelerator.reduce(total, "sum")[0])
                bar.set_postfix(loss=f"{running / running_n:.4f}")
                record({"kind": "train", "step": step, "epoch": round(step / steps_per_epoch, 4),
                        "loss": running / running_n, "lr": scheduler.get_last_lr()[0]})
                running, running_n = 0.0, 0
            out_of_time = cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s
            if cfg.time_budget_s is not None:
                (out_of_time,) = _from_main_process(accelerator, out_of_time)
            if step % eval_every == 0 or step == total_steps or out_of_time:
                probs = _predict_across_processes(model, dev_enc, cfg.eval_batch_size, device, cfg.mixed_precision,
                                                  accelerator)
                with torch.no_grad():
                    dev_loss = float(loss_fn(torch.logit(torch.from_numpy(probs).clamp(1e-6, 1 - 1e-6)).to(device)
                                             if model.multi_label else torch.log(torch.from_numpy(probs).clamp(min=1e-8)).to(device),
                                             torch.from_numpy(dev_enc.targets).to(device)))
                score = dev_score(model, probs, dev_enc.targets)
                row = {"kind": "dev", "step": step, "epoch": round(step / steps_per_epoch, 4), "loss": dev_loss, **score}
                (improved,) = _from_main_process(accelerator, score[select_metric] > best[select_metric])
                record(row)
                if improved:
                    best = dict(row)
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                    best_probs = probs
                    bad_evals = 0
                else:
                    bad_evals += 1
                    if cfg.patience is not None and bad_evals > cfg.patience:
                        stop = True
                        break
                if out_of_time:
                    record({"kind": "stopped", "step": step, "epoch": round(step / steps_per_epoch, 4),
                            "reason": f"time budget of {cfg.time_budget_s:.0f} s reached"})
                    stop = True
                    break
                model.train()
        epoch += 1
    bar.close()
    del trained
    accelerator.free_memory()
    # Prepared once, a model is not prepared again: a later run (another Accelerator) must place and wrap it.
    model.__dict__.pop("_is_accelerate_prepared", None)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    seconds = time.perf_counter() - t0
    return TrainResult(best_dev=best, history=history, seconds=seconds,
                       train_samples_per_s=seen / train_time if train_time else 0.0, steps=step,
                       config=asdict(cfg), best_dev_probs=best_probs, num_processes=world)
