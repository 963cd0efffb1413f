"""Export round trip of every encoder family x pooling: how far the saved model's logits are from the trained ones.

    python bench/export_roundtrip.py --out bench/results/export_roundtrip.json --sizes 64x2x4 1024x2x16

For each family (BERT, RoBERTa, XLM-RoBERTa, ELECTRA, DeBERTa-v2/v3, MPNet) a tiny random encoder with its
own kind of tokenizer (``tiny_encoder``) gets a classifier with ``mean`` or ``cls`` pooling, trained a few
AdamW steps on a toy multi-label set, then exported with ``save_classifier`` and reloaded with
``AutoModelForSequenceClassification``. The max abs logit difference against the trained model (fp32, eval) is
measured on the tokenised toy sentences (padded batch), with the reloaded model in fp32, fp16 and bf16; the
fp16/bf16 columns show rounding of those precisions, not export error. A pooling the family cannot export
exactly is reported with the reason it is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("bert", "roberta", "xlm-roberta", "electra", "deberta-v2", "mpnet")


def train_steps(model, batch, targets, steps: int) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(steps):
        loss = loss_fn(model(**batch), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()


def roundtrip(family: str, pooling: str, root: Path, size: tuple[int, int, int], args) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from emopillars.train.encoder import TINY_CORPUS, TINY_LABELS, tiny_encoder, tiny_targets
    from emopillars.train.export import save_classifier
    from emopillars.train.modeling import build_classifier, check_pooling

    hidden, layers, heads = size
    root = root / f"{hidden}x{layers}x{heads}"
    encoder = root / family
    if not encoder.exists():
        tiny_encoder(encoder, family, hidden=hidden, layers=layers, heads=heads)
    row = {"family": family, "pooling": pooling, "hidden": hidden, "layers": layers, "heads": heads}
    try:
        check_pooling(encoder, pooling)
    except ValueError as exc:
        return {**row, "refused": str(exc).split(": ", 1)[1]}
    tok = AutoTokenizer.from_pretrained(str(encoder))
    torch.manual_seed(args.seed)
    model = build_classifier(encoder, TINY_LABELS, pooling)
    batch = dict(tok(TINY_CORPUS, padding=True, return_tensors="pt"))
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    if "token_type_ids" in batch:
        inputs["token_type_ids"] = batch["token_type_ids"]
    train_steps(model, inputs, torch.from_numpy(tiny_targets(TINY_CORPUS)), args.steps)
    with torch.no_grad():
        trained = model(**inputs)
    out = root / f"{family}-{pooling}"
    t0 = time.perf_counter()
    save_classifier(model, tok, out, TINY_LABELS, {"kind": "global", "global": 0.5}, {}, "# bench\n")
    export_s = time.perf_counter() - t0
    check = json.loads((out / "config.json").read_text())["emopillars"]["export_check"]
    diffs = {}
    for name, dtype in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
        hf = AutoModelForSequenceClassification.from_pretrained(str(out), dtype=dtype, use_safetensors=True).eval()
        with torch.no_grad():
            diffs[name] = float((hf(**batch).logits.float() - trained).abs().max())
        if name == "fp32":
            row["exported_class"] = type(hf).__name__
    return {**row, "max_abs_diff": diffs["fp32"], "max_abs_diff_fp16": diffs["fp16"],
            "max_abs_diff_bf16": diffs["bf16"], "probe_diff": check["max_abs_logit_diff"],
            "logit_range": float(trained.abs().max()), "export_seconds": round(export_s, 3)}


def markdown(rows: list[dict]) -> str:
    lines = ["| family | pooling | hidden x layers | exported class | max abs diff (fp32) | fp16 | bf16 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        head = f"| {r['family']} | {r['pooling']} | {r['hidden']} x {r['layers']} |"
        if "refused" in r:
            lines.append(f"{head} - | refused: {r['refused']} | - | - |")
        else:
            lines.append(f"{head} {r['exported_class']} | {r['max_abs_diff']:.1e} "
                         f"| {r['max_abs_diff_fp16']:.1e} | {r['max_abs_diff_bf16']:.1e} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/export_roundtrip.json")
    ap.add_argument("--families", nargs="+", default=list(FAMILIES))
    ap.add_argument("--sizes", nargs="+", default=["64x2x4"],
                    help="encoder sizes as HIDDENxLAYERSxHEADS (default 64x2x4; 1024x2x16 is roberta-large's width)")
    ap.add_argument("--steps", type=int, default=10, help="AdamW steps before export")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes]
    if any(len(size) != 3 for size in sizes):
        ap.error("--sizes: expected HIDDENxLAYERSxHEADS, e.g. 64x2x4")
    sys.path.insert(0, str(ROOT / "src"))
    import transformers

    from emopillars.io import write_json
    from emopillars.train.modeling import EXPORT_TOLERANCE

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [roundtrip(family, pooling, Path(tmp), size, args)
                for size in sizes for family in args.families for pooling in ("mean", "cls")]
    table = markdown(rows)
    print(table)
    result = {
        "benchmark": "export_roundtrip",
        "what": ("max abs logit difference between a trained classifier (fp32, eval) and its export reloaded with "
                 "AutoModelForSequenceClassification, per encoder family and pooling; tiny random encoders trained "
                 f"{args.steps} AdamW steps on a toy set; fp16/bf16: the reloaded model in that dtype"),
        "command": "python bench/export_roundtrip.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "encoder_sizes": [{"hidden": h, "layers": n, "heads": a} for h, n, a in sizes],
        "tolerance": EXPORT_TOLERANCE,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "transformers": transformers.__version__},
        "rows": rows,
        "table": table,
    }
    write_json(args.out, result)
    bad = [r for r in rows if "refused" not in r and not r["max_abs_diff"] <= EXPORT_TOLERANCE]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
