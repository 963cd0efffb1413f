"""Mapping free-form emotion words onto the 28 GoEmotions classes.

Three layers, in order:

1. a synonym lexicon (nouns, adjectives, verbs and their inflections, e.g.
   'furious' -> anger, 'thankful' -> gratitude, 'scared' -> fear);
2. a non-emotion filter: stop words, the passage's character names, adverbs
   ending in -ly that are not in the lexicon, and tokens with digits or
   punctuation are never emotions;
3. nearest neighbour over the lexicon entries by cosine similarity of the
   encoder's mean-pooled embeddings, accepted only above a threshold.

A word that passes none of them is *out of taxonomy*: it is reported, never
turned into a label. Judgement calls are written down here, e.g.
'determination' -> optimism (confidence about the outcome) and 'calm' ->
neutral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from emopillars.taxonomy import EMOTIONS

SYNONYMS: dict[str, tuple[str, ...]] = {
    "admiration": ("admiration", "admire", "admires", "admired", "admiring", "admirable", "awe", "awed", "awestruck",
                   "in awe", "respect", "respectful", "respecting", "reverence", "reverent", "esteem", "impressed",
                   "impressive", "veneration", "worship", "worshipful", "wonderment", "marvel", "marveling", "marvelling"),
    "amusement": ("amusement", "amused", "amusing", "fun", "funny", "humor", "humour", "humorous", "laughter", "laughing",
                  "laugh", "playful", "playfulness", "mirth", "mirthful", "glee", "gleeful", "entertained", "silly",
                  "silliness", "giggle", "giggling", "hilarity", "hilarious", "teasing", "mischief", "mischievous",
                  "whimsy", "whimsical", "lighthearted", "light-hearted"),
    "anger": ("anger", "angry", "angered", "angrier", "rage", "raging", "enraged", "fury", "furious", "wrath", "wrathful",
              "outrage", "outraged", "mad", "irate", "livid", "hostility", "hostile", "hatred", "hate", "hateful",
              "resentment", "resentful", "indignation", "indignant", "vengeful", "vengeance", "revenge", "aggression",
              "aggressive", "bitterness", "bitter", "fierce", "fiercely", "menace", "menacing", "spite", "spiteful",
              "defiance", "defiant", "threatening", "cruelty", "cruel"),
    "annoyance": ("annoyance", "annoyed", "annoying", "irritation", "irritated", "irritable", "frustration",
                  "frustrated", "frustrating", "impatience", "impatient", "exasperation", "exasperated", "bothered",
                  "vexed", "vexation", "grumpy", "irked", "displeasure", "displeased", "agitated", "agitation",
                  "peeved", "cross", "sulky", "grumbling", "testy"),
    "approval": ("approval", "approve", "approves", "approved", "approving", "agreement", "agree", "agreeing",
                 "acceptance", "accepting", "accept", "support", "supportive", "supporting", "encouragement",
                 "encouraging", "endorsement", "praise", "praising", "validation", "affirmation", "assent",
                 "acknowledgement", "acknowledgment", "appreciating"),
    "caring": ("caring", "care", "cares", "cared", "concern", "concerned", "compassion", "compassionate", "kindness",
               "kind", "kindhearted", "kind-hearted", "kindheartedness", "sympathy", "sympathetic", "empathy", "empathetic", "empathic", "protective", "protectiveness",
               "protection", "tenderness", "tender", "warmth", "nurturing", "pity", "pitying", "gentle",
               "gentleness", "helpful", "helpfulness", "generosity", "generous", "mercy", "merciful", "consolation",
               "comforting", "reassuring", "considerate", "benevolence", "benevolent"),
    "confusion": ("confusion", "confused", "confusing", "puzzled", "puzzlement", "puzzling", "bewildered", "bewilderment",
                  "perplexed", "perplexity", "uncertain", "uncertainty", "unsure", "doubt", "doubtful", "doubting",
                  "disoriented", "baffled", "bafflement", "mystified", "dazed", "muddled", "indecision", "indecisive",
                  "ambivalence", "ambivalent"),
    "curiosity": ("curiosity", "curious", "intrigue", "intrigued", "interest", "interested", "inquisitive",
                  "inquisitiveness", "wonder", "wondering", "fascination", "fascinated", "questioning", "inquiring",
                  "nosy", "nosiness", "exploration"),
    "desire": ("desire", "desires", "desired", "desiring", "longing", "yearning", "yearn", "want", "wanting", "wish",
               "wishing", "wishful", "craving", "crave", "lust", "greed", "greedy", "envy", "envious", "jealousy",
               "jealous", "ambition", "ambitious", "temptation", "tempted", "covet", "covetous", "aspiration"),
    "disappointment": ("disappointment", "disappointed", "disappointing", "letdown", "let down", "dismay", "dismayed",
                       "discouraged", "discouragement", "disillusioned", "disillusionment", "dissatisfaction",
                       "dissatisfied", "defeated", "defeat", "deflated", "unfulfilled", "thwarted"),
    "disapproval": ("disapproval", "disapprove", "disapproving", "disagreement", "disagree", "criticism", "critical",
                    "contempt", "contemptuous", "scorn", "scornful", "disdain", "disdainful", "condemnation", "condemn",
                    "reproach", "reproachful", "rejection", "rejecting", "judgmental", "judgemental", "skeptical",
                    "sceptical", "skepticism", "scepticism", "distrust", "mistrust", "suspicion", "suspicious",
                    "disrespect", "disrespectful", "objection", "sarcasm", "sarcastic", "mockery", "mocking",
                    "derision", "derisive", "cynicism", "cynical", "stern", "sternness", "rebuke"),
    "disgust": ("disgust", "disgusted", "disgusting", "revulsion", "revolted", "revolting", "repulsed", "repulsion",
                "repulsive", "repugnance", "loathing", "loathe", "sickened", "nauseated", "nausea", "gross",
                "abhorrence", "abhor", "distaste", "aversion", "appalled", "horrid"),
    "embarrassment": ("embarrassment", "embarrassed", "embarrassing", "shame", "ashamed", "shameful", "humiliation",
                      "humiliated", "awkward", "awkwardness", "shy", "shyness", "bashful", "bashfulness", "sheepish",
                      "self-conscious", "mortified", "mortification", "blushing", "flustered", "timidity"),
    "excitement": ("excitement", "excited", "exciting", "thrill", "thrilled", "thrilling", "giddy", "eager", "eagerness",
                   "enthusiasm", "enthusiastic", "anticipation", "anticipating", "exhilaration", "exhilarated",
                   "adventurous", "energetic", "energized", "zeal", "zest", "keen", "animated", "exuberance",
                   "exuberant", "impatient to", "adventure"),
    "fear": ("fear", "fearful", "feared", "afraid", "scared", "scary", "fright", "frightened", "frightening", "terror",
             "terrified", "terrifying", "terrorized", "horror", "horrified", "panic", "panicked", "panicky", "dread", "dreading",
             "dreadful", "alarm", "alarmed", "threatened", "petrified", "spooked", "cowardice", "cowardly",
             "trembling", "intimidated", "vulnerable", "vulnerability", "helpless", "helplessness"),
    "gratitude": ("gratitude", "grateful", "thankful", "thankfulness", "thanks", "thank", "thanking", "appreciation",
                  "appreciative", "appreciated", "indebted", "obliged", "beholden"),
    "grief": ("grief", "grieving", "grieve", "grieved", "mourning", "mourn", "mournful", "heartbreak", "heartbroken",
              "devastated", "devastation", "bereaved", "bereavement", "anguish", "anguished", "loss", "lament",
              "lamenting", "sorrow", "sorrowful", "woe", "woeful", "tragic", "heartache"),
    "joy": ("joy", "joyful", "joyous", "joyfulness", "happy", "happiness", "happier", "glad", "gladness", "delight",
            "delighted", "delightful", "cheerful", "cheerfulness", "cheer", "cheery", "elation", "elated", "bliss",
            "blissful", "jubilant", "jubilation", "jubilance", "overjoyed", "euphoria", "euphoric", "ecstatic", "ecstasy", "merry", "merriment",
            "pleased", "pleasure", "content", "contented", "contentment", "satisfaction", "satisfied", "enjoyment",
            "enjoy", "enjoying", "jolly", "radiant", "rejoicing", "rejoice", "triumphant joy", "exultation",
            "exultant", "gaiety", "happily"),
    "love": ("love", "loving", "loved", "lovingly", "adoration", "adore", "adoring", "affection", "affectionate",
             "fondness", "fond", "devotion", "devoted", "romance", "romantic", "infatuation", "infatuated", "lovesick",
             "attachment", "attached", "passion", "passionate", "cherish", "cherishing", "cherished", "intimacy",
             "belonging", "friendship", "loyalty", "loyal", "faithful", "faithfulness"),
    "nervousness": ("nervousness", "nervous", "anxiety", "anxious", "worry", "worried", "worrying", "unease", "uneasy",
                    "uneasiness", "tense", "tension", "apprehension", "apprehensive", "restless", "restlessness",
                    "jittery", "frantic", "angst", "reluctance", "reluctant", "stress", "stressed", "insecure", "insecurity", "hesitant", "hesitation", "hesitancy",
                    "timid", "jumpy", "on edge", "edgy", "fretful", "fretting", "disquiet", "trepidation",
                    "overwhelmed", "caution", "cautious", "wary", "wariness", "urgency", "urgent"),
    "optimism": ("optimism", "optimistic", "hope", "hopeful", "hopefulness", "hoping", "confidence", "confident",
                 "faith", "trust", "trusting", "positive", "positivity", "determination", "determined", "resolve",
                 "resolute", "resolved", "courage", "courageous", "brave", "bravery", "encouraged", "assurance",
                 "assured", "expectant", "reassured", "inspired", "inspiration", "motivated", "motivation",
                 "perseverance", "persistence", "strength", "boldness", "bold", "certainty", "certain"),
    "pride": ("pride", "proud", "prideful", "proudly", "triumph", "triumphant", "accomplished", "accomplishment",
              "achievement", "self-satisfied", "smug", "smugness", "arrogance", "arrogant", "vanity", "vain",
              "dignity", "dignified", "boastful", "boasting", "conceit", "conceited", "haughty", "haughtiness",
              "superiority", "superior", "self-importance", "honor", "honour", "honored", "honoured", "glory"),
    "realization": ("realization", "realisation", "realize", "realized", "realizing", "realise", "realised",
                    "insight", "understanding", "epiphany", "recognition", "recognizing", "enlightenment",
                    "enlightened", "awareness", "aware", "discovery", "revelation", "acknowledging", "comprehension",
                    "clarity", "reflection", "reflective", "thoughtful", "thoughtfulness", "contemplation",
                    "contemplative", "introspection", "introspective"),
    "relief": ("relief", "relieved", "reassurance", "comforted", "eased", "unburdened", "soothed", "release",
               "released", "rescued", "safe", "safety", "solace"),
    "remorse": ("remorse", "remorseful", "regret", "regretful", "regretting", "guilt", "guilty", "sorry", "apologetic",
                "apology", "apologizing", "apologising", "repentance", "repentant", "contrition", "contrite",
                "penitent", "penitence", "self-reproach", "self-blame", "shamefaced"),
    "sadness": ("sadness", "sad", "sadder", "unhappy", "unhappiness", "melancholy", "melancholic", "gloom", "gloomy",
                "depressed", "depression", "despair", "despairing", "despondent", "despondency", "hopeless",
                "hopelessness", "lonely", "loneliness", "lonesome", "misery", "miserable", "heavy-hearted",
                "downcast", "dejected", "dejection", "upset", "hurt", "glum", "crestfallen", "heartsick", "woebegone", "forlorn", "blue", "pain", "painful", "tearful", "crying", "weeping",
                "sorrowfulness", "distress", "distressed", "homesick", "homesickness", "wistful", "wistfulness",
                "nostalgia", "nostalgic", "resignation", "resigned", "longing for home", "suffering", "weary",
                "weariness", "exhaustion", "exhausted", "tired", "fatigue", "isolation", "isolated", "abandoned",
                "rejected", "betrayed", "betrayal", "pessimism", "pessimistic"),
    "surprise": ("surprise", "surprised", "surprising", "astonishment", "astonished", "astonishing", "amazement",
                 "amazed", "amazing", "shock", "shocked", "shocking", "startled", "startle", "astounded", "stunned",
                 "disbelief", "incredulous", "incredulity", "taken aback", "unexpected", "dumbfounded", "flabbergasted",
                 "speechless", "wonderstruck", "marvelled"),
    "neutral": ("neutral", "neutrality", "calm", "calmness", "indifference", "indifferent", "matter-of-fact",
                "composed", "composure", "detached", "detachment", "unemotional", "none", "no emotion", "serene",
                "serenity", "peaceful", "peace", "stoic", "stoicism", "tranquil", "tranquility", "tranquillity",
                "placid", "relaxed", "relaxation", "steady", "patience", "patient", "informative", "factual",
                "objective", "acceptance of fate", "boredom", "bored", "apathy", "apathetic", "casual", "plain",
                "observant", "focused", "focus", "attentive"),
}

# Words that are never emotions: function words, pronouns, speaker words and
# frequent non-emotion nouns that small models put among emotion words.
STOP_WORDS = frozenset("""
a an the and or but of to in on at by for with from as is are was were be been being am it its this that these those
i me my mine we us our you your he him his she her they them their who whom which what when where why how not no yes
very really so too quite rather slightly somewhat mild mildly strong strongly deep deeply intense intensely extreme
extremely little much more most less least some any all both each every feeling feelings feel feels felt emotion
emotions emotional sense state mood tone sentiment intensity level score overall mixed slight high low medium hint
character speaker person someone somebody man woman boy girl king queen prince princess story line utterance text
word words situation thing things something nothing anything everything other another one two three first second
explanation emotion_word label labels value example null true false na n/a unknown
""".split())

_SPLIT = re.compile(r"\s*(?:/|,|;|\band\b|\bor\b|&|\+|\|)\s*")
_JUNK = re.compile(r"[^a-z\s'\-]")
_MODIFIERS = ("feeling of", "feelings of", "sense of", "a sense of", "feeling", "slightly", "slight", "very", "deeply",
              "deep", "mild", "mildly", "strong", "strongly", "great", "extreme", "extremely", "intense", "some",
              "a bit", "a little", "little", "quite", "overwhelming", "overwhelmed by", "full of", "hint of",
              "touch of", "growing", "sudden", "pure", "utter", "utterly", "being", "feels", "felt", "is", "a", "an",
              "the")


def normalise_word(word: str) -> str:
    w = word.lower().strip()
    w = w.strip(" \t\n\"'`.,;:!?()[]{}<>*_")
    w = re.sub(r"\s+", " ", w)
    changed = True
    while changed:
        changed = False
        for m in _MODIFIERS:
            if w.startswith(m + " "):
                w = w[len(m) + 1:].strip()
                changed = True
    return w


@dataclass(frozen=True)
class Mapping:
    """How one free-form word was resolved: ``emotion`` is a class or None; ``how`` says why."""

    word: str
    emotion: Optional[str]
    how: str  # 'class', 'lexicon', 'embedding', 'non-emotion:<why>', 'out-of-taxonomy'
    similarity: Optional[float] = None


Embedder = Callable[[Sequence[str]], np.ndarray]


class TaxonomyMapper:
    """Resolve emotion words to the 28 classes (lexicon, then non-emotion filter, then embedding neighbour).

    ``embed`` maps a list of strings to L2-normalised vectors (one row each);
    without it only the lexicon is used. ``similarity_threshold`` is the
    cosine similarity a neighbour needs to be accepted.
    """

    def __init__(self, embed: Optional[Embedder] = None, similarity_threshold: float = 0.6,
                 synonyms: dict[str, Iterable[str]] = SYNONYMS):
        self.lexicon: dict[str, str] = {}
        for emotion in EMOTIONS:
            self.lexicon[emotion] = emotion
        for emotion, words in synonyms.items():
            if emotion not in EMOTIONS:
                raise ValueError(f"lexicon: {emotion!r} is not one of the 28 classes")
            for w in words:
                self.lexicon.setdefault(w.lower(), emotion)
        self.embed = embed
        self.similarity_threshold = similarity_threshold
        self._entries = sorted(self.lexicon)
        self._entry_vectors: Optional[np.ndarray] = None
        self._cache: dict[str, Mapping] = {}

    # -- the layers
    def _lexicon_lookup(self, w: str) -> Optional[str]:
        if w in self.lexicon:
            return self.lexicon[w]
        for suffix, repl in (("'s", ""), ("s", ""), ("es", ""), ("ness", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
                             ("ing", "e"), ("ful", ""), ("ment", "")):
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                stem = w[: len(w) - len(suffix)] + repl
                if stem in self.lexicon:
                    return self.lexicon[stem]
        return None

    @staticmethod
    def _non_emotion(w: str, names: frozenset[str]) -> Optional[str]:
        if not w:
            return "empty"
        if _JUNK.search(w):
            return "junk token"
        if w in names or any(t in names for t in w.split() if len(t) > 2):
            return "character name"
        tokens = w.split()
        if all(t in STOP_WORDS for t in tokens):
            return "stop word"
        if len(tokens) == 1 and w.endswith("ly"):
            return "adverb"
        if len(tokens) > 3:
            return "phrase, not an emotion word"
        return None

    def _nearest(self, words: list[str]) -> list[tuple[str, float]]:
        if self._entry_vectors is None:
            self._entry_vectors = np.asarray(self.embed(self._entries), dtype=np.float32)
        q = np.asarray(self.embed(words), dtype=np.float32)
        sims = q @ self._entry_vectors.T
        best = sims.argmax(axis=1)
        return [(self.lexicon[self._entries[j]], float(sims[i, j])) for i, j in enumerate(best)]

    # -- public
    def map_words(self, words: Iterable[str], names: Iterable[str] = ()) -> list[Mapping]:
        """Resolve each free-form word (phrases like 'fear/anger' are split first, each part resolved)."""
        names_set = frozenset(n.lower() for name in names for n in [name, *name.split()] if n.strip())
        out: list[Mapping] = []
        pending: list[tuple[int, str]] = []
        for raw in words:
            parts = [p for p in _SPLIT.split(raw.lower()) if p.strip()] or [raw]
            for part in parts:
                w = normalise_word(part)
                key = w
                if names_set:
                    key = w + "\x00" + "|".join(sorted(names_set))
                if key in self._cache:
                    cached = self._cache[key]
                    out.append(Mapping(raw, cached.emotion, cached.how, cached.similarity))
                    continue
                m = self._resolve_without_embedding(raw, w, names_set)
                if m is None:
                    pending.append((len(out), w))
                    out.append(Mapping(raw, None, "out-of-taxonomy"))
                else:
                    self._cache[key] = m
                    out.append(m)
        if pending and self.embed is not None:
            nearest = self._nearest([w for _, w in pending])
            for (i, w), (emotion, sim) in zip(pending, nearest):
                if sim >= self.similarity_threshold:
                    m = Mapping(out[i].word, emotion, "embedding", round(sim, 4))
                else:
                    m = Mapping(out[i].word, None, "out-of-taxonomy", round(sim, 4))
                out[i] = m
        for i, w in pending:
            key = w + ("\x00" + "|".join(sorted(names_set)) if names_set else "")
            self._cache[key] = out[i]
        return out

    def _resolve_without_embedding(self, raw: str, w: str, names: frozenset[str]) -> Optional[Mapping]:
        if w in EMOTIONS:
            return Mapping(raw, w, "class")
        hit = self._lexicon_lookup(w)
        if hit is None and " " in w:
            # 'fear of the dark', 'deep sorrow': the first content word that is in the lexicon
            for t in w.split():
                if t not in STOP_WORDS:
                    hit = self._lexicon_lookup(t)
                    if hit:
                        break
        if hit is not None:
            return Mapping(raw, hit, "lexicon")
        why = self._non_emotion(w, names)
        if why is not None:
            return Mapping(raw, None, f"non-emotion:{why}")
        return None


@dataclass(frozen=True)
class MappedScores:
    """Scored emotion words resolved onto the classes.

    ``ranked`` is ``{class: score}`` (a class keeps its best word's score), strongest first, ties in taxonomy
    order; ``unmapped`` holds the out-of-taxonomy words with their scores; ``trace`` is
    ``{word: [[class or None, how], ...]}`` (a word like 'fear/anger' has one entry per part).
    """

    ranked: dict[str, float]
    unmapped: dict[str, float]
    trace: dict[str, list]


def map_scores(mapper: "TaxonomyMapper", scores: dict[str, float], names: Iterable[str] = ()) -> MappedScores:
    """``{word: score}`` -> :class:`MappedScores`; each part of a split word carries the word's score."""
    mapped: dict[str, float] = {}
    trace: dict[str, list] = {}
    unmapped: dict[str, float] = {}
    for m in mapper.map_words(list(scores), names=names):
        trace.setdefault(m.word, []).append([m.emotion, m.how])
        if m.emotion is not None:
            mapped[m.emotion] = max(mapped.get(m.emotion, 0.0), scores[m.word])
        elif m.how == "out-of-taxonomy":
            unmapped[m.word] = scores[m.word]
    ranked = dict(sorted(mapped.items(), key=lambda kv: (-kv[1], EMOTIONS.index(kv[0]))))
    return MappedScores(ranked, unmapped, trace)


def labels_from_scores(ranked: dict[str, float], threshold: float) -> list[str]:
    """The classes scoring at least ``threshold`` (the strongest if none does); neutral goes when another is there."""
    labels = [e for e, s in ranked.items() if s >= threshold] or [next(iter(ranked))]
    if len(labels) > 1 and "neutral" in labels:
        labels.remove("neutral")
    return labels


def naive_label(word: str) -> str:
    """What a pipeline without mapping would use as a label: the lower-cased word itself."""
    return word.lower().strip()
