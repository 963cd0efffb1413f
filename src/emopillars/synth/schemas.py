"""JSON answer formats of each generation step (kept small so answers fit in max_tokens)."""

from __future__ import annotations

from pydantic import BaseModel


class CharacterEntry(BaseModel):
    name: str
    description: str


class CharacterList(BaseModel):
    characters: list[CharacterEntry]


class UtteranceList(BaseModel):
    utterances: list[str]


class EmotionExplication(BaseModel):
    explanation: str
    emotions: dict[str, float]


class SituationContext(BaseModel):
    context: str
