"""The synthesis stages for real: SmolLM2 through vLLM on CPU (models materialised once per test session)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

def _need_vllm():
    pytest.importorskip("vllm")


def _params(tmp_path: Path, **overrides) -> Path:
    from emopillars.profiles import compose

    out = compose("smoke", tmp_path / "params.yaml", ROOT / "conf")
    p = yaml.safe_load(out.read_text())
    p["llm"]["cache_path"] = str(tmp_path / "cache.sqlite")
    for section, values in overrides.items():
        for key, value in values.items():  # a nested override (sampling) changes only the keys it names
            if isinstance(value, dict):
                p[section][key].update(value)
            else:
                p[section][key] = value
    out.write_text(yaml.safe_dump(p))
    return out


def _run(script: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _rows(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def test_characters_stage_with_vllm(tmp_path, generator_dir, mirror_dir):
    """A few passages through the real generator: every kept name occurs in its passage, rejects carry a reason,
    and a passage without any name is counted instead of sent."""
    _need_vllm()
    params = _params(tmp_path, narratives={"n_passages": 3, "max_words": 150},
                     characters={"max_characters": 2, "retries": 0,
                                 "sampling": {"temperature": 0.3, "top_p": 0.95, "max_tokens": 120}})
    _run("narratives.py", "--params", str(params), "--corpus-dir", str(mirror_dir / "fairytaleqa_stories"),
         "--out", str(tmp_path / "narratives.jsonl"), "--metrics", str(tmp_path / "m_narratives.json"))
    out = _run("characters.py", "--params", str(params), "--narratives", str(tmp_path / "narratives.jsonl"),
               "--model-dir", str(generator_dir), "--prompts", str(ROOT / "prompts"),
               "--out", str(tmp_path / "characters.jsonl"), "--rejects", str(tmp_path / "rejects.jsonl"),
               "--metrics", str(tmp_path / "m_characters.json"), "--generation-stats", str(tmp_path / "gen.json"))
    assert "characters: 3 passages" in out
    passages = {r["plot_id"]: r["passage"].lower() for r in _rows(tmp_path / "narratives.jsonl")}
    chars, rejects = _rows(tmp_path / "characters.jsonl"), _rows(tmp_path / "rejects.jsonl")
    assert chars or rejects
    for c in chars:
        # every word of the name but an article stands in the passage as a whole word ("the king": "king")
        name_words = [w for w in c["character"].lower().split() if w not in {"the", "a", "an"}]
        assert name_words and all(re.search(rf"\b{re.escape(w)}\b", passages[c["plot_id"]]) for w in name_words), \
            c["character"]
        assert c["prompt_hashes"]["characters"] and c["raw_answers"]["characters"]
    assert all(r["reason"] for r in rejects)
    from emopillars.contracts.synthesis import CharactersMetrics, GenerationStats

    metrics = CharactersMetrics.read(tmp_path / "m_characters.json")
    assert metrics.outputs == len(chars) and metrics.inputs == 3
    assert metrics.requests == 3 - metrics.passages_without_names > 0
    assert GenerationStats.read(tmp_path / "gen.json").answer_generated_tokens > 0


@pytest.mark.slow
def test_whole_synthesis_pipeline_produces_both_datasets(tmp_path, generator_dir, encoder_dir, mirror_dir):
    _need_vllm()
    params = _params(tmp_path, narratives={"n_passages": 3}, contexts={"share": 0.6, "relabel": True})
    d = tmp_path
    g = ["--model-dir", str(generator_dir), "--prompts", str(ROOT / "prompts")]
    _run("narratives.py", "--params", str(params), "--corpus-dir", str(mirror_dir / "fairytaleqa_stories"),
         "--out", str(d / "narratives.jsonl"), "--metrics", str(d / "m/synth/narratives.json"))
    for stage, extra in (("characters", ["--narratives", str(d / "narratives.jsonl")]),
                         ("utterances", ["--characters", str(d / "characters.jsonl")]),
                         ("labels", ["--utterances", str(d / "utterances.jsonl"), "--characters",
                                     str(d / "characters.jsonl"), "--embedder", str(encoder_dir)]),
                         ("contexts", ["--labels", str(d / "labels.jsonl"), "--narratives", str(d / "narratives.jsonl"),
                                       "--characters", str(d / "characters.jsonl"),
                                       "--embedder", str(encoder_dir)])):
        _run(f"{stage}.py", "--params", str(params), *extra, *g, "--out", str(d / f"{stage}.jsonl"),
             "--rejects", str(d / f"rejects/{stage}.jsonl"), "--metrics", str(d / f"m/synth/{stage}.json"),
             "--generation-stats", str(d / f"m/generation/{stage}.json"))
    _run("curate.py", "--params", str(params), "--labels", str(d / "labels.jsonl"), "--contexts",
         str(d / "contexts.jsonl"), "--out-dir", str(d / "emopillars"), "--metrics", str(d / "m/synth/curate.json"))
    from datasets import load_from_disk

    from emopillars.taxonomy import EMOTIONS

    for name in ("contextless", "contextual"):
        ds = load_from_disk(str(d / "emopillars" / name / "hf"))
        assert set(ds) == {"train", "dev", "test"}
        for split in ds.values():
            for labels in split["labels"]:
                assert labels and set(labels) <= set(EMOTIONS)
        assert (d / "emopillars" / name / "parquet" / "train.parquet").exists()
    assert sum(len(v) for v in load_from_disk(str(d / "emopillars" / "contextless" / "hf")).values()) > 0
    assert "## Label distribution" in (d / "emopillars" / "README.md").read_text()
    rows = _rows(d / "labels.jsonl")
    assert all("emotions_used_to_generate_context" in r and r["expressiveness"] for r in rows)
