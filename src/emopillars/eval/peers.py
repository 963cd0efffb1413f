"""Published classifiers read on the benchmarks with this project's protocol.

A peer is any sequence classifier, of any architecture: a local model folder, or
a Hugging Face id downloaded at a pinned revision through
``huggingface_hub.snapshot_download`` (safetensors weights, JSON and tokenizer
files only: pickled ``.bin`` weights are never fetched, remote code never run).
The commit the files came from is recorded.

Its ``id2label`` names are read onto a benchmark (:func:`read_labels`): the 28
GoEmotions classes in any order (case and spacing aside) go through the label
maps (:mod:`emopillars.data.label_maps`, max over each benchmark label's
classes); a benchmark's own label set (a 7-label ISEAR model) is read label by
label; anything else is "not applicable", with the reason.

Each multi-label benchmark is read under two rules: the model's own threshold
(a flag, else its card's threshold from the ``peers`` params, else the
thresholds it was exported with, else 0.5) and thresholds tuned on the
benchmark's dev split; a single-label benchmark takes the arg-max of the
mapped scores. Metrics and bootstrap intervals are the ones every evaluation
record of the project carries (:mod:`emopillars.eval.evaluate`).

``emopillars evaluate`` and the ``peers`` stage both run :func:`evaluate_peer`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import numpy as np

from emopillars import benchmarks
from emopillars.contracts.evaluation import PeerEvaluationRecord, PeerModel, PeerResult
from emopillars.data.label_maps import project_scores, projection_sets
from emopillars.eval.evaluate import decide, evaluate_scores, evaluation_fields, gold_labels, prediction_rows, \
    seeded_subset
from emopillars.taxonomy import EMOTIONS

# What a hub download fetches: weights as safetensors, configs, tokenizer files, exported thresholds.
HUB_FILES = ("*.safetensors", "*.safetensors.index.json", "*.json", "*.txt", "*.model")
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_THRESHOLD = 0.5


class ModelUnavailable(Exception):
    """A hub model could not be had (offline, missing repository or revision, no safetensors); one line."""


# --------------------------------------------------------------------------- where the model comes from
@dataclass(frozen=True)
class ModelSource:
    """A model folder and where it came from (``resolved_revision``: the hub commit of its files)."""

    reference: str
    source: Literal["hub", "folder"]
    folder: Path
    revision: Optional[str] = None
    resolved_revision: Optional[str] = None


def resolve_model(reference: str, revision: Optional[str] = None) -> ModelSource:
    """A local folder (needs ``config.json``), or a hub id downloaded at ``revision``.

    Raises ``ValueError`` for a folder that is not a model or a name that is
    neither a folder nor a hub id, and :class:`ModelUnavailable` when the hub
    cannot give the files.
    """
    path = Path(reference).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ValueError(f"{path}: not a model folder (no config.json)")
        if revision:
            raise ValueError(f"{path}: a local folder has no revision (got revision {revision!r})")
        return ModelSource(reference, "folder", path)
    if not HUB_ID.match(reference):
        raise ValueError(f"{reference}: no such folder, and not a Hugging Face id (owner/name)")
    folder = _download(reference, revision)
    resolved = folder.name if COMMIT.match(folder.name) else None
    return ModelSource(reference, "hub", folder, revision, resolved)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _download(repo_id: str, revision: Optional[str]) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, HFValidationError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{repo_id}@{revision or 'main'}"
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_FILES)))
    except HFValidationError as e:
        raise ValueError(f"{repo_id}: not a valid Hugging Face id ({_first_line(e)})") from None
    except RevisionNotFoundError:
        raise ModelUnavailable(f"{where}: no such revision on the Hugging Face hub") from None
    except GatedRepoError:
        raise ModelUnavailable(f"{where}: gated on the Hugging Face hub (accept its conditions and log in)") from None
    except RepositoryNotFoundError:
        raise ModelUnavailable(f"{where}: no such model on the Hugging Face hub (or it is private); "
                               f"no local folder {repo_id} either") from None
    except LocalEntryNotFoundError:
        raise ModelUnavailable(f"{where}: the Hugging Face hub cannot be reached (offline or HF_HUB_OFFLINE=1) and "
                               f"no copy is cached; no local folder {repo_id} either") from None
    except (HfHubHTTPError, OSError) as e:
        raise ModelUnavailable(f"{where}: download failed: {_first_line(e)}") from None
    if not any(folder.glob("*.safetensors")):
        raise ModelUnavailable(f"{where}: no safetensors weights (pickled .bin weights are never loaded)")
    return folder


# --------------------------------------------------------------------------- labels onto a benchmark
def normalise_label(name: str) -> str:
    """``"Admiration"``, ``" admiration "`` and ``"ADMIRATION"`` alike; spaces and hyphens become ``_``."""
    return re.sub(r"[\s-]+", "_", str(name).strip().lower())


@dataclass(frozen=True)
class LabelReading:
    """How a model's outputs are read as one benchmark's labels.

    ``columns`` maps each benchmark label to the model outputs whose highest
    score is its score; ``head`` is None (and ``reason`` says why) when the
    model's labels cannot be read on the benchmark.
    """

    benchmark: str
    model_labels: tuple[str, ...]
    head: Optional[Literal["taxonomy28", "benchmark"]]
    columns: dict[str, tuple[int, ...]]
    reason: Optional[str] = None

    @property
    def applies(self) -> bool:
        return self.head is not None

    def names(self) -> dict[str, list[str]]:
        """Benchmark label -> the model labels it is read from."""
        return {label: [self.model_labels[i] for i in cols] for label, cols in self.columns.items()}

    def scores(self, probs: np.ndarray) -> np.ndarray:
        """Model scores (its own output order) as scores of the benchmark's labels (the registry's order)."""
        probs = np.asarray(probs, dtype=float)
        if self.head == "taxonomy28":
            index = {normalise_label(l): i for i, l in enumerate(self.model_labels)}
            return project_scores(probs[:, [index[e] for e in EMOTIONS]], self.benchmark)
        if self.head == "benchmark":
            return probs[:, [cols[0] for cols in self.columns.values()]]
        raise ValueError(f"{self.benchmark}: not applicable: {self.reason}")

    def per_class(self, thresholds: Sequence[float]) -> Optional[list[float]]:
        """Per-class thresholds in model order as thresholds of the benchmark's labels (None unless one to one)."""
        if any(len(cols) != 1 for cols in self.columns.values()):
            return None
        return [float(thresholds[cols[0]]) for cols in self.columns.values()]


def _preview(names: Sequence[str], n: int = 8) -> str:
    shown = ", ".join(names[:n])
    return shown + (f", ... ({len(names)} in all)" if len(names) > n else "")


def read_labels(model_labels: Sequence[str], benchmark: str) -> LabelReading:
    """Read a model's ``id2label`` names (output order) on ``benchmark``: the 28 GoEmotions classes, the
    benchmark's own labels, or not applicable (with the reason)."""
    bench = benchmarks.get(benchmark)
    labels = tuple(str(l) for l in model_labels)
    norm = [normalise_label(l) for l in labels]

    def not_applicable(reason: str) -> LabelReading:
        return LabelReading(benchmark, labels, None, {}, reason)

    if norm and all(re.fullmatch(r"label_\d+", n) for n in norm):
        return not_applicable(f"its {len(norm)} outputs have no label names (id2label is {_preview(labels, 3)})")
    if len(set(norm)) != len(norm):
        dup = sorted({n for n in norm if norm.count(n) > 1})
        return not_applicable(f"its labels repeat a name ({', '.join(dup)})")
    index = {n: i for i, n in enumerate(norm)}
    if set(norm) == set(EMOTIONS):
        sets = projection_sets(benchmark)
        return LabelReading(benchmark, labels, "taxonomy28",
                            {label: tuple(index[c] for c in sets[label]) for label in bench.labels})
    if set(norm) == {normalise_label(l) for l in bench.labels}:
        return LabelReading(benchmark, labels, "benchmark",
                            {label: (index[normalise_label(label)],) for label in bench.labels})
    if set(bench.labels) == set(EMOTIONS):
        return not_applicable(f"its {len(labels)} labels ({_preview(labels)}) are not the 28 GoEmotions classes")
    return not_applicable(f"its {len(labels)} labels ({_preview(labels)}) are neither the 28 GoEmotions classes "
                          f"nor {bench.display_name}'s labels ({_preview(bench.labels)})")


# --------------------------------------------------------------------------- what to evaluate
@dataclass(frozen=True)
class PeerSpec:
    """One classifier to evaluate: a ``peers`` param entry, or the options of ``emopillars evaluate``.

    ``threshold_from`` and ``contextual_from`` say where the threshold and the
    input variant were set (they are recorded).
    """

    name: str
    model: str
    revision: Optional[str] = None
    threshold: Optional[float] = None
    threshold_from: str = "the card's threshold (peers param)"
    contextual: Optional[bool] = None
    contextual_from: str = "peers param"

    @classmethod
    def from_params(cls, name: str, entry) -> "PeerSpec":
        return cls(name=name, model=entry.model, revision=entry.revision, threshold=entry.threshold,
                   contextual=entry.contextual)

    def model_record(self, source: Optional[ModelSource] = None, **loaded) -> PeerModel:
        kind = source.source if source else ("folder" if Path(self.model).expanduser().exists() else "hub")
        if self.contextual is not None and "contextual" not in loaded:  # what the entry says, also unloaded
            loaded.update(contextual=self.contextual, contextual_from=self.contextual_from)
        return PeerModel(name=self.name, reference=self.model, source=kind, revision=self.revision,
                         resolved_revision=source.resolved_revision if source else None, **loaded)


class LoadedPeer:
    """A resolved model loaded for scoring, with its own decision rule and input variant."""

    def __init__(self, spec: PeerSpec, source: ModelSource, device: str = "auto", max_length: int = 128):
        from emopillars.train.predict import Predictor

        self.spec, self.source = spec, source
        try:
            self.predictor = Predictor(source.folder, threshold=DEFAULT_THRESHOLD, device=_device(device))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{spec.model}: cannot be loaded as a sequence classifier: {_first_line(e)}") from None
        # max_length is a cap: a model with fewer positions reads as many tokens as it has positions.
        positions = self.predictor.max_positions
        self.predictor.max_length = min(max_length, positions) if positions else max_length
        self.labels = list(self.predictor.labels)
        self.architecture = type(self.predictor.model).__name__
        if spec.contextual is not None:
            self.contextual, self.contextual_from = bool(spec.contextual), spec.contextual_from
        elif self.predictor.contextual:
            self.contextual, self.contextual_from = True, "the model's config (emopillars.input.variant)"
        else:
            self.contextual, self.contextual_from = False, "nothing says that the model reads context"
        self.predictor.contextual = self.contextual
        self.own_rule, self.threshold_source = _own_rule(spec, source.folder, self.labels)

    def model_record(self) -> PeerModel:
        return self.spec.model_record(self.source, architecture=self.architecture, labels=self.labels,
                                      contextual=self.contextual, contextual_from=self.contextual_from)

    def scores(self, records, batch_size: int, progress: bool) -> np.ndarray:
        from emopillars.train.predict import Input

        inputs = [Input(r.text, r.context if self.contextual else None, id=str(r.id)) for r in records]
        return self.predictor.scores(inputs, batch_size, progress)


def _device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _own_rule(spec: PeerSpec, folder: Path, labels: Sequence[str]) -> tuple[dict, str]:
    """The model's own rule over its outputs (model order) and where it comes from."""
    from emopillars.train.export import THRESHOLDS_FILE, load_thresholds

    if spec.threshold is not None:
        return {"kind": "global", "global": float(spec.threshold)}, f"{spec.threshold:g}: {spec.threshold_from}"
    try:
        exported = load_thresholds(folder)
    except ValueError:
        return ({"kind": "global", "global": DEFAULT_THRESHOLD},
                f"{DEFAULT_THRESHOLD:g}: no threshold given and none exported with the model")
    per_class = exported.get("per_class")
    order = exported.get("labels")
    if per_class is not None and order is not None and list(order) != list(labels):
        position = {normalise_label(l): t for l, t in zip(order, per_class)}
        per_class = [position[normalise_label(l)] for l in labels]
    rule = {"kind": exported.get("kind", "global"), "global": float(exported.get("global", DEFAULT_THRESHOLD)),
            "per_class": per_class, "tuned_on": exported.get("tuned_on")}
    shown = f"{rule['global']:g}" if rule["kind"] == "global" else "per class"
    return rule, f"{shown}: the model's exported thresholds ({THRESHOLDS_FILE} / config.json)"


# --------------------------------------------------------------------------- evaluation
def _bench_rule(own: dict, reading: LabelReading) -> dict:
    """The model's own rule over the benchmark's labels (per class only where each label is one model output)."""
    per_class = reading.per_class(own["per_class"]) if own.get("per_class") is not None else None
    kind = own["kind"] if per_class is not None else "global"
    return {"kind": kind, "global": own["global"], "per_class": per_class, "tuned_on": own.get("tuned_on")}


def _result(rule_name: str, source: str, scores: np.ndarray, gold: np.ndarray, bench, rule: dict, ep):
    evaluated = evaluate_scores(scores, gold, list(bench.labels), bench.multi_label, rule, bench.primary_metric,
                                ep.bootstrap_samples, ep.confidence, ep.seed)
    pred = evaluated["predictions"]
    return PeerResult(rule=rule_name, threshold_source=source, **evaluation_fields(evaluated)), pred


def evaluate_on(peer: LoadedPeer, benchmark: str, splits, ep, max_eval_examples: Optional[int], seed: int,
                batch_size: int = 32, progress: bool = True) -> tuple[PeerEvaluationRecord, dict[str, list[dict]]]:
    """One loaded model on one benchmark's test split: the record and, per rule, its prediction rows."""
    bench = benchmarks.get(benchmark)
    reading = read_labels(peer.labels, benchmark)
    base = dict(name=peer.spec.name, benchmark=benchmark, system=peer.spec.model, model=peer.model_record(),
                protocol=peer_protocol(bench, max_eval_examples))
    if not reading.applies:
        return PeerEvaluationRecord(status="not_applicable", reason=reading.reason, **base), {}
    started = time.time()
    test = seeded_subset(splits["test"], max_eval_examples, seed)
    test_scores = reading.scores(peer.scores(test, batch_size, progress))
    test_gold = gold_labels(test, bench.labels, bench.multi_label)
    results, rows, n_dev = [], {}, None
    if bench.multi_label:
        dev = seeded_subset(splits["dev"], max_eval_examples, seed)
        n_dev = len(dev)
        dev_scores = reading.scores(peer.scores(dev, batch_size, progress))
        dev_rule = decide(dev_scores, gold_labels(dev, bench.labels, True), True, ep.threshold_mode)
        rules = [("model_threshold", peer.threshold_source, _bench_rule(peer.own_rule, reading)),
                 ("dev_tuned", f"tuned on the {bench.display_name} dev split ({len(dev)} examples, "
                               f"{ep.threshold_mode} rule, global threshold {dev_rule['global']:g})", dev_rule)]
    else:
        rules = [("argmax", "arg-max of the benchmark labels' scores (single-label)", {"kind": "argmax"})]
    for rule_name, source, rule in rules:
        result, pred = _result(rule_name, source, test_scores, test_gold, bench, rule, ep)
        results.append(result)
        rows[rule_name] = prediction_rows(test, list(bench.labels), pred, scores=test_scores)
    record = PeerEvaluationRecord(status="evaluated", reason=None, head=reading.head, label_reading=reading.names(),
                                  n_test=len(test), n_dev=n_dev, seconds=round(time.time() - started, 2),
                                  results=results, **base)
    return record, rows


def peer_protocol(bench, max_eval_examples: Optional[int]) -> str:
    size = "the whole test split" if max_eval_examples is None else \
        f"a seeded sample of at most {max_eval_examples} test (and dev) examples"
    rules = ("the model's own threshold, and thresholds tuned on the dev split" if bench.multi_label
             else "the arg-max of the mapped scores")
    return (f"{bench.protocol}; a published classifier read through its id2label names (the 28 GoEmotions classes "
            f"through the label maps, max over each label's classes, or the benchmark's own labels); no benchmark "
            f"training; {size}; rules: {rules}; percentile bootstrap intervals")


def unavailable_record(spec: PeerSpec, benchmark: str, reason: str, max_eval_examples: Optional[int],
                       peer: Optional[LoadedPeer] = None) -> PeerEvaluationRecord:
    """The record of a model or a benchmark that could not be had (``reason`` says which and why)."""
    model = peer.model_record() if peer is not None else spec.model_record()
    return PeerEvaluationRecord(name=spec.name, benchmark=benchmark, status="unavailable", reason=reason,
                                system=spec.model, model=model,
                                protocol=peer_protocol(benchmarks.get(benchmark), max_eval_examples))


def evaluate_peer(spec: PeerSpec, benchmark_names: Sequence[str], read: Callable[[str], tuple], ep,
                  max_eval_examples: Optional[int], seed: int, batch_size: int = 32, max_length: int = 128,
                  device: str = "auto", progress: bool = True) -> list[tuple[PeerEvaluationRecord, dict]]:
    """``spec`` on every benchmark of ``benchmark_names``: ``[(record, {rule: prediction rows})]``.

    ``read(name)`` returns ``(splits, None)`` or ``(None, reason)`` (as
    :func:`emopillars.benchmarks.read_splits`). A hub model that cannot be had
    gives an ``unavailable`` record per benchmark; so does a benchmark whose
    data is missing. A bad folder or name raises ``ValueError``.
    """
    for name in benchmark_names:
        benchmarks.get(name)
    try:
        source = resolve_model(spec.model, spec.revision)
    except ModelUnavailable as e:
        return [(unavailable_record(spec, b, f"model unavailable: {e}", max_eval_examples), {})
                for b in benchmark_names]
    peer = LoadedPeer(spec, source, device, max_length)
    out = []
    for name in benchmark_names:
        reading = read_labels(peer.labels, name)
        if not reading.applies:  # decided by the labels alone: the benchmark's data is not read
            out.append(evaluate_on(peer, name, None, ep, max_eval_examples, seed, batch_size, progress))
            continue
        splits, reason = read(name)
        if splits is None:
            out.append((unavailable_record(spec, name, f"benchmark data unavailable: {reason}", max_eval_examples,
                                           peer), {}))
            continue
        out.append(evaluate_on(peer, name, splits, ep, max_eval_examples, seed, batch_size, progress))
    return out


# --------------------------------------------------------------------------- summary
RULE_NAMES = {"model_threshold": "model's threshold", "dev_tuned": "tuned on dev", "argmax": "arg-max"}


def summary(record: PeerEvaluationRecord) -> str:
    """A few readable lines: the model, how its labels are read, and each rule's metrics with intervals."""
    from emopillars.benchmarks import METRIC_NAMES

    bench = benchmarks.get(record.benchmark)
    m = record.model
    where = m.reference + (f" @ {m.resolved_revision[:12]}" if m.resolved_revision else "") + f" ({m.source})"
    head = f"{record.name}: {where} on {bench.display_name}"
    if not record.available:
        return f"{head}: {record.status.replace('_', ' ')}: {record.reason}"
    read_as = ("the 28 GoEmotions classes through the label maps" if record.head == "taxonomy28"
               else f"{bench.display_name}'s own labels")
    lines = [head,
             f"  {len(m.labels or [])} labels ({m.architecture}), read as {read_as}; input: "
             f"{'contextual' if m.contextual else 'context-less'} ({m.contextual_from})",
             f"  test: {record.n_test} examples" + (f"; dev: {record.n_dev} (threshold tuning)" if record.n_dev else "")]
    for r in record.results:
        first = [r.primary_metric] + [k for k in r.metrics if k != r.primary_metric]
        shown = "  ".join(f"{METRIC_NAMES.get(k, k)} {r.metrics[k].value:.3f} [{r.metrics[k].ci_low:.3f}, "
                          f"{r.metrics[k].ci_high:.3f}]" for k in first[:3])
        lines.append(f"  {RULE_NAMES[r.rule]} ({r.threshold_source}): {shown}; labels/example "
                     f"{r.labels_per_example:.2f} (gold {r.gold_labels_per_example:.2f}), n {r.n_test}")
    return "\n".join(lines)

