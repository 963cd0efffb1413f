"""Records of the synthesis side: step metrics, generation statistics, dataset statistics.

Files and their models:

- ``outputs/metrics/synth/<step>.json``: :data:`STEP_RECORDS` (``narratives`` ...
  ``curate``), written by the step's stage script;
- ``outputs/metrics/generation/<step>.json``: :class:`GenerationStats`, written by
  the engine when its session closes (the four generation steps);
- ``outputs/metrics/dataset_stats.json``: :class:`DatasetStats`, written by the
  ``dataset_stats`` stage.

Every step record says what it counts: ``inputs`` of ``unit_in`` went in,
``outputs`` of ``unit_out`` came out, and :meth:`StepMetrics.count_rows` gives
the rows of the synthesis-counts table, so no reader guesses a key.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import model_validator

from emopillars.contracts import Record

SYNTHESIS_STEPS = ("narratives", "characters", "utterances", "labels", "contexts", "curate")
GENERATION_STEPS = ("characters", "utterances", "labels", "contexts")
SYNTHETIC_DATASETS = ("contextless", "contextual")


def step_metrics_path(step: str) -> str:
    return f"outputs/metrics/synth/{step}.json"


def generation_stats_path(step: str) -> str:
    return f"outputs/metrics/generation/{step}.json"


DATASET_STATS_PATH = "outputs/metrics/dataset_stats.json"


class StepCount(Record):
    """One row of the synthesis-counts table: what went in and came out of a step, and why records were dropped."""

    name: str
    inputs: int
    unit_in: str
    outputs: int
    unit_out: str
    drops: dict[str, int]

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())


class StepMetrics(Record):
    """Counts of one synthesis step. ``stage``, ``unit_in`` and ``unit_out`` are fixed by the subclass."""

    STAGE: ClassVar[str]
    UNIT_IN: ClassVar[str]
    UNIT_OUT: ClassVar[str]

    stage: str
    unit_in: str
    unit_out: str
    inputs: int
    outputs: int

    @model_validator(mode="after")
    def _names_match_the_step(self):
        for field, expected in (("stage", self.STAGE), ("unit_in", self.UNIT_IN), ("unit_out", self.UNIT_OUT)):
            if getattr(self, field) != expected:
                raise ValueError(f"{field} is {getattr(self, field)!r}, expected {expected!r} for {type(self).__name__}")
        return self

    @classmethod
    def build(cls, **fields: Any):
        """The record with its fixed names filled in."""
        return cls(stage=cls.STAGE, unit_in=cls.UNIT_IN, unit_out=cls.UNIT_OUT, **fields)

    def drops(self) -> dict[str, int]:
        raise NotImplementedError

    def count_rows(self) -> list[StepCount]:
        return [StepCount(name=self.stage, inputs=self.inputs, unit_in=self.unit_in, outputs=self.outputs,
                          unit_out=self.unit_out, drops=self.drops())]


class NarrativesMetrics(StepMetrics):
    """Stories cut into passages; ``dropped`` counts the pieces too short or empty to be passages."""

    STAGE, UNIT_IN, UNIT_OUT = "narratives", "stories", "passages"

    corpus: str
    sections_in: int
    passages_cut: int
    dropped: dict[str, int]
    truncated_at_max_words: int
    stories_used: int
    words_per_passage_mean: float

    def drops(self) -> dict[str, int]:
        return dict(self.dropped)


class GenerationStepMetrics(StepMetrics):
    """A step that asks the generator: requests, rejects by reason (final round) and speed.

    ``rejects`` counts the requests whose every round was rejected; ``rejects_all_rounds``
    counts the rejected answers of every round (a retried request may have several).
    """

    requests: int
    requests_retried: int
    rejects: int
    reject_reasons: dict[str, int]
    rejects_all_rounds: int
    seconds: float
    outputs_per_minute: Optional[float]
    prompt_hash: str

    def drops(self) -> dict[str, int]:
        return dict(self.reject_reasons)


class CharactersMetrics(GenerationStepMetrics):
    """``inputs`` counts every passage; those without any name or role noun are not sent
    (``passages_without_names``, also the first entry of ``reject_reasons``)."""

    STAGE, UNIT_IN, UNIT_OUT = "characters", "passages", "characters"

    passages_without_names: int
    passages_with_characters: int


class UtterancesMetrics(GenerationStepMetrics):
    """``inputs`` counts the planned requests (several per character)."""

    STAGE, UNIT_IN, UNIT_OUT = "utterances", "requests planned", "utterances"

    characters_in: int
    seed_emotions: dict[str, int]
    expressiveness: dict[str, int]


class MappingReport(Record):
    """How the free-form emotion words of the labelling answers were resolved (``synth.stats.mapping_report``)."""

    answers: int
    emotion_words: int
    resolved_by: dict[str, int]
    out_of_taxonomy_rate: float
    non_emotion_rate: float
    non_emotion_kinds: dict[str, int]
    out_of_taxonomy_words: dict[str, int]
    distinct_out_of_taxonomy_words: int
    label_leakage_rate: float
    naive_label_leakage_rate: Optional[float]
    naive_examples_with_leaked_label: Optional[float]


class LabelsMetrics(GenerationStepMetrics):
    STAGE, UNIT_IN, UNIT_OUT = "labels", "utterances", "labelled"

    mapping: MappingReport


class RelabelReport(Record):
    """The contextual examples labelled again, reading the context."""

    inputs: int
    labelled: int
    reject_reasons: dict[str, int]
    labels_changed_by_context: int
    mapping: MappingReport


class ContextsMetrics(GenerationStepMetrics):
    """``inputs``: the labelled utterances chosen (``share`` of ``utterances_in``); ``outputs``: contexts
    written; ``contextual_examples_out``: what is left after relabelling (``relabel`` is null without it)."""

    STAGE, UNIT_IN, UNIT_OUT = "contexts", "utterances chosen", "contexts"

    utterances_in: int
    share: float
    relabelled: bool
    contextual_examples_out: int
    relabel: Optional[RelabelReport]


class CurateCounts(Record):
    """One dataset through curation: examples in, kept, dropped by reason, and the split sizes."""

    inputs: int
    outputs: int
    dropped: dict[str, int]
    sizes: dict[str, int]


class CurateMetrics(Record):
    stage: str
    contextless: CurateCounts
    contextual: CurateCounts
    stories: dict[str, int]
    seconds: float

    @model_validator(mode="after")
    def _is_curate(self):
        if self.stage != "curate":
            raise ValueError(f"stage is {self.stage!r}, expected 'curate'")
        return self

    def count_rows(self) -> list[StepCount]:
        return [StepCount(name=f"curate ({label})", inputs=c.inputs, unit_in="", outputs=c.outputs, unit_out="",
                          drops=dict(c.dropped))
                for label, c in (("context-less", self.contextless), ("contextual", self.contextual))]


STEP_RECORDS: dict[str, type[Record]] = {
    "narratives": NarrativesMetrics,
    "characters": CharactersMetrics,
    "utterances": UtterancesMetrics,
    "labels": LabelsMetrics,
    "contexts": ContextsMetrics,
    "curate": CurateMetrics,
}


# --------------------------------------------------------------------------- generation statistics
class GenerationStats(Record):
    """What one engine session did: requests, cache hits, verdicts, tokens and time (``Engine.stats``).

    ``prompt_tokens`` and ``generated_tokens`` count what this session sent and generated;
    ``cached_*`` count what the answers served from the cache cost when they were generated, so
    :attr:`answer_prompt_tokens` and :attr:`answer_generated_tokens` are the step's cost however
    much of it was replayed. ``backend_info`` is the backend's own description (versions,
    hardware, settings), kept as it reports it.
    """

    requests: int
    unique_requests: int
    cache_hits: int
    generated_requests: int
    valid: int
    rejected: int
    retried: int
    truncated_salvaged: int  # answers cut at max_tokens whose complete items were kept (policy ``salvage``)
    truncated_rejected: int  # answers cut at max_tokens that stayed rejects
    model_calls: int
    waves: int
    reject_reasons: dict[str, int]
    retry_reasons: dict[str, int]
    prompt_tokens: int
    generated_tokens: int
    cached_prompt_tokens: int
    cached_generated_tokens: int
    wall_seconds: float
    model_seconds: float
    generated_tokens_per_second: float
    valid_rate: Optional[float]
    backend: str
    decoding: Optional[dict[str, Any]]  # engine-wide settings that are part of the cache key
    model_id: str
    revision: Optional[str]
    max_retries: int
    truncated: Literal["salvage", "reject"]  # the truncation policy of the session
    batch_size: int
    cache_only: bool
    cache_path: Optional[str]
    backend_info: dict[str, Any]

    @property
    def answer_prompt_tokens(self) -> int:
        return self.prompt_tokens + self.cached_prompt_tokens

    @property
    def answer_generated_tokens(self) -> int:
        return self.generated_tokens + self.cached_generated_tokens


# --------------------------------------------------------------------------- dataset statistics
class LabelsPerExample(Record):
    mean: float
    histogram: dict[str, int]


class DiversityMeasures(Record):
    distinct_1: float
    distinct_2: float
    self_bleu: float
    embedding_similarity: float


class ClassDiversity(DiversityMeasures):
    """The measures on a seeded sample of ``n`` texts of one class."""

    n: int


class Diversity(Record):
    """Per class, and their mean (``macro``; null when no class had two texts to compare)."""

    macro: Optional[DiversityMeasures]
    per_class: dict[str, ClassDiversity]


class DatasetDiversity(Record):
    ours: Diversity
    goemotions_same_sizes: Diversity  # GoEmotions sampled to our per-class sizes


class OutOfTaxonomy(Record):
    """The labelling report of a dataset's labels (a subset of :class:`MappingReport`)."""

    out_of_taxonomy_rate: float
    label_leakage_rate: float
    naive_label_leakage_rate: Optional[float]
    naive_examples_with_leaked_label: Optional[float]
    non_emotion_rate: float
    out_of_taxonomy_words: dict[str, int]

    @classmethod
    def of(cls, mapping: MappingReport) -> "OutOfTaxonomy":
        return cls(**{k: getattr(mapping, k) for k in cls.model_fields})


class SyntheticDatasetStats(Record):
    """One synthetic dataset, all splits.

    ``out_of_taxonomy`` is the report of the labelling that made its labels: the
    labels step for the context-less set, the in-context relabelling for the
    contextual set (null when the contextual examples kept the utterances' labels).
    """

    examples: int
    label_distribution: dict[str, int]
    primary_distribution: dict[str, int]
    classes_present: int
    labels_per_example: LabelsPerExample
    diversity: DatasetDiversity
    out_of_taxonomy: Optional[OutOfTaxonomy]


class SyntheticDatasets(Record):
    contextless: SyntheticDatasetStats
    contextual: SyntheticDatasetStats


class ReferenceStats(Record):
    """GoEmotions' training split."""

    examples: int
    labels_per_example: LabelsPerExample


class SynthesisCounts(Record):
    narratives: NarrativesMetrics
    characters: CharactersMetrics
    utterances: UtterancesMetrics
    labels: LabelsMetrics
    contexts: ContextsMetrics
    curate: CurateMetrics


class DatasetStats(Record):
    counts: SynthesisCounts
    datasets: SyntheticDatasets
    goemotions: ReferenceStats
