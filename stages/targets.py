"""Stage targets: soft or hard targets for the context-less Emo Pillars model, compared.

The main model (stage ``train@contextless``) is trained with ``train.targets``;
this stage trains the same model with the other kind of target (hard ``labels``
instead of the soft ``all_emotions_mapped`` scores, or the reverse) on the same
data, seed and recipe, and reads both on the synthetic test split and zero-shot
on GoEmotions' test split (through the label mapping, no GoEmotions training).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emopillars import benchmarks
from emopillars.config import load_params
from emopillars.contracts import RecordError
from emopillars.errors import require_writable, run_main
from emopillars.train.emopillars import train_emopillars
from emopillars.train.encoder import resolve_encoder
from emopillars.train.modeling import check_pooling
from emopillars.contracts.evaluation import EvaluationRecord, TargetsAblation, TargetsArm, TrainRecord
from emopillars.train.transfer import zero_shot

ZERO_SHOT_BENCHMARK = "goemotions"


def summary(train_record: TrainRecord, zs_record: EvaluationRecord) -> TargetsArm:
    return TargetsArm(
        targets=train_record.targets,
        synthetic_test={k: train_record.metrics[k] for k in ("macro_f1", "micro_f1")},
        synthetic_labels_per_example=train_record.labels_per_example,
        goemotions_zero_shot={k: zs_record.metrics[k] for k in ("macro_f1", "micro_f1")},
        goemotions_labels_per_example=zs_record.labels_per_example,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--data", required=True, help="context-less dataset folder (train/dev/test.jsonl)")
    p.add_argument("--encoder", required=True)
    p.add_argument("--main-model", required=True, help="the context-less model trained with train.targets")
    p.add_argument("--main-metrics", required=True, help="its metrics (outputs/metrics/train/contextless.json)")
    p.add_argument("--raw-dir", required=True, help="folder of the mirrored benchmarks (data/raw)")
    p.add_argument("--out", required=True, help="folder for the model trained with the other targets")
    p.add_argument("--metrics", required=True)
    args = p.parse_args(argv)
    require_writable(args.out, args.metrics)
    params = load_params(args.params)
    try:
        check_pooling(resolve_encoder(args.encoder), params.train.pooling)
    except (ValueError, FileNotFoundError) as e:
        print(f"targets: error: {e}", file=sys.stderr)
        return 2
    started = time.time()
    main_targets = params.train.targets
    other = "hard" if main_targets == "soft" else "soft"
    try:
        main_record = TrainRecord.read(args.main_metrics)
    except RecordError as e:
        print(f"targets: error: {e}", file=sys.stderr)
        return 2
    if main_record.targets != main_targets:
        raise SystemExit(f"{args.main_metrics}: trained with targets {main_record.targets!r}, but "
                         f"train.targets is {main_targets!r}; rerun stage train@contextless first")
    splits, reason = benchmarks.read_splits(ZERO_SHOT_BENCHMARK, params, args.raw_dir)
    if splits is None:
        raise SystemExit(f"targets: {ZERO_SHOT_BENCHMARK} is needed for the zero-shot comparison: {reason}")
    other_params = params.train.model_copy(update={"targets": other})
    other_record, _ = train_emopillars("contextless", args.data, resolve_encoder(args.encoder), other_params,
                                       params.evaluate, args.out)
    arms = {}
    for targets, record, model_dir in ((main_targets, main_record, args.main_model),
                                       (other, other_record, args.out)):
        zs, _ = zero_shot(ZERO_SHOT_BENCHMARK, splits, Path(model_dir), "contextless", params.evaluate,
                          params.transfer.max_eval_examples, params.transfer.seed, params.transfer.max_length)
        arms[targets] = summary(record, zs)
    out = TargetsAblation(
        protocol=("context-less Emo Pillars model trained twice on the same synthetic train split, seed and "
                     "recipe, with soft targets (all_emotions_mapped scores) and with hard targets (labels); "
                     "read on the synthetic test split (hard labels as gold, thresholds tuned on dev) and zero-shot "
                     f"on {ZERO_SHOT_BENCHMARK} test (label mapping, the model's own thresholds); 95% percentile "
                     "bootstrap intervals"),
        main_targets=main_targets,
        arms=arms,
        seconds=round(time.time() - started, 1),
    )
    out.write(args.metrics)
    for t, a in arms.items():
        print(f"targets {t}: synthetic test macro-F1 {a.synthetic_test['macro_f1'].value:.3f}, "
              f"{ZERO_SHOT_BENCHMARK} zero-shot macro-F1 {a.goemotions_zero_shot['macro_f1'].value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
