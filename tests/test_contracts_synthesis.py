"""The synthesis records: what the stages and the engine write is what the reports read, field by field."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from emopillars.config import load_params
from emopillars.contracts import RecordError
from emopillars.contracts.synthesis import (GENERATION_STEPS, STEP_RECORDS, SYNTHESIS_STEPS, DatasetStats,
                                            GenerationStats, LabelsMetrics)
from tests.helpers.stages import load_stage

ROOT = Path(__file__).resolve().parents[1]
METRICS = ROOT / "tests" / "fixtures" / "results" / "outputs" / "metrics"


_stage = load_stage


# --------------------------------------------------------------------------- round trips of real outputs
@pytest.mark.parametrize("step", SYNTHESIS_STEPS)
def test_step_record_round_trips_the_stage_output(step, tmp_path):
    path = METRICS / "synth" / f"{step}.json"
    record = STEP_RECORDS[step].read(path)
    assert record.model_dump(mode="json") == json.loads(path.read_text())
    record.write(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("step", GENERATION_STEPS)
def test_generation_stats_round_trip_the_engine_output(step):
    path = METRICS / "generation" / f"{step}.json"
    stats = GenerationStats.read(path)
    assert stats.model_dump(mode="json") == json.loads(path.read_text())
    assert stats.answer_generated_tokens > 0 and stats.requests >= stats.unique_requests


def test_dataset_stats_round_trip_and_carry_each_step_record():
    stats = DatasetStats.read(METRICS / "dataset_stats.json")
    assert stats.model_dump(mode="json") == json.loads((METRICS / "dataset_stats.json").read_text())
    # the counts are the step records themselves, not a copy under other names
    assert stats.counts.labels == LabelsMetrics.read(METRICS / "synth" / "labels.json")
    assert stats.datasets.contextless.out_of_taxonomy.out_of_taxonomy_rate == stats.counts.labels.mapping.out_of_taxonomy_rate


# --------------------------------------------------------------------------- broken files
def test_renamed_field_fails_naming_the_file_and_both_fields(tmp_path):
    data = json.loads((METRICS / "synth" / "labels.json").read_text())
    data["labelled_out"] = data.pop("outputs")
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError) as e:
        LabelsMetrics.read(path)
    assert str(e.value).startswith(f"{path}: not a valid LabelsMetrics")
    assert "field 'outputs' is missing" in str(e.value) and "field 'labelled_out' is not part of" in str(e.value)


def test_missing_nested_field_is_named_by_its_path(tmp_path):
    data = json.loads((METRICS / "dataset_stats.json").read_text())
    del data["datasets"]["contextual"]["labels_per_example"]["mean"]
    path = tmp_path / "dataset_stats.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"field 'datasets\.contextual\.labels_per_example\.mean' is missing"):
        DatasetStats.read(path)


def test_a_record_of_another_step_is_refused(tmp_path):
    path = tmp_path / "labels.json"
    shutil.copy(METRICS / "synth" / "utterances.json", path)
    with pytest.raises(RecordError, match=r"labels\.json: not a valid LabelsMetrics: field 'mapping' is missing"):
        LabelsMetrics.read(path)
    # the same fields under another step's name: the names are checked too
    data = json.loads((METRICS / "synth" / "labels.json").read_text())
    path.write_text(json.dumps({**data, "stage": "contexts"}))
    with pytest.raises(RecordError, match=r"stage is 'contexts', expected 'labels'"):
        LabelsMetrics.read(path)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(RecordError, match=r"nothing\.json: GenerationStats file not found"):
        GenerationStats.read(tmp_path / "nothing.json")


# --------------------------------------------------------------------------- writers
def test_engine_stats_are_the_record_and_a_replay_counts_the_cached_answers_tokens(tmp_path):
    from emopillars.llm.engine import Engine
    from emopillars.llm.types import GenerationRequest
    from tests.helpers.scripted_backend import ScriptedBackend

    requests = [GenerationRequest(messages=[{"role": "user", "content": f"line {i}"}], seed=i) for i in range(4)]
    cache = tmp_path / "cache.sqlite"
    with Engine(ScriptedBackend("m", None), cache, stats_path=tmp_path / "first.json", model_id="m",
                progress=False) as engine:
        engine.generate(requests)
    with Engine(ScriptedBackend("m", None), cache, stats_path=tmp_path / "replay.json", model_id="m",
                cache_only=True, progress=False) as engine:
        engine.generate(requests)
    first, replay = GenerationStats.read(tmp_path / "first.json"), GenerationStats.read(tmp_path / "replay.json")
    # the scripted backend charges 3 prompt and 5 generated tokens per answer
    assert (first.prompt_tokens, first.generated_tokens, first.cached_prompt_tokens) == (12, 20, 0)
    assert (replay.prompt_tokens, replay.generated_tokens, replay.cache_hits) == (0, 0, 4)
    assert (replay.answer_prompt_tokens, replay.answer_generated_tokens) == (12, 20)


def _goemotions(folder: Path) -> Path:
    """A GoEmotions-format folder (text, label ids, comment id) with a few rows per split."""
    from emopillars.taxonomy import EMOTIONS

    folder.mkdir()
    rows = [("I am so happy for you!", ["joy"]), ("This makes me furious.", ["anger"]),
            ("What a lovely surprise, thank you", ["joy", "gratitude"]), ("I am scared of the dark", ["fear"]),
            ("So angry I could scream", ["anger"]), ("Thanks, that is kind", ["gratitude"])]
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text("".join(
            f"{text}\t{','.join(str(EMOTIONS.index(l)) for l in labels)}\tid{split}{i}\n"
            for i, (text, labels) in enumerate(rows)))
    return folder


def _dataset(folder: Path, rows: list[tuple[str, list[str]]]) -> None:
    for split, part in (("train", rows[:-2]), ("dev", rows[-2:-1]), ("test", rows[-1:])):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{split}.jsonl").write_text("".join(
            json.dumps({"utterance": u, "labels": labels, "primary_emotion": labels[0]}) + "\n" for u, labels in part))


def test_dataset_stats_stage_writes_the_record(tmp_path, embedder_dir, capsys):
    contextless = [("I finally won the race, I am thrilled", ["joy"]), ("What a wonderful morning it is", ["joy"]),
                   ("You tricked me and I hate it", ["anger"]), ("Get out of my house now", ["anger"]),
                   ("The sea is calm and so am I", ["joy", "relief"]), ("Nobody listens to me", ["sadness"])]
    contextual = [("I will never forgive the wolf", ["anger"]), ("The wolf is gone, we are safe", ["relief"]),
                  ("The wolf took my grandmother", ["sadness"]), ("Hooray, the hunter came", ["joy"])]
    _dataset(tmp_path / "emopillars" / "contextless", contextless)
    _dataset(tmp_path / "emopillars" / "contextual", contextual)
    out = tmp_path / "dataset_stats.json"
    rc = _stage("dataset_stats").main([
        "--params", str(ROOT / "params.yaml"), "--datasets", str(tmp_path / "emopillars"),
        "--step-metrics", str(METRICS / "synth"), "--goemotions", str(_goemotions(tmp_path / "goemotions")),
        "--embedder", str(embedder_dir), "--out", str(out)])
    assert rc == 0
    stats = DatasetStats.read(out)
    cl, cx = stats.datasets.contextless, stats.datasets.contextual
    assert (cl.examples, cx.examples, stats.goemotions.examples) == (6, 4, 6)
    assert cl.label_distribution["joy"] == 3 and cl.label_distribution["anger"] == 2 and cl.classes_present == 4
    assert cl.labels_per_example.mean == pytest.approx(7 / 6, abs=1e-4) and cl.labels_per_example.histogram == {"1": 5,
                                                                                                          "2": 1}
    # diversity of the classes with at least two texts, GoEmotions sampled to the same per-class sizes
    assert set(cl.diversity.ours.per_class) == {"joy", "anger"}
    assert cl.diversity.ours.per_class["joy"].n == 3 and cl.diversity.goemotions_same_sizes.per_class["joy"].n == 2
    assert -1 <= cl.diversity.ours.per_class["anger"].embedding_similarity <= 1
    assert cx.diversity.ours.per_class == {} and cx.diversity.ours.macro is None
    # the step metrics ride along unchanged; the labelling report becomes the context-less set's
    assert stats.counts.curate == STEP_RECORDS["curate"].read(METRICS / "synth" / "curate.json")
    assert cl.out_of_taxonomy.label_leakage_rate == stats.counts.labels.mapping.label_leakage_rate
    # the measures, taken class by class under a progress bar, are those of one diversity_by_class call per side
    from emopillars.synth.embed import MeanPoolEncoder
    from emopillars.synth.stats import diversity_by_class

    classes = len(cl.diversity.ours.per_class) + len(cl.diversity.goemotions_same_sizes.per_class)
    err = capsys.readouterr().err
    assert re.search(rf"dataset_stats: diversity: 100%\|[^|]*\| {classes}/{classes} ", err), err[-500:]
    ours = {"joy": [u for u, labels in contextless if "joy" in labels],
            "anger": [u for u, labels in contextless if "anger" in labels], "sadness": ["Nobody listens to me"],
            "relief": ["The sea is calm and so am I"]}
    direct = diversity_by_class(ours, {e: len(t) for e, t in ours.items()}, load_params(ROOT / "params.yaml").seed,
                                MeanPoolEncoder(embedder_dir))
    assert {e: d.model_dump(exclude_none=True) for e, d in cl.diversity.ours.per_class.items()} == direct


def test_embedding_many_texts_shows_a_progress_bar_when_asked(embedder_dir, capsys):
    from emopillars.synth.embed import MeanPoolEncoder

    texts = [f"line {i} of the story" for i in range(5)]
    vectors = MeanPoolEncoder(embedder_dir, batch_size=2, progress="stage: embedding")(texts)
    assert vectors.shape[0] == 5
    assert re.search(r"stage: embedding: 100%\|[^|]*\| 5/5 ", capsys.readouterr().err)
    MeanPoolEncoder(embedder_dir, batch_size=2)(texts)  # not asked: no bar
    assert "embedding" not in capsys.readouterr().err


def test_dataset_stats_stage_names_a_missing_step_file(tmp_path):
    steps = tmp_path / "synth"
    shutil.copytree(METRICS / "synth", steps)
    (steps / "contexts.json").unlink()
    with pytest.raises(RecordError, match=r"contexts\.json: ContextsMetrics file not found"):
        _stage("dataset_stats").main(["--datasets", str(tmp_path), "--step-metrics", str(steps), "--goemotions",
                                      str(tmp_path), "--embedder", str(tmp_path), "--out", str(tmp_path / "o.json"),
                                      "--params", str(ROOT / "params.yaml")])
