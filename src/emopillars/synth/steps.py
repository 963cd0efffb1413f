"""The four generation steps, each as two pure halves plus a runner that joins them to the engine.

``format_input(row) -> GenerationRequest`` renders ``prompts/<step>.j2``;
``format_output(result, row) -> Outcome`` validates the answer and returns the
records it yields and the rejects, each with a reason. Every record keeps the
template's sha256 (``prompt_hashes``) and the model's raw answer
(``raw_answers``) of every step it went through, so a surprising label can be
traced to what the model said.
"""

from __future__ import annotations

import random
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from emopillars.llm.types import GenerationRequest, GenerationResult, SamplingParams
from emopillars.synth import schemas
from emopillars.synth.lexicon import SYNONYMS, TaxonomyMapper, labels_from_scores, map_scores
from emopillars.synth.prompts import load_template
from emopillars.synth.text import (candidate_characters, clean_line, clean_name, complete_sentences, copies_passage,
                                   describes_speaker, excerpt, is_repetitive, known_word_share, name_key, name_problem,
                                   normalise, passage_description, words)
from emopillars.taxonomy import EMOTIONS


@dataclass
class Outcome:
    records: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)


def _sampling(s) -> SamplingParams:
    return SamplingParams(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens,
                          repetition_penalty=s.repetition_penalty)


def _trace(row: dict, step: str, prompt_hash: str, raw: str) -> dict[str, dict]:
    hashes = dict(row.get("prompt_hashes") or {})
    answers = dict(row.get("raw_answers") or {})
    hashes[step] = prompt_hash
    answers[step] = raw
    return {"prompt_hashes": hashes, "raw_answers": answers}


class Step:
    """Base: a named template, a JSON answer schema and the step's params section."""

    name: str = ""
    schema: type = None

    def __init__(self, params, prompts_dir: Optional[str] = None, seed: int = 13):
        self.params = params
        self.seed = seed
        self.template = load_template(self.name if not hasattr(self, "template_name") else self.template_name,
                                      None if prompts_dir is None else str(prompts_dir))

    @property
    def prompt_hash(self) -> str:
        return self.template.hash

    def request(self, content: str, tag: str, meta: dict | None = None, sample_index: int = 0) -> GenerationRequest:
        return GenerationRequest(messages=[{"role": "user", "content": content}], sampling=_sampling(self.params.sampling),
                                 seed=self.seed, sample_index=sample_index, schema=self.schema, tag=tag,
                                 meta=dict(meta or {}))

    def reject(self, tag: str, reason: str, raw: str, **extra) -> dict:
        return {"stage": self.name, "tag": tag, "reason": reason, "raw": raw, "prompt_hash": self.prompt_hash, **extra}

    def engine_reject(self, result: GenerationResult, row: dict) -> Optional[Outcome]:
        """None if the engine accepted the answer, else the reject it becomes.

        An answer cut at max_tokens reaches here already settled by the engine's
        ``llm.truncated`` policy: salvaged (its complete items parsed) or rejected.
        """
        if result.ok and result.parsed is not None:
            return None
        reason = result.reason or "engine reject"
        return Outcome(rejects=[self.reject(result.tag, reason, result.raw, attempts=result.attempts)])


# --------------------------------------------------------------------------- characters
class CharactersStep(Step):
    """Passage -> characters with one-sentence descriptions; a made-up name is rejected."""

    name = "characters"
    schema = schemas.CharacterList

    def format_input(self, row: dict, sample_index: int = 0) -> GenerationRequest:
        candidates = candidate_characters(row["passage"])
        content = self.template.render(passage=row["passage"], max_characters=self.params.max_characters,
                                       candidates=candidates or ["(none found)"])
        request = self.request(content, row["plot_id"], sample_index=sample_index)
        if candidates:
            request.schema = schemas.character_list_for(candidates, self.params.max_characters)
        return request

    def format_output(self, result: GenerationResult, row: dict) -> Outcome:
        bad = self.engine_reject(result, row)
        if bad:
            return bad
        out = Outcome()
        seen: set[str] = set()
        seen_descriptions: set[str] = set()
        for entry in result.parsed.get("characters", []):
            name = clean_name(str(entry.get("name", "")))
            description = " ".join(str(entry.get("description", "")).split())
            problem = name_problem(name, row["passage"])
            if problem is None and name_key(name) in seen:
                problem = "duplicate character"
            source = "model"
            if problem is None:
                weak = ("empty description" if len(words(description)) < 3 else
                        "duplicate description" if normalise(description) in seen_descriptions else
                        "repetitive description" if is_repetitive(description) else None)
                if weak:
                    # The name is real but the model's description is not usable: describe the
                    # character by the passage's own sentence about them, and say so.
                    grounded = passage_description(name, row["passage"])
                    if grounded and normalise(grounded) not in seen_descriptions:
                        description, source = grounded, f"passage ({weak})"
                    else:
                        problem = weak
            if problem is None and len(out.records) >= self.params.max_characters:
                problem = "over max_characters"
            if problem:
                out.rejects.append(self.reject(row["plot_id"], problem, result.raw, character=name))
                continue
            seen.add(name_key(name))
            seen_descriptions.add(normalise(description))
            out.records.append({
                "character_id": f"{row['plot_id']}__c{len(out.records)}",
                "plot_id": row["plot_id"],
                "story_id": row["story_id"],
                "title": row.get("title", row["story_id"]),
                "character": name,
                "character_description": description,
                "description_source": source,
                "passage": row["passage"],
                **_trace({}, self.name, self.prompt_hash, result.raw),
            })
        if not result.parsed.get("characters"):
            out.rejects.append(self.reject(row["plot_id"], "no characters", result.raw))
        return out


# --------------------------------------------------------------------------- utterances
EXPRESSIVENESS_INSTRUCTIONS = {
    "explicit": "Name the feeling openly.",
    "implicit": "Do not name the feeling; let it show through what is said.",
    "subtle": "Keep it understated: only hint at the feeling.",
}


def feeling_phrase(emotions: Sequence[str]) -> str:
    if list(emotions) == ["neutral"]:
        return "no strong emotion (calm, matter-of-fact)"
    return " and ".join(emotions)


def plan_seed_emotions(n_requests: int, max_per_request: int, seed: int) -> list[list[str]]:
    """Seed emotions for ``n_requests`` requests, every class (neutral included) drawn equally often.

    A seeded shuffle of the 28 classes is dealt round-robin (reshuffled every
    cycle); each request takes 1..``max_per_request`` distinct classes. Neutral
    is never mixed with another class: a request that draws it is neutral only.
    """
    rng = random.Random(seed)
    stream: deque[str] = deque()

    def refill():
        cycle = list(EMOTIONS)
        rng.shuffle(cycle)
        stream.extend(cycle)

    plans = []
    for _ in range(n_requests):
        if not stream:
            refill()
        first = stream.popleft()
        if first == "neutral":
            plans.append(["neutral"])
            continue
        k = rng.randint(1, max_per_request)
        chosen = [first]
        while len(chosen) < k:
            if len(stream) < 2:
                refill()
            pick = next((e for e in stream if e != "neutral" and e not in chosen), None)
            if pick is None:
                break
            stream.remove(pick)
            chosen.append(pick)
        plans.append(chosen)
    return plans


def plan_utterance_requests(characters: list[dict], params, seed: int) -> list[dict]:
    """One row per (character, request): the seed emotions and expressiveness to ask for."""
    n = len(characters) * params.requests_per_character
    seeds = plan_seed_emotions(n, params.emotions_per_request, seed)
    rng = random.Random(seed + 1)
    levels = list(params.expressiveness)
    offset = rng.randrange(len(levels))
    rows, i = [], 0
    for ch in characters:
        for r in range(params.requests_per_character):
            rows.append({**ch, "request_index": r, "emotions_used_to_generate_context": seeds[i],
                         "expressiveness": levels[(i + offset) % len(levels)]})
            i += 1
    return rows


_MARKUP = re.compile(r"[\[\]{}<>]")  # JSON or HTML fragments inside a line: the model lost track of the format


class UtterancesStep(Step):
    """(character, seed emotions, expressiveness) -> several first-person lines.

    With a ``vocabulary`` (the encoder's whole words), a line with fewer than
    ``min_known_words`` of its words in it is rejected as not English.
    """

    name = "utterances"
    schema = schemas.UtteranceList
    min_known_words = 0.75

    def __init__(self, params, prompts_dir: Optional[str] = None, seed: int = 13,
                 vocabulary: Optional[frozenset[str]] = None):
        super().__init__(params, prompts_dir, seed)
        self.vocabulary = vocabulary

    @property
    def example_lines(self) -> set[str]:
        """The lines of the template's format example, normalised (a copy of one is not a new line)."""
        import json as _json

        cached = getattr(self, "_example_lines", None)
        if cached is None:
            cached = set()
            for m in re.finditer(r"\{\"utterances\":.*\}", self.template.source):
                try:
                    cached |= {normalise(x) for x in _json.loads(m.group(0))["utterances"]}
                except (ValueError, KeyError):
                    pass
            self._example_lines = cached
        return cached

    def format_input(self, row: dict, sample_index: int = 0) -> GenerationRequest:
        content = self.template.render(
            title=row.get("title", row["story_id"]),
            excerpt=excerpt(row["passage"], row["character"], self.params.excerpt_words),
            character=row["character"], character_description=row["character_description"],
            n_utterances=self.params.utterances_per_request,
            feeling=feeling_phrase(row["emotions_used_to_generate_context"]),
            expressiveness_instruction=EXPRESSIVENESS_INSTRUCTIONS[row["expressiveness"]])
        return self.request(content, f"{row['character_id']}__r{row['request_index']}", sample_index=sample_index)

    def instructions(self, row: dict) -> str:
        """The prompt's own words for this row, without the story excerpt and the character description."""
        text = self.format_input(row).messages[0]["content"]
        for part in (excerpt(row["passage"], row["character"], self.params.excerpt_words), row["character_description"],
                     row.get("title", row["story_id"])):
            if part:
                text = text.replace(part, " ")
        return text

    def format_output(self, result: GenerationResult, row: dict) -> Outcome:
        bad = self.engine_reject(result, row)
        if bad:
            return bad
        out = Outcome()
        tag = f"{row['character_id']}__r{row['request_index']}"
        seen: set[str] = set()
        lines = result.parsed.get("utterances", [])
        instructions = self.instructions(row)
        if not lines:
            out.rejects.append(self.reject(tag, "no utterances", result.raw))
        for line in lines:
            text = clean_line(str(line), row["character"])
            complete = complete_sentences(text, max_chars=schemas.UTTERANCE_MAX_CHARS)
            text = complete or text
            key = normalise(text)
            if not key:
                reason = "empty utterance"
            elif key in seen:
                reason = "duplicate in answer"
            elif is_repetitive(text):
                reason = "repetitive utterance"
            elif key in self.example_lines:
                reason = "copied the prompt's example"
            elif complete is None:
                reason = "not a complete line"
            elif describes_speaker(text, row["character"]):
                reason = "describes the character instead of speaking"
            elif copies_passage(text, row.get("passage", "")):
                reason = "copied from the passage"
            elif copies_passage(text, instructions, n=4) or key.startswith(f"you are {name_key(row['character'])}"):
                reason = "repeats the instructions"
            elif _MARKUP.search(text):
                reason = "markup in the line"
            elif self.vocabulary is not None and known_word_share(text, self.vocabulary, row.get("passage", "")) < \
                    self.min_known_words:
                reason = "not English"
            elif len(out.records) >= self.params.utterances_per_request:
                reason = "over utterances_per_request"
            else:
                reason = None
            if reason:
                out.rejects.append(self.reject(tag, reason, result.raw, utterance=text))
                continue
            seen.add(key)
            out.records.append({
                "id": f"{tag}_{len(out.records)}",
                "plot_id": row["plot_id"],
                "story_id": row["story_id"],
                "title": row.get("title", row["story_id"]),
                "character_id": row["character_id"],
                "character": row["character"],
                "character_description": row["character_description"],
                "utterance": text,
                "emotions_used_to_generate_context": list(row["emotions_used_to_generate_context"]),
                "expressiveness": row["expressiveness"],
                **_trace(row, self.name, self.prompt_hash, result.raw),
            })
        return out


# --------------------------------------------------------------------------- labels
def emotion_dict(emotions: Any) -> dict[str, Any]:
    """``[{"emotion": w, "intensity": x}, ...]`` (or already a dict) -> ``{w: x}``, keeping a repeated word's maximum."""
    if isinstance(emotions, dict):
        return dict(emotions)
    out: dict[str, Any] = {}
    for item in emotions or []:
        word = str(item.get("emotion", "")).strip()
        value = item.get("intensity", 0.0)
        if word in out:
            try:
                value = max(float(value), float(out[word]))
            except (TypeError, ValueError):
                pass
        out[word] = value
    return out


def normalise_scores(emotions: dict[str, Any]) -> dict[str, float]:
    """Scores into [0, 1]: answers on a 0-10 or 0-100 scale are rescaled; junk scores become 0."""
    clean: dict[str, float] = {}
    for k, v in emotions.items():
        try:
            clean[str(k)] = float(v)
        except (TypeError, ValueError):
            clean[str(k)] = 0.0
    top = max(clean.values(), default=0.0)
    scale = 100.0 if top > 10 else 10.0 if top > 1 else 1.0
    return {k: round(min(max(v / scale, 0.0), 1.0), 4) for k, v in clean.items()}


class LabelsStep(Step):
    """Utterance (optionally in its context) -> explained emotions with intensities, mapped to the 28 classes.

    The prompt never shows the seed emotions. ``labels`` are the mapped
    classes scoring at least ``threshold`` (the strongest one if none does);
    neutral is dropped from ``labels`` when a real emotion is there. Words that
    map to nothing are kept in ``unmapped_emotions`` and never become labels.
    """

    name = "labels"
    schema = schemas.EmotionExplication

    def __init__(self, params, mapper: TaxonomyMapper, prompts_dir=None, seed: int = 13, in_context: bool = False):
        super().__init__(params, prompts_dir, seed)
        self.mapper = mapper
        self.in_context = in_context
        self.trace_key = "labels_in_context" if in_context else "labels"

    def feeling_words(self, row_id: str) -> list[str]:
        """The taxonomy's names in an order of their own for each utterance (seeded by its id).

        Without a list of feeling words the small generator answers 'emotion_1'
        or 'heart'; with one fixed list it favours the first words (fear was on
        80% of the examples when a fixed list started with it). A per-utterance
        shuffle keeps the vocabulary and spreads the position bias evenly.
        """
        words_ = [e for e in EMOTIONS if e != "neutral"]
        random.Random(f"{self.seed}:{row_id}").shuffle(words_)
        return words_

    def format_input(self, row: dict, sample_index: int = 0) -> GenerationRequest:
        content = self.template.render(context=row["context"] if self.in_context else None,
                                       character=row["character"], character_description=row["character_description"],
                                       utterance=row["utterance"], feeling_words=self.feeling_words(row["id"]))
        return self.request(content, row["id"], sample_index=sample_index)

    def format_output(self, result: GenerationResult, row: dict) -> Outcome:
        bad = self.engine_reject(result, row)
        if bad:
            return bad
        parsed = result.parsed
        scores = normalise_scores(emotion_dict(parsed.get("emotions")))
        scores = {k.strip(): v for k, v in scores.items() if k.strip()}
        if not scores:
            return Outcome(rejects=[self.reject(row["id"], "no emotions", result.raw)])
        names = [row["character"], *row.get("passage_characters", [])]
        resolved = map_scores(self.mapper, scores, names)
        if not resolved.ranked:
            return Outcome(rejects=[self.reject(row["id"], "no emotion in the taxonomy", result.raw,
                                                all_emotions=scores, mapping=resolved.trace)])
        labels = labels_from_scores(resolved.ranked, self.params.threshold)
        record = {
            **row,
            "raw_emotion_explication": " ".join(str(parsed.get("explanation", "")).split()),
            "all_emotions": scores,
            "all_emotions_mapped": resolved.ranked,
            "labels": labels,
            "primary_emotion": labels[0],
            "unmapped_emotions": resolved.unmapped,
            "emotion_mapping": resolved.trace,
            **_trace(row, self.trace_key, self.prompt_hash, result.raw),
        }
        return Outcome(records=[record])


# --------------------------------------------------------------------------- contexts
def label_words(labels: Iterable[str], extra: Iterable[str] = ()) -> set[str]:
    """The words a context must not contain: label class names, their lexicon synonyms, the answer's own words."""
    out: set[str] = set()
    for label in labels:
        out.add(label)
        out.update(w for w in SYNONYMS.get(label, ()) if len(w) > 3)
    for w in extra:
        w = w.lower().strip()
        if w and len(w) > 3 and " " not in w:
            out.add(w)
    return out


def quotes_utterance(context: str, utterance: str, window: int = 6) -> bool:
    """True if the context holds the utterance verbatim, or any run of ``window`` of its words."""
    c, u = normalise(context), normalise(utterance)
    if not u:
        return False
    if u in c:
        return True
    uw = u.split()
    if len(uw) < window:
        return False
    padded = f" {c} "
    return any(f" {' '.join(uw[i:i + window])} " in padded for i in range(len(uw) - window + 1))


class ContextsStep(Step):
    """Labelled utterance + passage + character -> the situation that leads to the line."""

    name = "contexts"
    schema = schemas.SituationContext

    def format_input(self, row: dict, sample_index: int = 0) -> GenerationRequest:
        content = self.template.render(title=row.get("title", row["story_id"]),
                                       excerpt=excerpt(row["passage"], row["character"], self.params.excerpt_words),
                                       character=row["character"],
                                       character_description=row["character_description"], utterance=row["utterance"])
        return self.request(content, row["id"], sample_index=sample_index)

    def format_output(self, result: GenerationResult, row: dict) -> Outcome:
        bad = self.engine_reject(result, row)
        if bad:
            return bad
        context = " ".join(str(result.parsed.get("context", "")).split()).strip("\"' ")
        reason = None
        if len(words(context)) < self.params.min_words:
            reason = "empty context" if not context else "context too short"
        elif quotes_utterance(context, row["utterance"]):
            reason = "quotes the utterance"
        elif is_repetitive(context):
            reason = "repetitive context"
        else:
            forbidden = label_words(row["labels"], row.get("all_emotions", {}).keys())
            ctx_words = set(words(context))
            hit = sorted(w for w in forbidden if (w in ctx_words if " " not in w else w in normalise(context)))
            if hit:
                reason = f"names an emotion ({hit[0]})"
        if reason:
            return Outcome(rejects=[self.reject(row["id"], reason.split(" (")[0], result.raw, context=context,
                                                detail=reason)])
        rec = {k: v for k, v in row.items() if k != "passage"}
        rec["context"] = context
        rec.update(_trace(row, self.name, self.prompt_hash, result.raw))
        return Outcome(records=[rec])


# --------------------------------------------------------------------------- runner
@dataclass
class StepRun:
    records: list[dict]
    rejects: list[dict]
    inputs: int
    requests: int
    reject_reasons: Counter
    retried: int = 0


def drop_repeated_lines(run: StepRun, step: Step, field: str = "utterance", near_threshold: Optional[float] = None,
                        num_perm: int = 64, seed: int = 1) -> int:
    """Keep the first of records whose ``field`` is the same text (normalised) and reject the others (as ``step``).

    The generator repeats a favourite line across characters and requests;
    labelling every copy would be wasted work that curation throws away. With
    ``near_threshold``, lines whose MinHash Jaccard estimate reaches it are
    dropped too (the test curation applies later). Returns how many were dropped.
    """
    from emopillars.synth.dedup import find_duplicates

    reasons = find_duplicates([r[field] for r in run.records], threshold=near_threshold, num_perm=num_perm,
                              seed=seed).reason
    kept = []
    for r, why in zip(run.records, reasons):
        if why:
            reason = "same line as an earlier one" if why == "exact duplicate" else "near duplicate of an earlier line"
            run.rejects.append(step.reject(r.get("id", ""), reason, "", **{field: r[field]}))
            run.reject_reasons[reason] += 1
            continue
        kept.append(r)
    dropped = len(run.records) - len(kept)
    run.records[:] = kept
    return dropped


def run_step(engine, step: Step, rows: list[dict], desc: str, validation_retries: int = 0) -> StepRun:
    """Run ``step`` over ``rows`` through ``engine``; a row whose answer yields nothing valid is asked again
    (next ``sample_index``) up to ``validation_retries`` times. Rejects of every round are kept."""
    records_by_row: dict[int, list[dict]] = {}
    all_rejects: list[dict] = []
    final_reasons: Counter = Counter()
    todo = list(range(len(rows)))
    n_requests = retried = 0
    for round_ in range(validation_retries + 1):
        if not todo:
            break
        requests = [step.format_input(rows[i], sample_index=round_) for i in todo]
        results = engine.generate(requests, desc=desc if round_ == 0 else f"{desc} (retry {round_})")
        n_requests += len(requests)
        if round_:
            retried += len(todo)
        again = []
        for i, result in zip(todo, results):
            outcome = step.format_output(result, rows[i])
            for r in outcome.rejects:
                r["round"] = round_
            all_rejects.extend(outcome.rejects)
            if outcome.records:
                records_by_row[i] = outcome.records
                final_reasons.update(r["reason"] for r in outcome.rejects)
            elif round_ < validation_retries:
                again.append(i)
            else:
                final_reasons.update(r["reason"] for r in outcome.rejects)
        todo = again
    records = [rec for i in sorted(records_by_row) for rec in records_by_row[i]]
    return StepRun(records=records, rejects=all_rejects, inputs=len(rows), requests=n_requests,
                   reject_reasons=final_reasons, retried=retried)
