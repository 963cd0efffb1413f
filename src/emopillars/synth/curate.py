"""Curation: sanity and length filters, exact/near duplicate removal, story-level splits, export.

Splits are made per *story* (``story_id``; a story's passages share it), so
no story, and hence no ``plot_id``, is in two splits; the same story -> split
assignment is used for both datasets, so a contextual test example never
comes from a story the context-less training set has seen.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from emopillars.synth.dedup import find_duplicates
from emopillars.synth.text import words
from emopillars.taxonomy import EMOTIONS

SPLITS = ("train", "dev", "test")

CONTEXTLESS_FIELDS = ("id", "plot_id", "utterance", "labels", "primary_emotion", "all_emotions",
                      "all_emotions_mapped", "raw_emotion_explication", "expressiveness",
                      "emotions_used_to_generate_context", "unmapped_emotions", "prompt_hashes", "raw_answers")
CONTEXTUAL_FIELDS = ("id", "plot_id", "context", "character", "character_description", "utterance", "labels",
                     "primary_emotion", "all_emotions", "all_emotions_mapped", "raw_emotion_explication",
                     "expressiveness", "emotions_used_to_generate_context", "unmapped_emotions", "prompt_hashes",
                     "raw_answers")

# what the generator says about the task instead of speaking as the character
_ASSISTANT_TALK = re.compile(r"\b(as an ai|language model|json|utterances?|first[- ]person|the character)\b",
                             re.IGNORECASE)


def sanity_problem(text: str, min_words: int, max_words: int) -> str | None:
    """Why a generated line is not a usable example (None if it is)."""
    n = len(words(text))
    if n < min_words:
        return "too short"
    if n > max_words:
        return "too long"
    letters = sum(map(str.isalpha, text))
    if letters < 0.6 * len(text.replace(" ", "")):
        return "mostly non-letters"
    if _ASSISTANT_TALK.search(text):
        return "model talk, not speech"
    if re.search(r"(\b\w+\b)(\s+\1\b){3,}", text.lower()):
        return "repetition"
    return None


def filter_examples(rows: list[dict], text_key: str, min_words: int, max_words: int, threshold: float,
                    num_perm: int, seed: int) -> tuple[list[dict], Counter]:
    """Sanity/length filters, then exact and near duplicates (first occurrence kept). Returns kept rows, drops."""
    dropped: Counter = Counter()
    sane = []
    for r in rows:
        problem = sanity_problem(r[text_key], min_words, max_words)
        if problem:
            dropped[problem] += 1
        else:
            sane.append(r)
    if not sane:
        return [], dropped
    result = find_duplicates([r[text_key] for r in sane], threshold=threshold, num_perm=num_perm, seed=seed)
    kept = []
    for r, keep, why in zip(sane, result.keep, result.reason):
        if keep:
            kept.append(r)
        else:
            dropped[why] += 1
    return kept, dropped


def assign_splits(story_sizes: dict[str, int], dev_share: float, test_share: float, seed: int) -> dict[str, str]:
    """Story -> split: seeded shuffle, then test and dev filled to their share of examples, the rest train.

    With at least three stories each split gets at least one story.
    """
    stories = sorted(story_sizes)
    random.Random(seed).shuffle(stories)
    total = sum(story_sizes.values()) or 1
    out: dict[str, str] = {}
    targets = [("test", test_share * total), ("dev", dev_share * total)]
    i = 0
    for split, target in targets:
        filled = 0
        while i < len(stories) and (filled < target or (filled == 0 and target > 0)) and len(stories) - i > 1:
            out[stories[i]] = split
            filled += story_sizes[stories[i]]
            i += 1
    for s in stories[i:]:
        out[s] = "train"
    return out


def project(row: dict, fields: Iterable[str]) -> dict:
    return {f: row.get(f) for f in fields}


def label_distribution(rows: list[dict]) -> dict[str, int]:
    c = Counter(l for r in rows for l in r["labels"])
    return {e: c.get(e, 0) for e in EMOTIONS}


# --------------------------------------------------------------------------- export
def _hf_features(contextual: bool):
    from datasets import Features, Sequence, Value

    scored = [{"emotion": Value("string"), "score": Value("float32")}]
    f = {
        "id": Value("string"), "plot_id": Value("string"),
        **({"context": Value("string"), "character": Value("string"), "character_description": Value("string")}
           if contextual else {}),
        "utterance": Value("string"), "labels": Sequence(Value("string")), "primary_emotion": Value("string"),
        "all_emotions": scored, "all_emotions_mapped": scored, "raw_emotion_explication": Value("string"),
        "expressiveness": Value("string"), "emotions_used_to_generate_context": Sequence(Value("string")),
        "unmapped_emotions": scored,
        "prompt_hashes": Value("string"), "raw_answers": Value("string"),
    }
    return Features(f)


_TRACE_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)  # json.dumps(..., ensure_ascii=False, sort_keys=True)


def to_table_row(row: dict) -> dict:
    """JSONL record -> HF/Parquet row: score dicts become lists of {emotion, score}; trace dicts become JSON text."""
    out = dict(row)
    for key in ("all_emotions", "all_emotions_mapped", "unmapped_emotions"):
        out[key] = [{"emotion": k, "score": float(v)} for k, v in (row.get(key) or {}).items()]
    for key in ("prompt_hashes", "raw_answers"):
        out[key] = _TRACE_JSON.encode(row.get(key) or {})
    return out


def _dataset(rows: list[dict], features):
    """A ``datasets.Dataset`` of table rows: Arrow converts them in one call (3x faster than
    ``Dataset.from_list``); rows Arrow will not take as they are go through datasets' own encoder, which casts."""
    import pyarrow as pa
    from datasets import Dataset, DatasetInfo

    if not rows:
        return Dataset.from_dict({k: [] for k in features}, features=features)
    try:
        table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return Dataset.from_list(rows, features=features)
    return Dataset(table, info=DatasetInfo(features=features))


def export_dataset(folder: Path, splits: dict[str, list[dict]], contextual: bool) -> None:
    """Write ``<split>.jsonl``, ``hf/`` (datasets.save_to_disk) and ``parquet/<split>.parquet`` into ``folder``."""
    from datasets import DatasetDict

    from emopillars.io import write_jsonl

    folder.mkdir(parents=True, exist_ok=True)
    features = _hf_features(contextual)
    dd = {}
    for split in SPLITS:
        rows = splits.get(split, [])
        write_jsonl(folder / f"{split}.jsonl", rows)
        dd[split] = _dataset([to_table_row(r) for r in rows], features)
    ddict = DatasetDict(dd)
    # An explicit shard count per split: datasets writes an empty split with zero shards otherwise, and
    # load_from_disk then fails on it (a small run can leave dev or test empty).
    ddict.save_to_disk(str(folder / "hf"), num_shards={k: max(1, math.ceil(len(v) / 200_000)) for k, v in dd.items()})
    (folder / "parquet").mkdir(exist_ok=True)
    for split, ds in ddict.items():
        ds.to_parquet(str(folder / "parquet" / f"{split}.parquet"))


def dataset_card(summary: dict) -> str:
    """The README.md of ``data/emopillars``: features, sizes, label distribution, how it was made, licences."""
    lines = [
        "# Emo Pillars (synthetic, reproduced)",
        "",
        "Two datasets of first-person utterances by characters of stories, labelled with the 28 GoEmotions classes",
        "(27 emotions + neutral): **contextless** (the utterance alone) and **contextual** (a situation that leads to",
        "the line + the character's description + the utterance). Made by this project's pipeline",
        f"(profile `{summary['profile']}`, generator `{summary['generator']}`).",
        "",
        "## Sizes",
        "",
        "| dataset | train | dev | test |",
        "|---|---|---|---|",
    ]
    for name in ("contextless", "contextual"):
        s = summary["datasets"][name]["sizes"]
        lines.append(f"| {name} | {s['train']} | {s['dev']} | {s['test']} |")
    lines += ["", "## Label distribution (all splits)", "", "| label | contextless | contextual |", "|---|---|---|"]
    for e in EMOTIONS:
        lines.append(f"| {e} | {summary['datasets']['contextless']['labels'][e]} | "
                     f"{summary['datasets']['contextual']['labels'][e]} |")
    lines += [
        "",
        "## Features",
        "",
        "| field | meaning |",
        "|---|---|",
        "| `id` | example id: `<plot_id>__c<character>__r<request>_<line>` |",
        "| `plot_id` | the passage the example comes from: `<story id>__p<passage index>` |",
        "| `utterance` | what the character says (first person) |",
        "| `context` | (contextual only) the situation leading to the utterance, written by the generator |",
        "| `character`, `character_description` | (contextual only) the speaker and one sentence about them |",
        "| `labels` | classes whose mapped intensity reaches the labels threshold (at least one) |",
        "| `primary_emotion` | the strongest label |",
        "| `all_emotions` | the generator's own emotion words with intensities in [0, 1] |",
        "| `all_emotions_mapped` | the same mapped onto the 28 classes (max intensity per class) |",
        "| `unmapped_emotions` | emotion words that fit no class (never used as labels) |",
        "| `raw_emotion_explication` | the generator's one-sentence explanation of the emotions |",
        "| `expressiveness` | how openly the line was asked to express its seed emotions: explicit, implicit, subtle |",
        "| `emotions_used_to_generate_context` | the seed emotions the utterance was generated with (not shown to the labeller) |",
        "| `prompt_hashes`, `raw_answers` | sha256 of each prompt template and the generator's raw answer at each step |",
        "",
        "In the JSONL files score fields are objects `{word: score}`; in `hf/` and `parquet/` they are lists of",
        "`{emotion, score}` and the trace fields are JSON strings.",
        "",
        "## How it was made",
        "",
        "1. Passages of stories (FairytaleQA's public-domain tales by default; WikiPlots in the paper profile) are cut",
        "   at section boundaries and sampled with a seed.",
        "2. The generator lists the characters of each passage; names that do not occur in the passage are rejected.",
        "3. For each character, seed emotions drawn evenly from the 28 classes and an expressiveness level; the",
        "   generator writes several first-person lines.",
        "4. The generator explains the emotions of each line without seeing its seeds; its free-form words are mapped",
        "   onto the 28 classes by a synonym lexicon, a non-emotion filter (names, adverbs, junk) and nearest",
        "   neighbours in the encoder's embedding space above a similarity threshold.",
        "5. For a share of the lines the generator writes the situation leading to it (rejected if it quotes the line",
        "   or names one of its emotions). "
        + ("Contextual examples are labelled again, reading the context." if summary.get("relabelled")
           else "Contextual examples reuse the utterance's labels."),
        "6. Sanity and length filters, exact and MinHash near-duplicate removal, splits by story.",
        "",
        "Counts at every step and the reasons for every drop are in `outputs/metrics/dataset_stats.json`.",
        "",
        "## Licences of the sources",
        "",
        "- FairytaleQA stories: Apache-2.0 repository (uci-soe/FairytaleQAData); the tales are public-domain Project",
        "  Gutenberg texts.",
        "- WikiPlots (paper profile): Wikipedia plot summaries, CC BY-SA.",
        f"- Generator: {summary['generator']} (its licence applies to generated text as its authors state).",
        "",
    ]
    return "\n".join(lines)
