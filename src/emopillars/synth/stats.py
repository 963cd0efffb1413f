"""Dataset statistics: label distribution, labels per example, and diversity per class.

Diversity is measured on equal-size samples per class (distinct-n and
self-BLEU depend on sample size), so our classes and GoEmotions' are compared
on the same number of texts: distinct-1/2 (unique n-grams over all n-grams),
self-BLEU (BLEU-4 of each text against the others, lower = more diverse) and
mean pairwise cosine similarity of encoder embeddings.
"""

from __future__ import annotations

import math
import random
import weakref
from collections import Counter
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from emopillars.synth.text import words
from emopillars.taxonomy import EMOTIONS


def distinct_n(texts: Sequence[str], n: int) -> float:
    grams, total = set(), 0
    for t in texts:
        w = words(t)
        g = [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
        grams.update(g)
        total += len(g)
    return len(grams) / total if total else 0.0


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _grams(tokens: list[str], max_n: int) -> list[Counter]:
    return [_ngrams(tokens, n) for n in range(1, max_n + 1)]


def _bleu(hyp_len: int, hyp: list[Counter], refs: list[list[Counter]], ref_lens: list[int]) -> float:
    """BLEU of one hypothesis from n-gram counts: ``hyp[n-1]``/``refs[j][n-1]`` count the n-grams."""
    if not hyp_len:
        return 0.0
    log_p = 0.0
    for n, h in enumerate(hyp, 1):
        # clipped counts: each n-gram at most as often as in the reference that has it most often
        overlap = sum(min(c, max(r[n - 1].get(g, 0) for r in refs)) if refs else 0 for g, c in h.items())
        total = max(hyp_len - n + 1, 0)
        log_p += math.log((overlap + 1) / (total + 1))
    closest = min((abs(length - hyp_len), length) for length in ref_lens)[1] if ref_lens else hyp_len
    bp = 1.0 if hyp_len > closest else math.exp(1 - closest / max(hyp_len, 1))
    return bp * math.exp(log_p / len(hyp))


def sentence_bleu(hyp: list[str], refs: list[list[str]], max_n: int = 4) -> float:
    """BLEU-4 with add-one smoothing on n-gram precisions (so short texts do not score zero)."""
    return _bleu(len(hyp), _grams(hyp, max_n), [_grams(r, max_n) for r in refs], [len(r) for r in refs])


def self_bleu(texts: Sequence[str], max_refs: int = 50, seed: int = 13) -> float:
    """Mean BLEU-4 of each text against (a seeded sample of ``max_refs`` of) the others.

    Every text's n-grams are counted once and shared by all the comparisons it is part of.
    """
    toks = [words(t) for t in texts]
    if len(toks) < 2:
        return float("nan")
    grams = [_grams(t, 4) for t in toks]
    lens = [len(t) for t in toks]
    rng = random.Random(seed)
    scores = []
    for i in range(len(toks)):
        others = list(range(i)) + list(range(i + 1, len(toks)))
        if len(others) > max_refs:
            others = rng.sample(others, max_refs)
        scores.append(_bleu(lens[i], grams[i], [grams[j] for j in others], [lens[j] for j in others]))
    return float(np.mean(scores))


def mean_pairwise_similarity(vectors: np.ndarray) -> float:
    n = len(vectors)
    if n < 2:
        return float("nan")
    sims = vectors @ vectors.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


# Vectors already computed, per embedding function (kept while the function lives): the GoEmotions samples the
# stage compares both datasets with are embedded once.
_EMBEDDED: "weakref.WeakKeyDictionary[Callable, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()


def _embed_once(embed: Callable[[Sequence[str]], np.ndarray], texts: Iterable[str]) -> dict[str, np.ndarray]:
    """``{text: vector}`` for ``texts``; each distinct text is embedded once, in batches of similar length."""
    try:
        cache = _EMBEDDED.setdefault(embed, {})
    except TypeError:  # not weak-referenceable: no reuse across calls
        cache = {}
    missing = sorted({t for t in texts if t not in cache}, key=lambda t: (len(t), t))
    if missing:
        cache.update(zip(missing, embed(missing)))
    return cache


def class_samples(texts_by_class: dict[str, list[str]], sample_sizes: dict[str, int],
                  seed: int) -> dict[str, list[str]]:
    """Per class with at least two texts to draw: a seeded sample of ``sample_sizes[class]`` of its texts."""
    rng = random.Random(seed)
    samples = {}
    for e in EMOTIONS:
        texts = texts_by_class.get(e, [])
        k = min(sample_sizes.get(e, 0), len(texts))
        if k >= 2:
            samples[e] = rng.sample(texts, k)
    return samples


def diversity_of_samples(samples: dict[str, list[str]], seed: int,
                         embed: Optional[Callable[[Sequence[str]], np.ndarray]] = None, bar=None) -> dict[str, dict]:
    """Per class: the four diversity measures of its sample; ``bar`` (a tqdm bar, say) advances by one per class."""
    vectors = _embed_once(embed, (t for s in samples.values() for t in s)) if embed is not None else {}
    out = {}
    for e, sample in samples.items():
        row = {"n": len(sample), "distinct_1": round(distinct_n(sample, 1), 4),
               "distinct_2": round(distinct_n(sample, 2), 4), "self_bleu": round(self_bleu(sample, seed=seed), 4)}
        if embed is not None:
            row["embedding_similarity"] = round(mean_pairwise_similarity(np.stack([vectors[t] for t in sample])), 4)
        out[e] = row
        if bar is not None:
            bar.update(1)
    return out


def diversity_by_class(texts_by_class: dict[str, list[str]], sample_sizes: dict[str, int], seed: int,
                       embed: Optional[Callable[[Sequence[str]], np.ndarray]] = None) -> dict[str, dict]:
    """Per class: the four diversity measures on a seeded sample of ``sample_sizes[class]`` texts."""
    return diversity_of_samples(class_samples(texts_by_class, sample_sizes, seed), seed, embed)


def embed_all(embed: Callable[[Sequence[str]], np.ndarray], samples: Iterable[dict[str, list[str]]]) -> None:
    """Embed every text of ``samples`` in one call; :func:`diversity_of_samples` then reuses the vectors."""
    _embed_once(embed, (t for s in samples for sample in s.values() for t in sample))


def macro(per_class: dict[str, dict]) -> dict[str, float]:
    keys = ("distinct_1", "distinct_2", "self_bleu", "embedding_similarity")
    return {k: round(float(np.nanmean([v[k] for v in per_class.values() if k in v])), 4)
            for k in keys if any(k in v for v in per_class.values())}


def labels_per_example(rows: list[dict]) -> dict:
    counts = Counter(len(r["labels"]) for r in rows)
    n = sum(counts.values()) or 1
    return {"mean": round(sum(k * v for k, v in counts.items()) / n, 4),
            "histogram": {str(k): counts[k] for k in sorted(counts)}}


def mapping_report(records: list[dict], rejects: list[dict], threshold: float, top: int = 40) -> dict:
    """How free-form emotion words were resolved, and what a naive pipeline would have leaked.

    Naive: every word with intensity >= ``threshold`` becomes a label as it is
    (the paper's weak point); its out-of-taxonomy rate is the share of such
    labels outside the 28 classes. Ours: labels come only from mapped classes,
    so leakage is measured on the final labels (and must be zero).
    """
    how = Counter()
    oot_words, non_emotion = Counter(), Counter()
    naive_labels = naive_oot = naive_examples_oot = examples = 0
    leaked = 0
    answers = [r for r in records] + [r for r in rejects if r.get("mapping")]
    for r in answers:
        trace = r.get("emotion_mapping") or r.get("mapping") or {}
        scores = r.get("all_emotions") or {}
        examples += 1
        any_oot = False
        for word, parts in trace.items():
            for emotion, kind in parts:
                how[kind.split(":")[0]] += 1
                if kind == "out-of-taxonomy":
                    oot_words[word.lower()] += 1
                elif kind.startswith("non-emotion"):
                    non_emotion[kind.split(":", 1)[1]] += 1
            if scores.get(word, 0) >= threshold:
                naive_labels += 1
                if word.lower().strip() not in EMOTIONS:
                    naive_oot += 1
                    any_oot = True
        naive_examples_oot += any_oot
    for r in records:
        leaked += sum(1 for l in r["labels"] if l not in EMOTIONS)
    total_words = sum(how.values()) or 1
    final_labels = sum(len(r["labels"]) for r in records) or 1
    return {
        "answers": examples,
        "emotion_words": sum(how.values()),
        "resolved_by": dict(how.most_common()),
        "out_of_taxonomy_rate": round(how["out-of-taxonomy"] / total_words, 4),
        "non_emotion_rate": round(how["non-emotion"] / total_words, 4),
        "non_emotion_kinds": dict(non_emotion.most_common()),
        "out_of_taxonomy_words": dict(oot_words.most_common(top)),
        "distinct_out_of_taxonomy_words": len(oot_words),
        "label_leakage_rate": round(leaked / final_labels, 4),
        "naive_label_leakage_rate": round(naive_oot / naive_labels, 4) if naive_labels else None,
        "naive_examples_with_leaked_label": round(naive_examples_oot / examples, 4) if examples else None,
    }
