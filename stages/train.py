"""Stage train: fine-tune one Emo Pillars model (contextless or contextual) and export it.

With ``train.source: released`` the model trains on the released Emo Pillars
data as the released stage wrote it (``train.data_dir: data/released``)
instead of the pipeline's synthetic data.
With ``train.num_processes`` above 1 (``auto``: one per visible GPU) the stage
starts itself again in that many data-parallel processes (see
:mod:`emopillars.train.distributed`); only the main one writes the outputs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emopillars.config import load_params
from emopillars.data.released import ReleasedDataError, check_prepared
from emopillars.errors import require_writable, run_main
from emopillars.io import write_text
from emopillars.train.distributed import is_main_process, maybe_relaunch
from emopillars.train.emopillars import train_emopillars
from emopillars.train.encoder import resolve_encoder
from emopillars.train.modeling import check_pooling


def write_curves(history: list[dict], plots_dir: Path) -> None:
    """Training curves as TSV files DVC plots and the figures stage read (step on the x axis)."""
    train_rows = ["step\tepoch\ttrain_loss"] + [f"{r['step']}\t{r['epoch']}\t{r['loss']:.6f}"
                                                for r in history if r["kind"] == "train"]
    dev_rows = ["step\tepoch\tdev_loss\tdev_macro_f1"] + [
        f"{r['step']}\t{r['epoch']}\t{r['loss']:.6f}\t{r['macro_f1']:.6f}" for r in history if r["kind"] == "dev"]
    write_text(plots_dir / "train.tsv", "\n".join(train_rows) + "\n")
    write_text(plots_dir / "dev.tsv", "\n".join(dev_rows) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--variant", choices=("contextless", "contextual"), required=True)
    p.add_argument("--data", required=True, help="folder with train/dev/test.jsonl of this variant")
    p.add_argument("--encoder", required=True, help="base encoder folder (models/encoder)")
    p.add_argument("--out", required=True, help="exported model folder")
    p.add_argument("--metrics", required=True)
    p.add_argument("--plots", required=True, help="folder for the training curves")
    args = p.parse_args(argv)
    require_writable(args.out, args.metrics, args.plots)
    params = load_params(args.params)
    tp = params.train
    try:
        check_pooling(resolve_encoder(args.encoder), params.train.pooling)
    except (ValueError, FileNotFoundError) as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    code = maybe_relaunch(tp.num_processes, __file__, sys.argv[1:] if argv is None else argv)
    if code is not None:
        return code
    data_dir = Path(args.data)
    data_label = None
    if tp.source == "released":
        try:
            release = check_prepared(data_dir)
        except ReleasedDataError as e:
            print(f"train: error: {e}", file=sys.stderr)
            return 2
        src = release["source"]
        data_label = (f"{src['repo_id']}@{src['resolved_commit']}/{args.variant}" if src["kind"] == "hub"
                      else f"{src['folder']}/{args.variant}")
    started = time.time()
    try:
        record, history = train_emopillars(args.variant, data_dir, resolve_encoder(args.encoder), tp, params.evaluate,
                                           args.out, progress=is_main_process(), data_label=data_label)
    except (ValueError, FileNotFoundError) as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    if not is_main_process():
        return 0
    record = record.model_copy(update={"source": tp.source, "profile": params.profile})
    record.write(args.metrics)
    write_curves(history, Path(args.plots))
    m = record.metrics["macro_f1"]
    print(f"train {args.variant}: {record.n_train} train / {record.n_dev} dev / {record.n_test} test from "
          f"{data_dir}; test macro-F1 {m.value:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]; "
          f"{record.steps} steps, {time.time() - started:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
