"""Mixed-precision training and exact export on a CUDA machine, with nothing but torch and transformers.

    python scripts/gpu_check.py                 # CUDA: bf16 autocast, then fp16 autocast with GradScaler
    python scripts/gpu_check.py --device cpu    # the bf16 path on the CPU

Builds a tiny random RoBERTa encoder and a byte-level BPE tokenizer in a temporary folder (no downloads, about
half a MiB), trains a mean-pooling classifier on it for a few steps under each autocast precision, exports
it with ``save_classifier`` (which refuses an export whose logits differ), reloads the folder with
``AutoModelForSequenceClassification`` on the device and compares logits in fp32. Prints a Markdown table;
exits 1 when any check fails, 2 when the device is not there.

Only ``emopillars.train.modeling``, ``.export`` and ``.encoder`` are imported from the project (they need torch,
transformers and numpy); the script runs from a checkout without installing the package.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from emopillars.train.encoder import TINY_CORPUS, TINY_LABELS, tiny_encoder, tiny_targets  # noqa: E402
from emopillars.train.export import save_classifier  # noqa: E402
from emopillars.train.modeling import EXPORT_TOLERANCE, build_classifier  # noqa: E402

# Modules that would mean the check needs more than torch + transformers (transformers itself imports scikit-learn
# where it is installed, so that one is not on the list).
FOREIGN = ("vllm", "datasets", "hydra", "dvc", "emopillars.train.trainer", "emopillars.data", "emopillars.llm",
           "emopillars.synth", "emopillars.eval")
SENTENCES = TINY_CORPUS
LABELS = TINY_LABELS


@torch.no_grad()
def logits_fp32(model, batch) -> torch.Tensor:
    model.eval()
    out = model(**batch)
    return (out.logits if hasattr(out, "logits") else out).float()


def run_precision(precision: str, encoder: Path, out_dir: Path, device: torch.device, steps: int) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    t0 = time.perf_counter()
    torch.manual_seed(1)
    tok = AutoTokenizer.from_pretrained(str(encoder))
    model = build_classifier(encoder, LABELS, "mean").to(device)
    batch = {k: v.to(device) for k, v in tok(SENTENCES, padding=True, return_tensors="pt").items()}
    y = torch.from_numpy(tiny_targets(SENTENCES)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses, autocast_dtype = [], None
    model.train()
    for _ in range(steps):
        with torch.autocast(device_type=device.type, dtype=dtype):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        autocast_dtype = logits.dtype
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        losses.append(loss.item())

    folder = out_dir / f"model-{precision}"
    save_classifier(model, tok, folder, LABELS, {"kind": "global", "global": 0.5}, {"variant": "contextless"},
                    "# gpu check\n")
    recorded = json.loads((folder / "config.json").read_text())["emopillars"]["export_check"]["max_abs_logit_diff"]
    hf = AutoModelForSequenceClassification.from_pretrained(str(folder), use_safetensors=True).to(device)
    fp32_batch = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    ours, theirs = logits_fp32(model, fp32_batch), logits_fp32(hf, fp32_batch)
    reload_diff = float((ours - theirs).abs().max())
    with torch.no_grad(), torch.autocast(device_type=device.type, dtype=dtype):
        mixed_diff = float((model(**fp32_batch).float() - hf(**fp32_batch).logits.float()).abs().max())

    problems = []
    if autocast_dtype != dtype:
        problems.append(f"autocast gave {autocast_dtype} logits, not {dtype}")
    if not all(math.isfinite(x) for x in losses):
        problems.append("non-finite loss")
    elif not losses[-1] < losses[0]:
        problems.append(f"loss did not fall ({losses[0]:.4f} -> {losses[-1]:.4f})")
    if not reload_diff <= EXPORT_TOLERANCE:
        problems.append(f"reloaded logits differ by {reload_diff:.3g} on {device.type} fp32")
    if not math.isfinite(mixed_diff):
        problems.append(f"exported model gives non-finite logits under {precision} autocast")
    return {"precision": precision, "steps": steps, "loss": f"{losses[0]:.4f} -> {losses[-1]:.4f}",
            "export_diff": recorded, "reload_diff": reload_diff, "mixed_diff": mixed_diff,
            "seconds": time.perf_counter() - t0, "status": "ok" if not problems else "FAIL: " + "; ".join(problems)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--steps", type=int, default=20, help="training steps per precision (default 20)")
    ap.add_argument("--out", type=Path, default=None, help="keep the encoder and exported models here")
    args = ap.parse_args(argv)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print(f"no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda})", file=sys.stderr)
            return 2
        # fp32 comparisons in true fp32, not TF32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        name = torch.cuda.get_device_name(device)
        precisions = (["bf16"] if torch.cuda.is_bf16_supported() else []) + ["fp16"]
    elif device.type == "cpu":
        name = "CPU"
        precisions = ["bf16"]
    else:
        print(f"unsupported device {args.device!r}", file=sys.stderr)
        return 2
    print(f"device: {name}; torch {torch.__version__}; transformers {transformers.__version__}")

    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        encoder = tiny_encoder(root / "encoder", "roberta", hidden=64, heads=4)
        rows = []
        for precision in precisions:
            try:
                rows.append(run_precision(precision, encoder, root, device, args.steps))
            except Exception as exc:  # a failed export or a kernel error is a result to report, not a crash
                rows.append({"precision": precision, "steps": args.steps, "loss": "", "export_diff": math.nan,
                             "reload_diff": math.nan, "mixed_diff": math.nan, "seconds": math.nan,
                             "status": f"FAIL: {type(exc).__name__}: {exc}"})

    foreign = sorted(m for m in FOREIGN if m in sys.modules)
    print()
    print(f"| precision | steps | train loss | export diff (cpu fp32) | reload diff ({device.type} fp32) "
          f"| exported vs trained under autocast | seconds | status |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['precision']} | {r['steps']} | {r['loss']} | {r['export_diff']:.2e} | {r['reload_diff']:.2e} "
              f"| {r['mixed_diff']:.2e} | {r['seconds']:.1f} | {r['status']} |")
    print(f"\ntolerance: max abs logit diff <= {EXPORT_TOLERANCE:g} in fp32 (autocast column: information only)")
    if foreign:
        print(f"FAIL: imported {', '.join(foreign)} (expected torch and transformers only)")
    ok = bool(rows) and all(r["status"] == "ok" for r in rows) and not foreign
    print("gpu check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
