"""Human evaluation kit: a blind, stratified annotation sheet and the analysis of its answers.

What "blind" means here
-----------------------
An annotator judges an example as a reader would meet it in the released data:
the utterance, and for a contextual example its situation, speaker and speaker
description. The sheet shows nothing of what the dataset says about the
example: not its labels, not its primary emotion, and nothing of how it was
made: not the seed emotions the generator was asked to express
(``emotions_used_to_generate_context``), the expressiveness setting, the
prompts or their hashes, the raw model answers or the free-form emotion words,
the model's name, the story (``plot_id``) or the record id, nor the stratum
the item was drawn from. Items are shuffled across datasets and emotions and
carry opaque ids (``item-001``); the mapping back to the records, with each
item's labels and primary emotion, is written to a separate key file that
stays with the organiser.

Questions
---------
1. ``emotions``: which emotions does the speaker express? One to three of the
   28 GoEmotions classes (:data:`emopillars.taxonomy.EMOTIONS`, ``neutral``
   included). The page offers checkboxes over the 28 classes; in the CSV the
   annotator writes class names separated by ``;``.
2. ``naturalness``: 1 (clearly artificial) to 5 (fully natural).
3. ``context_personalises``: no / somewhat / yes, contextual items only
   (``n/a`` for the others).

Label correctness (``labels_correct``) is not asked but derived at import, per
(annotator, item), from the emotions the annotator chose and the item's labels
in the key: ``yes`` when the primary emotion is among the chosen emotions,
``partly`` when it is not but another of the item's labels is, ``no`` when none
of the item's labels is chosen. It is then analysed like an answered question
(share of ``yes``, Krippendorff's alpha nominal and ordinal, order
no < partly < yes). The annotators' agreement on the chosen emotion sets
themselves is Krippendorff's nominal alpha over binary choices per class,
pooled: every (item, class) pair of an item with at least two answers is a
unit whose values are 1 (chosen) or 0 (not chosen) per annotator
(``emotion_sets_alpha_binary_pooled``).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from emopillars.io import read_json, write_json, write_text
from emopillars.report.agreement import krippendorff_alpha, units_from_ratings
from emopillars.taxonomy import EMOTION_INDEX, EMOTIONS

MAX_EMOTIONS = 3  # the question text says "one to three"
EMOTION_SEPARATOR = ";"


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    text: str
    options: tuple[tuple[str, str], ...]  # (value, label), lowest to highest
    positive: tuple[str, ...]  # values counted as a positive answer
    contextual_only: bool = False
    numeric: bool = False  # values are numbers: report their mean
    max_choices: int = 1  # > 1: choose one to max_choices options (a set, unordered)


EMOTIONS_QUESTION = Question(
    "emotions", "Emotions expressed",
    "Which emotions does the speaker express in this utterance? Choose one to three of the 28 classes "
    "(neutral if the speaker expresses no emotion).",
    tuple((e, e) for e in EMOTIONS), (), max_choices=MAX_EMOTIONS)
# Asked on the sheet, in this order.
QUESTIONS: tuple[Question, ...] = (
    EMOTIONS_QUESTION,
    Question("naturalness", "Naturalness",
             "How natural is the utterance? Could a person say it like this?",
             (("1", "1: clearly artificial"), ("2", "2"), ("3", "3"), ("4", "4"), ("5", "5: fully natural")),
             ("4", "5"), numeric=True),
    Question("context_personalises", "Context personalises",
             "Does the context (the situation and who the speaker is) make the utterance fit this particular "
             "person and moment, rather than anyone anywhere?",
             (("no", "No"), ("somewhat", "Somewhat"), ("yes", "Yes")), ("yes",), contextual_only=True),
)
QUESTION_BY_KEY = {q.key: q for q in QUESTIONS}
# Derived at import from the ``emotions`` answers and the key (see derive_label_correctness).
LABELS_CORRECT = Question(
    "labels_correct", "Labels correct",
    "Derived: yes when the primary emotion is among the annotator's chosen emotions, partly when another label is, "
    "no otherwise.",
    (("no", "No: no label chosen"), ("partly", "Partly: a label other than the primary one chosen"),
     ("yes", "Yes: the primary emotion chosen")), ("yes",))
# Reported in this order: the derived label correctness first, then the asked ordinal questions.
ANALYSED: tuple[Question, ...] = (LABELS_CORRECT,) + tuple(q for q in QUESTIONS if q.max_choices == 1)
SHOWN_FIELDS = ("item", "utterance", "context", "character", "character_description")


# --------------------------------------------------------------------------- export
def _primary(rec: dict) -> str:
    return str(rec.get("primary_emotion") or (rec.get("labels") or ["?"])[0])


def stratified_sample(datasets: dict[str, list[dict]], per_stratum: int, seed: int) -> list[tuple[str, dict]]:
    """Up to ``per_stratum`` records per (dataset, primary emotion), shuffled together with ``seed``."""
    rng = random.Random(seed)
    chosen: list[tuple[str, dict]] = []
    for name in sorted(datasets):
        strata: dict[str, list[dict]] = defaultdict(list)
        for rec in datasets[name]:
            if rec.get("utterance"):
                strata[_primary(rec)].append(rec)
        for emotion in sorted(strata):
            pool = sorted(strata[emotion], key=lambda r: str(r.get("id", r.get("utterance"))))  # not file order
            chosen += [(name, r) for r in rng.sample(pool, min(per_stratum, len(pool)))]
    rng.shuffle(chosen)
    return chosen


def build_sheet(datasets: dict[str, list[dict]], per_stratum: int, seed: int) -> tuple[list[dict], dict]:
    """``(items shown to annotators, key kept by the organiser)``.

    Items hold only :data:`SHOWN_FIELDS`; the key holds, per item, the record's
    dataset, id, story, labels, primary emotion, seed emotions and expressiveness.
    """
    sample = stratified_sample(datasets, per_stratum, seed)
    # sheet_id (below) hashes the items as shown: the same items give the same id on any run, machine or day.
    width = max(3, len(str(len(sample))))
    items, key_items = [], {}
    for i, (name, rec) in enumerate(sample, 1):
        item_id = f"item-{i:0{width}d}"
        contextual = bool(rec.get("context"))
        items.append({
            "item": item_id,
            "utterance": str(rec["utterance"]),
            "context": str(rec.get("context") or "") if contextual else "",
            "character": str(rec.get("character") or "") if contextual else "",
            "character_description": str(rec.get("character_description") or "") if contextual else "",
        })
        key_items[item_id] = {
            "dataset": name, "id": rec.get("id"), "plot_id": rec.get("plot_id"),
            "labels": sorted(str(l) for l in rec.get("labels") or []),
            "primary_emotion": _primary(rec),
            "emotions_used_to_generate_context": rec.get("emotions_used_to_generate_context"),
            "expressiveness": rec.get("expressiveness"),
        }
    sheet_id = items_sheet_id(items)
    key = {"sheet_id": sheet_id, "per_stratum": per_stratum, "seed": seed, "items": key_items}
    return items, key


def items_sheet_id(items: list[dict]) -> str:
    """The sheet's id: the first 12 hex digits of the sha256 of its items (ids and shown fields) as canonical JSON.

    Nothing else enters it (no seed, date, path, record id or template), so answers saved on a sheet stay valid
    for every rerun that draws the same items, and a sheet whose items changed gets another id.
    """
    canonical = json.dumps([{f: it[f] for f in SHOWN_FIELDS} for it in items], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def sheet_csv(items: list[dict], sheet_id: str) -> str:
    """The sheet for a spreadsheet: one row per item, empty answer columns (``n/a`` where a question does not apply).

    The ``emotions`` column takes one to three class names separated by ``;`` (see ``instructions.txt``).
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sheet", *SHOWN_FIELDS, "annotator", *(q.key for q in QUESTIONS)])
    for it in items:
        row = [sheet_id] + [it[f] for f in SHOWN_FIELDS] + [""]
        row += ["n/a" if q.contextual_only and not it["context"] else "" for q in QUESTIONS]
        w.writerow(row)
    return buf.getvalue()


def instructions_text() -> str:
    """The questions in plain text, for annotators who fill in ``sheet.csv``. Depends on no data."""
    lines = ["Emotion annotation: instructions for sheet.csv", "",
             "Each row is a line that a character in a story says; some rows also describe the situation and the",
             "speaker. Read the row, then fill in the answer columns. Write your name or code in 'annotator'.",
             "Answer from your own reading; there are no trick items. (sheet.html asks the same questions.)", ""]
    for q in QUESTIONS:
        lines.append(f"{q.key}: {q.text}")
        if q.max_choices > 1:
            lines.append(f"  Write one to {q.max_choices} of these class names, separated by '{EMOTION_SEPARATOR}':")
            lines.append("  " + ", ".join(v for v, _ in q.options))
        else:
            lines.append("  One of: " + ", ".join(v if label.lower() == v else f"{v} ({label.split(': ', 1)[-1]})"
                                                  for v, label in q.options))
        if q.contextual_only:
            lines.append("  Rows without a context have 'n/a' here; leave it.")
        lines.append("")
    return "\n".join(lines)


def _json_for_script(obj) -> str:
    # Inside <script>, "</" would end the element early; \u003c keeps the JSON identical.
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def sheet_html(items: list[dict], sheet_id: str, template_path: str | os.PathLike) -> str:
    """The offline annotation page: ``reports/templates/annotate.html`` with the items and questions inlined."""
    questions = [{"key": q.key, "title": q.title, "text": q.text, "options": [list(o) for o in q.options],
                  "contextual_only": q.contextual_only, "max_choices": q.max_choices} for q in QUESTIONS]
    page = Path(template_path).read_text(encoding="utf-8")
    return (page.replace("@@SHEET_ID@@", html.escape(sheet_id))
                .replace("@@ITEMS_JSON@@", _json_for_script(items))
                .replace("@@QUESTIONS_JSON@@", _json_for_script(questions))
                .replace("@@SHEET_ID_JSON@@", _json_for_script(sheet_id)))


def export_sheet(datasets: dict[str, list[dict]], out_dir: str | os.PathLike, key_path: str | os.PathLike,
                 template_path: str | os.PathLike, per_stratum: int, seed: int) -> tuple[int, str]:
    """Write ``out_dir/``: ``sheet.html``, ``sheet.csv``, ``instructions.txt``, ``items.json`` (for annotators),
    and ``key_path`` (not for them)."""
    items, key = build_sheet(datasets, per_stratum, seed)
    out_dir = Path(out_dir)
    write_text(out_dir / "sheet.csv", sheet_csv(items, key["sheet_id"]))
    write_text(out_dir / "sheet.html", sheet_html(items, key["sheet_id"], template_path))
    write_text(out_dir / "instructions.txt", instructions_text())
    write_json(out_dir / "items.json", {"sheet_id": key["sheet_id"], "items": items})
    write_json(key_path, key)
    return len(items), key["sheet_id"]


# --------------------------------------------------------------------------- import
class SheetMismatch(ValueError):
    """An answer file answers another sheet (the data or the sample has changed since)."""


Value = Union[str, tuple[str, ...]]


@dataclass(frozen=True)
class Rating:
    item: str
    annotator: str
    question: str
    value: Value  # a string; for ``emotions`` a sorted tuple of class names


def _check_emotions(path: Path, item: str, value, where: str = "") -> Optional[tuple[str, ...]]:
    loc = f"{path}{where}: item {item}, question emotions"
    expected = (f"expected one to {MAX_EMOTIONS} of the {len(EMOTIONS)} GoEmotions classes "
                f"(separated by '{EMOTION_SEPARATOR}' in a CSV)")
    if isinstance(value, str):
        names = value.split(EMOTION_SEPARATOR)
    elif isinstance(value, (list, tuple)):
        names = list(value)
    else:
        raise ValueError(f"{loc}: answer {value!r} is not a list of class names; {expected}")
    chosen: list[str] = []
    for name in names:
        name = str(name).strip().lower()
        if name in ("", "n/a"):
            continue
        if name not in EMOTION_INDEX:
            raise ValueError(f"{loc}: unknown emotion {name!r} in answer {value!r}; {expected}: {', '.join(EMOTIONS)}")
        if name not in chosen:
            chosen.append(name)
    if len(chosen) > MAX_EMOTIONS:
        raise ValueError(f"{loc}: {len(chosen)} emotions chosen ({', '.join(chosen)}); {expected}, not more")
    return tuple(sorted(chosen, key=EMOTION_INDEX.get)) or None


def _check_value(path: Path, item: str, q: str, value, where: str = "") -> Optional[Value]:
    if value is None:
        return None
    if q not in QUESTION_BY_KEY:
        extra = f" ({q} is derived from 'emotions' at import, not answered)" if q == LABELS_CORRECT.key else ""
        raise ValueError(f"{path}{where}: unknown question {q!r}{extra}; expected one of {', '.join(QUESTION_BY_KEY)}")
    if QUESTION_BY_KEY[q].max_choices > 1:
        return _check_emotions(path, item, value, where)
    value = str(value).strip()
    if value in ("", "n/a"):
        return None
    allowed = [v for v, _ in QUESTION_BY_KEY[q].options]
    if value not in allowed:
        raise ValueError(f"{path}{where}: item {item}, question {q}: answer {value!r} is not one of {allowed}")
    return value


def read_answers(path: str | os.PathLike, sheet_items: Iterable[str], sheet_id: Optional[str] = None) -> list[Rating]:
    """Ratings from one annotator's file: the JSON the HTML page saves, or the filled-in CSV sheet.

    A CSV without an ``annotator`` column is attributed to the file's name. In
    the JSON file ``emotions`` is a list of class names (or one string with
    names separated by ``;``, as in the CSV).
    """
    path = Path(path)
    known = set(sheet_items)
    ratings: list[Rating] = []
    if path.suffix == ".json":
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
            raise ValueError(f"{path}: expected an object with 'annotator' and 'answers' (as the annotation page saves)")
        if sheet_id and data.get("sheet") not in (None, sheet_id):
            raise SheetMismatch(f"{path}: answers are for sheet {data.get('sheet')!r}, not this sheet {sheet_id!r}")
        annotator = str(data.get("annotator") or path.stem)
        for item, answers in data["answers"].items():
            if item not in known:
                raise SheetMismatch(f"{path}: item {item!r} is not in this sheet")
            for q, value in (answers or {}).items():
                v = _check_value(path, item, q, value)
                if v is not None:
                    ratings.append(Rating(item, annotator, q, v))
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "item" not in reader.fieldnames:
                raise ValueError(f"{path}: expected the sheet's columns (sheet, item, ..., annotator, answers)")
            if LABELS_CORRECT.key in reader.fieldnames and "emotions" not in reader.fieldnames:
                raise ValueError(f"{path}: a '{LABELS_CORRECT.key}' column but no 'emotions' column: this answers the "
                                 "old sheet that showed the labels; expected the columns of the current sheet.csv")
            for lineno, row in enumerate(reader, 2):
                item = (row.get("item") or "").strip()
                if sheet_id and (row.get("sheet") or "").strip() not in ("", sheet_id):
                    raise SheetMismatch(f"{path}:{lineno}: answers are for sheet {row['sheet']!r}, not this sheet {sheet_id!r}")
                if item not in known:
                    raise SheetMismatch(f"{path}:{lineno}: item {item!r} is not in this sheet")
                annotator = (row.get("annotator") or "").strip() or path.stem
                for q in QUESTION_BY_KEY:
                    v = _check_value(path, item, q, row.get(q), f":{lineno}")
                    if v is not None:
                        ratings.append(Rating(item, annotator, q, v))
    else:
        raise ValueError(f"{path}: expected a .json file saved by the annotation page or a filled-in .csv sheet")
    return ratings


def label_correctness(chosen: Iterable[str], labels: Iterable[str], primary: Optional[str]) -> str:
    """``yes`` if ``primary`` is among ``chosen``, ``partly`` if another of ``labels`` is, else ``no``."""
    chosen = set(chosen)
    if primary in chosen:
        return "yes"
    if chosen & (set(labels) - {primary}):
        return "partly"
    return "no"


def _key_labels(key: dict, item: str) -> tuple[list[str], Optional[str]]:
    meta = (key.get("items") or {}).get(item) or {}
    if "labels" not in meta:
        raise ValueError(f"key for sheet {key.get('sheet_id')!r}: item {item} has no 'labels' (a key written before "
                         "the blind emotion question); re-export the sheet to judge label correctness")
    return [str(l) for l in meta["labels"] or []], meta.get("primary_emotion")


def derive_label_correctness(ratings: list[Rating], key: dict) -> list[Rating]:
    """One ``labels_correct`` rating per ``emotions`` rating, by :func:`label_correctness` against the key."""
    out = []
    for r in ratings:
        if r.question == EMOTIONS_QUESTION.key:
            labels, primary = _key_labels(key, r.item)
            out.append(Rating(r.item, r.annotator, LABELS_CORRECT.key, label_correctness(r.value, labels, primary)))
    return out


def emotion_set_agreement(emotion_ratings: list[Rating]) -> Optional[float]:
    """Krippendorff's nominal alpha over binary choices per class, pooled over items and classes.

    Each (item, class) of an item answered by at least two annotators is a unit;
    each annotator's value is 1 if they chose the class, else 0.
    """
    by_item: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    for r in emotion_ratings:
        by_item[r.item][r.annotator] = r.value
    units = {(item, e): [int(e in chosen) for chosen in answers.values()]
             for item, answers in by_item.items() if len(answers) > 1 for e in EMOTIONS}
    return krippendorff_alpha(units, "nominal")


def _question_stats(q: Question, qr: list[Rating], datasets: dict[str, str]) -> dict:
    order = [v for v, _ in q.options]
    units = units_from_ratings((r.item, r.annotator, r.value) for r in qr)
    d = {
        "title": q.title,
        "n_items": len(units),
        "n_ratings": len(qr),
        "distribution": {v: sum(r.value == v for r in qr) for v in order},
        "positive_rate": sum(r.value in q.positive for r in qr) / len(qr),
        "mean": (sum(float(r.value) for r in qr) / len(qr)) if q.numeric else None,
        "alpha_nominal": krippendorff_alpha(units, "nominal"),
        "alpha_ordinal": krippendorff_alpha(units, "ordinal", order=order),
        "n_items_multiply_rated": sum(len(v) > 1 for v in units.values()),
    }
    per_ds: dict[str, list[Rating]] = defaultdict(list)
    for r in qr:
        per_ds[datasets.get(r.item) or "unknown"].append(r)
    d["per_dataset"] = {ds: {"n_ratings": len(rs), "positive_rate": sum(r.value in q.positive for r in rs) / len(rs)}
                        for ds, rs in sorted(per_ds.items())}
    return d


def analyse(ratings: list[Rating], key: dict) -> dict:
    """Per-question rates, means and Krippendorff's alpha (nominal and ordinal), overall and per dataset.

    ``labels_correct`` is derived from the ``emotions`` answers (see
    :func:`label_correctness`) and also reports the agreement on the chosen
    emotion sets (``emotion_sets_alpha_binary_pooled``), the mean number of
    emotions chosen per answer (``mean_emotions_chosen``) and the mean number of
    labels in the data over the same answers (``mean_labels_in_data``).
    """
    annotators = sorted({r.annotator for r in ratings})
    out: dict = {"sheet_id": key.get("sheet_id"), "n_items_in_sheet": len(key.get("items", {})),
                 "n_annotators": len(annotators), "questions": {}}
    datasets = {item: meta.get("dataset") for item, meta in key.get("items", {}).items()}
    emotion_ratings = [r for r in ratings if r.question == EMOTIONS_QUESTION.key]
    all_ratings = ratings + derive_label_correctness(ratings, key)
    for q in ANALYSED:
        qr = [r for r in all_ratings if r.question == q.key]
        if not qr:
            continue
        d = _question_stats(q, qr, datasets)
        if q is LABELS_CORRECT:
            d["derived_from"] = EMOTIONS_QUESTION.key
            d["emotion_sets_alpha_binary_pooled"] = emotion_set_agreement(emotion_ratings)
            n = len(emotion_ratings)
            d["mean_emotions_chosen"] = sum(len(r.value) for r in emotion_ratings) / n
            d["mean_labels_in_data"] = sum(len(_key_labels(key, r.item)[0]) for r in emotion_ratings) / n
        out["questions"][q.key] = d
    return out


def import_answers(paths: Iterable[str | os.PathLike], sheet_items_path: str | os.PathLike,
                   key_path: str | os.PathLike) -> dict:
    sheet = read_json(sheet_items_path)
    key = read_json(key_path)
    if sheet.get("sheet_id") != key.get("sheet_id"):
        raise ValueError(f"{key_path}: key is for sheet {key.get('sheet_id')!r}, but {sheet_items_path} is "
                         f"sheet {sheet.get('sheet_id')!r}")
    item_ids = [it["item"] for it in sheet["items"]]
    ratings: list[Rating] = []
    seen: Counter = Counter()
    files: dict[str, Path] = {}  # annotator -> the file their answers came from
    for p in paths:
        rs = read_answers(p, item_ids, sheet.get("sheet_id"))
        for r in rs:
            seen[(r.item, r.annotator, r.question)] += 1
            if seen[(r.item, r.annotator, r.question)] > 1:
                raise ValueError(f"{p}: annotator {r.annotator!r} answered {r.question} of {r.item} twice "
                                 "(two answer files from the same annotator?)")
            files.setdefault(r.annotator, Path(p))
        ratings += rs
    check_distinct_annotators(ratings, files)
    return analyse(ratings, key)


def check_distinct_annotators(ratings: list[Rating], files: dict[str, Path]) -> None:
    """Refuse two annotators whose answers are identical item for item: one person's answers saved under two names
    (a shared browser, a copied file) would count as perfect agreement and inflate alpha."""
    answers: dict[str, set] = defaultdict(set)
    for r in ratings:
        answers[r.annotator].add((r.item, r.question, r.value))
    first: dict[frozenset, str] = {}
    for annotator in sorted(answers):
        same = first.setdefault(frozenset(answers[annotator]), annotator)
        if same != annotator:
            raise ValueError(f"{files[same]} and {files[annotator]}: the answers of {same!r} and {annotator!r} are "
                             f"identical item for item ({len(answers[annotator])} answers), so they are one "
                             "annotator's answers under two names, not two annotators; keep one of the files")


def answer_files(answers_dir: str | os.PathLike) -> list[Path]:
    d = Path(answers_dir)
    return sorted(p for p in d.glob("*") if p.suffix in (".json", ".csv") and not p.name.startswith(".")) if d.is_dir() else []
