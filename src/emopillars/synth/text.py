"""Small text helpers shared by the steps: normalisation, name matching, cleaning model lines."""

from __future__ import annotations

import re
from pathlib import Path

_DETERMINERS = ("the", "a", "an", "old", "young", "little", "poor", "good", "wicked", "great", "big")
_PRONOUNS = frozenset("i me you he she it we they him her them narrator reader author speaker someone everyone "
                      "nobody somebody people character characters".split())
_WORD = re.compile(r"[a-z0-9']+")


def normalise(text: str) -> str:
    """Lower-case, letters/digits only, single spaces (for duplicate and quotation checks)."""
    return " ".join(_WORD.findall(text.lower().replace("\u2019", "'")))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def clean_name(name: str) -> str:
    return " ".join(name.strip().strip("\"'`*.,;:!?()[]").split())


def name_key(name: str) -> str:
    """'The King' and 'king' share a key: lower case without leading determiners."""
    tokens = words(name)
    while tokens and tokens[0] in _DETERMINERS and len(tokens) > 1:
        tokens = tokens[1:]
    return " ".join(tokens)


def _occurs(phrase: str, passage_norm: str) -> bool:
    # a whole-word match, allowing a plural or possessive ending ('soldier' vs 'soldiers')
    return re.search(rf"(?<![a-z0-9']){re.escape(phrase)}(?:s|es|'s)?(?![a-z0-9])", passage_norm) is not None


def name_problem(name: str, passage: str) -> str | None:
    """Why ``name`` is not a character name of ``passage`` (None if it is one).

    Case-insensitive whole-word match after dropping leading determiners
    ('the king' matches 'King'); a multi-word name also matches when each of
    its content words occurs ('King Arthur' where the passage has 'Arthur,
    the king').
    """
    key = name_key(name)
    if not key:
        return "empty name"
    if key in _PRONOUNS:
        return "not a name"
    if len(key.split()) > 6:
        return "not a name"
    passage_norm = normalise(passage)
    if _occurs(key, passage_norm):
        return None
    content = [t for t in key.split() if t not in _DETERMINERS and t not in {"of", "and", "the"}]
    if content and all(_occurs(t, passage_norm) for t in content):
        return None
    return "name not in passage"


_SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*$")
_META = re.compile(r"\b(?:first person|the (?:next |first |last )?sentence|this sentence|the line)\b", re.IGNORECASE)


# Words a sentence does not end on: a line that stops on one was cut off, even well short of the length limit.
_DANGLING = frozenset("""the a an of to and or but nor with from into onto by my your his its our their which whose
been being than because if when while very""".split())


def complete_sentences(line: str, min_words: int = 3, max_chars: int = 160) -> str | None:
    """``line`` if it is complete, else cut after its last sentence end; None when no complete sentence of
    ``min_words`` words is left.

    A line is complete when it ends a sentence, or when it stops well short of
    ``max_chars`` (the length limit of the answer's grammar) without a trailing
    comma, colon or dash, or a word no sentence ends on ('the', 'been'): the
    model closed it. A line that runs into the limit
    ends mid-sentence; the complete sentences before the cut are still usable.
    """
    line = line.strip()
    tail = words(line)[-1:] or [""]
    closed = len(line) < max_chars - 8 and not line.endswith((",", ":", ";", "-")) and tail[0] not in _DANGLING
    if _SENTENCE_END.search(line) or closed:
        return line if len(words(line)) >= min_words else None
    cut = max((m.end() for m in re.finditer(r"[.!?…][\"'”’)]*(?=\s)", line)), default=0)
    head = line[:cut].strip()
    return head if cut and len(words(head)) >= min_words else None


def describes_speaker(line: str, speaker: str) -> bool:
    """True when a 'spoken' line talks about the speaker in the third person or about the task itself
    ('The Father is a wise person ...', '... speaks in the first person. The sentence is ...')."""
    key = name_key(speaker)
    norm = normalise(line)
    if key and re.match(rf"(?:(?:the|a|an) )?{re.escape(key)}(?:'s)? (?:is|was|has|had|feels|felt|says|said|speaks)\b",
                        norm):
        return True
    return _META.search(line) is not None


def copies_passage(line: str, passage: str, n: int = 8) -> bool:
    """True when ``line`` repeats ``n`` consecutive words of ``passage`` (the model copied the story)."""
    lw, pw = words(line), words(passage)
    if len(lw) < n:
        return False
    grams = {tuple(pw[i:i + n]) for i in range(len(pw) - n + 1)}
    return any(tuple(lw[i:i + n]) in grams for i in range(len(lw) - n + 1))


def load_vocabulary(path) -> frozenset[str]:
    """Whole English-looking words a tokenizer knows: lower-case alphabetic entries of more than one letter.

    ``path`` is a model folder (any tokenizer transformers loads: WordPiece, byte-level BPE, SentencePiece) or a
    WordPiece ``vocab.txt``. Word-piece continuations (``##ing``) are left out; the word-start markers of
    byte-level BPE (``Ġ``) and SentencePiece (``▁``) are stripped.
    """
    path = Path(path)
    if path.is_dir():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path))
        entries = []
        for token in tokenizer.get_vocab():
            if token.startswith("##"):
                continue
            entries.append(token[1:] if token[:1] in ("Ġ", "▁") else token)
    else:
        with open(path, encoding="utf-8") as f:
            entries = [line.strip() for line in f]
    return frozenset(w for w in entries if w.isalpha() and w.islower() and len(w) > 1 or w in ("a", "i"))


def known_word_share(text: str, vocabulary: frozenset[str], also_known: str = "") -> float:
    """Share of ``text``'s words that are whole words of ``vocabulary`` or of ``also_known`` (the story, for its
    names); 1.0 for a text without words.

    English lines score about 0.9 against an English encoder's vocabulary; the
    German, Spanish or letter soup a small generator drifts into at a high
    temperature scores far lower.
    """
    ws = [w.strip("'") for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())]
    ws = [w for w in ws if w]
    if not ws:
        return 1.0
    if len(ws) >= 6 and not _FUNCTION_WORDS.intersection(ws):
        return 0.0  # six words or more and not one English function word: another language
    stems = [w.split("'")[0] for w in ws]  # can't -> can, we're -> we
    extra = set(re.findall(r"[^\W\d_]+", also_known.lower()))
    return sum(w in vocabulary or w.rstrip("s") in vocabulary or w in extra for w in stems) / len(ws)


_FUNCTION_WORDS = frozenset("""the a an i you he she it we they me him her us them my your his its our their this that
these those is are was were be been am do does did have has had will would shall should can could may might must
and or but if so not no to of in on at for with from by as what who why how when where there here all""".split())


def passage_description(name: str, passage: str, max_words: int = 30) -> str | None:
    """The passage's first sentence that mentions ``name`` (None if none does), cut to ``max_words`` words."""
    key = name_key(name)
    content = [t for t in key.split() if t not in _DETERMINERS and t not in {"of", "and", "the"}]
    if not content:
        return None
    for sentence in sentences(passage):
        norm = normalise(sentence)
        if all(_occurs(t, norm) for t in content):
            ws = sentence.split()
            return " ".join(ws[:max_words]) + (" ..." if len(ws) > max_words else "")
    return None


# list markers, 'line 2:' or 'utterance30:' labels, and stray punctuation left over from the JSON around the line
_LEADING_NOISE = re.compile(r"^\s*(?:[-*\u2022]+|\d+[.)]|(?:line|utterances?)\s*\d*\s*:|[,;:)\]}>]+)\s*", re.IGNORECASE)


def clean_line(line: str, speaker: str = "") -> str:
    """Strip list markers, a leading 'Speaker:' and surrounding quotes from one generated line."""
    s = _LEADING_NOISE.sub("", line.strip())
    if speaker:
        s = re.sub(rf"^\s*{re.escape(speaker)}\s*(?:\([^)]*\))?\s*[:\-]\s*", "", s, flags=re.IGNORECASE)
    s = re.sub(r"^[A-Z][A-Za-z .']{0,30}:\s+(?=[\"'\u201c])", "", s)
    for _ in range(2):
        s = s.strip()
        if len(s) >= 2 and s[0] in "\"'\u201c\u2018" and s[-1] in "\"'\u201d\u2019":
            s = s[1:-1]
    return " ".join(s.split())


_SENTENCES = re.compile(r"(?<=[.!?])[\"'\u201d\u2019]?\s+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.split(" ".join(text.split())) if s.strip()]


def excerpt(passage: str, name: str, max_words: int) -> str:
    """The passage's sentences that mention ``name`` (and their neighbours), in order, up to ``max_words`` words.

    Keeps prompts short for a small generator while staying grounded in the
    story; falls back to the passage's opening when the name does not occur.
    """
    sents = sentences(passage)
    key = name_key(name)
    tokens = [t for t in key.split() if t not in _DETERMINERS] or key.split()
    hits = [i for i, s in enumerate(sents) if any(re.search(rf"\b{re.escape(t)}", s.lower()) for t in tokens)]
    order = []
    for i in hits:
        for j in (i, i + 1, i - 1):
            if 0 <= j < len(sents) and j not in order:
                order.append(j)
    order += [i for i in range(len(sents)) if i not in order]
    chosen, n = [], 0
    for i in order:
        w = len(sents[i].split())
        if n + w > max_words and chosen:
            if n >= max_words * 0.6:
                break
            continue
        chosen.append(i)
        n += w
    return " ".join(sents[i] for i in sorted(chosen))


_SPEECH_VERBS = ("said|says|replied|cried|asked|answered|called|shouted|whispered|exclaimed|thought|laughed|sighed|"
                 "screamed|began|went|ran|came|saw|looked|took|gave")
_COMMON_CAPS = frozenset("""I The A An And But Then When So If Now Once There Here He She It They We You His Her Their
Its This That These Those What Why How Where Who Yes No Oh Ah Well Not In On At For With From By As Of To Into After
Before One Two Three All Some Every Each My Your Our Mr Mrs Sir Madam Lord Lady God Heaven Sunday Monday Christmas
Let Do Did Does Is Was Were Be Are Have Has Had Go Come Look See Good Dear Alas Indeed Perhaps Still Yet Only Just""".split())
_ROLE_NOUNS = ("king|queen|prince|princess|witch|wizard|fairy|giant|troll|dwarf|elf|fox|wolf|bear|hare|rabbit|cat|"
               "dog|mouse|bird|crow|raven|goose|duck|hen|cock|frog|toad|horse|cow|goat|pig|sheep|lion|tiger|dragon|"
               "snake|old woman|old man|woman|man|boy|girl|lad|lass|mother|father|son|daughter|brother|sister|wife|"
               "husband|farmer|miller|tailor|soldier|shepherd|fisherman|hunter|merchant|servant|maiden|stepmother|"
               "emperor|empress|knight|monk|priest|peasant|beggar|child|children|baby|grandmother|grandfather|"
               "snow man|tin soldier|mermaid|ogre|goblin|spirit|ghost|owl|eagle|sparrow|swan|stork|bee|ant|spider")
_ROLE = re.compile(rf"\b(the|a|an|his|her|their|old|little)\s+((?:old |little |young )?(?:{_ROLE_NOUNS}))\b",
                   re.IGNORECASE)
_NAME_WORD = r"[A-Z][a-z']+(?:-[A-Za-z][a-z']*)*"
_CAP_SEQ = re.compile(rf"\b({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})\b")


def candidate_characters(passage: str, limit: int = 8) -> list[str]:
    """Likely character names of a passage, most frequent first: proper names and role nouns ('the king').

    A hint for the generator (a small model otherwise invents names); the
    answer is still checked against the passage.
    """
    from collections import Counter

    counts: Counter = Counter()
    first_seen: dict[str, int] = {}
    mid_sentence: Counter = Counter()
    lower_words = set(_WORD.findall(passage))
    for m in _CAP_SEQ.finditer(passage):
        phrase = m.group(1)
        words_ = phrase.split()
        while words_ and words_[0] in _COMMON_CAPS:
            words_ = words_[1:]
        if not words_:
            continue
        phrase = " ".join(words_)
        before = passage[:m.start()].rstrip()
        opens_quote = before.endswith(("\"", "'", "\u201c", "\u2018"))
        before = before.rstrip("\"'\u201c\u2018\u201d\u2019 \n")
        sentence_initial = len(words_) == 1 and (opens_quote or not before or before[-1] in ".!?:;")
        key = phrase
        counts[key] += 0.5 if sentence_initial else 1.0
        mid_sentence[key] += 0 if sentence_initial else 1
        first_seen.setdefault(key, m.start())
    for key in list(counts):
        # A single capitalised word seen only at the start of sentences ('Listen', 'Sometimes',
        # 'Halt') is taken for an ordinary word; so are contractions of 'I' ("I've").
        if (" " not in key and not mid_sentence[key]) or key.lower() in lower_words or key.startswith("I'"):
            del counts[key]
    for m in _ROLE.finditer(passage):
        key = "the " + m.group(2).lower()
        counts[key] += 1.0
        first_seen.setdefault(key, m.start())
    ranked = sorted(counts, key=lambda k: (-counts[k], first_seen[k]))
    out: list[str] = []
    seen: set[str] = set()
    for k in ranked:
        nk = name_key(k)
        if nk in seen or nk in _PRONOUNS:
            continue
        seen.add(nk)
        out.append(k)
        if len(out) >= limit:
            break
    return out


def is_repetitive(text: str, min_words: int = 10) -> bool:
    """True for a small model's loops: a word trigram three times, or under 40% distinct words in a long text."""
    from collections import Counter

    w = words(text)
    if len(w) < min_words:
        return False
    trigrams = Counter(tuple(w[i:i + 3]) for i in range(len(w) - 2))
    if trigrams and trigrams.most_common(1)[0][1] >= 3:
        return True
    return len(set(w)) / len(w) < 0.4
