"""The training loop in one process and as 2-process CPU DDP (gloo), launched the way the stages launch.

Run as a script, this file is the launched program: ``--num-processes 2``
relaunches it through :func:`emopillars.train.distributed.maybe_relaunch`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

LABELS = ["joy", "anger", "fear", "sadness"]
WORDS = {"joy": "glad sunny sweet", "anger": "furious slam rage", "fear": "dark scream shiver",
         "sadness": "tears lonely grey"}
FILLER = "the a of little old house by river king wolf bread door".split()


def examples(n: int, seed: int):
    """Short texts whose label is told by one of its words (hard, one label each)."""
    from emopillars.train.data import Example

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = i % len(LABELS)
        cue = rng.choice(WORDS[LABELS[k]].split())
        words = list(rng.choice(FILLER, rng.integers(2, 9))) + [cue]
        rng.shuffle(words)
        target = np.zeros(len(LABELS), np.float32)
        target[k] = 1.0
        out.append(Example(text=" ".join(words), target=target))
    return out


def make_encoder(out: Path) -> Path:
    """A 2-layer random BERT without dropout (so shards and whole batches see the same model) and the real tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from emopillars.train.encoder import packaged_encoder

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(packaged_encoder())).save_pretrained(str(out))
    return out


def train_tiny(encoder: Path, **overrides):
    """65 training examples in batches of 10 (the last, of 5, splits 3 + 2 over two processes); 2 epochs."""
    from transformers import AutoTokenizer

    from emopillars.train.modeling import build_classifier
    from emopillars.train.trainer import TrainConfig, train_classifier

    torch.manual_seed(1)
    model = build_classifier(encoder, LABELS, "mean", multi_label=False)
    tok = AutoTokenizer.from_pretrained(str(encoder))
    cfg = TrainConfig(**{"epochs": 2, "batch_size": 10, "max_length": 24, "learning_rate": 3e-3,
                         "head_lr_multiplier": 3, "max_evals": 2, "progress": False, "device": "cpu", **overrides})
    result = train_classifier(model, tok, examples(65, 0), examples(21, 1), cfg)
    return model, result


def worker(argv=None) -> int:
    from emopillars.train.distributed import is_main_process, maybe_relaunch, process_rank

    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--num-processes", default="auto")
    args = ap.parse_args(argv)
    code = maybe_relaunch(args.num_processes if args.num_processes == "auto" else int(args.num_processes),
                          __file__, sys.argv[1:] if argv is None else argv)
    if code is not None:
        return code
    out = Path(args.out)
    model, result = train_tiny(Path(args.encoder))
    _, stopped = train_tiny(Path(args.encoder), time_budget_s=0.0)
    rank = process_rank()
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, out / f"weights-rank{rank}.pt")
    (out / f"run-rank{rank}.json").write_text(json.dumps(
        {"threads": torch.get_num_threads(), "history": result.history, "stopped_history": stopped.history}))
    if is_main_process():
        with open(out / "result.jsonl", "a") as f:
            f.write(json.dumps({"best_dev": result.best_dev, "steps": result.steps,
                                "num_processes": result.num_processes,
                                "best_dev_probs": result.best_dev_probs.tolist()}) + "\n")
    return 0


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return make_encoder(tmp_path_factory.mktemp("ddp") / "encoder")


@pytest.fixture(scope="module")
def one_process(tiny_encoder):
    return train_tiny(tiny_encoder)


def test_one_process_trains_through_the_accelerate_loop(one_process, tiny_encoder):
    from emopillars.train.trainer import make_accelerator

    model, result = one_process
    assert result.num_processes == 1 and result.steps == 14
    dev = [r for r in result.history if r["kind"] == "dev"]
    assert [r["step"] for r in dev] == [7, 14]
    assert result.best_dev["step"] in (7, 14)
    assert not getattr(model, "_is_accelerate_prepared", False)
    assert make_accelerator("cpu").num_processes == 1
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        make_accelerator("cuda:1")
    # the model is handed back trainable: a second run on the same object trains again
    from transformers import AutoTokenizer

    from emopillars.train.trainer import TrainConfig, train_classifier

    model = copy.deepcopy(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    again = train_classifier(model, AutoTokenizer.from_pretrained(str(tiny_encoder)), examples(16, 2), examples(8, 3),
                             TrainConfig(epochs=1, batch_size=8, max_length=24, learning_rate=1e-2, progress=False,
                                         device="cpu", prior_bias_init=False))
    assert again.steps == 2
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_one_process_is_not_relaunched():
    from emopillars.train.distributed import launch_command, maybe_relaunch, resolve_num_processes

    if not torch.cuda.is_available():
        assert resolve_num_processes("auto") == 1
        assert maybe_relaunch("auto", "script.py", ["--x"]) is None
    assert maybe_relaunch(1, "script.py", []) is None
    with pytest.raises(ValueError, match="at least 1"):
        resolve_num_processes(0)
    cmd = launch_command(4, "stages/train.py", ["--variant", "contextless"])
    assert cmd[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4", "stages/train.py",
                       "--variant", "contextless"]


@pytest.mark.slow
def test_two_cpu_processes_train_the_one_process_model_and_write_once(one_process, tiny_encoder, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")}
    env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--encoder", str(tiny_encoder), "--out", str(tmp_path),
                           "--num-processes", "2"], capture_output=True, text=True, env=env, timeout=240)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "launching 2 training processes" in proc.stderr
    lines = (tmp_path / "result.jsonl").read_text().splitlines()
    assert len(lines) == 1, lines  # written by the main process only
    result = json.loads(lines[0])
    assert result["num_processes"] == 2 and result["steps"] == 14

    w0, w1 = (torch.load(tmp_path / f"weights-rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "ranks ended with different weights"
    runs = [json.loads((tmp_path / f"run-rank{r}.json").read_text()) for r in (0, 1)]
    assert runs[0]["history"] == runs[1]["history"]  # same dev scores, losses and selection in both ranks
    assert all(r["threads"] == max(1, len(os.sched_getaffinity(0)) // 2) for r in runs)
    # the time budget stops both ranks at the same step, after one dev evaluation
    for r in runs:
        assert [(h["kind"], h["step"]) for h in r["stopped_history"]] == [("dev", 1), ("stopped", 1)]

    # Gradients averaged over the shards are the whole batch's: the same training as one process.
    model, single = one_process
    for k, v in model.state_dict().items():
        torch.testing.assert_close(w0[k], v, atol=2e-5, rtol=1e-4, msg=lambda m: f"{k}: {m}")
    np.testing.assert_allclose(result["best_dev_probs"], single.best_dev_probs, atol=1e-4)
    assert result["best_dev"]["step"] == single.best_dev["step"]
    train_rows = lambda h: [(r["step"], r["loss"]) for r in h if r["kind"] == "train"]  # noqa: E731
    assert train_rows(runs[0]["history"])[0][0] == train_rows(single.history)[0][0]
    np.testing.assert_allclose([x[1] for x in train_rows(runs[0]["history"])],
                               [x[1] for x in train_rows(single.history)], rtol=1e-4)
    print(f"2-process CPU DDP run: {seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(worker())
