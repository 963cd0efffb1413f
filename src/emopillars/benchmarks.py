"""The benchmark registry: one definition per emotion benchmark.

A :class:`Benchmark` says everything the pipeline needs to know about one
benchmark: how to read it (its reader and where its folder comes from), its
label set and how each label maps to the 28 GoEmotions classes, whether it is
multi-label, the metric it is ranked by, the protocol text every metrics file
states, whether the model sees dialogue context, and which seed makes the
splits the project draws itself. Readers, label mappings, transfer, zero-shot,
the LLM baseline, the params schema, the reports and ``dvc.yaml``'s stage
matrices (``foreach: ${transfer.benchmarks}``) all take it from here, so adding
a benchmark is one :func:`register` call plus its reader.

Label mappings (benchmark label -> taxonomy classes). Each label maps to a
non-empty tuple of classes; the first is the *primary* one (the single target
when one class is needed), the whole tuple is what a projection takes the
maximum over (see :mod:`emopillars.data.label_maps`). Within one benchmark the
tuples are disjoint. Choices that are not obvious (the rest are the same word
on both sides):

* ISEAR ``shame`` -> ``embarrassment``: GoEmotions has no shame; embarrassment is
  its only self-conscious emotion about being seen failing a norm.
* ISEAR ``guilt`` -> ``remorse``: remorse is regret for a wrong one has done,
  which is what ISEAR's guilt situations describe.
* ``fear`` also takes ``nervousness`` and ``anger``/``angry``/``ang`` also takes
  ``annoyance`` (the milder intensity of the same emotion), except in IEMOCAP
  6-class where annoyance belongs to ``fru``; ``sadness``/``sad`` also takes
  ``grief``, and EmoContext ``sad`` also ``disappointment``.
* MELD ``joy`` also takes ``amusement`` and ``excitement`` (sitcom dialogue: most
  joy turns are laughing or excited).
* IEMOCAP ``exc`` (excited) -> ``excitement``; 4-class ``hap`` (= hap + exc, the
  usual merge) -> joy, excitement, amusement.
* IEMOCAP ``fru`` (frustrated) -> ``annoyance`` first, then ``disappointment``:
  frustration is anger at a blocked goal; annoyance is the GoEmotions class
  annotators use for it, disappointment covers the resigned cases. In the
  6-class protocol ``ang`` therefore maps to ``anger`` alone (the tuples must
  stay disjoint).
* EmoContext ``happy`` -> joy, amusement, excitement, love (chat messages where
  the speaker is happy are often laughing or affectionate); ``others`` ->
  ``neutral``. ``others`` in EmoContext means "none of happy/sad/angry", which
  includes other emotions (surprise, fear...), so projecting it from
  ``neutral`` alone under-scores it; this is a known weakness of reading a
  28-way model on EmoContext, and trained heads do not have it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional

from emopillars.taxonomy import EMOTIONS

if TYPE_CHECKING:
    from emopillars.data.readers import Splits

# Display names of the metric keys that the metrics code writes (emopillars.eval.metrics).
METRIC_NAMES: Mapping[str, str] = MappingProxyType({
    "macro_f1": "macro-F1",
    "micro_f1": "micro-F1",
    "weighted_f1": "weighted-F1",
    "accuracy": "accuracy",
    "emocontext_micro_f1": "micro-F1 (3 emotions)",
})


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's definition.

    ``reader`` names the function (``"module:function"``) whose ``reader(root, **options)``
    returns the benchmark's :class:`~emopillars.data.readers.Splits`; it is imported when
    the benchmark is read, so that the params schema, which checks benchmark names
    against this registry, does not load every reader.
    A param is named by its dotted path in ``params.yaml`` (``"data.split_seed"``):
    ``context_turns_param`` gives the reader's ``context_turns``, ``split_seed_param``
    its ``seed`` (only for splits the project draws itself), ``user_supplied_param``
    the folder of a benchmark users supply; otherwise the folder is
    ``<raw dir>/<mirror_folder>``.
    """

    name: str
    display_name: str
    reader: str
    to_taxonomy: Mapping[str, tuple[str, ...]]  # label -> classes, in the order of the benchmark's labels
    multi_label: bool
    primary_metric: str
    protocol: str
    context: bool = False
    context_turns_param: Optional[str] = None
    split_seed_param: Optional[str] = None
    mirror_folder: Optional[str] = None
    user_supplied_param: Optional[str] = None
    how_to_get: str = ""
    reader_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if ":" not in self.reader:
            raise ValueError(f"benchmark {self.name!r}: reader must be 'module:function', got {self.reader!r}")
        if (self.mirror_folder is None) == (self.user_supplied_param is None):
            raise ValueError(f"benchmark {self.name!r}: give exactly one of mirror_folder and user_supplied_param")
        if self.user_supplied_param is not None and not self.user_supplied_param.startswith("data."):
            raise ValueError(f"benchmark {self.name!r}: a user-supplied folder is a data.* param, "
                             f"got {self.user_supplied_param!r}")
        if self.primary_metric not in METRIC_NAMES:
            raise ValueError(f"benchmark {self.name!r}: unknown primary metric {self.primary_metric!r}; "
                             f"known: {', '.join(METRIC_NAMES)}")
        unknown = sorted({c for classes in self.to_taxonomy.values() for c in classes} - set(EMOTIONS))
        if unknown or not all(self.to_taxonomy.values()):
            raise ValueError(f"benchmark {self.name!r}: every label must map to classes of the taxonomy "
                             f"(unknown: {', '.join(unknown) or 'none'})")

    @property
    def labels(self) -> tuple[str, ...]:
        """The label set, in a fixed order (the order of a benchmark head's outputs)."""
        return tuple(self.to_taxonomy)

    @property
    def read_function(self) -> Callable[..., "Splits"]:
        module, _, name = self.reader.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def user_supplied(self) -> bool:
        return self.user_supplied_param is not None

    def root(self, data_params, raw_dir: str | os.PathLike | None = None) -> Optional[Path]:
        """The folder to read, given the ``data`` params section: ``<raw_dir or out_dir>/<mirror_folder>``,
        or the user's folder (None while unset)."""
        if self.user_supplied_param is not None:
            value = getattr(data_params, self.user_supplied_param.removeprefix("data."))
            return Path(value) if value else None
        return Path(raw_dir or data_params.out_dir) / self.mirror_folder

    def params_read(self) -> tuple[str, ...]:
        """The dotted params (``data.split_seed``...) that :func:`read_splits` reads for this benchmark
        (besides ``data.out_dir``, the folder of the mirrored ones when no raw folder is given)."""
        return tuple(p for p in (self.user_supplied_param, self.split_seed_param, self.context_turns_param) if p)

    def read_options(self, params) -> dict:
        opts = dict(self.reader_options)
        if self.context_turns_param:
            opts["context_turns"] = param(params, self.context_turns_param)
        if self.split_seed_param:
            opts["seed"] = param(params, self.split_seed_param)
        return opts

    def not_supplied_message(self) -> str:
        key = self.user_supplied_param
        return (f"{self.name}: no folder configured. {self.how_to_get}, then set {key} in conf/config.yaml "
                f"(or run `dvc exp run -S {key}=/path/to/it`) to the folder holding it.")

    def read(self, root: str | os.PathLike | None, **options) -> "Splits":
        """Read from ``root``; a missing folder raises :class:`~emopillars.data.readers.DatasetNotSupplied`."""
        from emopillars.data.readers import DatasetNotSupplied

        if root is None or not Path(root).is_dir():
            if self.user_supplied:
                msg = self.not_supplied_message()
                raise DatasetNotSupplied(f"{root}: folder not found. {msg}" if root is not None else msg)
            raise DatasetNotSupplied(f"{self.name}: folder {root} not found; run the data stage (`dvc repro data`) "
                                     "to materialise data/raw/ from the mirror")
        return self.read_function(root, **{**self.reader_options, **options})


def param(params, dotted: str):
    """The value of ``section.key`` in the typed params (a misspelt path is a bug here: it raises)."""
    section, key = dotted.split(".")
    return getattr(getattr(params, section), key)


_REGISTRY: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
    if benchmark.name in _REGISTRY:
        raise ValueError(f"benchmark {benchmark.name!r} is already registered")
    _REGISTRY[benchmark.name] = benchmark
    return benchmark


@contextlib.contextmanager
def registered(benchmark: Benchmark) -> Iterator[Benchmark]:
    """Register ``benchmark`` for the duration of a ``with`` block (tests, one-off experiments)."""
    register(benchmark)
    try:
        yield benchmark
    finally:
        _REGISTRY.pop(benchmark.name, None)


def get(name: str) -> Benchmark:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(_REGISTRY)}") from None


def names() -> tuple[str, ...]:
    """Registered benchmarks in their canonical order (the order of the report's columns)."""
    return tuple(_REGISTRY)


def all_benchmarks() -> tuple[Benchmark, ...]:
    return tuple(_REGISTRY.values())


def params_read() -> tuple[str, ...]:
    """Every param that :func:`read_splits` can read, over all registered benchmarks (what a stage that
    reads benchmarks declares in ``dvc.yaml``)."""
    return tuple(sorted({p for b in _REGISTRY.values() for p in b.params_read()}))


def read_splits(name: str, params,
                raw_dir: str | os.PathLike | None = None) -> tuple[Optional["Splits"], Optional[str]]:
    """Benchmark ``name`` read as configured by ``params``, or ``(None, reason)`` when the user has not supplied it."""
    from emopillars.data.readers import DatasetNotSupplied

    b = get(name)
    try:
        return b.read(b.root(params.data, raw_dir), **b.read_options(params)), None
    except DatasetNotSupplied as e:
        return None, str(e)


READERS = "emopillars.data.readers:"
_IEMOCAP_HOW = "IEMOCAP is licence-restricted: request the release from USC SAIL (https://sail.usc.edu/iemocap/)"

register(Benchmark(
    name="goemotions", display_name="GoEmotions", reader=READERS + "read_goemotions",
    to_taxonomy={e: (e,) for e in EMOTIONS}, multi_label=True, primary_metric="macro_f1",
    protocol="official train/dev/test; 28 labels, multi-label; macro-F1; thresholds tuned on dev only",
    mirror_folder="goemotions"))
register(Benchmark(
    name="isear", display_name="ISEAR", reader=READERS + "read_isear",
    to_taxonomy={"joy": ("joy",), "fear": ("fear", "nervousness"), "anger": ("anger", "annoyance"),
                 "sadness": ("sadness", "grief"), "disgust": ("disgust",), "shame": ("embarrassment",),
                 "guilt": ("remorse",)},
    multi_label=False, primary_metric="macro_f1",
    protocol="fixed stratified 80/10/10 split (seeded); 7 labels, single-label (arg-max); macro-F1 and accuracy",
    split_seed_param="data.split_seed", mirror_folder="isear"))
register(Benchmark(
    name="meld", display_name="MELD", reader=READERS + "read_meld",
    to_taxonomy={"anger": ("anger", "annoyance"), "disgust": ("disgust",), "fear": ("fear", "nervousness"),
                 "joy": ("joy", "amusement", "excitement"), "neutral": ("neutral",), "sadness": ("sadness", "grief"),
                 "surprise": ("surprise",)},
    multi_label=False, primary_metric="weighted_f1",
    protocol="official train/dev/test; 7 labels, single-label (arg-max); previous dialogue turns as context; "
             "weighted-F1",
    context=True, context_turns_param="transfer.meld_context_turns", mirror_folder="meld"))
register(Benchmark(
    name="iemocap", display_name="IEMOCAP", reader=READERS + "read_iemocap", reader_options={"protocol": 4},
    to_taxonomy={"ang": ("anger", "annoyance"), "hap": ("joy", "excitement", "amusement"), "neu": ("neutral",),
                 "sad": ("sadness", "grief")},
    multi_label=False, primary_metric="weighted_f1",
    protocol="4-class (ang, hap+exc, neu, sad); sessions 1-4 train (dev: seeded 10%), session 5 test; weighted-F1",
    context=True, context_turns_param="transfer.meld_context_turns", split_seed_param="data.split_seed",
    user_supplied_param="data.iemocap_dir", how_to_get=_IEMOCAP_HOW))
register(Benchmark(
    name="iemocap6", display_name="IEMOCAP (6-class)", reader=READERS + "read_iemocap", reader_options={"protocol": 6},
    to_taxonomy={"ang": ("anger",), "hap": ("joy", "amusement"), "exc": ("excitement",), "neu": ("neutral",),
                 "sad": ("sadness", "grief"), "fru": ("annoyance", "disappointment")},
    multi_label=False, primary_metric="weighted_f1",
    protocol="6-class (ang, hap, exc, neu, sad, fru); sessions 1-4 train (dev: seeded 10%), session 5 test; "
             "weighted-F1",
    context=True, context_turns_param="transfer.meld_context_turns", split_seed_param="data.split_seed",
    user_supplied_param="data.iemocap_dir", how_to_get=_IEMOCAP_HOW))
register(Benchmark(
    name="emocontext", display_name="EmoContext", reader=READERS + "read_emocontext",
    to_taxonomy={"happy": ("joy", "amusement", "excitement", "love"), "sad": ("sadness", "grief", "disappointment"),
                 "angry": ("anger", "annoyance"), "others": ("neutral",)},
    multi_label=False, primary_metric="emocontext_micro_f1",
    protocol="official train/dev/test; 4 labels, single-label; micro-F1 over happy, sad and angry",
    context=True, user_supplied_param="data.emocontext_dir",
    how_to_get="EmoContext (SemEval-2019 Task 3) may not be redistributed: obtain train.txt/dev.txt/test.txt "
               "from the task organisers"))
