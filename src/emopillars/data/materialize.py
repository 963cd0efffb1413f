"""Materialise the raw datasets into ``data/raw/<dataset>/``, every file checked against committed sha256 sums.

Two sources, one check:

* a **mirror** folder holding ``<dataset>/<file>`` (``$EMOPILLARS_DATA_MIRROR``,
  else params ``data.mirror``), copied file by file;
* otherwise the datasets' **public sources** (:data:`SOURCES`: raw GitHub URLs
  pinned to the commits the sums were taken from). Files that no one publishes
  as such are *derived*: ``isear/isear_text_emotion.tsv`` is rebuilt here from
  ``isear.csv`` (:func:`derive_isear_tsv`, byte-identical); FairytaleQA's
  ``stories.jsonl`` is built from the 278 section CSVs of
  ``uci-soe/FairytaleQAData`` and cannot be fetched as one file, so it needs a
  mirror (see its message).

Every file's sha256 must equal the sum in ``checksums/<dataset>.sha256`` (the
``sha256sum`` format, so ``cd data/raw/meld && sha256sum -c
../../../checksums/meld.sha256`` also works). A missing or altered file stops
with :class:`MaterializeError` naming the file, both sums and how to supply it.
Output is all-or-nothing: everything is assembled in a temporary folder next to
``out_dir`` and renamed onto it only when every file has been verified.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from emopillars.io import atomic_path, sha256_file


class MaterializeError(RuntimeError):
    """A dataset file is missing, altered, or could not be fetched."""


@dataclass(frozen=True)
class Source:
    """Where one file comes from when there is no mirror: URLs tried in order, or a builder from sibling files."""

    urls: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()
    build: Optional[Callable[[Path], bytes]] = field(default=None, compare=False)
    how_to_build: str = ""


def derive_isear_tsv(dataset_dir: Path) -> bytes:
    """Rebuild ``isear_text_emotion.tsv`` from ``isear.csv`` (byte-identical to the mirror's copy).

    Tab-separated, header ``MYKEY ID EMOT emotion text``, ``csv`` QUOTE_MINIMAL,
    ``\\n`` line ends; ``text`` is the cleaned SIT. No row is dropped (the reader
    drops non-answers, this file keeps them).
    """
    from emopillars.data.readers import iter_isear_rows

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(["MYKEY", "ID", "EMOT", "emotion", "text"])
    for _, row in iter_isear_rows(dataset_dir / "isear.csv"):
        writer.writerow([row["MYKEY"], row["ID"], row["EMOT"], row["emotion"], row["text"]])
    return buf.getvalue().encode("utf-8")


_GH = "https://raw.githubusercontent.com"
_GOEMO = f"{_GH}/monologg/GoEmotions-pytorch/b75f9d3a8b76bc1060687925b04ca98a1b8ea66b/data/original"
_GOOGLE = f"{_GH}/google-research/google-research"
_MELD = f"{_GH}/declare-lab/MELD/2d2011b409d3ca2d7e94460cd007d434b1d0a102"
_FTQA = f"{_GH}/uci-soe/FairytaleQAData/a24ddc17364666b7c13a425b9970c87368b03417"
_ISEAR = f"{_GH}/sinmaniphel/py_isear_dataset/948f4cf80161ea28e6dc5bfb4ad729f21ff47723"

# dataset -> file -> source. The sums in checksums/ were taken from these exact commits.
SOURCES: dict[str, dict[str, Source]] = {
    "goemotions": {
        "train.tsv": Source((f"{_GOEMO}/train.tsv", f"{_GOOGLE}/master/goemotions/data/train.tsv")),
        "dev.tsv": Source((f"{_GOEMO}/dev.tsv", f"{_GOOGLE}/master/goemotions/data/dev.tsv")),
        "test.tsv": Source((f"{_GOEMO}/test.tsv", f"{_GOOGLE}/master/goemotions/data/test.tsv")),
        "emotions.txt": Source((f"{_GOEMO}/labels.txt", f"{_GOOGLE}/master/goemotions/data/emotions.txt")),
        "ekman_mapping.json": Source(
            (f"{_GOOGLE}/7c35f3f048c1bbf1416bf12491e4a2e528f2f988/goemotions/data/ekman_mapping.json",)),
        "sentiment_dict.json": Source(
            (f"{_GOOGLE}/b91598b43297db06cca27a29fe2d0442dffea029/goemotions/data/sentiment_dict.json",)),
    },
    "isear": {
        "isear.csv": Source((f"{_ISEAR}/isear.csv",)),
        "isear_text_emotion.tsv": Source(derived_from=("isear.csv",), build=derive_isear_tsv,
                                         how_to_build="rebuilt from isear.csv by emopillars.data.materialize.derive_isear_tsv"),
    },
    "meld": {
        "train_sent_emo.csv": Source((f"{_MELD}/data/MELD/train_sent_emo.csv",)),
        "dev_sent_emo.csv": Source((f"{_MELD}/data/MELD/dev_sent_emo.csv",)),
        "test_sent_emo.csv": Source((f"{_MELD}/data/MELD/test_sent_emo.csv",)),
        "LICENSE.txt": Source((f"{_MELD}/LICENSE",)),
    },
    "fairytaleqa_stories": {
        "stories.jsonl": Source(how_to_build=(
            "It is derived: one JSON line {id, origin, split, source_file, sections} per file "
            "data-by-origin/section-stories/<origin>/<name>-story.csv of uci-soe/FairytaleQAData at commit "
            "a24ddc17364666b7c13a425b9970c87368b03417 (split from story_meta.csv); build it that way or "
            "point the mirror at a folder that has fairytaleqa_stories/stories.jsonl")),
        "story_meta.csv": Source((f"{_FTQA}/story_meta.csv",)),
        "LICENSE.txt": Source((f"{_FTQA}/LICENSE",)),
    },
}

HOW_TO_SUPPLY = ("Supply it by setting EMOPILLARS_DATA_MIRROR (or data.mirror in conf/config.yaml) to a folder "
                 "holding {dataset}/{name} with exactly these bytes")


def read_checksums(path: str | os.PathLike) -> dict[str, str]:
    """``sha256sum`` lines (``<64 hex>  <file>``) -> ``{file: sum}``; a bad line raises with file:line."""
    path = Path(path)
    if not path.is_file():
        raise MaterializeError(f"{path}: checksum file not found (every dataset needs checksums/<dataset>.sha256)")
    sums = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0]):
            raise MaterializeError(f"{path}:{line_no}: expected '<64 hex digits>  <file name>', got {line!r}")
        sums[parts[1].strip().lstrip("*")] = parts[0]
    return sums


def _fetch(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as f:
        shutil.copyfileobj(resp, f)


def _mismatch(dataset: str, name: str, origin: str, expected: str, actual: str) -> MaterializeError:
    return MaterializeError(
        f"{origin}: sha256 mismatch for {dataset}/{name}: expected {expected}, got {actual}. The file is altered "
        f"or a different version. " + HOW_TO_SUPPLY.format(dataset=dataset, name=name)
        + f" (checksums/{dataset}.sha256)."
    )


def _from_mirror(mirror: Path, dataset: str, name: str, expected: str, dest: Path) -> str:
    src = mirror / dataset / name
    if not src.is_file():
        raise MaterializeError(
            f"{src}: missing file {dataset}/{name} (expected sha256 {expected}). "
            + HOW_TO_SUPPLY.format(dataset=dataset, name=name)
            + ", or unset both to download it from its public source.")
    shutil.copyfile(src, dest)
    actual = sha256_file(dest)
    if actual != expected:
        raise _mismatch(dataset, name, str(src), expected, actual)
    return str(src)


def _from_source(dataset: str, name: str, expected: str, dest: Path, source: Optional[Source],
                 timeout: float) -> str:
    if source is None:
        raise MaterializeError(f"{dataset}/{name}: no public source is known for this file (expected sha256 "
                               f"{expected}). " + HOW_TO_SUPPLY.format(dataset=dataset, name=name) + ".")
    if source.build is not None:
        dest.write_bytes(source.build(dest.parent))
        origin = source.how_to_build
    elif source.urls:
        errors = []
        for url in source.urls:
            try:
                _fetch(url, dest, timeout)
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{url}: {getattr(e, 'reason', e)}")
                continue
            actual = sha256_file(dest)
            if actual == expected:
                return url
            errors.append(f"{url}: sha256 {actual}, expected {expected}")
        raise MaterializeError(
            f"{dataset}/{name}: could not download a verified copy (expected sha256 {expected}):\n  "
            + "\n  ".join(errors) + "\n" + HOW_TO_SUPPLY.format(dataset=dataset, name=name)
            + " (this machine may have no internet access).")
    else:
        raise MaterializeError(f"{dataset}/{name}: cannot be downloaded as one file. {source.how_to_build}. "
                               + HOW_TO_SUPPLY.format(dataset=dataset, name=name) + ".")
    actual = sha256_file(dest)
    if actual != expected:
        raise _mismatch(dataset, name, origin, expected, actual)
    return origin


def _order(names: list[str], sources: dict[str, Source]) -> list[str]:
    """Files fetched before the files derived from them."""
    plain = [n for n in names if not (sources.get(n) and sources[n].derived_from)]
    return plain + [n for n in names if n not in plain]


def materialize(datasets: list[str], out_dir: str | os.PathLike, mirror: Optional[str | os.PathLike],
                checksums_dir: str | os.PathLike = "checksums", sources: Optional[dict] = None,
                timeout: float = 60.0, progress: bool = True) -> dict:
    """Copy (or download) ``datasets`` into ``out_dir/<dataset>/``, verifying every file; return the file manifest.

    ``mirror`` None means download from ``sources`` (default :data:`SOURCES`).
    Manifest: ``{dataset: {"files": {name: {"bytes", "sha256"}}, "bytes": total}}``.
    ``out_dir`` is replaced as a whole, and only when every dataset verified.
    """
    sources = SOURCES if sources is None else sources
    mirror = Path(mirror) if mirror else None
    if mirror is not None and not mirror.is_dir():
        raise MaterializeError(f"{mirror}: data mirror folder not found. Set EMOPILLARS_DATA_MIRROR (or data.mirror "
                               "in conf/config.yaml) to the folder holding one sub-folder per dataset, or unset both "
                               "to download from the public sources.")
    checksums_dir = Path(checksums_dir)
    plan = {ds: read_checksums(checksums_dir / f"{ds}.sha256") for ds in datasets}
    if mirror is None:
        # Say what cannot be downloaded before fetching anything.
        for ds, sums in plan.items():
            for name in sorted(sums):
                source = sources.get(ds, {}).get(name)
                if source is None or not (source.urls or source.build):
                    _from_source(ds, name, sums[name], Path(os.devnull), source, timeout)
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    total = sum(len(v) for v in plan.values())
    bar = tqdm(total=total, desc="data", unit="file", disable=not progress) if tqdm else None
    manifest: dict = {}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for ds, sums in plan.items():
            ds_dir = tmp / ds
            ds_dir.mkdir()
            ds_sources = sources.get(ds, {})
            files = {}
            for name in _order(sorted(sums), ds_sources):
                dest = ds_dir / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if mirror is not None:
                    _from_mirror(mirror, ds, name, sums[name], dest)
                else:
                    _from_source(ds, name, sums[name], dest, ds_sources.get(name), timeout)
                files[name] = {"bytes": dest.stat().st_size, "sha256": sums[name]}
                if bar:
                    bar.update(1)
            manifest[ds] = {"files": files, "bytes": sum(f["bytes"] for f in files.values())}
    if bar:
        bar.close()
    return manifest


def verify(out_dir: str | os.PathLike, datasets: list[str], checksums_dir: str | os.PathLike = "checksums") -> None:
    """Check materialised files against the sums again (e.g. before reading); raise on the first difference."""
    for ds in datasets:
        for name, expected in read_checksums(Path(checksums_dir) / f"{ds}.sha256").items():
            path = Path(out_dir) / ds / name
            if not path.is_file():
                raise MaterializeError(f"{path}: missing; run the data stage (`dvc repro data`)")
            actual = sha256_file(path)
            if actual != expected:
                raise _mismatch(ds, name, str(path), expected, actual)


def split_counts(dataset: str, folder: str | os.PathLike) -> dict:
    """Records per split (and what reading skipped) of a materialised dataset, for the manifest."""
    from collections import Counter

    from emopillars.data.readers import BENCHMARK_READERS, read_benchmark, read_fairytaleqa

    if dataset not in BENCHMARK_READERS and dataset != "fairytaleqa_stories":
        return {"splits": {}}  # a dataset added by the user with its own checksums and no reader here
    if dataset == "fairytaleqa_stories":
        stories = read_fairytaleqa(folder)
        return {"splits": dict(Counter(s.split for s in stories)),
                "sections": sum(len(s.meta["sections"]) for s in stories)}
    splits = read_benchmark(dataset, folder)
    out = {"splits": splits.counts(), "labels": splits.label_counts()}
    if splits.skipped:
        out["skipped"] = splits.skipped
    return out
