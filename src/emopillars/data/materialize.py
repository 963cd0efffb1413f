"""Materialise the raw datasets into ``data/raw/<name>/``, every file checked.

What the data stage makes (:func:`requested`): the datasets listed in
``data.datasets`` (benchmarks) plus the narrative corpus that
``narratives.corpus`` names, in ``data/raw/<corpus>/`` (``fairytaleqa``: the
checked dataset ``fairytaleqa_stories``; ``wikiplots``: the user's copy). A
profile needs only what it reads.

Where each one comes from (:func:`plan`):

* a **mirror** folder holding ``<dataset>/<file>`` (``$EMOPILLARS_DATA_MIRROR``,
  else params ``data.mirror`` when that folder exists, see
  :func:`resolve_mirror`), copied file by file;
* otherwise the datasets' **public sources** (:data:`SOURCES`: raw GitHub URLs
  pinned to the commits the sums were taken from). Files that no one publishes
  as such are *derived*: ``isear/isear_text_emotion.tsv`` is rebuilt here from
  ``isear.csv`` (:func:`derive_isear_tsv`, byte-identical); FairytaleQA's
  ``stories.jsonl`` is built from the 278 section CSVs of
  ``uci-soe/FairytaleQAData`` and cannot be fetched as one file, so it needs a
  mirror;
* **user copies** (:data:`USER_SUPPLIED`): WikiPlots is copied from
  ``data.wikiplots_dir`` (the release's ``plots`` and ``titles``, read once to
  check them); IEMOCAP and EmoContext, when listed, are checked where they are
  (``data.iemocap_dir``, ``data.emocontext_dir``) and never copied (their
  licences forbid redistribution).

What cannot be had is reported before anything is fetched: one line per
dataset, saying what to supply and where (:class:`MaterializeError`,
``problems``). Every checked file's sha256 must equal the sum in
``checksums/<dataset>.sha256`` (the ``sha256sum`` format). Output is
all-or-nothing: everything is assembled in a temporary folder next to
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
    """A dataset is missing, altered, or could not be fetched; ``problems``: one line per dataset."""

    def __init__(self, message: str, problems: Optional[list[str]] = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


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
            "stories.jsonl is not published as one file: it is built from the 278 section CSVs "
            "data-by-origin/section-stories/<origin>/<name>-story.csv of uci-soe/FairytaleQAData at commit "
            "a24ddc17364666b7c13a425b9970c87368b03417, one JSON line {id, origin, split, source_file, sections} "
            "per story")),
        "story_meta.csv": Source((f"{_FTQA}/story_meta.csv",)),
        "LICENSE.txt": Source((f"{_FTQA}/LICENSE",)),
    },
}

HOW_TO_SUPPLY = ("Supply it by setting EMOPILLARS_DATA_MIRROR (or data.mirror in conf/config.yaml) to a folder "
                 "holding {dataset}/{name} with exactly these bytes")

# narratives.corpus -> the dataset its folder data/raw/<corpus> is made from.
CORPORA: dict[str, str] = {"fairytaleqa": "fairytaleqa_stories", "wikiplots": "wikiplots"}


@dataclass(frozen=True)
class UserCopy:
    """A dataset each user supplies: the ``data.<key>`` param naming its folder and what that folder holds."""

    key: str
    expected: tuple[str, ...]
    expected_text: str
    how_to_get: str
    copy: bool  # copied into data/raw/<name>; otherwise checked and read where it is


USER_SUPPLIED: dict[str, UserCopy] = {
    "wikiplots": UserCopy(
        "wikiplots_dir", ("plots", "titles"), "the files 'plots' and 'titles'",
        "download plots.zip of the WikiPlots release (github.com/markriedl/WikiPlots) and unpack it", copy=True),
    "iemocap": UserCopy(
        "iemocap_dir", tuple(f"Session{i}/dialog/{sub}" for i in range(1, 6) for sub in ("transcriptions", "EmoEvaluation")),
        "Session1 ... Session5, each with dialog/transcriptions and dialog/EmoEvaluation",
        "IEMOCAP is licence-restricted: request the release from USC SAIL (https://sail.usc.edu/iemocap/)", copy=False),
    "emocontext": UserCopy(
        "emocontext_dir", ("train.txt", "dev.txt", "test.txt"), "train.txt, dev.txt and test.txt",
        "EmoContext (SemEval-2019 Task 3) may not be redistributed: get the labelled files from the task organisers",
        copy=False),
}


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
            f"{dataset}/{name}: could not download a verified copy (expected sha256 {expected}): "
            + "; ".join(errors) + ". " + HOW_TO_SUPPLY.format(dataset=dataset, name=name)
            + " (this machine may have no internet access).")
    else:
        raise MaterializeError(f"{dataset}/{name}: cannot be downloaded; {source.how_to_build}. "
                               + HOW_TO_SUPPLY.format(dataset=dataset, name=name) + ".")
    actual = sha256_file(dest)
    if actual != expected:
        raise _mismatch(dataset, name, origin, expected, actual)
    return origin


def _order(names: list[str], sources: dict[str, Source]) -> list[str]:
    """Files fetched before the files derived from them."""
    plain = [n for n in names if not (sources.get(n) and sources[n].derived_from)]
    return plain + [n for n in names if n not in plain]


def resolve_mirror(param_value: Optional[str], environ: Optional[dict] = None) -> tuple[Optional[Path], str]:
    """The mirror to copy from, and how it was chosen (for messages).

    ``$EMOPILLARS_DATA_MIRROR`` is explicit: it is returned as given, and a
    folder that does not exist stops :func:`materialize`. ``data.mirror`` is a
    default (``../shared/data``): when that folder does not exist there is no
    mirror and the datasets come from their public sources.
    """
    environ = os.environ if environ is None else environ
    env = environ.get("EMOPILLARS_DATA_MIRROR")
    if env:
        return Path(env), f"EMOPILLARS_DATA_MIRROR={env}"
    if param_value:
        if Path(param_value).is_dir():
            return Path(param_value), f"data.mirror={param_value}"
        return None, f"data.mirror={param_value} is not a folder and EMOPILLARS_DATA_MIRROR is unset"
    return None, "EMOPILLARS_DATA_MIRROR and data.mirror are unset"


def requested(datasets: list[str], corpus: Optional[str] = None) -> list[tuple[str, str]]:
    """``[(folder name under data/raw, dataset), ...]``: ``datasets`` as named, then the corpus as ``data/raw/<corpus>``."""
    out = [(ds, ds) for ds in datasets]
    if corpus is not None:
        if corpus not in CORPORA:
            raise MaterializeError(f"narratives.corpus: unknown corpus {corpus!r}; expected one of {', '.join(CORPORA)}")
        pair = (corpus, CORPORA[corpus])
        if pair not in out:
            out.append(pair)
    return out


@dataclass
class Item:
    """One folder of the output and where it comes from."""

    name: str
    dataset: str
    origin: str  # "mirror", "download" or "user"
    folder: Optional[Path] = None
    sums: dict[str, str] = field(default_factory=dict)


def _downloadable(source: Optional[Source]) -> bool:
    return source is not None and bool(source.urls or source.build)


def _plan_user_copy(name: str, folder: Optional[str | os.PathLike]) -> tuple[Optional[Item], Optional[str]]:
    uc = USER_SUPPLIED[name]
    hint = (f"set data.{uc.key} to the folder holding {uc.expected_text} "
            f"(`dvc exp run -S data.{uc.key}=/path/to/it`, or in conf/config.yaml)")
    if not folder:
        return None, f"{name}: not supplied (it cannot be downloaded): {uc.how_to_get}, then {hint}"
    folder = Path(folder)
    if not folder.is_dir():
        return None, f"{folder}: {name} folder not found (data.{uc.key}); {hint}"
    missing = [e for e in uc.expected if not (folder / e).exists()]
    if missing:
        zipped = " (plots.zip is there: unpack it)" if (folder / "plots.zip").is_file() else ""
        return None, (f"{folder}: missing {', '.join(missing)}{zipped}; data.{uc.key} must be the {name} folder "
                      f"holding {uc.expected_text}")
    return Item(name, name, "user", folder), None


def plan(requests: list[tuple[str, str]], mirror: Optional[Path], checksums_dir: str | os.PathLike = "checksums",
         sources: Optional[dict] = None, user_dirs: Optional[dict] = None, mirror_note: str = "") -> list[Item]:
    """Decide where every requested folder comes from; nothing is fetched.

    A checked dataset comes from the mirror when the mirror has its folder,
    else from its public sources. Everything that cannot be had is collected
    first and raised together: :class:`MaterializeError` with one line per
    dataset in ``problems``.
    """
    sources = SOURCES if sources is None else sources
    user_dirs = user_dirs or {}
    checksums_dir = Path(checksums_dir)
    items, problems = [], []
    for name, ds in requests:
        if ds in USER_SUPPLIED:
            item, problem = _plan_user_copy(ds, user_dirs.get(ds))
            if problem:
                problems.append(problem)
            else:
                item.name = name
                items.append(item)
            continue
        sums_path = checksums_dir / f"{ds}.sha256"
        if not sums_path.is_file():
            known = sorted({p.stem for p in checksums_dir.glob("*.sha256")} | set(USER_SUPPLIED))
            problems.append(f"{sums_path}: checksum file not found: {ds!r} is not a known dataset "
                            f"(known: {', '.join(known)}; every checked dataset needs checksums/<dataset>.sha256)")
            continue
        try:
            sums = read_checksums(sums_path)
        except MaterializeError as e:
            problems.append(str(e))
            continue
        if mirror is not None and (mirror / ds).is_dir():
            missing = [n for n in sorted(sums) if not (mirror / ds / n).is_file()]
            if missing:
                problems.append(
                    f"{mirror / ds}: missing file{'s' if len(missing) > 1 else ''} "
                    + ", ".join(f"{ds}/{n}" for n in missing)
                    + f" (sha256 sums in checksums/{ds}.sha256): put {'them' if len(missing) > 1 else 'it'} there, "
                    f"or remove {mirror / ds} to download {ds} from its public sources")
                continue
            items.append(Item(name, ds, "mirror", mirror / ds, sums))
            continue
        ds_sources = sources.get(ds, {})
        missing = [n for n in sorted(sums) if not _downloadable(ds_sources.get(n))]
        if missing:
            why = "; ".join(ds_sources[n].how_to_build if ds_sources.get(n) and ds_sources[n].how_to_build
                            else f"{n} has no public source" for n in missing)
            where = f"the mirror {mirror} has no {ds}/ folder" if mirror is not None else (mirror_note or "no mirror")
            problems.append(
                f"{name}: needs a mirror ({where}). Set EMOPILLARS_DATA_MIRROR (or data.mirror) to a folder holding "
                f"{ds}/ with {', '.join(sorted(sums))} (sha256 sums in checksums/{ds}.sha256); {why}")
            continue
        items.append(Item(name, ds, "download", None, sums))
    if problems:
        head = f"{len(problems)} dataset{'s' if len(problems) > 1 else ''} cannot be materialised"
        raise MaterializeError(head + ":\n  " + "\n  ".join(problems), problems)
    return items


def _read_user_copy(item: Item, read_opts: Optional[dict] = None) -> dict:
    """Read a user's copy once (counts for the manifest); a malformed one names the user's file and line."""
    from emopillars.data.readers import DataError, DatasetNotSupplied

    try:
        return split_counts(item.dataset, item.folder, **(read_opts or {}).get(item.dataset, {}))
    except (DataError, DatasetNotSupplied) as e:
        raise MaterializeError(str(e)) from None


def materialize(datasets: list[str], out_dir: str | os.PathLike, mirror: Optional[str | os.PathLike],
                checksums_dir: str | os.PathLike = "checksums", sources: Optional[dict] = None,
                timeout: float = 60.0, progress: bool = True, corpus: Optional[str] = None,
                user_dirs: Optional[dict] = None, mirror_note: str = "", read_opts: Optional[dict] = None) -> dict:
    """Copy (or download) ``datasets`` and the ``corpus`` into ``out_dir/<name>/``, verifying every file.

    ``mirror`` None means download from ``sources`` (default :data:`SOURCES`).
    ``user_dirs``: ``{"wikiplots": folder, "iemocap": folder, "emocontext": folder}``
    (the ``data.*_dir`` params). Returns the manifest ``{name: {"files": {file:
    {"bytes", "sha256"}}, "bytes", "source"}}``; user copies also carry their
    counts. ``out_dir`` is replaced as a whole, and only when everything verified.
    """
    sources = SOURCES if sources is None else sources
    mirror = Path(mirror) if mirror else None
    if mirror is not None and not mirror.is_dir():
        raise MaterializeError(f"{mirror}: data mirror folder not found. Set EMOPILLARS_DATA_MIRROR (or data.mirror "
                               "in conf/config.yaml) to the folder holding one sub-folder per dataset, or unset both "
                               "to download from the public sources.")
    items = plan(requested(datasets, corpus), mirror, checksums_dir, sources, user_dirs, mirror_note)
    counts = {it.name: _read_user_copy(it, read_opts) for it in items if it.origin == "user"}
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    total = sum(len(it.sums) if it.origin != "user"
                else len(USER_SUPPLIED[it.dataset].expected) if USER_SUPPLIED[it.dataset].copy else 0 for it in items)
    bar = tqdm(total=total, desc="data", unit="file", disable=not progress) if tqdm else None
    manifest: dict = {}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for it in items:
            files = {}
            if it.origin == "user":
                entry = {"source": str(it.folder)}
                if USER_SUPPLIED[it.dataset].copy:
                    (tmp / it.name).mkdir()
                    for rel in USER_SUPPLIED[it.dataset].expected:
                        dest = tmp / it.name / rel
                        shutil.copyfile(it.folder / rel, dest)
                        files[rel] = {"bytes": dest.stat().st_size, "sha256": sha256_file(dest)}
                        if bar:
                            bar.update(1)
                else:
                    entry["read_in_place"] = True
                entry.update(counts[it.name])
                manifest[it.name] = {"files": files, "bytes": sum(f["bytes"] for f in files.values()), **entry}
                continue
            ds_dir = tmp / it.name
            ds_dir.mkdir()
            ds_sources = sources.get(it.dataset, {})
            for name in _order(sorted(it.sums), ds_sources):
                dest = ds_dir / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if it.origin == "mirror":
                    _from_mirror(mirror, it.dataset, name, it.sums[name], dest)
                else:
                    _from_source(it.dataset, name, it.sums[name], dest, ds_sources.get(name), timeout)
                files[name] = {"bytes": dest.stat().st_size, "sha256": it.sums[name]}
                if bar:
                    bar.update(1)
            manifest[it.name] = {"files": files, "bytes": sum(f["bytes"] for f in files.values()),
                                 "source": f"mirror {it.folder}" if it.origin == "mirror" else "public sources"}
            if it.name != it.dataset:
                manifest[it.name]["dataset"] = it.dataset
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


def split_counts(dataset: str, folder: str | os.PathLike, **read_opts) -> dict:
    """Records per split (and what reading skipped) of a materialised dataset or corpus, for the manifest."""
    from collections import Counter

    from emopillars import benchmarks
    from emopillars.data.readers import read_benchmark, read_fairytaleqa, read_wikiplots_with_counts

    if dataset in ("fairytaleqa_stories", "fairytaleqa"):
        stories = read_fairytaleqa(folder)
        return {"splits": dict(Counter(s.split for s in stories)),
                "sections": sum(len(s.meta["sections"]) for s in stories)}
    if dataset == "wikiplots":
        plots, skipped = read_wikiplots_with_counts(folder)
        out = {"splits": {}, "plots": len(plots)}
        if any(skipped.values()):
            out["skipped"] = {k: v for k, v in skipped.items() if v}
        return out
    if dataset not in benchmarks.names():
        return {"splits": {}}  # a dataset added by the user with its own checksums and no reader here
    splits = read_benchmark(dataset, folder, **read_opts)
    out = {"splits": splits.counts(), "labels": splits.label_counts()}
    if splits.skipped:
        out["skipped"] = splits.skipped
    return out
