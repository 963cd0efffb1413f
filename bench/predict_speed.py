"""`emopillars predict` throughput of an exported model on this CPU, against a BERT-base-sized model built here.

    python bench/predict_speed.py --model models/transfer/goemotions/base --out bench/results/predict_speed.json

Both models score the same GoEmotions test sentences through :class:`emopillars.train.predict.Predictor`
(what the command runs), in alternating rounds so that load on a shared machine hits both alike. The
reference has BERT-base's shape (12 layers, hidden 768, 12 heads, intermediate 3072; about 110M parameters
with the tokenizer's vocabulary) and random weights: its speed, not its answers, is what is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

BERT_BASE = {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072}


def bert_base_like(model_dir: Path, out: Path) -> Path:
    """A random model of BERT-base's shape with ``model_dir``'s tokenizer, labels and thresholds."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(str(model_dir))
    config_dict = config.to_dict()
    config_dict.pop("emopillars", None)
    config = type(config).from_dict({**config_dict, **BERT_BASE})
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(str(out), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(model_dir)).save_pretrained(str(out))
    shutil.copy(model_dir / "thresholds.json", out / "thresholds.json")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/transfer/goemotions/base")
    ap.add_argument("--out", default="bench/results/predict_speed.json")
    ap.add_argument("--data", default=os.path.join(os.environ.get("EMOPILLARS_DATA_MIRROR", "../shared/data"),
                                                   "goemotions", "test.tsv"))
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    import torch

    from emopillars.io import write_json
    from emopillars.train.predict import Input, Predictor

    model_dir = Path(args.model)
    if not (model_dir / "config.json").exists():
        print(f"predict_speed: error: {model_dir}: no exported model (run transfer@goemotions, or "
              "`make goemotions-model`)", file=sys.stderr)
        return 2
    texts = [line.split("\t")[0] for line in Path(args.data).read_text(encoding="utf-8").splitlines()]
    inputs = [Input(text=t, id=str(i)) for i, t in enumerate(texts[:args.sentences])]
    with tempfile.TemporaryDirectory() as tmp:
        models = {"model": Predictor(model_dir),
                  "bert_base_sized": Predictor(bert_base_like(model_dir, Path(tmp) / "ref"))}
        params = {k: sum(p.numel() for p in m.model.parameters()) for k, m in models.items()}
        seconds = {k: [] for k in models}
        for name, m in models.items():  # warm-up
            m.predict(inputs[:64], progress=False)
        for _ in range(args.rounds):
            for name, m in models.items():
                t0 = time.perf_counter()
                m.predict(inputs, progress=False)
                seconds[name].append(time.perf_counter() - t0)
    rate = {k: round(len(inputs) / min(v), 1) for k, v in seconds.items()}
    result = {
        "benchmark": "predict_speed",
        "what": "sentences per second of Predictor.predict (the `emopillars predict` path), best of the rounds",
        "command": " ".join(["python", "bench/predict_speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": str(model_dir),
        "sentences": len(inputs),
        "parameters": params,
        "sentences_per_s": rate,
        "speed_ratio_model_over_bert_base_sized": round(rate["model"] / rate["bert_base_sized"], 2),
        "seconds_per_round": {k: [round(x, 2) for x in v] for k, v in seconds.items()},
        "max_length": models["model"].max_length,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
    }
    write_json(Path(args.out), result)
    print(json.dumps({k: result[k] for k in ("parameters", "sentences_per_s",
                                             "speed_ratio_model_over_bert_base_sized")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
