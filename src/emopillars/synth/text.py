"""Small text helpers shared by the steps: normalisation, name matching, cleaning model lines."""

from __future__ import annotations

import re

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


_LEADING_NOISE = re.compile(r"^\s*(?:[-*\u2022]+|\d+[.)]|line\s*\d+\s*:)\s*", re.IGNORECASE)


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
