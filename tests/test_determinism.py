"""The stages that can be deterministic are: curation and CPU training run twice give the same bytes.

Both stages run as DVC runs them (their scripts, in fresh processes) on a small synthetic set written here,
training on a tiny random RoBERTa-type encoder (nothing downloaded). Only the wall-clock fields of the metrics
(seconds, samples per second) may differ between the two runs.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emopillars.train.encoder import tiny_encoder

ROOT = Path(__file__).resolve().parents[1]
NOUNS = ["dragon", "castle", "river", "witch", "apple", "forest", "wolf", "crown", "mirror", "giant", "goose", "stone",
         "needle", "bridge", "ship", "mountain", "garden", "lantern", "window", "kettle", "meadow", "sparrow", "harbour",
         "candle", "orchard", "violin", "blanket", "market", "ribbon", "thunder"]
EMOTIONS = ["joy", "fear", "anger", "sadness", "surprise", "gratitude"]
# what changes with the machine's load, not with the data or the model
CLOCK_FIELDS = {"seconds", "train_seconds", "train_samples_per_s"}


def _rows(n: int, contextual: bool) -> list[dict]:
    rng = random.Random(7 if contextual else 3)
    rows = []
    for i in range(n):
        story = f"s{i % 10}"
        emotion = EMOTIONS[i % len(EMOTIONS)]
        row = {"id": f"{story}__p000__c0__r{i}", "plot_id": f"{story}__p000", "story_id": story,
               "utterance": "I see the " + " and the ".join(rng.sample(NOUNS, 4)) + "!",
               "labels": [emotion], "primary_emotion": emotion, "all_emotions": {emotion: 0.9},
               "all_emotions_mapped": {emotion: 0.9}, "raw_emotion_explication": "A feeling.",
               "expressiveness": "explicit", "emotions_used_to_generate_context": [emotion],
               "unmapped_emotions": {}, "prompt_hashes": {"labels": "abc"}, "raw_answers": {"labels": "{}"}}
        if contextual:
            row.update(context="The " + " and the ".join(rng.sample(NOUNS, 5)) + " were there that night.",
                       character="Ada", character_description="A miller's daughter.")
        rows.append(row)
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_clock(value):
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _stage(name: str, *args: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from emopillars.profiles import compose

    tmp = tmp_path_factory.mktemp("determinism")
    params = compose("smoke", tmp / "params.yaml", ROOT / "conf")
    raw = yaml.safe_load(params.read_text())
    raw["train"].update(epochs=2, batch_size=8, max_length=32, num_processes=1, max_train_examples=None)
    raw["evaluate"]["bootstrap_samples"] = 20
    params.write_text(yaml.safe_dump(raw))
    labels = _write_jsonl(tmp / "labels.jsonl", _rows(80, contextual=False))
    contexts = _write_jsonl(tmp / "contexts.jsonl", _rows(60, contextual=True))
    encoder = tiny_encoder(tmp / "encoder", "roberta", corpus=[" ".join(NOUNS)] * 4 + ["I see the and were there"])
    return tmp, params, labels, contexts, encoder


def _curate(setup, run: str) -> Path:
    tmp, params, labels, contexts, _ = setup
    out = tmp / run / "data"
    if not out.is_dir():
        _stage("curate", "--params", str(params), "--labels", str(labels), "--contexts", str(contexts),
               "--out-dir", str(out), "--metrics", str(tmp / run / "curate.json"))
    return out


def test_curate_twice_gives_the_same_bytes(setup):
    tmp = setup[0]
    first, second = _digests(_curate(setup, "a")), _digests(_curate(setup, "b"))
    # both datasets in all three formats, every split non-empty
    assert {f"{v}/{s}.jsonl" for v in ("contextless", "contextual") for s in ("train", "dev", "test")} <= set(first)
    assert any(k.endswith(".parquet") for k in first) and any(k.endswith(".arrow") for k in first)
    assert first == second
    metrics = [json.loads((tmp / run / "curate.json").read_text()) for run in ("a", "b")]
    assert metrics[0]["contextless"]["outputs"] > 0
    assert _without_clock(metrics[0]) == _without_clock(metrics[1])


def test_cpu_training_twice_gives_the_same_model_bytes(setup):
    tmp, params, _, _, encoder = setup
    data = _curate(setup, "a") / "contextless"
    for run in ("a", "b"):
        out = tmp / run / "train"
        _stage("train", "--params", str(params), "--variant", "contextless", "--data", str(data), "--encoder",
               str(encoder), "--out", str(out / "model"), "--metrics", str(out / "metrics.json"),
               "--plots", str(out / "plots"))
    first, second = _digests(tmp / "a" / "train" / "model"), _digests(tmp / "b" / "train" / "model")
    assert any(k.endswith(".safetensors") for k in first)
    assert first == second
    assert _digests(tmp / "a" / "train" / "plots") == _digests(tmp / "b" / "train" / "plots")
    metrics = [json.loads((tmp / run / "train" / "metrics.json").read_text()) for run in ("a", "b")]
    assert _without_clock(metrics[0]) == _without_clock(metrics[1])
