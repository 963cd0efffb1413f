"""Cost of training the default encoder on the released Emo Pillars data, measured on a sample (this CPU).

    python bench/released_cost.py --out bench/results/released_cost.json

A sample in the release's layout (``[word, score]`` pairs) is built from the lines of
``tests/fixtures/emopillars_release`` (cycled to ``--examples`` lines per variant; each contextual line's
context is lengthened so that its input reaches ``train.max_length``, as the release's paragraph-long
contexts do), read by the released reader, and the train stage's own function (``train_emopillars``) trains
on it with the released profile's params (one epoch, one dev evaluation). Measured: training examples/s, tokens
per example; from them, seconds per epoch, and the time of the released profile's run (``max_train_examples``
per variant, ``train.epochs``) and of the full release (300K context-less and 100K contextual training
examples, the paper's sizes; the release's own split sizes were not found) at the same rate.

Under load (a shared machine) the process gets less than its cores; the rate per CPU-second of the process
(examples/s over the cores it used on average) is recorded too, and ``2 x`` that is the idle two-core
estimate (an upper bound on speed: two threads rarely scale perfectly).

On a machine with a GPU the same command measures it (the train stage's code trains on CUDA when there is one;
``device`` and ``gpu.measured`` say so; the ``*_cpu`` keys then hold that device's figures). Here there is no
GPU, and the GPU time is not measured. What is given for one GPU is the number of optimizer steps the
runs take (examples / batch size x epochs), the basis on which a measured time per step would give the time,
and a lower bound from arithmetic alone: training costs about 6 FLOPs per non-embedding parameter per token
(forward and backward), so the full release's measured tokens per example, times its examples and epochs,
over a GPU's peak dense bf16 rate at a stated share of that peak (model FLOPs utilisation), bounds the time
from below. It is a bound, not an estimate of the real time: at 13 tokens per example and batch 32 a step
is too small to keep a GPU busy, and per-step overhead, which the bound ignores, then dominates.
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

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "emopillars_release"
FULL_TRAIN = {"contextless": 300_000, "contextual": 100_000}
FULL_SOURCE = "the paper's abstract (arXiv 2504.16856): 300K context-less and 100K contextual examples"
# Peak dense bf16 tensor-core rates, from NVIDIA's datasheets (A100: "NVIDIA A100 Tensor Core GPU" datasheet,
# 312 TFLOPS BF16 without sparsity; H100 SXM: "NVIDIA H100 Tensor Core GPU" datasheet, 989 TFLOPS BF16 without
# sparsity, the 1,979 figure being with sparsity).
GPU_PEAK_BF16 = {"A100": 312e12, "H100 SXM": 989e12}
# A share of that peak that large-batch transformer training reaches at best; small steps reach far less.
ASSUMED_MFU = 0.4
# The paper's encoder: roberta-large's published architecture (24 layers, hidden 1,024, 16 heads, FFN 4,096).
ROBERTA_LARGE = {"model_type": "roberta", "num_hidden_layers": 24, "hidden_size": 1024, "num_attention_heads": 16,
                 "intermediate_size": 4096, "vocab_size": 50265, "max_position_embeddings": 514,
                 "type_vocab_size": 1}


def non_embedding_parameters(config: dict) -> int:
    """Parameters of an encoder built from ``config`` on the meta device (no memory), embeddings left out."""
    import torch
    from transformers import AutoConfig, AutoModel

    cfg = AutoConfig.for_model(**config)
    with torch.device("meta"):
        model = AutoModel.from_config(cfg)
    return sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)


def gpu_lower_bounds(tokens: dict[str, float], epochs: float, encoders: dict[str, int]) -> dict:
    """Seconds of the full release's training at ``ASSUMED_MFU`` of each GPU's peak: a bound from below."""
    out = {}
    for enc, n_params in encoders.items():
        for gpu, peak in GPU_PEAK_BF16.items():
            flops = {v: 6 * n_params * tokens[v] * FULL_TRAIN[v] * epochs for v in tokens}
            out[f"{enc} on one {gpu}"] = {
                "non_embedding_parameters": n_params,
                "train_flops": {v: f"{f:.3g}" for v, f in flops.items()},
                "minutes_at_least": {v: round(f / (peak * ASSUMED_MFU) / 60, 1) for v, f in flops.items()},
            }
    return out


def sample_release(out: Path, examples: int, eval_examples: int) -> None:
    """A release-layout folder with ``examples`` training lines per variant (fixture lines, cycled)."""
    for folder in ("context-less", "context-full"):
        lines = [json.loads(x) for x in (FIXTURE / folder / "train.jsonl").read_text().splitlines() if x.strip()]
        for split, n in (("train", examples), ("dev", eval_examples), ("test", eval_examples)):
            rows = []
            for i in range(n):
                row = dict(lines[i % len(lines)], id=f"{split}-{i}")
                if "context" in row:
                    row["context"] = " ".join([row["context"]] * 4)
                rows.append(json.dumps(row))
            (out / folder).mkdir(parents=True, exist_ok=True)
            (out / folder / f"{split}.jsonl").write_text("\n".join(rows) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/released_cost.json")
    ap.add_argument("--encoder", default="models/encoder")
    ap.add_argument("--examples", type=int, default=512, help="training lines per variant in the sample")
    ap.add_argument("--eval-examples", type=int, default=64)
    ap.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"),
                    help="override train.mixed_precision (bf16 is slow on a CPU without bf16 instructions)")
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoTokenizer

    from emopillars.config import defaults
    from emopillars.data.released import export_release, resolve_source
    from emopillars.synth.lexicon import TaxonomyMapper
    from emopillars.train.data import Encoded, synthetic_examples
    from emopillars.train.emopillars import train_emopillars
    from emopillars.train.encoder import resolve_encoder

    on_gpu = torch.cuda.is_available()
    device = f"cuda ({torch.cuda.get_device_name(0)})" if on_gpu else "cpu"
    params = defaults("released")
    tp = params.train.replace(epochs=1, max_evals=1, evals_per_epoch=1, max_train_examples=None,
                              released_dir=str(FIXTURE), num_processes=1,
                              mixed_precision=args.mixed_precision or params.train.mixed_precision)
    load_at_start = os.getloadavg()
    encoder = resolve_encoder(args.encoder)
    tok = AutoTokenizer.from_pretrained(str(encoder))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample_release(tmp / "sample", args.examples, args.eval_examples)
        mapper = TaxonomyMapper()
        started = time.perf_counter()
        export_release(resolve_source(str(tmp / "sample")), tmp / "released", mapper, params.labels.threshold)
        read_s = time.perf_counter() - started
        for variant in ("contextless", "contextual"):
            data = tmp / "released" / variant
            train = synthetic_examples(data / "train.jsonl", variant, tp.targets)
            tokens = Encoded(tok, train, tp.max_length).input_ids
            cpu0, wall0 = time.process_time(), time.perf_counter()
            record, _ = train_emopillars(variant, data, encoder, tp, params.evaluate, tmp / f"model-{variant}",
                                         progress=False)
            cpu_share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
            rate = record.train_samples_per_s
            idle_rate = round(2 * rate / max(cpu_share, 1e-6), 2)
            per_epoch_full = FULL_TRAIN[variant] / rate
            profile_n = min(params.train.max_train_examples or FULL_TRAIN[variant], FULL_TRAIN[variant])
            results[variant] = {
                "sample_train_examples": record.n_train,
                "mean_tokens_per_example": round(sum(map(len, tokens)) / len(tokens), 1),
                "train_examples_per_s": rate,
                "train_seconds_sample": record.train_seconds,
                # CPU-seconds per wall second of this process: under 2.0 on 2 cores means other jobs took the rest
                "cores_used_on_average": round(cpu_share, 2),
                "full_train_examples": FULL_TRAIN[variant],
                "seconds_per_epoch_full": round(per_epoch_full),
                "hours_full_run": round(per_epoch_full * params.train.epochs / 3600, 1),
                "released_profile_train_examples": profile_n,
                "minutes_released_profile_run": round(profile_n / rate * params.train.epochs / 60, 1),
                "idle_two_core_examples_per_s": idle_rate,
                "idle_two_core_hours_full_run": round(FULL_TRAIN[variant] / idle_rate * params.train.epochs / 3600, 1),
                "idle_two_core_minutes_released_profile_run": round(profile_n / idle_rate * params.train.epochs / 60,
                                                                    1),
            }
    import math

    gpu_steps = {v: {"full_run": math.ceil(FULL_TRAIN[v] / tp.batch_size) * int(params.train.epochs),
                     "released_profile_run": math.ceil(r["released_profile_train_examples"] / tp.batch_size)
                     * int(params.train.epochs)} for v, r in results.items()}
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    result = {
        "benchmark": "released_cost",
        "what": "training throughput of the default encoder (train_emopillars, released profile params) on a "
                "released-format sample, and the time of the released profile and of the full release at that rate",
        "command": " ".join(["python", "bench/released_cost.py", *(argv if argv is not None else sys.argv[1:])]),
        "encoder": str(encoder),
        "params": {"epochs": params.train.epochs, "batch_size": tp.batch_size, "max_length": tp.max_length,
                   "mixed_precision": tp.mixed_precision, "max_train_examples": params.train.max_train_examples},
        "read_and_map_seconds_sample": round(read_s, 2),
        "load_average_at_start": load_at_start,
        "variants": results,
        "full_release_sizes_source": FULL_SOURCE,
        "hours_full_run_both_variants_cpu": round(sum(r["hours_full_run"] for r in results.values()), 1),
        "minutes_released_profile_both_variants_cpu": round(sum(r["minutes_released_profile_run"]
                                                                for r in results.values()), 1),
        "idle_two_core_hours_full_run_both_variants": round(sum(r["idle_two_core_hours_full_run"]
                                                                for r in results.values()), 1),
        "idle_two_core_minutes_released_profile_both_variants": round(
            sum(r["idle_two_core_minutes_released_profile_run"] for r in results.values()), 1),
        "device": device,
        "gpu": {"measured": on_gpu,
                "basis": ("measured: the rates above are this GPU's (train_emopillars trains on CUDA when there is "
                          "one), and the hours above are one GPU's" if on_gpu else
                          "not measured (no GPU on this machine); optimizer steps at the profile's batch size and "
                          "epochs, which a measured time per step turns into a time"),
                "optimizer_steps": gpu_steps,
                "lower_bound": {
                    "basis": f"6 FLOPs per non-embedding parameter per token (forward and backward) x the measured "
                             f"tokens per example (unpadded) x the full release's examples x {params.train.epochs:g} "
                             f"epochs, over the GPU's peak dense bf16 rate (NVIDIA datasheets) at "
                             f"{ASSUMED_MFU:.0%} utilisation; per-step overhead is ignored, so the real time is "
                             "longer, by far at small batches of short inputs",
                    "peak_bf16_flops": GPU_PEAK_BF16, "assumed_utilisation": ASSUMED_MFU,
                    "estimates": gpu_lower_bounds(
                        {v: r["mean_tokens_per_example"] for v, r in results.items()}, params.train.epochs,
                        {"default encoder": non_embedding_parameters(json.loads((Path(encoder) / "config.json")
                                                                                .read_text())),
                         "roberta-large (the paper's encoder)": non_embedding_parameters(ROBERTA_LARGE)})}},
        "torch_threads": torch.get_num_threads(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "bf16_instructions": sorted({f for f in flags if f in ("avx512_bf16", "amx_bf16")}),
                    "load_average_at_end": os.getloadavg()},
        "note": "the machine is shared: a load average above the CPU count means other jobs ran at the same time",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from emopillars.io import write_json

    write_json(out, result)
    print(json.dumps({k: result[k] for k in ("variants", "hours_full_run_both_variants_cpu",
                                             "minutes_released_profile_both_variants_cpu",
                                             "idle_two_core_hours_full_run_both_variants",
                                             "idle_two_core_minutes_released_profile_both_variants")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
