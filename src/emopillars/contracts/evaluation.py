"""Evaluation records: what the transfer, zero-shot and LLM-baseline stages write, and the reports read.

One :class:`EvaluationRecord` per run, in
``outputs/metrics/<kind>/<benchmark>/<run name>.json`` (transfer, zero-shot)
or ``outputs/metrics/llm_baseline/<benchmark>.json``. Its :class:`RunIdentity`
says which run it is; the file name follows from it (:attr:`RunIdentity.run_name`)
and is never parsed back. A benchmark that a stage could not evaluate (a
user-supplied one that is not configured) is listed in ``<metrics dir>/skipped.json``
(a :class:`SkippedBenchmarks`) instead. The ``peers`` stage and ``emopillars
evaluate`` write one :class:`PeerEvaluationRecord` per model and benchmark,
``outputs/metrics/peers/<name>/<benchmark>.json``, also when the model or the
benchmark could not be had. The ``crossdomain`` stage writes one
:class:`CrossDomainRecord` per exported transfer model and other benchmark,
``outputs/metrics/crossdomain/<source>/<init>__to__<target>.json``.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field, model_validator

from emopillars.contracts import Record

RunKind = Literal["transfer", "zeroshot", "llm_baseline"]
SkipKind = Literal["transfer", "zeroshot", "llm_baseline", "crossdomain"]
SKIP_FILE = "skipped.json"


class RunIdentity(Record):
    """Which run a record is: benchmark, initialisation, training fraction, head, and for transfer its seed.

    ``fraction`` is the share of the benchmark's training split used (0 for
    zero-shot and LLM runs, which train on none). ``head`` is how the system's
    outputs are read on the benchmark: a trained ``benchmark`` head, the
    ``taxonomy28`` head through the label mapping, or the LLM's
    ``structured_output`` answer. A transfer run also says where its head
    started (``head_init``: ``fresh`` for every initialisation's encoder
    comparison, ``emopillars`` when an Emo Pillars model kept its own 28-way head)
    and its training ``seed``; other kinds have neither.
    """

    kind: RunKind
    benchmark: str
    init: str
    fraction: float = Field(ge=0, le=1)
    head: Literal["benchmark", "taxonomy28", "structured_output"]
    head_init: Optional[Literal["fresh", "emopillars"]] = None
    seed: Optional[int] = None

    @model_validator(mode="after")
    def _transfer_fields(self) -> "RunIdentity":
        given = (self.head_init is not None, self.seed is not None)
        if given != ((True, True) if self.kind == "transfer" else (False, False)):
            raise ValueError("a transfer run has a head_init and a seed; other kinds have neither")
        return self

    @property
    def system_key(self) -> str:
        """The row a run belongs to: the initialisation, ``<init>-ownhead`` when it kept the Emo Pillars head."""
        return f"{self.init}-ownhead" if self.head_init == "emopillars" else self.init

    @property
    def run_name(self) -> str:
        """The file stem of the run's metrics and predictions."""
        if self.kind == "transfer":
            return f"{self.system_key}__frac{self.fraction}__seed{self.seed}"
        return self.init if self.kind == "zeroshot" else self.benchmark


class Interval(Record):
    """A metric's value with its bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float


class ClassScores(Record):
    precision: float
    recall: float
    f1: float
    support: int


class DecisionRule(Record):
    """How scores became labels: the arg-max, or a global / per-class threshold and where it was tuned."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    kind: Literal["argmax", "global", "per_class"]
    global_threshold: Optional[float] = Field(None, alias="global")
    per_class: Optional[list[float]] = None
    dev_macro_f1_at_global: Optional[float] = None
    tuned_on: Optional[str] = None


class BootstrapSpec(Record):
    samples: int
    confidence: float
    seed: int
    method: Literal["percentile"]


class PairedTest(Record):
    """Paired bootstrap test of this run against the base encoder at the same fraction."""

    metric: str
    delta: float
    p_value: float
    samples: int
    ci_low: float
    ci_high: float


class Evaluation(Record):
    """Metrics of one classifier on one test set, with intervals, the decision rule and the bootstrap used.

    ``alternative_rule_macro_f1`` is the macro-F1 under the other threshold
    rule of a multi-label run (the record's own rule is ``thresholds.kind``).
    """

    primary_metric: str
    metrics: dict[str, Interval]
    per_class: dict[str, ClassScores]
    labels_per_example: float
    gold_labels_per_example: float
    n_test: int
    thresholds: DecisionRule
    bootstrap: BootstrapSpec
    alternative_rule_macro_f1: Optional[float] = None
    paired_test: Optional[PairedTest] = None

    @property
    def primary(self) -> Interval:
        return self.metrics[self.primary_metric]


class EvaluationRecord(Evaluation):
    """One system on one benchmark's test sample: run identity, protocol and metrics.

    ``system`` names what was evaluated (the Emo Pillars model, the base
    encoder, or ``generator (<model id>)`` for the LLM baseline).
    """

    run: RunIdentity
    system: str
    protocol: str
    n_train: int
    n_dev: Optional[int] = None
    rejected_answers: Optional[int] = Field(None, description="LLM answers that failed validation")
    test_set: Optional[str] = Field(None, description="which test examples were scored, where not the run's "
                                    "whole test set (the LLM baseline's seeded sample: its size and seed)")
    train_seconds: Optional[float] = None
    best_dev: Optional[dict[str, int | float | str]] = None


class TrainRecord(Evaluation):
    """What the ``train`` stage writes: one Emo Pillars model, how it was trained, and its synthetic test metrics."""

    model: str
    variant: Literal["contextless", "contextual"]
    data: str
    targets: Literal["soft", "hard"]
    protocol: str
    n_train: int
    n_dev: int
    input: dict[str, Optional[str]]
    best_dev: dict[str, int | float | str]
    train_seconds: float
    train_samples_per_s: float
    steps: int
    source: Optional[str] = Field(None, description="train.source: the pipeline's synthetic data or the released files")
    profile: Optional[str] = None
    dev_labels_per_example: Optional[float] = Field(None, description="labels per dev example under the tuned rule")
    dev_gold_labels_per_example: Optional[float] = None
    decision_warning: Optional[str] = Field(None, description="why the tuned rule is too loose to trust (null: it is not)")


class PeerModel(Record):
    """Which classifier a peer record is about, and where its files came from.

    ``revision`` is the one asked for (null: the hub's default branch), ``resolved_revision``
    the commit the files were downloaded at (null for a local folder, or when the hub could not
    be reached). ``labels`` are the model's ``id2label`` names in output order (null when the
    model could not be loaded).
    """

    name: str
    reference: str = Field(description="the hub id or folder, as given")
    source: Literal["hub", "folder"]
    revision: Optional[str] = None
    resolved_revision: Optional[str] = None
    architecture: Optional[str] = None
    labels: Optional[list[str]] = None
    contextual: Optional[bool] = None
    contextual_from: Optional[str] = Field(None, description="why the model got the context or not")


PeerRule = Literal["model_threshold", "dev_tuned", "argmax"]
PeerStatus = Literal["evaluated", "not_applicable", "unavailable"]


class PeerResult(Evaluation):
    """One decision rule's metrics: the model's own threshold, thresholds tuned on the benchmark's dev split,
    or the arg-max (single-label benchmarks). ``threshold_source`` says where the threshold came from."""

    rule: PeerRule
    threshold_source: str


class PeerEvaluationRecord(Record):
    """A published classifier read on one benchmark's test split with the benchmark's protocol.

    ``status`` is ``evaluated`` (``results`` holds one entry per rule), ``not_applicable`` (its
    labels cannot be read on this benchmark) or ``unavailable`` (the model or the benchmark's data
    could not be had); ``reason`` says why for the last two. ``label_reading`` gives, per benchmark
    label, the model labels whose highest score is that label's score; ``head`` is ``taxonomy28``
    when the model's labels are the 28 GoEmotions classes, ``benchmark`` when they are the benchmark's own.
    """

    name: str
    benchmark: str
    status: PeerStatus
    reason: Optional[str]
    system: str
    model: PeerModel
    protocol: str
    head: Optional[Literal["taxonomy28", "benchmark"]] = None
    label_reading: Optional[dict[str, list[str]]] = None
    n_test: Optional[int] = None
    n_dev: Optional[int] = None
    seconds: Optional[float] = None
    results: list[PeerResult] = Field(default_factory=list)

    @model_validator(mode="after")
    def _status_matches(self) -> "PeerEvaluationRecord":
        if self.status == "evaluated" and (not self.results or self.reason is not None):
            raise ValueError("an evaluated record has results and no reason")
        if self.status != "evaluated" and (self.results or not self.reason):
            raise ValueError(f"a record with status {self.status!r} has a reason and no results")
        return self

    @property
    def available(self) -> bool:
        return self.status == "evaluated"

    def result(self, rule: PeerRule) -> PeerResult:
        for r in self.results:
            if r.rule == rule:
                return r
        raise KeyError(f"{self.name} on {self.benchmark}: no {rule!r} result (rules: "
                       f"{', '.join(r.rule for r in self.results) or 'none'})")


class CrossDomainRecord(Evaluation):
    """A model fine-tuned on one benchmark (``source``) scored on another (``target``) in their shared Ekman groups.

    The model's label scores are read as Ekman-group scores (max over each group's labels,
    :func:`emopillars.data.label_maps.group_scores`) and the arg-max over ``shared_groups`` is its answer;
    the gold labels are read as groups the same way (a set of groups on a multi-label target). Metrics
    are over ``shared_groups`` (``primary_metric``: macro-F1). ``n_test`` counts the scored examples;
    ``n_excluded`` the target test examples whose gold has no shared group, by gold label in
    ``excluded_labels``. ``paired_test`` compares an Emo Pillars initialisation with the base encoder's
    model of the same source on the same examples.
    """

    source: str
    target: str
    init: str
    system: str
    model: str = Field(description="the exported model's folder")
    shared_groups: list[str] = Field(min_length=1)
    n_excluded: int = Field(ge=0)
    excluded_labels: dict[str, int] = Field(default_factory=dict)
    protocol: str

    @model_validator(mode="after")
    def _excluded_adds_up(self) -> "CrossDomainRecord":
        if sum(self.excluded_labels.values()) != self.n_excluded:
            raise ValueError("excluded_labels must count every excluded example once (they add up to n_excluded)")
        if self.source == self.target:
            raise ValueError("a cross-domain record scores a model on another benchmark than its own")
        return self

    @property
    def run_name(self) -> str:
        """The file stem of the record: ``<init>__to__<target>``."""
        return f"{self.init}__to__{self.target}"


class SkipRecord(Record):
    """A benchmark that a stage was asked to evaluate and could not (``reason`` says what to set)."""

    kind: SkipKind
    benchmark: str
    reason: str


class SkippedBenchmarks(Record):
    """The content of a stage's ``skipped.json``."""

    skipped: list[SkipRecord]


class TargetsArm(Record):
    """The context-less model trained with one kind of target, read on the synthetic test split and zero-shot."""

    targets: Literal["soft", "hard"]
    synthetic_test: dict[str, Interval]
    synthetic_labels_per_example: float
    goemotions_zero_shot: dict[str, Interval]
    goemotions_labels_per_example: float


class TargetsAblation(Record):
    """What the ``targets`` stage writes: the main model's targets against the other kind, same data and recipe."""

    protocol: str
    main_targets: Literal["soft", "hard"]
    arms: dict[Literal["soft", "hard"], TargetsArm]
    seconds: float
