"""Readers: every benchmark and narrative corpus in its published format -> one record type.

Benchmarks become ``{split: [EmotionRecord, ...]}`` (a :class:`Splits`, which is
a dict that also carries ``skipped``: how many rows of documented upstream junk
were dropped, by reason, and ``excluded``: rows outside the chosen protocol).
Narrative corpora become ``[Narrative, ...]``.

Labels stay in each dataset's own label set (``emopillars.benchmarks.get(name).labels``);
map them to the 28 classes with :mod:`emopillars.data.label_maps`. Which reader
reads which benchmark, and with which options, is the registry's business
(:mod:`emopillars.benchmarks`).

Error policy: a row that does not have the documented shape stops reading with
``file:line: what was expected`` (:class:`MalformedRow`). Rows that are known,
documented upstream junk (ISEAR's non-answers, IEMOCAP's untimed transcript
lines, WikiPlots' empty plots) are skipped and counted. A user-supplied
benchmark (IEMOCAP, EmoContext, WikiPlots) whose folder is not configured
raises :class:`DatasetNotSupplied` saying which setting to fill in.

Use :func:`read_benchmark` to treat benchmarks uniformly::

    splits = read_benchmark("meld", "data/raw/meld")
    splits["train"][0].text, splits["train"][0].context, splits.skipped
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Optional

from emopillars.data.records import EmotionRecord, Narrative
from emopillars.io import open_text, read_text
from emopillars.taxonomy import EMOTIONS

SPLITS = ("train", "dev", "test")


# --------------------------------------------------------------------------- errors and containers
class DataError(ValueError):
    """A dataset file does not have the documented format."""


class MalformedRow(DataError):
    """One row of a dataset file is malformed; the message starts with ``file:line:``."""

    def __init__(self, path: str | os.PathLike, line: int, expected: str, got: str | None = None):
        self.path, self.line = Path(path), line
        msg = f"{path}:{line}: expected {expected}"
        if got is not None:
            shown = got if len(got) <= 120 else got[:117] + "..."
            msg += f"; got {shown!r}"
        super().__init__(msg)


class DatasetNotSupplied(FileNotFoundError):
    """A dataset that users must supply themselves is not configured or not where it was said to be."""


class Splits(dict):
    """``{split: [EmotionRecord, ...]}`` plus the counts of what reading left out.

    ``skipped``: documented upstream junk dropped while reading, by reason.
    ``excluded``: well-formed rows left out by the chosen protocol (e.g. IEMOCAP
    turns labelled ``fru`` under the 4-class protocol), by reason.
    """

    def __init__(self, *args, skipped: Optional[dict] = None, excluded: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped: dict[str, int] = dict(skipped or {})
        self.excluded: dict[str, int] = dict(excluded or {})

    def counts(self) -> dict[str, int]:
        return {split: len(records) for split, records in self.items()}

    def label_counts(self) -> dict[str, dict[str, int]]:
        """Per split, how many records carry each label (multi-label records count once per label)."""
        out = {}
        for split, records in self.items():
            c = Counter(label for r in records for label in r.labels)
            out[split] = dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
        return out


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetNotSupplied(f"{path}: {what} not found")
    return path


def _check_row_count(path: Path, found: int, expected: Optional[int], what: str) -> None:
    """Stop on an empty split, or on one whose size differs from the published ``expected`` (None: unknown)."""
    if found == 0:
        raise DataError(f"{path}: no rows; expected the {what}" + (f" ({expected:,} rows)" if expected else ""))
    if expected is not None and found != expected:
        raise DataError(f"{path}: {found:,} rows; expected the {what} to hold {expected:,} (a cut or altered copy?)")


def _check_label(label: str, allowed: Iterable[str], path: Path, line: int, column: str) -> str:
    allowed = tuple(allowed)
    if label not in allowed:
        raise MalformedRow(path, line, f"{column} to be one of {', '.join(allowed)}", label)
    return label


def _format_context(turns: list[tuple[str, str]], context_turns: Optional[int]) -> Optional[str]:
    """``[(speaker, text), ...]`` -> "Speaker: text" lines, keeping the last ``context_turns`` (all if None)."""
    if context_turns is not None:
        turns = turns[-context_turns:] if context_turns > 0 else []
    if not turns:
        return None
    return "\n".join(f"{speaker}: {text}" for speaker, text in turns)


# --------------------------------------------------------------------------- GoEmotions
GOEMOTIONS_FILES = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}


# The published split sizes: a copy that differs was cut short or altered (the files are checked against
# checksums when the data stage copies them; this catches a copy read straight from elsewhere).
GOEMOTIONS_ROWS = {"train": 43_410, "dev": 5_426, "test": 5_427}


def _unquote_tsv_text(text: str) -> Optional[str]:
    """A GoEmotions text without its CSV quotes (inner doubled quotes undoubled); None if the quoting is broken.

    A text that does not start with ``"`` is taken as it is. A quoted one must
    end with ``"`` and double every inner ``"``; anything else (a stray quote
    at the start, a quoted text that goes on to the next line) is broken.
    """
    if not text.startswith('"'):
        return text
    inner = text[1:-1]
    if len(text) < 2 or not text.endswith('"') or '"' in inner.replace('""', ""):
        return None
    return inner.replace('""', '"')


def read_goemotions(root: str | os.PathLike) -> Splits:
    """GoEmotions' 28-label splits: ``train.tsv``, ``dev.tsv``, ``test.tsv`` in ``root``.

    Each line is ``text<TAB>label ids<TAB>comment id`` with comma-separated ids
    into ``emotions.txt`` (the taxonomy's canonical order; checked when the file
    is there). One line is one row: lines are split on tabs, so a text can hold
    neither a tab nor a line break, and a stray ``"`` cannot join the lines
    after it into one row. Texts may be CSV-quoted (wrapped in ``"`` with inner
    quotes doubled); the quotes are removed. An empty split stops reading, and
    so does, in a folder holding the release's ``emotions.txt``, a split whose
    row count differs from the published one (``GOEMOTIONS_ROWS``); a folder of
    GoEmotions-format rows without it (a sample) may hold any number.
    Multi-label: ``labels`` holds every class of the row.
    """
    root = Path(root)
    emotions_file = root / "emotions.txt"
    if emotions_file.is_file():
        names = read_text(emotions_file).split()
        if tuple(names) != EMOTIONS:
            raise DataError(f"{emotions_file}: expected the 28 GoEmotions labels in canonical order "
                            f"({', '.join(EMOTIONS)}), got {', '.join(names)}")
    out = Splits()
    for split, name in GOEMOTIONS_FILES.items():
        path = _require_file(root / name, f"GoEmotions {split} split")
        records = []
        for line_no, line in enumerate(_lines(path), 1):
            line = line[:-1] if line.endswith("\r") else line
            if "\r" in line:
                raise MalformedRow(path, line_no, "no carriage return inside a row (a text cannot hold a line break)",
                                   line)
            fields = line.split("\t")
            if len(fields) != 3:
                raise MalformedRow(path, line_no, "3 tab-separated fields (text, label ids, comment id) on one line; "
                                   f"found {len(fields)} (a text cannot hold a tab)", line)
            text, ids, comment_id = fields
            unquoted = _unquote_tsv_text(text)
            if unquoted is None:
                raise MalformedRow(path, line_no, 'a text either unquoted or wrapped in " with inner quotes doubled '
                                   "(a quoted text cannot go on to the next line)", text)
            try:
                label_ids = [int(i) for i in ids.split(",")]
                if any(not 0 <= i < len(EMOTIONS) for i in label_ids):
                    raise ValueError
            except ValueError:
                raise MalformedRow(path, line_no, "comma-separated label ids in 0-27 in column 2", ids) from None
            if not unquoted.strip() or not comment_id:
                raise MalformedRow(path, line_no, "a non-empty text and comment id", line)
            records.append(EmotionRecord(
                id=comment_id, text=unquoted, labels=[EMOTIONS[i] for i in sorted(set(label_ids))],
                split=split, dataset="goemotions"))
        release = emotions_file.is_file()  # the release's label file: the splits must have the release's sizes
        _check_row_count(path, len(records), GOEMOTIONS_ROWS[split] if release else None, f"GoEmotions {split} split")
        out[split] = records
    return out


# --------------------------------------------------------------------------- ISEAR
ISEAR_EMOTIONS = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")  # EMOT codes 1..7
_ISEAR_COLUMNS = {"ID": 0, "COUN": 2, "EMOT": 11, "Field1": 36, "MYKEY": 39, "SIT": 40}

# Answers that describe no situation, found by reading every short SIT of the
# 7,666 rows (kept as an explicit list, not a pattern, so no real answer that
# happens to contain "remember" or "never" is dropped). Keys are normalised by
# _isear_key: lower case, brackets/quotes/backslashes and edge dots removed.
ISEAR_NON_ANSWERS: dict[str, frozenset[str]] = {
    # The questionnaire field was left empty; the coders wrote a marker.
    "no_response": frozenset({
        "no response", "no reponse", "no description", "blank", "not included on questionnaire",
    }),
    # The respondent answered that they had no such experience or could not recall one.
    "no_situation": frozenset({
        "never experienced", "never", "never felt the emotion", "do not know", "nothing", "none",
        "not applicable", "not applicable to myself", "doesn't apply", "does not apply",
        "i am quite shameless, not applicable", "never really had the experience just yet - n/a",
        "can not remember", "do not remember", "do not remember any incident",
        "do not remember any situation of that kind", "can't remember that feeling",
        "can't remember having had this feeling", "can't remember any episode of disgust",
        "can't remember any such feelings now", "can't remember exact example",
        "i can't remember ever feeling shame", "cannot remember such a situation",
        "i do not remember any event when i felt guilty",
        "i have felt shame but am unable to remember any particular incident",
        "this is difficult, since i don't remember feeling disgust towards anyone",
        "cannot recall any incident when i felt shame", "i can not recall one", "i do not recall one here either",
        "can't think of any", "can not think of anything", "can not think of anything just now",
        "can not think of any situation", "has not really happened",
        "normally i do not feel disgusted", "i have not felt this emotion", "i have not felt this emotion yet",
        "i have not felt this emotion in my life", "i have never felt this emotion",
        "honestly, i have never felt disgust at any situation in my life",
        "sorry, i was never ashamed about anything in my life",
    }),
    # The answer only points at another answer of the same respondent ("same as in anger").
    "cross_reference": frozenset({
        "same as in anger", "the same as in anger", "the same as in shame", "the same as in guilt",
        "as for disgust", "the same for guilt would apply", "the previous incident holds good here also",
    }),
}


def _isear_key(text: str) -> str:
    key = text.lower().replace("\\", "").replace('"', "").replace("[", "").replace("]", "")
    key = re.sub(r"\s+", " ", key).strip().strip(".").strip()
    return key


def clean_isear_situation(raw: str) -> str:
    """ISEAR's SIT field as plain text.

    ``á`` is the export's soft line-break marker (never part of a word) -> space;
    ``\\"`` -> ``"``; a ``|`` inside the text -> space; whitespace collapsed; one
    pair of wrapping quotes removed.
    """
    text = raw.replace("á", " ").replace('\\"', '"').replace("|", " ")
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return text


def isear_non_answer(text: str) -> Optional[str]:
    """The reason (a key of ``ISEAR_NON_ANSWERS``) if a cleaned SIT is a non-answer, else None."""
    key = _isear_key(text)
    if not key:
        return "no_response"
    for reason, keys in ISEAR_NON_ANSWERS.items():
        if key in keys:
            return reason
    return None


def iter_isear_rows(path: str | os.PathLike) -> Iterable[tuple[int, dict]]:
    """Yield ``(line, row)`` for every data row of the raw pipe-separated ``isear.csv``.

    Lines are split on ``|`` rather than read with ``csv``: the file escapes
    quotes as ``\\"``, which ``csv`` mis-parses, and 163 SIT texts contain ``|``
    themselves. Every line ends with a trailing ``|`` after STATE, so SIT is
    ``fields[40:-2]`` joined back with ``|``. ``row`` holds ID, COUN, EMOT,
    Field1 (the emotion name), MYKEY, the raw SIT and the cleaned ``text``.
    """
    path = Path(path)
    with open_text(path, newline="") as f:
        header = f.readline().rstrip("\r\n").split("|")
        for name, idx in _ISEAR_COLUMNS.items():
            if len(header) <= idx or header[idx] != name:
                raise MalformedRow(path, 1, f"the ISEAR header with column {name} at position {idx + 1}",
                                   "|".join(header[:45]))
        rows = 0
        for line_no, line in enumerate(f, 2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            rows += 1
            fields = line.split("|")
            if len(fields) < len(header) or fields[-1] != "":
                raise MalformedRow(path, line_no, f"at least {len(header)} '|'-separated fields ending with '|'", line)
            emot = fields[_ISEAR_COLUMNS["EMOT"]]
            name = fields[_ISEAR_COLUMNS["Field1"]]
            if not emot.isdigit() or not 1 <= int(emot) <= 7 or ISEAR_EMOTIONS[int(emot) - 1] != name:
                raise MalformedRow(path, line_no, "EMOT 1-7 agreeing with the emotion name in Field1",
                                   f"EMOT={emot} Field1={name}")
            raw_sit = "|".join(fields[40:-2])
            yield line_no, {
                "ID": fields[0], "COUN": fields[2], "EMOT": int(emot), "emotion": name,
                "MYKEY": fields[_ISEAR_COLUMNS["MYKEY"]], "SIT": raw_sit, "text": clean_isear_situation(raw_sit),
            }
    _check_row_count(path, rows, None, "ISEAR answers after the header")


def stratified_split(keys_by_label: dict[str, list[str]], dev_share: float, test_share: float,
                     seed: int) -> dict[str, str]:
    """Assign each key to train/dev/test, per label, with a seeded shuffle.

    Keys of each label are sorted, shuffled with ``random.Random(seed)`` (labels
    in sorted order), then the first ``round(n * test_share)`` go to test, the next
    ``round(n * dev_share)`` to dev and the rest to train. The same inputs always
    give the same split.
    """
    rng = random.Random(seed)
    assignment = {}
    for label in sorted(keys_by_label):
        keys = sorted(keys_by_label[label])
        rng.shuffle(keys)
        n_test, n_dev = round(len(keys) * test_share), round(len(keys) * dev_share)
        for i, key in enumerate(keys):
            assignment[key] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return assignment


def read_isear(root: str | os.PathLike, seed: int = 13, dev_share: float = 0.1, test_share: float = 0.1,
               drop_non_answers: bool = True) -> Splits:
    """ISEAR from the raw ``isear.csv`` in ``root`` (7 emotions, one label per row).

    ``text`` is the cleaned situation description (SIT, see
    :func:`clean_isear_situation`); the id is MYKEY. ISEAR has no official split:
    the rows kept are split 80/10/10 (``dev_share``/``test_share``) stratified by
    emotion with :func:`stratified_split` and ``seed``.

    Non-answers ("[ No response.]", "NO RESPONSE.", "Doesn't apply.", "[ Never
    experienced.]", "The same as in shame.") describe no situation, so a
    classifier cannot learn or be scored on them: they are dropped before the
    split and counted in ``skipped`` by reason (see ``ISEAR_NON_ANSWERS``). Of
    the 7,666 rows, 92 are no_response, 57 no_situation and 9 cross_reference;
    7,508 are kept (train 6,008 / dev 750 / test 750 with seed 13).
    ``drop_non_answers=False`` keeps them all.
    """
    path = _require_file(Path(root) / "isear.csv", "ISEAR raw file isear.csv")
    kept: dict[str, EmotionRecord] = {}
    skipped: Counter = Counter()
    for line_no, row in iter_isear_rows(path):
        reason = isear_non_answer(row["text"])
        if reason and drop_non_answers:
            skipped[reason] += 1
            continue
        if row["MYKEY"] in kept:
            raise MalformedRow(path, line_no, "a unique MYKEY", row["MYKEY"])
        kept[row["MYKEY"]] = EmotionRecord(
            id=row["MYKEY"], text=row["text"], labels=[row["emotion"]], split="", dataset="isear",
            meta={"respondent": row["ID"], "country": row["COUN"]})
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, rec in kept.items():
        by_label[rec.labels[0]].append(key)
    assignment = stratified_split(by_label, dev_share, test_share, seed)
    out = Splits({s: [] for s in SPLITS}, skipped=dict(skipped))
    for key in sorted(kept):
        rec = kept[key]
        rec.split = assignment[key]
        out[rec.split].append(rec)
    return out


# --------------------------------------------------------------------------- MELD
MELD_FILES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MELD_ROWS = {"train": 9_989, "dev": 1_109, "test": 2_610}  # the published split sizes
_MELD_COLUMNS = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")


def read_meld(root: str | os.PathLike, context_turns: Optional[int] = None) -> Splits:
    """MELD's text CSVs (``*_sent_emo.csv``) in ``root``: 7 emotions, one per utterance.

    ``context`` holds the earlier utterances of the same dialogue (grouped by
    Dialogue_ID, ordered by Utterance_ID) as ``Speaker: text`` lines, the last
    ``context_turns`` of them (all when None); ``None`` for a dialogue's first
    utterance. Ids are ``<split>/<Dialogue_ID>/<Utterance_ID>`` (``Sr No.`` is not
    unique upstream). Sentiment, season and episode go to ``meta``.
    """
    root = Path(root)
    meld_labels = _registered("meld").labels
    out = Splits()
    for split, name in MELD_FILES.items():
        path = _require_file(root / name, f"MELD {split} split")
        rows = []
        with open_text(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in _MELD_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise MalformedRow(path, 1, f"a header with columns {', '.join(_MELD_COLUMNS)} (missing {', '.join(missing)})",
                                   ",".join(reader.fieldnames or []))
            end = reader.line_num
            for row in reader:
                line, end = end + 1, reader.line_num
                if end != line:
                    raise MalformedRow(path, line, "one row per line (a field cannot hold a line break; a stray '\"' "
                                       f"joins the lines after it into one row, here lines {line}-{end})",
                                       row.get("Utterance"))
                if None in row or any(row[c] is None for c in _MELD_COLUMNS):
                    found = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                    raise MalformedRow(path, line, f"{len(reader.fieldnames)} comma-separated fields as in the header, "
                                       f"found {found} (a stray '\"' takes commas into its field)", row.get("Utterance"))
                try:
                    dia, utt = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
                except ValueError:
                    raise MalformedRow(path, line, "integer Dialogue_ID and Utterance_ID",
                                       f"{row['Dialogue_ID']},{row['Utterance_ID']}") from None
                _check_label(row["Emotion"], meld_labels, path, line, "Emotion")
                if not row["Utterance"].strip():
                    raise MalformedRow(path, line, "a non-empty Utterance", row["Utterance"])
                rows.append((dia, utt, line, row))
        _check_row_count(path, len(rows), MELD_ROWS[split], f"MELD {split} split")
        rows.sort(key=lambda r: (r[0], r[1]))
        records, history, seen = [], defaultdict(list), set()
        for dia, utt, line, row in rows:
            if (dia, utt) in seen:
                raise MalformedRow(path, line, "a unique (Dialogue_ID, Utterance_ID)", f"{dia},{utt}")
            seen.add((dia, utt))
            speaker, text = row["Speaker"].strip(), row["Utterance"].strip()
            records.append(EmotionRecord(
                id=f"{split}/{dia}/{utt}", text=text, labels=[row["Emotion"]], split=split, dataset="meld",
                context=_format_context(history[dia], context_turns), speaker=speaker,
                meta={"dialogue_id": dia, "utterance_id": utt, "sentiment": row["Sentiment"],
                      "season": row.get("Season"), "episode": row.get("Episode")}))
            history[dia].append((speaker, text))
        out[split] = records
    return out


# --------------------------------------------------------------------------- IEMOCAP
IEMOCAP_PROTOCOLS: dict[int, dict[str, str]] = {
    # raw EmoEvaluation label -> protocol label; labels not listed are excluded
    4: {"ang": "ang", "hap": "hap", "exc": "hap", "neu": "neu", "sad": "sad"},
    6: {"ang": "ang", "hap": "hap", "exc": "exc", "neu": "neu", "sad": "sad", "fru": "fru"},
}
_IEMOCAP_TURN = re.compile(r"^(?P<id>Ses\d{2}[FM]_\S+)\s+\[(?P<start>[\d.]+)-(?P<end>[\d.]+)\]:\s?(?P<text>.*)$")
# Speaker-only lines without turn id and time ("M: [LAUGHTER]"): tolerated, skipped and counted,
# as they cannot be matched to a label. Turns with ids like Ses03F_impro05_MXX0 are timed but
# never labelled upstream: they are kept as context only.
_IEMOCAP_UNTIMED = re.compile(r"^[MF]\w*:\s")
_IEMOCAP_EVAL = re.compile(r"^\[(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\]\s+(?P<id>Ses\d{2}[FM]_\S+)\s+(?P<label>\w+)\s+\[")
_IEMOCAP_ANNOTATION = re.compile(r"^[A-Z]+-[A-Z]+\d*:")


def _iemocap_speaker(turn_id: str) -> str:
    """The gender letter of a turn id's last part (``Ses01F_impro01_M012`` -> ``M``)."""
    return turn_id.rsplit("_", 1)[-1][:1]


def _iemocap_dialog(root: Path, session: int, dialog: str, skipped: Counter):
    base = root / f"Session{session}" / "dialog"
    tpath = base / "transcriptions" / f"{dialog}.txt"
    epath = base / "EmoEvaluation" / f"{dialog}.txt"
    _require_file(epath, f"IEMOCAP evaluation file for {dialog}")
    turns = []
    with open_text(tpath) as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            m = _IEMOCAP_TURN.match(line)
            if m:
                turns.append((m["id"], m["text"].strip()))
            elif _IEMOCAP_UNTIMED.match(line):
                skipped["untimed_transcript_line"] += 1
            else:
                raise MalformedRow(tpath, line_no, "a turn line 'SesNNX_<dialog>_<turn> [start-end]: text'", line)
    labels = {}
    with open_text(epath) as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("%") or _IEMOCAP_ANNOTATION.match(line):
                continue
            m = _IEMOCAP_EVAL.match(line)
            if not m:
                raise MalformedRow(epath, line_no, "'[start - end]<TAB>turn id<TAB>label<TAB>[V, A, D]' "
                                   "or an annotator line such as 'C-E1: ...'", line)
            labels[m["id"]] = m["label"]
    return turns, labels


def read_iemocap(root: str | os.PathLike | None, protocol: int = 4, seed: int = 13, dev_share: float = 0.1,
                 context_turns: Optional[int] = None) -> Splits:
    """IEMOCAP from a user's copy of the release (``root`` holds ``Session1`` ... ``Session5``).

    Reads ``Session*/dialog/transcriptions/<dialog>.txt`` (turn lines
    ``Ses01F_impro01_F000 [006.2901-008.2357]: text``) and the turn labels of
    ``Session*/dialog/EmoEvaluation/<dialog>.txt`` (the majority label on each
    ``[start - end]  turn  label  [V, A, D]`` line).

    Protocols: 4-class (ang, hap = hap + exc, neu, sad; the published counts are
    5,531 turns) and 6-class (ang, hap, exc, neu, sad, fru; 7,433 turns). Turns
    with other labels (xxx = no majority, oth, sur, fea, dis, and fru under the
    4-class protocol) are excluded (counted in ``excluded``) but stay in the
    context of later turns; so do the never-labelled ``...MXX0``/``...FXX0``
    turns. Speaker-only lines without id and time (``M: ...``) are skipped and
    counted in ``skipped``; any other unexpected line stops reading.

    Split (speaker-independent test): Session 5 is test; dialogues of Sessions
    1-4 go to train, except a seeded ``dev_share`` of those dialogues (whole
    dialogues, so no conversation is in both), which is dev.

    ``context``: the earlier turns of the dialogue in transcript order, as
    ``F: text`` / ``M: text`` lines (the last ``context_turns``; all when None);
    ``speaker`` is ``F`` or ``M`` and ``meta['actor']`` e.g. ``Ses01_F``.
    """
    if root is None:
        raise DatasetNotSupplied(_registered("iemocap").not_supplied_message())
    if protocol not in IEMOCAP_PROTOCOLS:
        raise ValueError(f"IEMOCAP protocol must be one of {sorted(IEMOCAP_PROTOCOLS)}, got {protocol!r}")
    root = Path(root)
    mapping = IEMOCAP_PROTOCOLS[protocol]
    dataset = "iemocap" if protocol == 4 else f"iemocap{protocol}"
    dialogs: dict[int, list[str]] = {}
    for session in range(1, 6):
        tdir = root / f"Session{session}" / "dialog" / "transcriptions"
        if not tdir.is_dir():
            raise DatasetNotSupplied(f"{tdir}: IEMOCAP transcriptions folder not found; data.iemocap_dir must point "
                                     "at the release folder holding Session1 ... Session5")
        dialogs[session] = sorted(p.stem for p in tdir.glob("*.txt") if not p.name.startswith("."))
    train_dialogs = [d for s in range(1, 5) for d in dialogs[s]]
    rng = random.Random(seed)
    shuffled = sorted(train_dialogs)
    rng.shuffle(shuffled)
    n_dev = round(len(shuffled) * dev_share)
    if dev_share > 0 and len(shuffled) > 1:
        n_dev = max(1, n_dev)  # a small copy still gets a dev set
    dev_dialogs = set(shuffled[:n_dev])

    out = Splits({s: [] for s in SPLITS})
    skipped: Counter = Counter()
    excluded: Counter = Counter()
    for session, names in dialogs.items():
        for dialog in names:
            split = "test" if session == 5 else "dev" if dialog in dev_dialogs else "train"
            turns, labels = _iemocap_dialog(root, session, dialog, skipped)
            transcribed = {t for t, _ in turns}
            skipped["labelled_turn_without_transcript"] += sum(1 for t in labels if t not in transcribed)
            history: list[tuple[str, str]] = []
            for turn_id, text in turns:
                speaker = _iemocap_speaker(turn_id)
                raw = labels.get(turn_id)
                if raw is None:
                    excluded["turn_without_label"] += 1
                elif raw not in mapping:
                    excluded[f"label_{raw}"] += 1
                elif not text:
                    skipped["empty_transcript"] += 1
                else:
                    out[split].append(EmotionRecord(
                        id=turn_id, text=text, labels=[mapping[raw]], split=split, dataset=dataset,
                        context=_format_context(history, context_turns), speaker=speaker,
                        meta={"session": session, "dialog": dialog, "raw_label": raw,
                              "actor": f"{turn_id[:5]}_{speaker}"}))
                history.append((speaker, text))
    for split, records in out.items():
        if not records and (split != "dev" or n_dev):  # dev_share 0 asks for no dev set
            raise DataError(f"{root}: no labelled {split} turns under the {protocol}-class protocol; expected "
                            "Session1-4 (train, dev) and Session5 (test) to hold transcribed, labelled turns")
    out.skipped = {k: v for k, v in skipped.items() if v}
    out.excluded = dict(excluded)
    return out


# --------------------------------------------------------------------------- EmoContext
EMOCONTEXT_FILES = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}
_EMOCONTEXT_HEADER = ("id", "turn1", "turn2", "turn3", "label")


def read_emocontext(root: str | os.PathLike | None, files: Optional[dict[str, str]] = None) -> Splits:
    """EmoContext (SemEval-2019 Task 3) from a user's copy: three-turn TSVs in ``root``.

    Files (``files`` overrides): ``train.txt``, ``dev.txt``, ``test.txt``, each
    with the header ``id turn1 turn2 turn3 label`` and one tab-separated row per
    conversation (no quoting: turns contain bare quotes, so lines are split on
    tabs). Labels: happy, sad, angry, others. ``text`` is turn 3, ``context`` is
    ``A: turn1`` / ``B: turn2`` (turns 1 and 3 are written by the same person,
    ``speaker`` ``A``).
    """
    if root is None:
        raise DatasetNotSupplied(_registered("emocontext").not_supplied_message())
    root = Path(root)
    emocontext_labels = _registered("emocontext").labels
    out = Splits()
    for split, name in (files or EMOCONTEXT_FILES).items():
        path = root / name
        if not path.is_file():
            raise DatasetNotSupplied(f"{path}: EmoContext {split} file not found; data.emocontext_dir must hold "
                                     f"{', '.join((files or EMOCONTEXT_FILES).values())} (the labelled releases)")
        records = []
        with open_text(path, newline="") as f:
            for line_no, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if line_no == 1:
                    if tuple(c.strip() for c in line.split("\t")) != _EMOCONTEXT_HEADER:
                        raise MalformedRow(path, 1, "the header 'id<TAB>turn1<TAB>turn2<TAB>turn3<TAB>label'", line)
                    continue
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) != 5:
                    raise MalformedRow(path, line_no, f"5 tab-separated fields (id, turn1, turn2, turn3, label), "
                                       f"found {len(fields)}", line)
                cid, t1, t2, t3, label = (x.strip() for x in fields)
                _check_label(label, emocontext_labels, path, line_no, "label")
                if not t3:
                    raise MalformedRow(path, line_no, "a non-empty turn3", line)
                records.append(EmotionRecord(
                    id=f"{split}/{cid}", text=t3, labels=[label], split=split, dataset="emocontext",
                    context=_format_context([("A", t1), ("B", t2)], None), speaker="A"))
        _check_row_count(path, len(records), None, f"EmoContext {split} conversations after the header")
        out[split] = records
    return out


# --------------------------------------------------------------------------- narrative corpora
def read_fairytaleqa(root: str | os.PathLike) -> list[Narrative]:
    """FairytaleQA stories from ``stories.jsonl`` in ``root`` (one story per line).

    Each line: ``{"id", "origin", "split", "source_file", "sections": [...]}``;
    ``text`` is the sections joined by blank lines, ``meta['sections']`` keeps
    them. Upstream split ``val`` is called ``dev`` here.
    """
    path = _require_file(Path(root) / "stories.jsonl", "FairytaleQA stories.jsonl")
    stories = []
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise MalformedRow(path, line_no, f"one JSON object per line ({e.msg})", line) from None
            if not isinstance(row, dict) or not isinstance(row.get("sections"), list) or not row.get("id") \
                    or row.get("split") not in ("train", "val", "test"):
                raise MalformedRow(path, line_no, "an object with id, split (train/val/test) and a list of sections",
                                   line)
            sections = [str(s) for s in row["sections"]]
            stories.append(Narrative(
                id=str(row["id"]), title=str(row["id"]).replace("-", " ").strip().capitalize(),
                text="\n\n".join(sections), split="dev" if row["split"] == "val" else row["split"],
                meta={"origin": row.get("origin"), "source_file": row.get("source_file"), "sections": sections}))
    _check_row_count(path, len(stories), None, "FairytaleQA stories, one JSON object per line")
    return stories


def read_wikiplots(root: str | os.PathLike | None) -> list[Narrative]:
    """WikiPlots as users download it (``plots.zip`` unpacked): ``plots`` and ``titles`` in ``root``.

    ``plots`` holds one sentence per line, each plot ended by a line ``<EOS>``;
    ``titles`` holds one title per line, in the same order. Both are split on
    ``\\n`` only: a title may contain other line separators (``\\r``, U+2028),
    which become spaces. Text after the last ``<EOS>`` or a count mismatch stops
    reading. Empty plots (two ``<EOS>`` in a row) are skipped (their titles
    too); :func:`read_wikiplots_with_counts` returns how many. ``text`` is the
    plot, ``meta['sections']`` its sentences (the release's lines).
    """
    return read_wikiplots_with_counts(root)[0]


def _lines(path: Path) -> Iterable[str]:
    """The lines of a UTF-8 file split on ``\\n`` only, without the ``\\n``."""
    for line in open_text(path, newline="\n"):
        yield line[:-1] if line.endswith("\n") else line


def read_wikiplots_with_counts(root: str | os.PathLike | None) -> tuple[list[Narrative], dict[str, int]]:
    if root is None:
        raise DatasetNotSupplied(WIKIPLOTS_NOT_SUPPLIED)
    root = Path(root)
    plots_path = _require_file(root / "plots", "WikiPlots 'plots' file")
    titles_path = _require_file(root / "titles", "WikiPlots 'titles' file")
    titles = list(_lines(titles_path))
    plots: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    last_line = 0
    for line_no, line in enumerate(_lines(plots_path), 1):
        last_line = line_no
        line = " ".join(line.split())
        if line == "<EOS>":
            plots.append((start, current))
            current, start = [], line_no + 1
        elif line:
            current.append(line)
    if current:
        raise MalformedRow(plots_path, last_line, "every plot to end with a line '<EOS>'", current[-1])
    _check_row_count(plots_path, len(plots), None, "WikiPlots plots, each ended by a line '<EOS>'")
    if len(plots) != len(titles):
        raise DataError(f"{plots_path}: {len(plots)} plots (ended by <EOS>) but {titles_path} has "
                        f"{len(titles)} titles; expected one title per plot, in the same order")
    stories, empty = [], 0
    for i, ((line_no, sentences), title) in enumerate(zip(plots, titles)):
        if not sentences:
            empty += 1
            continue
        stories.append(Narrative(id=f"wikiplots-{i:06d}", title=" ".join(title.split()), text=" ".join(sentences),
                                 split=None, meta={"line": line_no, "sections": sentences}))
    return stories, {"empty_plot": empty}


# --------------------------------------------------------------------------- benchmarks by name
WIKIPLOTS_NOT_SUPPLIED = ("wikiplots: no folder configured. WikiPlots is distributed as plots.zip (see "
                          "github.com/markriedl/WikiPlots); unpack it, then set data.wikiplots_dir in conf/config.yaml "
                          "(or run `dvc exp run -S data.wikiplots_dir=/path/to/it`) to the folder holding it.")
# Corpora (not benchmarks) materialised by the data stage into data/raw/<folder>.
CORPUS_FOLDERS: dict[str, str] = {"fairytaleqa": "fairytaleqa_stories"}


def _registered(name: str):
    from emopillars import benchmarks

    return benchmarks.get(name)


def read_benchmark(name: str, root: str | os.PathLike | None, **opts) -> Splits:
    """Read benchmark ``name`` from folder ``root`` -> ``{split: [EmotionRecord]}`` (a :class:`Splits`).

    ``root`` is the dataset's own folder (``data/raw/meld``, or the user's
    IEMOCAP release folder). ``None`` or a missing folder for a user-supplied
    benchmark raises :class:`DatasetNotSupplied`. ``opts`` go to the reader
    (e.g. ``seed`` for ISEAR's split, ``context_turns`` for MELD/IEMOCAP).
    """
    return _registered(name).read(root, **opts)


def benchmark_root(name: str, data_params, raw_dir: str | os.PathLike | None = None) -> Optional[Path]:
    """The folder a benchmark or corpus is read from, given the ``data`` params section.

    Mirrored datasets live in ``raw_dir`` (default ``data_params.out_dir``)/<folder>;
    user-supplied ones in the folder named by their params key (None if unset).
    """
    if name == "wikiplots":
        return Path(data_params.wikiplots_dir) if data_params.wikiplots_dir else None
    if name in CORPUS_FOLDERS:
        return Path(raw_dir or data_params.out_dir) / CORPUS_FOLDERS[name]
    return _registered(name).root(data_params, raw_dir)


def load_benchmark(name: str, data_params, raw_dir: str | os.PathLike | None = None, **opts) -> Splits:
    """:func:`read_benchmark` with the folder and split seed taken from the ``data`` params section.

    The one call training and evaluation code needs::

        splits = load_benchmark("isear", params.data)
    """
    b = _registered(name)
    if b.split_seed_param == "data.split_seed":
        opts.setdefault("seed", data_params.split_seed)
    return b.read(benchmark_root(name, data_params, raw_dir), **opts)
