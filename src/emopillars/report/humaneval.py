"""Human evaluation kit: a blind, stratified annotation sheet and the analysis of its answers.

What "blind" means here
-----------------------
An annotator judges an example as a reader would meet it in the released data:
the utterance, and for a contextual example its situation, speaker and speaker
description; plus the labels under judgement (question 1 asks whether they are
right, so they are the item itself, shown in alphabetical order without scores
and without marking the primary one). The annotator never sees how the example
was made: not the seed emotions the generator was asked to express
(``emotions_used_to_generate_context``), the expressiveness setting, the
prompts or their hashes, the raw model answers or the free-form emotion words,
the model's name, the story (``plot_id``) or the record id, nor the stratum
the item was drawn from. Items are shuffled across datasets and emotions and
carry opaque ids (``item-001``); the mapping back to the records is written to
a separate key file that stays with the organiser.
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
from typing import Iterable, Optional

from emopillars.io import read_json, write_json, write_text
from emopillars.report.agreement import krippendorff_alpha, units_from_ratings


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    text: str
    options: tuple[tuple[str, str], ...]  # (value, label), lowest to highest
    positive: tuple[str, ...]  # values counted as a positive answer
    contextual_only: bool = False
    numeric: bool = False  # values are numbers: report their mean


QUESTIONS: tuple[Question, ...] = (
    Question("labels_correct", "Labels correct",
             "Do the labels describe the emotions the speaker expresses in this utterance?",
             (("no", "No: the labels are wrong"), ("partly", "Partly: some are right, some wrong or missing"),
              ("yes", "Yes: the labels fit"),), ("yes",)),
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
SHOWN_FIELDS = ("item", "utterance", "labels", "context", "character", "character_description")


# --------------------------------------------------------------------------- export
def stratified_sample(datasets: dict[str, list[dict]], per_stratum: int, seed: int) -> list[tuple[str, dict]]:
    """Up to ``per_stratum`` records per (dataset, primary emotion), shuffled together with ``seed``."""
    rng = random.Random(seed)
    chosen: list[tuple[str, dict]] = []
    for name in sorted(datasets):
        strata: dict[str, list[dict]] = defaultdict(list)
        for rec in datasets[name]:
            if rec.get("utterance"):
                strata[str(rec.get("primary_emotion") or (rec.get("labels") or ["?"])[0])].append(rec)
        for emotion in sorted(strata):
            pool = sorted(strata[emotion], key=lambda r: str(r.get("id", r.get("utterance"))))
            chosen += [(name, r) for r in rng.sample(pool, min(per_stratum, len(pool)))]
    rng.shuffle(chosen)
    return chosen


def build_sheet(datasets: dict[str, list[dict]], per_stratum: int, seed: int) -> tuple[list[dict], dict]:
    """``(items shown to annotators, key kept by the organiser)``."""
    sample = stratified_sample(datasets, per_stratum, seed)
    width = max(3, len(str(len(sample))))
    items, key_items = [], {}
    for i, (name, rec) in enumerate(sample, 1):
        item_id = f"item-{i:0{width}d}"
        contextual = bool(rec.get("context"))
        items.append({
            "item": item_id,
            "utterance": str(rec["utterance"]),
            "labels": sorted(str(l) for l in rec.get("labels") or []),
            "context": str(rec.get("context") or "") if contextual else "",
            "character": str(rec.get("character") or "") if contextual else "",
            "character_description": str(rec.get("character_description") or "") if contextual else "",
        })
        key_items[item_id] = {
            "dataset": name, "id": rec.get("id"), "plot_id": rec.get("plot_id"),
            "primary_emotion": rec.get("primary_emotion"),
            "emotions_used_to_generate_context": rec.get("emotions_used_to_generate_context"),
            "expressiveness": rec.get("expressiveness"),
        }
    sheet_id = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:12]
    key = {"sheet_id": sheet_id, "per_stratum": per_stratum, "seed": seed, "items": key_items}
    return items, key


def sheet_csv(items: list[dict], sheet_id: str) -> str:
    """The sheet for a spreadsheet: one row per item, empty answer columns (``n/a`` where a question does not apply)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sheet", *SHOWN_FIELDS, "annotator", *(q.key for q in QUESTIONS)])
    for it in items:
        row = [sheet_id] + [it[f] if f != "labels" else "; ".join(it[f]) for f in SHOWN_FIELDS] + [""]
        row += ["n/a" if q.contextual_only and not it["context"] else "" for q in QUESTIONS]
        w.writerow(row)
    return buf.getvalue()


def _json_for_script(obj) -> str:
    # Inside <script>, "</" would end the element early; \u003c keeps the JSON identical.
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def sheet_html(items: list[dict], sheet_id: str, template_path: str | os.PathLike) -> str:
    """The offline annotation page: ``reports/templates/annotate.html`` with the items and questions inlined."""
    questions = [{"key": q.key, "title": q.title, "text": q.text, "options": [list(o) for o in q.options],
                  "contextual_only": q.contextual_only} for q in QUESTIONS]
    page = Path(template_path).read_text(encoding="utf-8")
    return (page.replace("@@SHEET_ID@@", html.escape(sheet_id))
                .replace("@@ITEMS_JSON@@", _json_for_script(items))
                .replace("@@QUESTIONS_JSON@@", _json_for_script(questions))
                .replace("@@SHEET_ID_JSON@@", _json_for_script(sheet_id)))


def export_sheet(datasets: dict[str, list[dict]], out_dir: str | os.PathLike, key_path: str | os.PathLike,
                 template_path: str | os.PathLike, per_stratum: int, seed: int) -> tuple[int, str]:
    """Write ``out_dir/sheet.csv`` and ``out_dir/sheet.html`` (for annotators) and ``key_path`` (not for them)."""
    items, key = build_sheet(datasets, per_stratum, seed)
    out_dir = Path(out_dir)
    write_text(out_dir / "sheet.csv", sheet_csv(items, key["sheet_id"]))
    write_text(out_dir / "sheet.html", sheet_html(items, key["sheet_id"], template_path))
    write_json(out_dir / "items.json", {"sheet_id": key["sheet_id"], "items": items})
    write_json(key_path, key)
    return len(items), key["sheet_id"]


# --------------------------------------------------------------------------- import
class SheetMismatch(ValueError):
    """An answer file answers another sheet (the data or the sample has changed since)."""


@dataclass(frozen=True)
class Rating:
    item: str
    annotator: str
    question: str
    value: str


def _check_value(path: Path, item: str, q: str, value, where: str = "") -> Optional[str]:
    if value is None:
        return None
    value = str(value).strip()
    if value in ("", "n/a"):
        return None
    if q not in QUESTION_BY_KEY:
        raise ValueError(f"{path}{where}: unknown question {q!r}; expected one of {', '.join(QUESTION_BY_KEY)}")
    allowed = [v for v, _ in QUESTION_BY_KEY[q].options]
    if value not in allowed:
        raise ValueError(f"{path}{where}: item {item}, question {q}: answer {value!r} is not one of {allowed}")
    return value


def read_answers(path: str | os.PathLike, sheet_items: Iterable[str], sheet_id: Optional[str] = None) -> list[Rating]:
    """Ratings from one annotator's file: the JSON the HTML page saves, or the filled-in CSV sheet.

    A CSV without an ``annotator`` column is attributed to the file's name.
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


def analyse(ratings: list[Rating], key: dict) -> dict:
    """Per-question rates, means and Krippendorff's alpha (nominal and ordinal), overall and per dataset."""
    annotators = sorted({r.annotator for r in ratings})
    out: dict = {"sheet_id": key.get("sheet_id"), "n_items_in_sheet": len(key.get("items", {})),
                 "n_annotators": len(annotators), "questions": {}}
    datasets = {item: meta.get("dataset") for item, meta in key.get("items", {}).items()}
    for q in QUESTIONS:
        qr = [r for r in ratings if r.question == q.key]
        if not qr:
            continue
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
    for p in paths:
        rs = read_answers(p, item_ids, sheet.get("sheet_id"))
        for r in rs:
            seen[(r.item, r.annotator, r.question)] += 1
            if seen[(r.item, r.annotator, r.question)] > 1:
                raise ValueError(f"{p}: annotator {r.annotator!r} answered {r.question} of {r.item} twice "
                                 "(two answer files from the same annotator?)")
        ratings += rs
    return analyse(ratings, key)


def answer_files(answers_dir: str | os.PathLike) -> list[Path]:
    d = Path(answers_dir)
    return sorted(p for p in d.glob("*") if p.suffix in (".json", ".csv") and not p.name.startswith(".")) if d.is_dir() else []
