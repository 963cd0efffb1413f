"""The released Emo Pillars data: where its files are, how a line is read, how its words become the 28 classes.

Two layouts are read, line by line (JSONL, or a JSON array of objects):

* the release's: ``all_emotions`` is a list of ``[word, score]`` pairs (a string and a number in [0, 1]), the
  generator's own words. They are resolved onto the 28 classes with the synthesis lexicon
  (:func:`emopillars.synth.lexicon.map_scores`); a class keeps its best word's score; words that fit no class
  are counted per word and never become labels;
* this project's export (``data/emopillars``): ``all_emotions`` is ``{word: score}`` and, when
  ``all_emotions_mapped`` (``{class: score}``) is there, it is taken as it is.

``labels`` (class names), when a line has it, is the line's decision; without it the labels are derived from
the mapped scores as synthesis derives them (``labels.threshold``). A line whose words all fall outside the
taxonomy and that has no ``labels`` has no target: it is counted and left out. Anything else that does not
fit (a pair that is not ``[string, number in [0, 1]]``, a missing utterance, a label outside the taxonomy)
stops the read with :class:`ReleasedDataError`, one line naming the file, the line and the field.

Folders: one folder per variant (``context-less`` or ``contextless``; ``context-full`` or ``contextual``)
under the release root, or the root itself when it holds the splits; in each, ``train``, ``dev`` (or
``validation``, ``val``) and ``test`` as ``.jsonl`` or ``.json``.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

from emopillars.synth.lexicon import TaxonomyMapper, labels_from_scores, map_scores
from emopillars.taxonomy import EMOTIONS

VARIANT_FOLDERS = {"contextless": ("context-less", "contextless"), "contextual": ("context-full", "contextual")}
SPLIT_NAMES = {"train": ("train",), "dev": ("dev", "validation", "val"), "test": ("test",)}
EXTENSIONS = (".jsonl", ".json")
DESCRIPTION_KEYS = ("character_description", "description")
EXPLANATION_KEYS = ("raw_emotion_explication", "raw_emotion_explanation", "explanation")
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ReleasedDataError(ValueError):
    """Released data that this reader cannot take; the message is one line that names where and what."""


# --------------------------------------------------------------------------- where the files are
def variant_dir(root: str | Path, variant: str) -> Path:
    """The folder of one variant: a known sub-folder of ``root``, else ``root`` itself."""
    root = Path(root)
    for name in VARIANT_FOLDERS[variant]:
        if (root / name).is_dir():
            return root / name
    return root


def split_files(folder: str | Path) -> dict[str, Path]:
    """``{split: file}`` of one variant's folder; a split with no file, or with two, raises naming the folder."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for split, names in SPLIT_NAMES.items():
        hits = [folder / f"{n}{ext}" for n in names for ext in EXTENSIONS if (folder / f"{n}{ext}").is_file()]
        if len(hits) > 1:
            raise ReleasedDataError(f"{folder}: {split} split is in {len(hits)} files ({', '.join(h.name for h in hits)}); "
                                    "keep one")
        if hits:
            found[split] = hits[0]
    missing = [s for s in SPLIT_NAMES if s not in found]
    if missing:
        present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        expected = "; ".join(f"{s}: {'|'.join(SPLIT_NAMES[s])}{{{','.join(EXTENSIONS)}}}" for s in missing)
        raise ReleasedDataError(f"{folder}: no file for split(s) {', '.join(missing)} (expected {expected}; "
                                f"found: {', '.join(present) or 'nothing'})")
    return found


def iter_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` of a JSONL file, or ``(item number, object)`` of a JSON array file."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ReleasedDataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if isinstance(items, dict) and isinstance(items.get("data"), list):
            items = items["data"]
        if not isinstance(items, list):
            raise ReleasedDataError(f"{path}: expected a JSON array of objects (or JSON lines in a .jsonl file)")
        for i, item in enumerate(items, 1):
            yield i, item
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise ReleasedDataError(f"{path}:{lineno}: expected one JSON object per line ({e.msg})") from None


# --------------------------------------------------------------------------- one line
def _score(value, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ReleasedDataError(f"{where}: {what} must be a number in [0, 1], got {value!r}")
    return float(value)


def word_scores(value, where: str) -> dict[str, float]:
    """``all_emotions`` as ``{word: score}``: from ``[[word, score], ...]`` or from ``{word: score}``.

    A word given twice keeps its highest score.
    """
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for i, pair in enumerate(value):
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ReleasedDataError(f"{where}: field 'all_emotions' item {i}: expected [word, score] (a string "
                                        f"and a number in [0, 1]), got {pair!r}")
            pairs.append((pair[0], pair[1]))
    else:
        raise ReleasedDataError(f"{where}: field 'all_emotions': expected a list of [word, score] pairs or "
                                f"{{word: score}}, got {value!r}")
    out: dict[str, float] = {}
    for word, score in pairs:
        if not isinstance(word, str) or not word.strip():
            raise ReleasedDataError(f"{where}: field 'all_emotions': empty emotion word {word!r}")
        s = _score(score, where, f"field 'all_emotions': score of {word!r}")
        out[word.strip()] = max(s, out.get(word.strip(), 0.0))
    return out


def _class_scores(value, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ReleasedDataError(f"{where}: field 'all_emotions_mapped': expected {{class: score}}, got {value!r}")
    for label in value:
        if label not in EMOTIONS:
            raise ReleasedDataError(f"{where}: field 'all_emotions_mapped': {label!r} is not one of the 28 classes "
                                    f"({', '.join(EMOTIONS)})")
    scores = {k: _score(v, where, f"field 'all_emotions_mapped': score of {k!r}") for k, v in value.items()}
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], EMOTIONS.index(kv[0]))))


def _labels(value, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ReleasedDataError(f"{where}: field 'labels': expected a non-empty list of class names, got {value!r}")
    for label in value:
        if label not in EMOTIONS:
            raise ReleasedDataError(f"{where}: field 'labels': {label!r} is not one of the 28 classes "
                                    f"({', '.join(EMOTIONS)})")
    return list(value)


def _text(row: dict, key: str, where: str, required: bool) -> Optional[str]:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        state = "missing" if key not in row else f"got {value!r}"
        raise ReleasedDataError(f"{where}: field {key!r}: expected a non-empty string ({state})")
    return value


def _first(row: dict, keys: Iterable[str], where: str) -> Optional[str]:
    for key in keys:
        if key in row and row[key] is not None:
            return _text(row, key, where, required=False)
    return None


@dataclass
class MappingCounts:
    """What the words of the lines read so far became."""

    lines: int = 0
    kept: int = 0
    no_taxonomy_emotion: int = 0
    words: int = 0
    by_how: Counter = field(default_factory=Counter)
    out_of_taxonomy: Counter = field(default_factory=Counter)

    def add(self, other: "MappingCounts") -> None:
        self.lines += other.lines
        self.kept += other.kept
        self.no_taxonomy_emotion += other.no_taxonomy_emotion
        self.words += other.words
        self.by_how.update(other.by_how)
        self.out_of_taxonomy.update(other.out_of_taxonomy)

    def summary(self, top: int = 20) -> dict:
        oot = sum(self.out_of_taxonomy.values())
        return {"lines": self.lines, "kept": self.kept, "dropped_no_taxonomy_emotion": self.no_taxonomy_emotion,
                "emotion_words": self.words, "resolved_by": dict(sorted(self.by_how.items())),
                "out_of_taxonomy_words": oot,
                "out_of_taxonomy_share": round(oot / self.words, 4) if self.words else 0.0,
                "most_frequent_out_of_taxonomy": dict(self.out_of_taxonomy.most_common(top))}


def normalise_line(row, where: str, variant: str, mapper: TaxonomyMapper, threshold: float,
                   counts: MappingCounts) -> Optional[dict]:
    """One released line -> this project's export layout (``None`` when it has no class to learn)."""
    if not isinstance(row, dict):
        raise ReleasedDataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    counts.lines += 1
    utterance = _text(row, "utterance", where, required=True)
    if "all_emotions" not in row and "all_emotions_mapped" not in row and "labels" not in row:
        raise ReleasedDataError(f"{where}: field 'all_emotions': missing (expected [[word, score], ...]; or "
                                "'labels' / 'all_emotions_mapped')")
    words = word_scores(row["all_emotions"], where) if row.get("all_emotions") is not None else {}
    character = _text(row, "character", where, required=False)
    if row.get("all_emotions_mapped") is not None:
        ranked = _class_scores(row["all_emotions_mapped"], where)
        unmapped = {str(k): v for k, v in (row.get("unmapped_emotions") or {}).items()}
        counts.words += len(words) or len(ranked)
        counts.by_how["given (all_emotions_mapped)"] += len(ranked)
    else:
        resolved = map_scores(mapper, words, names=[character] if character else ())
        ranked, unmapped = resolved.ranked, resolved.unmapped
        counts.words += len(words)
        for parts in resolved.trace.values():
            for _, how in parts:
                counts.by_how[how.split(":")[0]] += 1
    counts.out_of_taxonomy.update(w.lower() for w in unmapped)
    if "labels" in row and row["labels"] is not None:
        labels = _labels(row["labels"], where)
    elif ranked:
        labels = labels_from_scores(ranked, threshold)
    else:
        counts.no_taxonomy_emotion += 1
        return None
    counts.kept += 1
    out = {"id": str(row.get("id", where.rsplit(":", 1)[-1]))}
    if row.get("plot_id") is not None:
        out["plot_id"] = str(row["plot_id"])
    if variant == "contextual":
        out["context"] = _text(row, "context", where, required=False)
        out["character"] = character
        out["character_description"] = _first(row, DESCRIPTION_KEYS, where)
    out.update({"utterance": utterance, "labels": labels, "primary_emotion": labels[0], "all_emotions": words,
                "all_emotions_mapped": ranked, "unmapped_emotions": unmapped,
                "raw_emotion_explication": _first(row, EXPLANATION_KEYS, where)})
    return out


class LazyEmbedder:
    """An embedder built at its first call: a release whose words the lexicon resolves never loads a model."""

    def __init__(self, build):
        self._build = build
        self._embed = None

    def __call__(self, texts):
        if self._embed is None:
            self._embed = self._build()
        return self._embed(texts)


# --------------------------------------------------------------------------- a whole release
@dataclass
class ReleasedVariant:
    variant: str
    folder: Path
    files: dict[str, Path]
    splits: dict[str, list[dict]]
    counts: dict[str, MappingCounts]

    def total(self) -> MappingCounts:
        out = MappingCounts()
        for c in self.counts.values():
            out.add(c)
        return out


def read_variant(root: str | Path, variant: str, mapper: TaxonomyMapper, threshold: float) -> ReleasedVariant:
    """Every split of one variant, normalised, with its mapping counts."""
    folder = variant_dir(root, variant)
    files = split_files(folder)
    splits, counts = {}, {}
    for split, path in files.items():
        c = MappingCounts()
        rows = []
        for lineno, row in iter_lines(path):
            out = normalise_line(row, f"{path}:{lineno}", variant, mapper, threshold, c)
            if out is not None:
                rows.append(out)
        if not rows:
            raise ReleasedDataError(f"{path}: no usable line ({c.lines} read, {c.no_taxonomy_emotion} with no "
                                    "emotion in the taxonomy)")
        splits[split], counts[split] = rows, c
    return ReleasedVariant(variant, folder, files, splits, counts)


# --------------------------------------------------------------------------- folder or hub
@dataclass
class ReleaseSource:
    """Where the files were read from: a local folder, or a hub snapshot at its resolved commit."""

    folder: Path
    kind: str  # "folder" | "hub"
    repo_id: Optional[str] = None
    revision: Optional[str] = None
    resolved_commit: Optional[str] = None

    def record(self) -> dict:
        return {"kind": self.kind, "folder": str(self.folder), "repo_id": self.repo_id, "revision": self.revision,
                "resolved_commit": self.resolved_commit}


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_source(location: str, revision: Optional[str] = None) -> ReleaseSource:
    """A folder that exists is read as it is; ``owner/name`` is a hub dataset, downloaded at ``revision``.

    Only JSON, JSONL and Markdown files are fetched. Offline (``HF_HUB_OFFLINE``) a hub id is read from the
    local hub cache when that revision is there, and raises otherwise.
    """
    path = Path(location).expanduser()
    if path.is_dir():
        return ReleaseSource(path, "folder")
    if not HUB_ID.match(location):
        raise ReleasedDataError(f"train.released_dir: {location!r} is neither a folder nor a hub dataset id "
                                "(owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = hub_offline()
    try:
        folder = snapshot_download(location, repo_type="dataset", revision=revision,
                                   allow_patterns=["*.json", "*.jsonl", "*.md"], local_files_only=offline)
    except LocalEntryNotFoundError:
        raise ReleasedDataError(
            f"train.released_dir: {location!r} is a hub id and the hub cannot be reached"
            f"{' (HF_HUB_OFFLINE is set)' if offline else ''}; download it where the hub is reachable "
            f"(huggingface-cli download {location} --repo-type dataset --local-dir DIR) and point "
            "train.released_dir at that folder") from None
    except (HfHubHTTPError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReleasedDataError(f"train.released_dir: downloading {location!r} at revision {revision or 'main'} "
                                f"failed ({first}); point train.released_dir at a downloaded folder") from None
    folder = Path(folder)
    return ReleaseSource(folder, "hub", location, revision, folder.name)


MARKER = "RELEASE.json"


def export_release(source: ReleaseSource, out_dir: str | Path, mapper: TaxonomyMapper, threshold: float,
                   progress=None) -> dict:
    """Read both variants of a release and write them to ``out_dir`` in this project's export layout.

    ``out_dir/{contextless,contextual}/{train,dev,test}.jsonl`` and ``out_dir/RELEASE.json`` (where the files
    came from, their sha256, the mapping counts) are written together, atomically. Returns that record.
    """
    from emopillars.io import atomic_path, sha256_file, write_json, write_jsonl

    record = {"used": True, "source": source.record(), "label_threshold": threshold, "variants": {}}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for variant in VARIANT_FOLDERS:
            if progress:
                progress(f"reading {variant} from {variant_dir(source.folder, variant)}")
            data = read_variant(source.folder, variant, mapper, threshold)
            for split, rows in data.splits.items():
                write_jsonl(tmp / variant / f"{split}.jsonl", rows)
            record["variants"][variant] = {
                "folder": str(data.folder),
                "files": {s: {"name": str(p.relative_to(source.folder)) if p.is_relative_to(source.folder) else str(p),
                              "sha256": sha256_file(p)} for s, p in data.files.items()},
                "sizes": {s: len(r) for s, r in data.splits.items()},
                "mapping": {s: c.summary() for s, c in data.counts.items()},
                "mapping_total": data.total().summary(),
            }
        write_json(tmp / MARKER, record)
    return record


def unused_record(reason: str) -> dict:
    return {"used": False, "reason": reason}


def check_prepared(data_dir: str | Path) -> dict:
    """The :data:`MARKER` record of the folder above a variant folder; raises unless it holds a prepared release."""
    marker = Path(data_dir).parent / MARKER
    if not marker.is_file():
        raise ReleasedDataError(f"{data_dir}: not a folder written by the released stage (no {marker}); with "
                                "train.source: released set train.data_dir: data/released")
    record = json.loads(marker.read_text(encoding="utf-8"))
    if not record.get("used"):
        raise ReleasedDataError(f"{marker}: the released stage read no data ({record.get('reason')}); run it again "
                                "with train.source: released")
    return record
